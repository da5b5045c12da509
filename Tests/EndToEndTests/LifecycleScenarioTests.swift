import ConsumerStore
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// The lifecycle under concurrency and EC2's eventual consistency, through the binary: the SE's CLI and
/// the daemon's passes write the same state file while the simulator lags, loses answers and fails.
@Suite struct LifecycleScenarioTests {
    static let ours = "111122223333"

    /// Registers a customer and shares its resource with us.
    func share(_ harness: DaemonHarness, _ name: String, arn: String) async throws {
        harness.simulator.addInvitation(sender: Self.ours, shareName: name, resources: [SharedResource(arn: arn)])
        try await harness.register(name, arn: arn)
    }

    func events(_ harness: DaemonHarness, _ name: String) throws -> [String] {
        let log = (try? String(contentsOfFile: harness.config.healthLog, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init)
            .filter { $0.contains("\"customer\":\"\(name)\"") && $0.contains("\"kind\":\"event\"") }
    }

    /// An SE removes a customer while a pass is inside a slow DescribeVpcEndpoints: the pass's plan, made
    /// from what it read before the removal, is dropped; the removal stands and finishes.
    @Test func aRemovalDuringASlowDescribeIsNotUndone() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        try await share(harness, "acme", arn: testARN(31))
        try await harness.passUntil(maxPasses: 3) { !harness.simulator.endpoints.isEmpty }
        try await harness.pass()
        #expect(try await harness.states()["acme"] == "endpoint_pending")
        #expect(harness.simulator.endpoints.first?.state == .available, "the next pass would see it Available")

        harness.simulator.inject(SimulatorFault(.delay(.seconds(3)), on: .operation(.ec2, "DescribeVpcEndpoints"), times: 1))
        async let slowPass = harness.cli(["run", "--once"])
        try await harness.waitUntil("the pass to be inside DescribeVpcEndpoints") { (harness.simulator.faultFirings.first ?? 0) >= 1 }
        let removal = try await harness.cli(["customer", "remove", "acme"])
        #expect(removal.status == 0, "\(removal.stderr)")
        let pass = try await slowPass
        #expect(pass.status == 0, "\(pass.stderr)")
        #expect(pass.stderr.contains("plan dropped"), "\(pass.stderr)")
        #expect(try await harness.states()["acme"] == "removing")

        try await harness.passUntil(maxPasses: 6) { try await harness.states()["acme"] == nil }
        #expect(harness.liveEndpoints()["acme"] == nil)
        let lines = try events(harness, "acme")
        #expect(!lines.contains { $0.contains("\"toState\":\"ready\"") }, "\(lines)")
        #expect(lines.contains { $0.contains("\"event\":\"removal_requested\"") && $0.contains("\"actor\":\"cli:") }, "\(lines)")
        #expect(lines.last?.contains("\"event\":\"removal_finished\"") == true, "\(lines)")
    }

    /// An SE removes a customer right after CreateVpcEndpoint, while DescribeVpcEndpoints does not list the
    /// new endpoint yet: the removal waits for it, deletes it, and only then finishes.
    @Test func aRemovalRightAfterCreateWaitsForTheEndpointEC2DoesNotListYet() async throws {
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(provisioning: ProvisioningSettings(listingLagDescribes: 3)))
        defer { Task { await harness.shutdown() } }
        try await share(harness, "acme", arn: testARN(32))
        try await harness.passUntil(maxPasses: 3) { !harness.simulator.endpoints.isEmpty }
        let created = try #require(harness.simulator.endpoints.first)
        #expect(try await harness.states()["acme"] == "endpoint_pending")
        _ = try await harness.cli(["customer", "remove", "acme"])

