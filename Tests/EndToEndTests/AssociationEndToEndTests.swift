import Foundation
import LatticeSimulator
import Testing
import TestSupport

extension DaemonEndToEnd {
/// Endpoints with several associations (a group configuration's children) and inaccessible ones, through
/// the daemon binary and the simulator's DescribeVpcEndpointAssociations.
@Suite struct AssociationEndToEndTests {
    @Test func theDNSNameIsTheCustomersChildsAndAnInaccessibleAssociationIsNotReady() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let (group, blocked) = (testARN(71), testARN(72))
        // The group's children, listed highest ARN first: the daemon must not take whichever comes last.
        harness.simulator.setAssociations([
            SimulatedAssociation(resourceArn: testARN(712), groupArn: group, dnsName: "child-712.example"),
            SimulatedAssociation(resourceArn: testARN(711), groupArn: group, dnsName: "child-711.example"),
            SimulatedAssociation(resourceArn: testARN(99), dnsName: "somebody-else.example"),
        ], forResource: group)
        harness.simulator.setAssociations([SimulatedAssociation(resourceArn: blocked, dnsName: "blocked.example", accessible: false)],
                                          forResource: blocked)
        for (name, arn) in [("grouped", group), ("blocked", blocked)] {
            harness.simulator.addInvitation(sender: "111122223333", shareName: name, resources: [SharedResource(arn: arn)])
            try await harness.register(name, arn: arn)
        }
        try await harness.passUntil(maxPasses: 6) { try await harness.states()["grouped"] == "ready" }
        try await harness.pass()
        let rows = try #require(try await harness.status()["customers"] as? [[String: Any]])
        let grouped = rows.first { $0["name"] as? String == "grouped" }
        let stuck = rows.first { $0["name"] as? String == "blocked" }
        #expect(grouped?["dnsName"] as? String == "child-711.example")
        #expect(stuck?["state"] as? String == "endpoint_pending")
        #expect((stuck?["stateDetail"] as? String)?.contains("Inaccessible") == true, "\(stuck ?? [:])")
        #expect((stuck?["hint"] as? String)?.contains("setup steps 2, 4 and 5") == true)

        // Accessible again: ready on the next pass, with its name.
        harness.simulator.setAssociations([SimulatedAssociation(resourceArn: blocked, dnsName: "blocked.example")], forResource: blocked)
        try await harness.passUntil(maxPasses: 3) { try await harness.states()["blocked"] == "ready" }
        let after = try #require(try await harness.status()["customers"] as? [[String: Any]])
        #expect(after.first { $0["name"] as? String == "blocked" }?["dnsName"] as? String == "blocked.example")
    }
}
}
