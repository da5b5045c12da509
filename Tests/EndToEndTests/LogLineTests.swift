import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// What the journal shows: events with flat fields (`customer=acme ec2.endpoint=vpce-…`), never a Swift value's
/// dump (`Optional(…)`, `AWSModels.VpcEndpoint(…)`), through a whole story: onboarding, a refused stranger, a
/// lost answer, a throttled call, a failed endpoint, a removal.
@Suite struct LogLineTests {
    /// A module's name followed by a type's: how `String(describing:)` of a Swift value reads.
    static var dump: Regex<AnyRegexOutput> { try! Regex(#"\b(AWSModels|AWSClient|ConsumerCore|ConsumerStore|Consumer|PostgresProbe|LatticeSimulator|NIOCore|NIOPosix|PostgresNIO|Foundation|FoundationEssentials|Swift)\.[A-Z][A-Za-z]+"#) }

    @Test(arguments: ["info", "debug"]) func theDaemonsOutputHasNoSwiftValueDumps(level: String) async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        sim.addInvitation(sender: "111122223333", shareName: "acme", resources: [SharedResource(arn: testARN(901))])
        sim.addInvitation(sender: "111122223333", shareName: "globex", resources: [SharedResource(arn: testARN(902))])
        sim.addInvitation(sender: "555566667777", shareName: "stranger", resources: [SharedResource(arn: testARN(903, account: "555566667777"))])
        try await harness.register("acme", arn: testARN(901))
        try await harness.register("globex", arn: testARN(902))
        sim.inject(SimulatorFault(.lostResponse, on: .operation(.ec2, "CreateVpcEndpoint"), times: 1))
        sim.inject(SimulatorFault(.throttle, on: .operation(.ram, "GetResourceShareInvitations"), times: 1))
        var output = ""
        func pass() async throws {
            let run = try await harness.cli(["run", "--once", "--log-level", level])
            output += run.stderr
        }
        for _ in 0..<4 { try await pass() }
        // globex's endpoint fails; acme is removed.
        let globex = try #require(harness.liveEndpoints()["globex"]?.first?.id, "globex was onboarded")
        #expect(sim.failEndpoint(globex, code: "InsufficientCapacity", message: "no capacity"))
        #expect(try await harness.cli(["customer", "remove", "acme"]).status == 0)
        for _ in 0..<3 { try await pass() }
        #expect(output.contains("endpoint create answered"), "the story was logged: \(output.suffix(2000))")
        #expect(!output.contains("Optional("), "\(output.split(separator: "\n").filter { $0.contains("Optional(") }.prefix(5))")
        let dumps = output.split(separator: "\n").filter { $0.contains(Self.dump) }
        #expect(dumps.isEmpty, "\(dumps.prefix(5))")
    }
}
