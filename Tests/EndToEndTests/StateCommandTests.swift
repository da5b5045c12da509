import AWSClient
import ConsumerStore
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// `state copy` and `state backup` through the binary: a SQLite state moved into PostgreSQL reads the
/// same and carries on without a second endpoint; a backup taken under a running daemon opens as the state.
@Suite struct StateCommandTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// A SQLite state with ready customers, a removed one, a refused invitation, probes and events.
    static func populated() async throws -> DaemonHarness {
        let harness = try await DaemonHarness()
        for n in 0..<3 {
            let arn = testARN(700 + n)
            harness.simulator.addInvitation(sender: "111122223333", shareName: "c\(n)", resources: [SharedResource(arn: arn)])
            try await harness.register("c\(n)", arn: arn)
        }
        harness.simulator.addInvitation(sender: "555566667777", shareName: "stranger",
                                        resources: [SharedResource(arn: testARN(799, account: "555566667777"))])
        try await harness.passUntil { try await harness.states().values.allSatisfy { $0 == "ready" } }
        let removed = try await harness.cli(["customer", "remove", "c2"])
        #expect(removed.status == 0, "\(removed.stderr)")
        try await harness.pass()
        return harness
    }

    @Test func aCopiedStateReadsTheSameAndCarriesOnWithoutASecondEndpoint() async throws {
        let harness = try await Self.populated()
        defer { Task { await harness.shutdown() } }
        let postgres = try await TestPostgresDatabase.make()
        var target = TestConfig(directory: harness.dir.path)
        target.extra = harness.config.extra.merging(["state": TestPostgresDatabase.configJSON(postgres)]) { $1 }
        let targetPath = try target.write(name: "postgres.json")

        let before = try await harness.cli(["status", "--json"])
        let shownBefore = try await harness.cli(["customer", "show", "c0", "--json"])
        let copied = try await harness.cli(["state", "copy", "--to", targetPath])
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(copied.stdout.contains("2 customer") == false && copied.stdout.contains("3 customer"), "\(copied.stdout)")

        let after = try await harness.cli(["status", "--json", "--config", targetPath])
        #expect(after.status == 0, "\(after.stderr)")
        let (old, new) = (try Self.json(before.stdout), try Self.json(after.stdout))
        #expect(NSDictionary(dictionary: ["c": old["customers"]!, "i": old["invitations"]!])
                    .isEqual(to: ["c": new["customers"]!, "i": new["invitations"]!]), "status reads the same:\n\(before.stdout)\n\(after.stdout)")
        #expect(old["leader"] == nil && new.keys.contains("leader"), "the leader key only with PostgreSQL state")
        // Each generation's VPC is copied; the pools' capacity is the active daemon's to write, at its first pass.
        let withEndpoints = (new["customers"] as? [[String: Any]] ?? []).filter { $0["vpcEndpointId"] is String }
        #expect(withEndpoints.count >= 2 && withEndpoints.allSatisfy { ($0["vpcId"] as? String)?.hasPrefix("vpc-") == true }, "\(withEndpoints)")
        #expect((old["capacity"] as? [Any])?.count == 1 && (new["capacity"] as? [Any])?.isEmpty == true)
        let shownAfter = try await harness.cli(["customer", "show", "c0", "--json", "--config", targetPath])
        #expect(try NSDictionary(dictionary: Self.json(shownBefore.stdout)).isEqual(to: Self.json(shownAfter.stdout)))

        // A second copy would mix two states: refused, nothing changed.
        let again = try await harness.cli(["state", "copy", "--to", targetPath])
        #expect(again.status != 0 && again.stderr.contains("is not empty"), "\(again.stderr)")

        // The daemon carries on from the copy: same endpoints, same ClientTokens, nothing new created.
        let created = harness.endpointsEverCreated()
        let pass = try await harness.cli(["run", "--once", "--config", targetPath])
        #expect(pass.status == 0, "\(pass.stderr)")
        #expect(harness.endpointsEverCreated() == created)
        let carriedOn = try Self.json(try await harness.cli(["status", "--json", "--config", targetPath]).stdout)
        #expect((carriedOn["customers"] as? [[String: Any]] ?? []).contains { $0["state"] as? String == "ready" })
        #expect(NSArray(array: carriedOn["capacity"] as? [Any] ?? []).isEqual(to: old["capacity"] as? [Any] ?? ["missing"]),
                "\(carriedOn["capacity"] ?? "-") \(old["capacity"] ?? "-")")
    }

    @Test func copyIsRefusedWhileTheDaemonRunsAndForTheWrongKindsOfState() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        try await harness.register("acme", arn: testARN(710))
        let postgres = try await TestPostgresDatabase.make()
        var target = TestConfig(directory: harness.dir.path)
        target.extra = ["state": TestPostgresDatabase.configJSON(postgres)]
        let targetPath = try target.write(name: "postgres.json")

        let daemon = try harness.startDaemon()
        try await harness.waitUntil("the daemon holds the state lock") {
            FileManager.default.fileExists(atPath: harness.config.stateDatabase + ".lock") && daemon.isRunning
        }
        try await Task.sleep(for: .milliseconds(500))
        let running = try await harness.cli(["state", "copy", "--to", targetPath])
        #expect(running.status == 1 && running.stderr.contains("stop the daemon first"), "\(running.stderr)")
        kill(daemon.processIdentifier, SIGTERM)
        _ = await waitForExit(daemon, timeout: .seconds(10))

        // Into a SQLite "target", or from a PostgreSQL source: usage errors, exit 64.
        let sqliteTarget = try await harness.cli(["state", "copy", "--to", harness.configPath])
        #expect(sqliteTarget.status == 64 && sqliteTarget.stderr.contains("must configure \"state\""), "\(sqliteTarget.stderr)")
        let fromPostgres = try await harness.cli(["state", "copy", "--to", targetPath, "--config", targetPath])
        #expect(fromPostgres.status == 64 && fromPostgres.stderr.contains("must be a SQLite state"), "\(fromPostgres.stderr)")
        let backupPostgres = try await harness.cli(["state", "backup", harness.dir.file("b.sqlite3"), "--config", targetPath])
        #expect(backupPostgres.status == 64 && backupPostgres.stderr.contains("use the database's own backups"), "\(backupPostgres.stderr)")
    }

    @Test func aBackupTakenUnderARunningDaemonOpensAsTheState() async throws {
        let harness = try await DaemonHarness(pollIntervalSeconds: 0.2)
        defer { Task { await harness.shutdown() } }
        for n in 0..<4 {
            let arn = testARN(720 + n)
            harness.simulator.addInvitation(sender: "111122223333", shareName: "b\(n)", resources: [SharedResource(arn: arn)])
            try await harness.register("b\(n)", arn: arn)
        }
        let daemon = try harness.startDaemon()
        try await harness.waitUntil(timeout: .seconds(30), "ready") {
            let states = try await harness.states()
            return states.count == 4 && states.values.allSatisfy { $0 == "ready" }
        }
        let path = harness.dir.file("backups/state-1.sqlite3")
        let noDirectory = try await harness.cli(["state", "backup", path])
        #expect(noDirectory.status == 64 && noDirectory.stderr.contains("does not exist; create it first"), "\(noDirectory.stderr)")
        try FileManager.default.createDirectory(atPath: harness.dir.file("backups"), withIntermediateDirectories: true)
        // The daemon keeps writing (passes every 0.2 s, probes) while the copy is taken.
        let taken = try await harness.cli(["state", "backup", path])
        #expect(taken.status == 0 && taken.stdout.contains("4 customers"), "\(taken.stdout)\(taken.stderr)")
        #expect(daemon.isRunning)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        #expect(mode & 0o077 == 0, "backup mode \(String(mode, radix: 8))")
        let twice = try await harness.cli(["state", "backup", path])
        #expect(twice.status == 64 && twice.stderr.contains("never overwritten"), "\(twice.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.dir.file("backups")) == ["state-1.sqlite3"], "no partial file left")

        var restored = TestConfig(directory: harness.dir.path)
        restored.extra = harness.config.extra.merging(["stateDatabase": "\"\(path)\""]) { $1 }
        let restoredPath = try restored.write(name: "restored.json")
        let status = try await harness.cli(["status", "--json", "--config", restoredPath])
        #expect(status.status == 0, "\(status.stderr)")
        let customers = try Self.json(status.stdout)["customers"] as? [[String: Any]] ?? []
        #expect(customers.map { $0["name"] as? String } == ["b0", "b1", "b2", "b3"])
        #expect(customers.allSatisfy { $0["state"] as? String == "ready" && $0["vpcEndpointId"] is String })
    }
}
