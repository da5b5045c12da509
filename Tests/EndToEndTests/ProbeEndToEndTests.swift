import Foundation
import LatticeSimulator
import Testing
import TestSupport

extension DaemonEndToEnd {
    /// Probes through the daemon and the CLI against a real PostgreSQL and a closed port.
    @Suite struct ProbeEndToEndTests {
        @Test func healthyAndUnreachableCustomersWithHintsProbeCommandAndHealthLog() async throws {
            let postgres = try await ThrowawayPostgres.shared()
            // Generous stage budgets: the healthy database must pass its one probe however loaded the
            // machine (the closed port fails at once either way).
            let harness = try await DaemonHarness(simulator: SimulatorConfiguration(provisioning: .instant),
                                                  extra: ["probe": "{\"timeoutSeconds\": 15, \"concurrency\": 32}"])
            defer { Task { await harness.shutdown() } }
            let healthyArn = testARN(501), closedArn = testARN(502)
            harness.simulator.addInvitation(sender: "111122223333", shareName: "db", resources: [SharedResource(arn: healthyArn)])
            harness.simulator.addInvitation(sender: "111122223333", shareName: "down", resources: [SharedResource(arn: closedArn)])
            let closedPort = try freeLoopbackPort()
            #expect(try await harness.cli(["customer", "add", "db", "--arn", healthyArn, "--port", String(postgres.port)]).status == 0)
            #expect(try await harness.cli(["customer", "add", "down", "--arn", closedArn, "--port", String(closedPort)]).status == 0)
            try await harness.passUntil { try await harness.states().values.allSatisfy { $0 == "ready" } }
            try await harness.pass()

            let customers = try #require(try await harness.status()["customers"] as? [[String: Any]])
            let db = try #require(customers.first { $0["name"] as? String == "db" })
            let down = try #require(customers.first { $0["name"] as? String == "down" })
            #expect(db["health"] as? String == "healthy")
            #expect((db["lastProbe"] as? [String: Any])?["stage"] as? String == "postgres")
            #expect(down["health"] as? String == "unhealthy")
            #expect((down["lastProbe"] as? [String: Any])?["stage"] as? String == "connect")
            #expect((down["hint"] as? String)?.contains("listening") == true, "\(down["hint"] ?? "-")")

            // `probe NAME`: each stage with its latency; exit 0 only when all pass.
            let good = try await harness.cli(["probe", "db"])
            #expect(good.status == 0, "\(good.stderr)")
            for stage in ["dns", "connect", "postgres"] { #expect(good.stdout.contains("  \(stage) ")) }
            let bad = try await harness.cli(["probe", "down"])
            #expect(bad.status == 1)
            #expect(bad.stdout.contains("FAILED"))
            #expect(bad.stdout.contains("hint: Nothing is listening on port \(closedPort)"), "\(bad.stdout)")
            #expect(bad.stdout.contains("(step 4)"), "\(bad.stdout)")

            // The login stage: the password stays in its file, never in the store, output or logs.
            let passwordFile = try harness.dir.write("db-password", postgres.password + "\n")
            chmod(passwordFile, 0o600)
            let set = try await harness.cli(["customer", "set", "db", "--probe-user", postgres.user, "--probe-password-file", passwordFile])
            #expect(set.status == 0, "\(set.stderr)")
            let login = try await harness.cli(["probe", "db", "--log-level", "trace"])
            #expect(login.status == 0, "\(login.stdout) \(login.stderr)")
            #expect(login.stdout.contains("  login "))
            #expect(!login.stdout.contains(postgres.password) && !login.stderr.contains(postgres.password))
            let database = try Data(contentsOf: URL(fileURLWithPath: harness.config.stateDatabase))
            #expect(database.range(of: Data(postgres.password.utf8)) == nil)
            try "wrong-password".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let rejected = try await harness.cli(["probe", "db"])
            #expect(rejected.status == 1)
            // `probe` prints no SQLSTATE; this hint is the one given only for 28P01 (wrong password), not for
            // 28000 or any other login failure.
            #expect(rejected.stdout.split(separator: "\n").contains { $0.hasPrefix("  login ") && $0.contains("FAILED") }, "\(rejected.stdout)")
            #expect(rejected.stdout.contains("hint: PostgreSQL rejected the password for role \"\(postgres.user)\""), "\(rejected.stdout)")

            // The health log, read back by `health`.
            let health = try await harness.cli(["health", "--customer", "down"])
            #expect(health.status == 0)
            #expect(health.stdout.contains("probe  FAILED at connect"), "\(health.stdout)")
            let json = try await harness.cli(["health", "--json", "--since", "1h"])
            let lines = json.stdout.split(separator: "\n")
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
            #expect(lines.contains { $0.contains("\"kind\":\"probe\"") && $0.contains("\"customer\":\"db\"") && $0.contains("\"ok\":true") })
            let badSince = try await harness.cli(["health", "--since", "yesterday"])
            #expect(badSince.status == 64)
        }
    }
}
