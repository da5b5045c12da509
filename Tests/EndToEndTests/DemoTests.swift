import Foundation
import Testing
import TestSupport

extension DaemonEndToEnd {
    /// `demo`, the README's first command, as a newcomer runs it.
    @Suite struct DemoTests {
        @Test func demoShowsTheWholeFlowAndCleansUp() async throws {
            let before = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
                .filter { $0.hasPrefix("privatelink-consumer-demo-") }
            let output = try await ProcessRunner.run(ProcessRunner.executable("privatelink-consumer"), ["demo"],
                                                     environment: ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()])
            #expect(output.status == 0, "\(output.stderr)")
            let lines = output.stdout.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("acme ") && $0.contains(" ready ") && $0.contains(" healthy ") }, "\(output.stdout)")
            #expect(lines.contains { $0.hasPrefix("globex ") && $0.contains(" unhealthy ") && $0.contains("Nothing is listening") })
            #expect(lines.contains { $0.contains("555566667777") && $0.contains("unregistered_resource") })
            #expect(output.stdout.contains("probe  ok"))
            // globex's IP-type resource configuration: warned about in status (by name), blamed by explain; acme, whose
            // configuration carries the port its database really listens on, has no warning at all.
            let acme = lines.first { $0.hasPrefix("acme ") } ?? ""
            let globex = lines.first { $0.hasPrefix("globex ") } ?? ""
            #expect(globex.contains(" definition ") && !globex.contains("port,"), "\(globex)")
            #expect(!acme.contains("definition") && !acme.contains("port") && !acme.contains("status,"), "\(acme)")
            #expect(output.stdout.contains("definition fail: an IP resource"), "explain still says it whole")
            // The status table fits a 120-column terminal.
            let table = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                .drop { !$0.hasPrefix("CUSTOMER ") }.prefix { !$0.isEmpty }
            #expect(table.count >= 3 && table.allSatisfy { $0.count <= 120 }, "\(table.map { "\($0.count): \($0)" })")
            #expect(output.stdout.contains("→ customer side, resource configuration definition"))
            // One pass's lifecycle lines in the order they happened.
            let log = output.stdout
            let requested = try #require(log.range(of: "endpoint_requested"), "\(log)")
            let created = try #require(log.range(of: "endpoint_created"))
            #expect(requested.lowerBound < created.lowerBound)
            let after = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
                .filter { $0.hasPrefix("privatelink-consumer-demo-") }
            #expect(after == before, "the demo left its directory behind")
        }
    }
}