        try await harness.pass()
        #expect(try await harness.states()["acme"] == "removing", "finished while EC2 did not list the endpoint yet")
        #expect(harness.simulator.endpoint(created.id)?.state == .pending)
        try await harness.passUntil(maxPasses: 8) { try await harness.states()["acme"] == nil }
        #expect(harness.simulator.endpoint(created.id).map { [.deleted, .deleting].contains($0.state) } ?? true)
        #expect(harness.endpointsEverCreated() == ["acme": 1])
    }

    /// The same with the create's answer lost: the removal resolves the endpoint through the stored
    /// ClientToken and request, then deletes it.
    @Test func aRemovalAfterALostCreateAnswerResolvesItsTokenAndDeletes() async throws {
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(provisioning: ProvisioningSettings(listingLagDescribes: 2)))
        defer { Task { await harness.shutdown() } }
        harness.simulator.inject(SimulatorFault(.lostResponse, on: .operation(.ec2, "CreateVpcEndpoint"), times: 1))
        try await share(harness, "acme", arn: testARN(33))
        for _ in 0..<3 where harness.simulator.endpoints.isEmpty { _ = try await harness.cli(["run", "--once"]) }
        #expect(harness.simulator.endpoints.count == 1, "the create took effect, its answer was lost")
        _ = try await harness.cli(["customer", "remove", "acme"])
        for _ in 0..<8 where try await harness.states()["acme"] != nil {
            _ = try await harness.cli(["run", "--once"])
        }
        #expect(try await harness.states()["acme"] == nil)
        #expect(harness.liveEndpoints().isEmpty, "\(harness.simulator.endpoints.map { "\($0.id) \($0.state)" })")
        #expect(harness.endpointsEverCreated() == ["acme": 1])
    }

    /// `customer remove` followed at once by `customer add` of the same name and ARN: the old endpoint is
    /// deleted, the new registration ends with exactly one.
    @Test func removeThenAddAgainAtOnceLeaksNothing() async throws {
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(provisioning: ProvisioningSettings(listingLagDescribes: 2)))
        defer { Task { await harness.shutdown() } }
        let arn = testARN(34)
        try await share(harness, "acme", arn: arn)
        try await harness.passUntil(maxPasses: 3) { !harness.simulator.endpoints.isEmpty }
        let first = try #require(harness.simulator.endpoints.first?.id)
        _ = try await harness.cli(["customer", "remove", "acme"])
        let again = try await harness.cli(["customer", "add", "acme", "--arn", arn])
        #expect(again.status == 0, "\(again.stderr)")
        try await harness.passUntil(maxPasses: 10) {
            let customers = try await harness.status()["customers"] as? [[String: Any]] ?? []
            return customers.count == 1 && customers.first?["state"] as? String == "ready"
        }
        #expect(harness.simulator.endpoint(first).map { [.deleted, .deleting].contains($0.state) } ?? true)
        #expect(harness.liveEndpoints()["acme"]?.count == 1)
    }

    /// An endpoint generation that failed is counted once, however many passes still see it in EC2
    /// because its delete keeps failing.
    @Test func aFailedGenerationIsCountedOnce() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        try await share(harness, "acme", arn: testARN(35))
        try await harness.passUntil { try await harness.states()["acme"] == "ready" }
        let id = try #require(harness.simulator.endpoints.first?.id)
        #expect(harness.simulator.failEndpoint(id, code: "VpcEndpointLimitExceeded", message: "quota"))
        harness.simulator.inject(SimulatorFault(.serverError, on: .operation(.ec2, "DeleteVpcEndpoints")))
        for _ in 0..<4 {
            let pass = try await harness.cli(["run", "--once"])
            #expect(pass.status == 1, "a pass whose delete failed exits 1: \(pass.stderr)")
        }
        #expect(harness.simulator.endpoint(id)?.state == .failed, "still listed, failed")
        let store = try SQLiteStore(path: harness.config.stateDatabase)
        let acme = try await store.requireCustomer(named: "acme")
        #expect(acme.endpointFailures == 1)
        #expect(acme.state == .endpointFailed)
    }

    /// The state file is lost while 100 customers are ready: registering the same names and ARNs again
    /// adopts every endpoint in one pass, creates nothing, and reads DNS names in one call per 100.
    @Test func aLostStateFileIsAdoptedInOnePass() async throws {
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(provisioning: .instant))
        defer { Task { await harness.shutdown() } }
        let count = 100
        let customers = (0..<count).map { ("c\($0)", testARN(1000 + $0)) }
        do {
            let store = try SQLiteStore(path: harness.config.stateDatabase)
            for (name, arn) in customers {
                harness.simulator.addInvitation(sender: Self.ours, shareName: name, resources: [SharedResource(arn: arn)])
                _ = try await store.addCustomer(NewCustomer(name: name, arn: try ResourceConfigurationARN.parse(arn).get()), by: StoreFixtures.actor)
            }
        }
        try await harness.passUntil(maxPasses: 6) { try await harness.states().values.filter { $0 == "ready" }.count == count }
        let created = harness.endpointsEverCreated()
        #expect(created.count == count && created.values.allSatisfy { $0 == 1 })

        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: harness.config.stateDatabase + suffix) }
        // The SE registers the same names and ARNs again (one through the CLI, the rest through the same store call).
        try await harness.register(customers[0].0, arn: customers[0].1)
        do {
            let store = try SQLiteStore(path: harness.config.stateDatabase)
            for (name, arn) in customers.dropFirst() {
                _ = try await store.addCustomer(NewCustomer(name: name, arn: try ResourceConfigurationARN.parse(arn).get()), by: StoreFixtures.actor)
            }
        }
        let before = harness.simulator.callCounts
        try await harness.pass()
        let after = harness.simulator.callCounts
        let states = try await harness.states()
        #expect(states.count == count && states.values.allSatisfy { $0 == "ready" }, "\(states.filter { $0.value != "ready" })")
        #expect(harness.endpointsEverCreated() == created)
        #expect((after["ec2:CreateVpcEndpoint"] ?? 0) == (before["ec2:CreateVpcEndpoint"] ?? 0))
        #expect((after["ec2:DescribeVpcEndpointAssociations"] ?? 0) - (before["ec2:DescribeVpcEndpointAssociations"] ?? 0) == 1)
    }
}

/// The watchdog means progress: a pass stuck in an AWS call that never answers stops the pings.
@Suite struct WatchdogProgressTests {
    @Test func aPassStuckInAnAWSCallStopsTheWatchdog() async throws {
        let harness = try await DaemonHarness(pollIntervalSeconds: 1)
        defer { Task { await harness.shutdown() } }
        let socket = try NotifySocket(path: harness.dir.file("notify.sock"))
        _ = try harness.startDaemon(["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000"])
        var messages: [String] = []
        try await harness.waitUntil("watchdog pings while passes finish") {
            messages += socket.drain()
            return messages.filter { $0 == "WATCHDOG=1" }.count >= 3
        }
        // Every DescribeVpcEndpoints from now on answers after 25 s: well past WATCHDOG_USEC.
        harness.simulator.inject(SimulatorFault(.delay(.seconds(25)), on: .operation(.ec2, "DescribeVpcEndpoints")))
        try await harness.waitUntil("a pass inside the hung call") { (harness.simulator.faultFirings.first ?? 0) >= 1 }
        try await Task.sleep(for: .milliseconds(1500))
        _ = socket.drain()
        try await Task.sleep(for: .seconds(2))
        #expect(!socket.drain().contains("WATCHDOG=1"), "pings went on while the pass was stuck")
        harness.simulator.clearFaults()
    }
}
