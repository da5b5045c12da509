import Foundation
import GRDB

extension SQLiteStore {
    /// Applies a lifecycle event to a customer if, and only if, it is still in `request.from`.
    public func transition(_ request: TransitionRequest, by actor: LifecycleActor) async throws -> TransitionOutcome {
        let time = now()
        return try await write { db in try Self.step(request, by: actor, at: time, in: db) }
    }

    /// A lifecycle step planned from `request.from`, inside the caller's transaction: the customer's
    /// compare-and-set, then the step. Stale when the customer is gone or has moved since the plan.
    static func step(_ request: TransitionRequest, by actor: LifecycleActor, at time: Date, in db: Database) throws -> TransitionOutcome {
        guard var customer = try Customer.fetchOne(db, key: request.customerId) else { return .stale(current: nil) }
        guard customer.state == request.from else { return .stale(current: customer.state) }
        return try applyTransition(&customer, from: request.from, event: request.event, detail: request.detail,
                                   hint: request.hint, resourceShareArn: request.resourceShareArn, by: actor, at: time, in: db)
    }

    /// The lifecycle step inside the caller's transaction: the table decides the next state; a change
    /// writes the customer and one event row. The schema's trigger refuses any edge the table lacks.
    static func applyTransition(_ customer: inout Customer, from: CustomerState, event: CustomerLifecycle.Event,
                                detail: String?, hint: String?, resourceShareArn: String? = nil, by actor: LifecycleActor,
                                at time: Date, in db: Database) throws -> TransitionOutcome {
        switch TransitionStep.plan(customer, from: from, event: event, detail: detail, hint: hint,
                                   resourceShareArn: resourceShareArn, by: actor, at: time) {
        case .refused(let refusal):
            return .refused(refusal)
        case .unchanged:
            return .refreshed
        case .refresh(let updated):
            customer = updated
            try customer.update(db)
            return .refreshed
        case .apply(let updated, var record):
            customer = updated
            try customer.update(db)
            try record.insert(db)
            return .applied(record)
        }
    }

    /// Records a happening that is not a state change (an endpoint created or deleted) in the event table,
    /// and so in the health log.
    static func note(_ event: String, customerId: Int64, detail: String, at time: Date, in db: Database) throws {
        let name = try String.fetchOne(db, sql: "SELECT name FROM customer WHERE id = ?", arguments: [customerId])
        var record = LifecycleEvent(time: time, customerId: customerId, customerName: name, event: event,
                                    fromState: nil, toState: nil, detail: detail, actor: .daemon)
        try record.insert(db)
    }

    // MARK: - The health log's outbox

    /// A random number fixed when the file was created (or upgraded): health-log lines carry it, so that the
    /// event ids of another (new, restored) state file are never mistaken for these.
    public func stateId() async throws -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'stateId'") ?? 0 }
    }

    /// The id of the last event written to the health log.
    public func healthLogCursor() async throws -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'healthLogCursor'") ?? 0 }
    }

    /// Events after `cursor`, oldest first, at most `limit`.
    public func events(after cursor: Int64, limit: Int) async throws -> [LifecycleEvent] {
        try await read { db in
            try LifecycleEvent.filter(Column("id") > cursor).order(Column("id")).limit(limit).fetchAll(db)
        }
    }

    /// Moves the cursor forward (never back: a second writer that lags cannot rewind it).
    public func advanceHealthLogCursor(to id: Int64) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE meta SET value = max(value, ?) WHERE key = 'healthLogCursor'", arguments: [id])
        }
    }

    // MARK: - Bounded history

    /// Deletes invitations last seen before `invitationsBefore` (answered long ago: RAM no longer lists
    /// them), events older than `eventsBefore`, and each customer's events beyond the newest
    /// `eventsPerCustomer`; never an event the health log has not received yet. Returns what was deleted.
    @discardableResult
    public func pruneHistory(invitationsBefore: Date, eventsBefore: Date, eventsPerCustomer: Int) async throws -> (invitations: Int, events: Int) {
        try await write { db in
            try db.execute(sql: "DELETE FROM invitation WHERE lastSeen < ? AND firstSeen < ?", arguments: [StoredDateArgument(invitationsBefore), StoredDateArgument(invitationsBefore)])
            let invitations = db.changesCount
            let cursor = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'healthLogCursor'") ?? 0
            try db.execute(sql: "DELETE FROM event WHERE time < ? AND id <= ?", arguments: [StoredDateArgument(eventsBefore), cursor])
            var events = db.changesCount
            let crowded = try Int64.fetchAll(db, sql: "SELECT customerId FROM event WHERE customerId IS NOT NULL GROUP BY customerId HAVING count(*) > ?",
                                             arguments: [eventsPerCustomer])
            for customerId in crowded {
                try db.execute(sql: """
                    DELETE FROM event WHERE customerId = ? AND id <= ? AND id <= (
                        SELECT id FROM event WHERE customerId = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                    """, arguments: [customerId, cursor, customerId, eventsPerCustomer])
                events += db.changesCount
            }
            return (invitations, events)
        }
    }
}
