import ConsumerStore
import Foundation
import GRDB
import Logging
import NIOPosix
import PostgresProbe
import Synchronization
import Testing
import TestSupport
@testable import Consumer

/// A real sweep: customers on a live PostgreSQL and on listeners that accept and never answer.
@Suite(.calmPool) struct ProbeSweepTests {
    @Test func hungDatabasesDoNotHoldUpHealthyOnesAndStartFirstNextTime() async throws {
        let postgres = try await ThrowawayPostgres.shared()
        let silent = try SilentListener()
        defer { silent.close() }
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let hung = Set(0..<4)
        for n in 0..<16 {
            try await StoreFixtures.readyCustomer(store, name: "c\(n)", arn: testARN(700 + n), port: hung.contains(n) ? silent.port : postgres.port,
                                                  vpcEndpointId: String(format: "vpce-0%016x", n))
        }
        // Wide budgets: the healthy probes must pass and start before the first hung one gives up,
        // however loaded the machine (the hung ones then take 6 s, which is not what is measured).
        let timeouts = ProbeTimeouts(dns: .seconds(10), connect: .seconds(10), postgres: .seconds(6), login: .seconds(10))
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: timeouts, logger: Logger(label: "test")),
                                       concurrency: 2, patience: .milliseconds(100), healthLog: nil, logger: Logger(label: "test"))
        let targets = try await scheduler.targets()
        #expect(targets.count == 16)
        #expect(!targets.contains { $0.expectedSlow })

        let start = Date()
        let summary = try await scheduler.sweep()
        #expect(summary == ProbeScheduler.SweepSummary(probed: 16, healthy: 12))
        var records: [ProbeResultRecord] = []
        for target in targets {
            records += try await store.probeHistory(customerId: target.customerId, limit: 10)
        }
        #expect(records.count == 16)
        let hungRecords = records.filter { $0.port == silent.port }
        #expect(hungRecords.count == 4)
        // When the first hung probe gave up (start + its stage latencies).
        let firstGaveUp = hungRecords.map { $0.time.addingTimeInterval($0.latencyMs.values.reduce(0, +) / 1000) }.min() ?? start
        for record in records {
            if record.port == silent.port {
                #expect(!record.ok && record.errorKind == "postgresTimeout", "\(record.customerId): \(record.errorKind ?? "ok")")
            } else {
                #expect(record.ok, "\(record.customerId): \(record.error ?? "")")
                // Had the hung probes (c0 and c1 come first) held both slots, the healthy ones would start after they gave up.
                #expect(record.time < firstGaveUp, "\(record.customerId) started \(record.time.timeIntervalSince(start)) s in")
            }
        }

        // Their timeouts are remembered: next sweep they go first, without a slot.
        let again = try await scheduler.targets()
        #expect(again.filter(\.expectedSlow).map(\.name).sorted() == ["c0", "c1", "c2", "c3"])
    }

    /// A sweep logs in where a customer has a login (the login stage runs on the event loops, and its result comes
    /// back to the sweep as any other): the right password is healthy with a login latency, a wrong one is refused
    /// as the customer's mistake, a missing file is said; customers without a login stop at PostgreSQL's answer.
    @Test func aSweepLogsInWhereACustomerHasALogin() async throws {
        let postgres = try await ThrowawayPostgres.shared()
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let right = try dir.write("right", postgres.password + "\n")
        let wrong = try dir.write("wrong", "not-the-password-\(UInt32.random(in: 0...UInt32.max))\n")
        let logins: [(name: String, passwordFile: String?)] = [("plain-0", nil), ("right-0", right), ("wrong-0", wrong), ("plain-1", nil),
                                                               ("right-1", right), ("missing-0", dir.file("no-such-file"))]
        for (n, login) in logins.enumerated() {
            try await StoreFixtures.readyCustomer(store, name: login.name, arn: testARN(780 + n), port: postgres.port,
                                                  vpcEndpointId: String(format: "vpce-2%016x", n))
            if let file = login.passwordFile {
                _ = try await store.setProbeLogin(named: login.name, user: postgres.user, passwordFile: file, database: nil, by: StoreFixtures.actor)
            }
        }
        // Wide budgets: this is about what each probe finds, not about time.
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: ProbeTimeouts(uniform: .seconds(15)), logger: Logger(label: "test")),
                                       concurrency: 2, slice: 4, healthLog: nil, logger: Logger(label: "test"))
        #expect(try await scheduler.sweep() == ProbeScheduler.SweepSummary(probed: 6, healthy: 4))
        let targets = try await scheduler.targets()
        #expect(targets.map(\.name).sorted() == logins.map(\.name).sorted())
        for target in targets {
            let history = try await store.probeHistory(customerId: target.customerId, limit: 10)
            #expect(history.count == 1, "\(target.name)")
            guard let record = history.first else { continue }
            switch target.name {
            case "plain-0", "plain-1":
                #expect(record.ok && record.latencyMs["login"] == nil, "\(target.name): \(record.error ?? "ok")")
            case "right-0", "right-1":
                #expect(record.ok && record.latencyMs["login"] != nil, "\(target.name): \(record.error ?? "ok")")
            case "wrong-0":
                #expect(!record.ok && record.errorKind == "loginRejected" && record.hint != nil, "\(target.name): \(record.errorKind ?? "ok")")
            default:
                #expect(!record.ok && record.errorKind == "passwordFileUnreadable", "\(target.name): \(record.errorKind ?? "ok")")
            }
        }
    }

    /// Results are written a slice at a time as they come: every one reaches the store and the health log. Once
    /// the store refuses a slice (here a trigger of the test's, as a lost lease would), nothing more is written
    /// anywhere, health log included, and the sweep fails.
    @Test func resultsAreWrittenASliceAtATimeAndARefusedSliceStopsTheWriting() async throws {
        let postgres = try await ThrowawayPostgres.shared()
        let dir = TemporaryDirectory()
        let path = dir.file("state.sqlite3")
        let store = try SQLiteStore(path: path)
        for n in 0..<12 {
            try await StoreFixtures.readyCustomer(store, name: "s\(n)", arn: testARN(760 + n), port: postgres.port,
                                                  vpcEndpointId: String(format: "vpce-1%016x", n))
        }
        let logPath = dir.file("health.jsonl")
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: ProbeTimeouts(uniform: .seconds(10)), logger: Logger(label: "test")),
                                       concurrency: 3, slice: 5, healthLog: try HealthLogWriter(path: logPath), logger: Logger(label: "test"))
        #expect(try await scheduler.sweep() == ProbeScheduler.SweepSummary(probed: 12, healthy: 12))
        for target in try await scheduler.targets() {
            #expect(try await store.probeHistory(customerId: target.customerId, limit: 10).count == 1, "\(target.name)")
        }
        func logLines() throws -> [String] {
            try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        #expect(try logLines().count == 12)

        // The next sweep: the store takes the first slice (5 rows) and refuses the rest.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: """
                CREATE TRIGGER test_refuses_probes BEFORE INSERT ON probeResult
                WHEN (SELECT count(*) FROM probeResult) >= 17
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """)
        }
        try queue.close()
        // A new scheduler (a restarted daemon): it logs every result once, unchanged or not.
        let again = ProbeScheduler(store: store, prober: PostgresProber(timeouts: ProbeTimeouts(uniform: .seconds(10)), logger: Logger(label: "test")),
                                   concurrency: 3, slice: 5, healthLog: try HealthLogWriter(path: logPath), logger: Logger(label: "test"))
        await #expect(throws: (any Error).self) { try await again.sweep() }
        var second = 0
        for target in try await again.targets() {
            second += try await store.probeHistory(customerId: target.customerId, limit: 10).count - 1
        }
        #expect(second == 5, "rows written by the refused sweep")
        #expect(try logLines().count == 12 + 5, "health-log lines after the refused sweep")
    }
}
