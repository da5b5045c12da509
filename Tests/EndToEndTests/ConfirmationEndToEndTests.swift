import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// Nothing destroyed on one observation, kept endpoints kept, no leak when a name is registered again:
/// through the binary against the simulator, whose listings leave things out the way AWS's eventually
/// consistent listings do.
@Suite struct ConfirmationEndToEndTests {
    static let ours = "111122223333"

    /// A customer shared, registered and ready; returns its endpoint.
    func ready(_ harness: DaemonHarness, _ name: String, arn: String) async throws -> SimulatedEndpoint {
        harness.simulator.addInvitation(sender: Self.ours, shareName: name, resources: [SharedResource(arn: arn)])
        try await harness.register(name, arn: arn)
        try await harness.passUntil(maxPasses: 6) { try await harness.states()[name] == "ready" }
        return try #require(harness.liveEndpoints()[name]?.first)
    }

    func events(_ harness: DaemonHarness, _ name: String) -> [String] {
        let log = (try? String(contentsOfFile: harness.config.healthLog, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init).filter { $0.contains("\"customer\":\"\(name)\"") && $0.contains("\"kind\":\"event\"") }
    }

    func mutations(_ harness: DaemonHarness) -> Int {
        let counts = harness.simulator.callCounts
        return (counts["ec2:CreateVpcEndpoint"] ?? 0) + (counts["ec2:DeleteVpcEndpoints"] ?? 0)
    }

    /// (a) `remove --keep-endpoint` of a ready customer: it leaves `status` at once, and its endpoint
    /// outlives every later pass (it is neither a stray nor an orphan); the same name and ARN registered again
    /// get an endpoint of their own, never the kept one.
    @Test func aKeptEndpointOutlivesItsCustomer() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let endpoint = try await ready(harness, "acme", arn: testARN(41))
        let removal = try await harness.cli(["customer", "remove", "acme", "--keep-endpoint"])
        #expect(removal.status == 0, "\(removal.stderr)")
        #expect(try await harness.states()["acme"] == nil)
        for _ in 0..<4 { try await harness.pass() }
        #expect(harness.simulator.endpoint(endpoint.id)?.state == .available)
        #expect(harness.simulator.callCounts["ec2:DeleteVpcEndpoints"] == nil)
        try await harness.register("acme", arn: testARN(41))
        try await harness.passUntil(maxPasses: 6) { try await harness.states()["acme"] == "ready" }
        let row = try #require((try await harness.status()["customers"] as? [[String: Any]])?.first)
        #expect(row["vpcEndpointId"] as? String != endpoint.id, "the kept endpoint was adopted")
        #expect(harness.simulator.endpoint(endpoint.id)?.state == .available)
        #expect(harness.endpointsEverCreated()["acme"] == 2)
    }

    /// (b) The same while an older generation is still `Deleting` in EC2: the customer waits in `removing`
    /// for it, the kept endpoint survives, and once EC2 confirms the old one gone the removal finishes.
    @Test func aKeptEndpointSurvivesWhileAnOlderGenerationIsStillDeleting() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let first = try await ready(harness, "acme", arn: testARN(42))
        // Someone deletes the endpoint by hand and EC2 takes its time: the daemon recreates it.
        sim.holdDeleting(first.id)
        #expect(sim.deleteEndpoint(first.id))
        try await harness.passUntil(maxPasses: 6) {
            try await harness.states()["acme"] == "ready" && harness.liveEndpoints()["acme"]?.first?.id != first.id
        }
        let kept = try #require(harness.liveEndpoints()["acme"]?.first)
        #expect(sim.endpoint(first.id)?.state == .deleting)

        let removal = try await harness.cli(["customer", "remove", "acme", "--keep-endpoint"])
        #expect(removal.status == 0, "\(removal.stderr)")
        #expect(try await harness.states()["acme"] == "removing", "the old generation is not confirmed gone yet")
        for _ in 0..<3 { try await harness.pass() }
        #expect(sim.endpoint(kept.id)?.state == .available, "the kept endpoint was deleted")
        #expect(try await harness.states()["acme"] == "removing")

