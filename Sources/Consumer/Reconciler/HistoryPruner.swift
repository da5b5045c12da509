import ConsumerStore
import Foundation
import Logging
import Synchronization

/// Keeps the state's history bounded (`retention`): answered invitations and old events go, at most once
/// an hour (the first pass prunes), so that no pass reads history it does not need.
final class HistoryPruner: Sendable {
    let store: any StateStore
    let retention: Retention
    let now: @Sendable () -> Date
    let logger: Logger
    let failures: FailureLog
    private let lastPruned = Mutex<Date?>(nil)

    init(store: any StateStore, retention: Retention, now: @escaping @Sendable () -> Date, logger: Logger, failures: FailureLog) {
        self.store = store
        self.retention = retention
        self.now = now
        self.logger = logger
        self.failures = failures
    }

    func pruneHourly() async {
        let time = now()
        guard lastPruned.withLock({ $0.map { time.timeIntervalSince($0) >= 3600 } ?? true }) else { return }
        do {
            let pruned = try await store.pruneHistory(invitationsBefore: time.addingTimeInterval(-Double(retention.invitationDays) * 86_400),
                                                      eventsBefore: time.addingTimeInterval(-Double(retention.eventDays) * 86_400),
                                                      eventsPerCustomer: retention.eventsPerCustomer)
            lastPruned.withLock { $0 = time }
            if pruned.invitations + pruned.events > 0 {
                logger.info("history pruned", metadata: ["invitations": "\(pruned.invitations)", "events": "\(pruned.events)"])
            }
        } catch {
            failures.report("prune history", error, metadata: [:])
        }
    }
}
