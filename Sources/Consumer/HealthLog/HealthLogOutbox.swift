import ConsumerStore
import Synchronization
import Foundation

/// The health log's outbox reader: every row of the event table (the daemon's transitions and the CLI's)
/// becomes exactly one `kind: event` line (a check's verdict change a `kind: check` line), in the order they were committed.
///
/// The cursor (the last event id written) is kept in the state; a daemon that died after writing lines
/// but before moving the cursor finds the ids already in the log (each line carries its `eventId`) and
/// does not write them twice.
public final class HealthLogOutbox: Sendable {
    let store: any StateStore
    let writer: HealthLogWriter?
    let batch: Int
    /// The highest event id found in the health log when the daemon started (nil until looked at).
    private let written = Mutex<Int64?>(nil)

    public init(store: any StateStore, writer: HealthLogWriter?, batch: Int = 500) {
        self.store = store
        self.writer = writer
        self.batch = batch
    }

    /// Writes every event after the cursor, then moves the cursor.
    public func flush() async throws {
        guard let writer else { return }
        var cursor = try await store.healthLogCursor()
        let stateId = try await store.stateId()
        let alreadyWritten: Int64
        if let known = written.withLock({ $0 }) {
            alreadyWritten = known
        } else {
            // Reading the log's tail blocks: on a blocking-work thread.
            let found = try await BlockingIO.run { HealthLogReader(path: writer.path).lastEventId(stateId: stateId) ?? 0 }
            alreadyWritten = written.withLock { value in
                value = max(value ?? 0, found)
                return value ?? 0
            }
        }
        while true {
            let events = try await store.events(after: cursor, limit: batch)
            guard let last = events.last?.id else { return }
            let lines: [(id: Int64, entry: HealthLogEntry)] = events.compactMap { event in
                guard let id = event.id, id > alreadyWritten else { return nil }
                if let check = event.checkName, let verdict = event.verdict {
                    return (id, .check(time: event.time, HealthLogCheck(customer: event.customerName ?? "-", check: check, verdict: verdict.rawValue,
                                                                        detail: event.detail, hint: event.hint, eventId: id, stateId: stateId)))
                }
                return (id, .event(time: event.time, customer: event.customerName ?? "-", event: event.event, detail: event.detail,
                                   trail: HealthLogEventTrail(eventId: id, actor: event.actor, fromState: event.fromState?.rawValue,
                                                              toState: event.toState?.rawValue, stateId: stateId)))
            }
            // One trip to a blocking-work thread per batch; each line is remembered as it lands, so a retry
            // after a failure midway does not write it twice.
            try await BlockingIO.run { [self] in
                for line in lines where line.id > written.withLock({ $0 ?? 0 }) {
                    try writer.append(line.entry)
                    written.withLock { $0 = max($0 ?? 0, line.id) }
                }
            }
            try await store.advanceHealthLogCursor(to: last)
            cursor = last
            if events.count < batch { return }
        }
    }
}
