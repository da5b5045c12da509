import Foundation
import LatticeSimulator
import Testing
import TestSupport

extension DaemonEndToEnd {
/// The setup guide's third cause (an IP resource instead of the RDS DNS name) and the other
/// configuration mistakes, found by the daemon binary through GetResourceConfiguration on the simulator.
@Suite struct ResourceConfigurationCheckTests {
    @Test func configurationMistakesAreWarnedAboutNeverBlockingOnboarding() async throws {
        let port = try freeLoopbackPort()
        let harness = try await DaemonHarness(extra: ["metrics": "{\"listen\": \"127.0.0.1:\(port)\"}"])
        defer { Task { await harness.shutdown() } }
        let (good, ip, denied, wrongPort) = (testARN(61), testARN(62), testARN(63), testARN(64))
        harness.simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: ip, definition: .ip(address: "10.0.0.5")))
        harness.simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: denied, isReadable: false))
        harness.simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: wrongPort, portRanges: ["3306"]))
        for (name, arn) in [("good", good), ("ipdb", ip), ("denied", denied), ("wrongport", wrongPort)] {
            harness.simulator.addInvitation(sender: "111122223333", shareName: name, resources: [SharedResource(arn: arn)])
            try await harness.register(name, arn: arn)
        }
        try await harness.passUntil(maxPasses: 6) { try await harness.states().values.allSatisfy { $0 == "ready" } }

        let rows = try #require(try await harness.status()["customers"] as? [[String: Any]])
        func checks(_ name: String) -> [String: String] {
            let row = rows.first { $0["name"] as? String == name }
            let checks = row?["checks"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: checks.compactMap { check in
                (check["check"] as? String).map { ($0, check["verdict"] as? String ?? "") }
            })
        }
        #expect(checks("good") == ["type": "pass", "definition": "pass", "port": "pass", "status": "pass"])
        #expect(checks("ipdb")["definition"] == "fail")
        #expect(checks("denied").values.allSatisfy { $0 == "unknown" } && checks("denied").count == 4)
        #expect(checks("wrongport")["port"] == "fail")

        // `status` names the failing checks; `status --wide` says them whole, with the setup step.
        let text = try await harness.cli(["status"])
        #expect(text.status == 0)
        let ipLine = text.stdout.split(separator: "\n").first { $0.hasPrefix("ipdb") } ?? ""
        #expect(ipLine.contains(" definition ") && !ipLine.contains("setup step 4"), "\(ipLine)")
        let wide = try await harness.cli(["status", "--wide"])
        let ipWide = wide.stdout.split(separator: "\n").first { $0.hasPrefix("ipdb") } ?? ""
        #expect(ipWide.contains("definition: an IP resource") && ipWide.contains("setup step 4"), "\(ipWide)")

        // A verdict change is one `kind: check` line; the same verdict on a later pass writes nothing more.
        try await harness.pass()
        let log = try String(contentsOfFile: harness.config.healthLog, encoding: .utf8)
        let checkLines = log.split(separator: "\n").filter { $0.contains("\"kind\":\"check\"") }
        #expect(checkLines.count == 1 + 4 + 1, "\(checkLines.joined(separator: "\n"))")  // ipdb, denied ×4, wrongport
        #expect(checkLines.contains { $0.contains("\"customer\":\"ipdb\"") && $0.contains("\"check\":\"definition\"") && $0.contains("\"verdict\":\"fail\"") })
        // One pass's lines for a customer in the order things happened (the outbox's commit order).
        let goodLines = log.split(separator: "\n").filter { $0.contains("\"customer\":\"good\"") }
        let requested = try #require(goodLines.firstIndex { $0.contains("\"event\":\"endpoint_requested\"") })
        let created = try #require(goodLines.firstIndex { $0.contains("\"event\":\"endpoint_created\"") })
        let available = try #require(goodLines.firstIndex { $0.contains("\"event\":\"endpoint_available\"") })
        #expect(requested < created && created < available, "\(goodLines.joined(separator: "\n"))")
        // Checked once at acceptance, not again on every pass.
        #expect(harness.simulator.callCounts["vpc-lattice:GetResourceConfiguration"] == 4)

        // `explain` tells the whole story, oldest first, and blames the configuration; not healthy: exit 1.
        let explained = try await harness.cli(["explain", "ipdb"])
        #expect(explained.status == 1)
        #expect(explained.stdout.contains("→ customer side, resource configuration definition: delete and recreate"), "\(explained.stdout)")
        let document = try await harness.cli(["explain", "ipdb", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(document.stdout.utf8)) as? [String: Any])
        #expect(object["healthy"] as? Bool == false && object["state"] as? String == "ready")
        let story = object["story"] as? [[String: Any]] ?? []
        let kinds = story.compactMap { $0["kind"] as? String }
        #expect(kinds.first == "registration")
        #expect(Set(kinds).isSuperset(of: ["registration", "invitation", "event", "check", "endpoint"]), "\(kinds)")
        let times = story.compactMap { $0["time"] as? String }
        #expect(times == times.sorted(), "oldest first")
        #expect(try await harness.cli(["explain", "nobody"]).status != 0)

        // The metric is 1 while a check fails.
        let daemon = try harness.startDaemon()
        var page = ""
        try await harness.waitUntil("the check series on the metrics page") {
            page = (try? await httpGet(port: port, path: "/metrics").body) ?? ""
            return page.contains("privatelink_consumer_customer_check{")
        }
        #expect(page.contains(#"privatelink_consumer_customer_check{customer="ipdb",check="definition"} 1"#), "\(page)")
        #expect(page.contains(#"privatelink_consumer_customer_check{customer="good",check="definition"} 0"#))
        kill(daemon.processIdentifier, SIGTERM)
        #expect(await waitForExit(daemon, timeout: .seconds(10)) == 0)
    }
}
}