        sim.finishDeleting(first.id)
        try await harness.passUntil(maxPasses: 4) { try await harness.states()["acme"] == nil }
        #expect(sim.endpoint(first.id)?.state == .deleted)
        #expect(sim.endpoint(kept.id)?.state == .available, "the kept endpoint was deleted")
        for _ in 0..<2 { try await harness.pass() }
        #expect(sim.endpoint(kept.id)?.state == .available)
    }

    /// (c) One ListResources and, separately, one DescribeVpcEndpoints that leave a ready customer out: the
    /// same endpoint, still ready, nothing created or deleted; the health log says what was seen.
    @Test func oneListingThatLeavesAReadyCustomerOutChangesNothing() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let arn = testARN(43)
        let endpoint = try await ready(harness, "acme", arn: arn)
        try await harness.pass()
        let before = mutations(harness)

        sim.hideFromListings([arn], listings: 1)
        try await harness.pass()
        #expect(sim.listingsHiding(arn) == 0, "the pass did not list the shared resources")
        #expect(try await harness.states()["acme"] == "ready")
        #expect(harness.liveEndpoints()["acme"]?.map(\.id) == [endpoint.id])

        sim.hideFromListings([endpoint.id], listings: 1)
        try await harness.pass()
        #expect(sim.listingsHiding(endpoint.id) == 0, "the pass did not list the endpoints")
        #expect(try await harness.states()["acme"] == "ready")
        #expect(harness.liveEndpoints()["acme"]?.map(\.id) == [endpoint.id])

        // Both at once, twice in a row.
        sim.hideFromListings([arn, endpoint.id], listings: 2)
        try await harness.pass()
        try await harness.pass()
        #expect(try await harness.states()["acme"] == "ready")
        #expect(harness.liveEndpoints()["acme"]?.map(\.id) == [endpoint.id])
        #expect(mutations(harness) == before, "a blink created or deleted an endpoint")
        #expect(harness.endpointsEverCreated() == ["acme": 1])
        let status = try await harness.status()
        let row = try #require((status["customers"] as? [[String: Any]])?.first)
        #expect(row["vpcEndpointId"] as? String == endpoint.id)
        let lines = events(harness, "acme")
        #expect(lines.contains { $0.contains("\"event\":\"share_unconfirmed\"") && $0.contains("found it shared") }, "\(lines)")
        #expect(lines.contains { $0.contains("\"event\":\"endpoint_unconfirmed\"") && $0.contains(endpoint.id) }, "\(lines)")
        #expect(!lines.contains { $0.contains("\"event\":\"endpoint_missing\"") || $0.contains("\"event\":\"share_withdrawn\"") }, "\(lines)")
    }

    /// A loss, confirmed: the endpoint really deleted by hand is recreated, the share really withdrawn is reported.
    @Test func aConfirmedLossIsActedOn() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let endpoint = try await ready(harness, "acme", arn: testARN(44))
        #expect(sim.deleteEndpoint(endpoint.id))
        try await harness.passUntil(maxPasses: 6) {
            try await harness.states()["acme"] == "ready" && harness.liveEndpoints()["acme"]?.first?.id != endpoint.id
        }
        let share = try #require(sim.shares.first)
        #expect(sim.withdrawShare(share.arn))
        try await harness.passUntil(maxPasses: 4) { try await harness.states()["acme"] == "share_revoked" }
        #expect(events(harness, "acme").contains { $0.contains("\"event\":\"share_withdrawn\"") })
    }

    /// (d) A name registered again with another ARN while an endpoint of the old registration exists that no
    /// generation records: it is deleted, nothing is left behind, and the new registration is untouched.
    @Test func aNameRegisteredAgainWithAnotherArnLeavesNothingBehind() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let old = testARN(45), new = testARN(46)
        let recorded = try await ready(harness, "acme", arn: old)
        #expect(try await harness.cli(["customer", "remove", "acme"]).status == 0)
        // An endpoint of the old registration that no generation records (made by hand, or a create whose
        // answer and token were lost): tagged acme, for the old ARN.
        let stray = try await SimulatorClients(sim).ec2.createResourceEndpoint(.test(old, clientToken: "by-hand-1", customer: "acme"))
        sim.addInvitation(sender: Self.ours, shareName: "acme-new", resources: [SharedResource(arn: new)])
        try await harness.register("acme", arn: new)

        // Two rows named acme for a while (the old one removing): read them by ARN.
        func state(_ arn: String) async throws -> String? {
            let rows = try await harness.status()["customers"] as? [[String: Any]] ?? []
            return rows.first { $0["resourceConfigurationArn"] as? String == arn }?["state"] as? String
        }
        try await harness.passUntil(maxPasses: 8) {
            let (newState, oldState) = (try await state(new), try await state(old))
            return newState == "ready" && oldState == nil
                && sim.endpoints.filter { $0.resourceConfigurationArn == old }.allSatisfy { [.deleted, .deleting].contains($0.state) }
        }
        #expect([.deleted, .deleting].contains(sim.endpoint(stray.vpcEndpointId)?.state))
        #expect([.deleted, .deleting].contains(sim.endpoint(recorded.id)?.state))
        let live = try #require(harness.liveEndpoints()["acme"])
        #expect(live.map(\.resourceConfigurationArn) == [new])
        for _ in 0..<2 { try await harness.pass() }
        #expect(harness.liveEndpoints()["acme"]?.map(\.id) == live.map(\.id))
    }

    /// An endpoint tagged for a registration that was removed (left by an earlier build, a lost create answer)
    /// is found and deleted; one tagged for a name this state never knew (a lost state file, another
    /// installation) and one without our tag (made by hand) are left alone.
    @Test func anOrphanIsDeletedAndUnknownEndpointsLeftAlone() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        sim.addOrganizationShare(owner: Self.ours, shareName: "old", resources: [SharedResource(arn: testARN(47))])
        try await harness.register("gone", arn: testARN(47))
        #expect(try await harness.cli(["customer", "remove", "gone"]).status == 0)
        let ec2 = SimulatorClients(sim).ec2
        let orphan = try await ec2.createResourceEndpoint(.test(testARN(47), clientToken: "orphan-1", customer: "gone"))
        let unknown = try await ec2.createResourceEndpoint(.test(testARN(47), clientToken: "unknown-1", customer: "never-registered"))
        var untagged = ResourceEndpointRequest.test(testARN(47), clientToken: "by-hand-2")
        untagged.tags = []
        let byHand = try await ec2.createResourceEndpoint(untagged)
        try await harness.pass()
        try await harness.pass()
        #expect([.deleted, .deleting].contains(sim.endpoint(orphan.vpcEndpointId)?.state))
        #expect(sim.endpoint(unknown.vpcEndpointId)?.state == .available)
        #expect(sim.endpoint(byHand.vpcEndpointId)?.state == .available)
    }
}
