import ConsumerStore
import Foundation
import Logging
import PostgresProbe
import Testing
import TestSupport
@testable import Consumer

/// The health log's rate limit: a result is written when it changes, then once an hour, not every minute.
@Suite struct ProbeSchedulerLogTests {
    @Test func repeatedIdenticalResultsAreWrittenOnChangeAndThenHourly() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let log = dir.file("health.jsonl")
        let writer = try HealthLogWriter(path: log)
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: ProbeTimeouts(uniform: .seconds(1)),
                                                                            logger: Logger(label: "test")),
                                       concurrency: 1, healthLog: writer, logger: Logger(label: "test"))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        func record(_ minute: Double, ok: Bool, kind: String? = "connectTimeout") -> ProbeResultRecord {
            ProbeResultRecord(id: nil, customerId: 1, time: start.addingTimeInterval(minute * 60), ok: ok, stage: ok ? .postgres : .connect,
                              errorKind: ok ? nil : kind, error: ok ? nil : "timed out after 5 s", hint: ok ? nil : "step 3",
                              latencyMs: ["dns": 0.4, "connect": 5000], vpcEndpointId: "vpce-0aaaaaaaaaaaaaaaa", dnsName: "localhost", port: 5432)
        }
        // A day of one failure every minute, a recovery, and a different failure.
        for minute in 0..<(24 * 60) { await scheduler.log(record(Double(minute), ok: false), customer: "acme") }
        await scheduler.log(record(24 * 60, ok: true), customer: "acme")
        await scheduler.log(record(24 * 60 + 1, ok: true), customer: "acme")
        await scheduler.log(record(24 * 60 + 2, ok: false, kind: "connectRefused"), customer: "acme")
        let entries = try HealthLogReader(path: log).entries(customer: "acme")
        // 24 hourly lines for the repeated failure, one for the recovery, one for the new failure.
        #expect(entries.count == 24 + 1 + 1, "\(entries.count) lines")
        guard case .probe(let last) = entries.last else {
            Issue.record("the last entry is not a probe")
            return
        }
        #expect(!last.ok)
        #expect(last.latencyMs["connect"] == 5000)
    }
}
