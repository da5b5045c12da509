import Foundation
import GRDB
import Testing
import TestSupport

/// The CLI driven as a real process: exit codes, messages, `--json`.
@Suite struct CLITests {
    let dir = TemporaryDirectory()
    let binary = ProcessRunner.executable("privatelink-consumer")

    func run(_ arguments: [String], config: String? = nil) async throws -> ProcessOutput {
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "PRIVATELINK_CONSUMER_CONFIG")
        if let config { environment["PRIVATELINK_CONSUMER_CONFIG"] = config }
        return try await ProcessRunner.run(binary, arguments, environment: environment)
    }

    func configured() throws -> String { try TestConfig(directory: dir.path, regions: ["us-east-1", "eu-west-1"]).write() }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func checkConfigSummarisesAndExitsZero() async throws {
        let config = try configured()
        let output = try await run(["check-config", "--config", config])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("config \(config): ok"))
        #expect(output.stdout.contains("region eu-west-1"))
        #expect(output.stdout.contains("region us-east-1"))
    }

    @Test func badConfigIsOneLinePerProblemAndExit64() async throws {
        let path = try dir.write("bad.json", TestConfig(directory: dir.path).json.replacingOccurrences(of: "subnet-0bbbbbbbbbbbbbbbb", with: "subnet-XYZ!"))
        let output = try await run(["check-config", "--config", path])
        #expect(output.status == 64)
        #expect(output.stdout.isEmpty)
        let lines = output.stderr.split(separator: "\n")
        #expect(lines == ["error: \(path): regions.us-east-1.subnetIds[1]: \"subnet-XYZ!\" is not a subnet id (expected subnet- and 8 or 17 lower-case hex digits)"])
    }

    /// A binary that finds a state written by a newer release refuses in one line naming both schema versions
    /// and the fix, exits non-zero, and writes nothing (the daemon too: it never starts on such a state).
    @Test func aStateFromANewerReleaseIsRefusedInOneLineAndLeftAlone() async throws {
        let config = try configured()
        #expect(try await run(["customer", "add", "acme", "--arn", testARN(1)], config: config).status == 0)
        let state = TestConfig(directory: dir.path).stateDatabase
        let queue = try DatabaseQueue(path: state)
        let newer = try await queue.write { db -> Int in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version")! + 1
            try db.execute(sql: "PRAGMA user_version = \(version)")
            return version
        }
        try await queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: state))
        for arguments in [["status"], ["run", "--once"], ["customer", "add", "globex", "--arn", testARN(2)]] {
            let output = try await run(arguments, config: config)
            #expect(output.status != 0, "\(arguments)")
            let lines = output.stderr.split(separator: "\n").filter { $0.contains("error") || $0.contains("schema") }
            #expect(lines.count == 1, "\(arguments): \(output.stderr)")
            let line = String(lines.first ?? "")
            #expect(line.contains("schema version \(newer)") && line.contains("this build's \(newer - 1)"), "\(line)")
            #expect(line.contains("upgrade this host"), "\(line)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: state)) == before)
    }

    @Test func configComesFromTheEnvironmentWhenNoOptionIsGiven() async throws {
        let config = try configured()
        let output = try await run(["check-config"], config: config)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains(config))
        let missing = try await run(["check-config"], config: dir.file("absent.json"))
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("absent.json: does not exist"))
    }

    @Test func registryRoundTrip() async throws {
        let config = try configured()
        let add = try await run(["customer", "add", "acme", "--arn", testARN(1), "--port", "6543", "--note", "ticket 7", "--config", config])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(add.stdout.contains("registered acme"))
        let second = try await run(["customer", "add", "globex", "--arn", testARN(2, region: "eu-west-1", account: "444455556666"), "--config", config])
        #expect(second.status == 0, "\(second.stderr)")

        let table = try await run(["customer", "list", "--config", config])
        #expect(table.status == 0)
        let rows = table.stdout.split(separator: "\n")
        #expect(rows.count == 3)
        #expect(rows[0].hasPrefix("NAME"))
        #expect(rows[1].hasPrefix("acme "))
        #expect(rows[2].hasPrefix("globex "))
        // Aligned: every row has its STATE column at the same offset.
        let stateColumn = try #require(rows[0].range(of: "STATE")).lowerBound.utf16Offset(in: rows[0])
        #expect(rows.dropFirst().allSatisfy { row in row.dropFirst(stateColumn).hasPrefix("awaiting_share") })

        let listed = try json(try await run(["customer", "list", "--json", "--config", config]).stdout)
        let customers = try #require(listed["customers"] as? [[String: Any]])
        #expect(customers.map { $0["name"] as? String } == ["acme", "globex"])
        let acme = customers[0]
        #expect(acme["resourceConfigurationArn"] as? String == testARN(1))
        #expect(acme["region"] as? String == "us-east-1")
        #expect(acme["accountId"] as? String == "111122223333")
        #expect(acme["port"] as? Int == 6543)
        #expect(acme["state"] as? String == "awaiting_share")
        #expect(acme["note"] as? String == "ticket 7")
        #expect(acme.keys.contains("vpcEndpointId") && acme["vpcEndpointId"] is NSNull)

        let show = try json(try await run(["customer", "show", "acme", "--json", "--config", config]).stdout)
        let events = try #require(show["events"] as? [[String: Any]])
        #expect(events.map { $0["event"] as? String } == ["registered"])
        let human = try await run(["customer", "show", "acme", "--config", config])
        #expect(human.stdout.contains("awaiting_share"))
        #expect(human.stdout.contains("registered"))

        let remove = try await run(["customer", "remove", "acme", "--config", config])
        #expect(remove.status == 0, "\(remove.stderr)")
        #expect(remove.stdout.contains("removed acme"))
        let after = try json(try await run(["customer", "list", "--json", "--config", config]).stdout)
        #expect((after["customers"] as? [[String: Any]])?.map { $0["name"] as? String } == ["globex"])
    }

    @Test(arguments: [
        (["customer", "add", "acme", "--arn", "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-123"], "--arn"),
        (["customer", "add", "acme", "--arn", " " + testARN(1)], "whitespace"),
        (["customer", "add", "acme", "--arn", testARN(1, region: "ap-south-1")], "regions.ap-south-1"),
        (["customer", "add", "Acme", "--arn", testARN(1)], "NAME"),
        (["customer", "add", "acme", "--arn", testARN(1), "--port", "0"], "--port 0 is out of range"),
        (["customer", "add", "acme", "--arn", testARN(1), "--port", "65536"], "--port 65536 is out of range"),
        (["customer", "add", "acme"], "--arn"),
        (["customer", "show", "nobody"], "no customer named nobody"),
        (["customer", "remove", "nobody"], "no customer named nobody"),
    ])
    func refusalsExit64WithOneLine(_ arguments: [String], _ expected: String) async throws {
        let config = try configured()
        let output = try await run(arguments + ["--config", config])
        #expect(output.status == 64, "\(output.stderr)")
        #expect(output.stderr.contains(expected), "\(output.stderr)")
        #expect(output.stdout.isEmpty)
        let list = try await run(["customer", "list", "--json", "--config", config])
        #expect(list.stdout.contains("\"customers\":[]"), "a refused command wrote something: \(list.stdout)")
    }

    @Test func duplicatesAreRefusedWithExit64() async throws {
        let config = try configured()
        #expect(try await run(["customer", "add", "acme", "--arn", testARN(1), "--config", config]).status == 0)
        let name = try await run(["customer", "add", "acme", "--arn", testARN(2), "--config", config])
        #expect(name.status == 64)
        #expect(name.stderr.contains("already registered"))
        let arn = try await run(["customer", "add", "other", "--arn", testARN(1), "--config", config])
        #expect(arn.status == 64)
        #expect(arn.stderr.contains("already registered as customer acme"))
    }

    @Test func twentyRegistrationsFromFourProcessesAtOnceAllLand() async throws {
        let config = try configured()
        // Each "SE" is a shell running five `customer add` one after another; four run at once.
        try await withThrowingTaskGroup(of: ProcessOutput.self) { group in
            for worker in 0..<4 {
                let script: String = (0..<5).map { n -> String in
                    let index = worker * 5 + n
                    return "'\(binary)' customer add c\(index) --arn \(testARN(index + 1)) --config '\(config)' || exit 1"
                }.joined(separator: "\n")
                group.addTask { try await ProcessRunner.run("/bin/sh", ["-c", script]) }
            }
            for try await output in group {
                #expect(output.status == 0, "\(output.stderr)")
            }
        }
        let listed = try json(try await run(["customer", "list", "--json", "--config", config]).stdout)
        let names = Set((listed["customers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        #expect(names == Set((0..<20).map { "c\($0)" }))
    }
}
