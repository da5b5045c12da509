import ConsumerStore
import Foundation
import Testing
import TestSupport
@testable import Consumer

/// The event table is the health log's outbox: every event exactly once, in commit order, also when the
/// daemon died between writing lines and moving its cursor.
@Suite struct HealthLogOutboxTests {
    func eventIds(_ path: String) throws -> [Int64] {
        try HealthLogReader(path: path).entries().compactMap { entry in
            if case .event(_, _, _, _, let trail) = entry { return trail?.eventId }
            return nil
        }
    }

    @Test func everyEventReachesTheLogExactlyOnceAcrossADeathBetweenWriteAndCursor() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let logPath = dir.file("health.jsonl")
        for n in 1...3 {
            _ = try await store.addCustomer(NewCustomer(name: "c\(n)", arn: try ResourceConfigurationARN.parse(testARN(n)).get()),
                                            by: .cli(user: "alice"))
        }
        _ = try await store.requestRemoval(named: "c3", keepEndpoint: false, by: .cli(user: "bob"))
        let all = try await store.events(after: 0)
        #expect(all.count == 4)

        // A daemon wrote the first two lines and died before moving the cursor.
        let dead = try HealthLogWriter(path: logPath)
        let stateId = try await store.stateId()
        // Lines of another state file (lost or restored) with higher ids must not hide this file's events.
        try dead.append(.event(time: Date(), customer: "old", event: "registered", detail: nil,
                               trail: HealthLogEventTrail(eventId: 99, actor: "daemon", fromState: nil, toState: nil, stateId: stateId + 1)))
        for event in all.prefix(2) {
            try dead.append(.event(time: event.time, customer: event.customerName ?? "-", event: event.event, detail: event.detail,
                                   trail: HealthLogEventTrail(eventId: event.id!, actor: event.actor, fromState: nil,
                                                              toState: event.toState?.rawValue, stateId: stateId)))
        }
        #expect(try await store.healthLogCursor() == 0)

        let outbox = HealthLogOutbox(store: store, writer: try HealthLogWriter(path: logPath))
        try await outbox.flush()
        #expect(try eventIds(logPath) == [99] + all.map { $0.id! })
        #expect(try await store.healthLogCursor() == all.last!.id!)
        // Nothing new: nothing written again.
        try await outbox.flush()
        #expect(try eventIds(logPath).count == 5)

        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.last?.contains("\"event\":\"removed\"") == true)
        #expect(lines.last?.contains("\"actor\":\"cli:bob\"") == true)
        #expect(lines.dropFirst().first?.contains("\"actor\":\"cli:alice\"") == true)
        #expect(lines.last?.contains("\"toState\":\"removed\"") == true)
    }
}
