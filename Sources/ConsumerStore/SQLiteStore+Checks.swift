import Foundation
import GRDB

/// A stored verdict of one resource configuration check.
public struct StoredCheck: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord, StoredDates {
    public static let databaseTableName = "customer_check"

    public var customerId: Int64
    public var name: String
    public var verdict: CheckVerdict
    public var detail: String
    public var hint: String?
    /// When the configuration was last read for it.
    public var checkedAt: Date
    /// When its verdict last changed.
    public var changedAt: Date

    public var result: CheckResult { CheckResult(check: name, verdict: verdict, detail: detail, hint: hint) }
}

extension SQLiteStore {
    /// Several customers' readings in one transaction (a pass's); returns the changed checks by customer id.
    @discardableResult
    public func recordChecks(_ readings: [(customerId: Int64, results: [CheckResult])]) async throws -> [(customerId: Int64, result: CheckResult)] {
        let time = now()
        return try await write { db in
            var changed: [(customerId: Int64, result: CheckResult)] = []
            for (customerId, results) in readings {
                guard let customer = try Customer.fetchOne(db, key: customerId),
                      ResourceConfigurationChecks.sharedStates.contains(customer.state) else { continue }
                for result in results {
                    let previous = try StoredCheck.fetchOne(db, key: ["customerId": customerId, "name": result.check])
                    let isChange = previous.map { $0.verdict != result.verdict } ?? (result.verdict != .pass)
                    let row = StoredCheck(customerId: customerId, name: result.check, verdict: result.verdict, detail: result.detail,
                                          hint: result.hint, checkedAt: time,
                                          changedAt: previous.map { $0.verdict == result.verdict ? $0.changedAt : time } ?? time)
                    try row.save(db)
                    guard isChange else { continue }
                    changed.append((customerId, result))
                    var event = StoreRules.checkEvent(customerId: customerId, name: customer.name, result, at: time)
                    try event.insert(db)
                }
            }
            return changed
        }
    }

    /// Which customers have verdicts, and when the due ones were last read: those read before `dueBefore`
    /// (or after `orAfter`, a clock that jumped back). Cheap at 10,000 customers: ids only for the rest.
    public func checkSchedule(dueBefore: Date, orAfter: Date) async throws -> CheckSchedule {
        try await read { db in
            var schedule = CheckSchedule()
            schedule.checked = Set(try Int64.fetchAll(db, sql: "SELECT DISTINCT customerId FROM customer_check"))
            let rows = try Row.fetchAll(db, sql: """
                SELECT customerId, min(checkedAt) AS checkedAt FROM customer_check GROUP BY customerId
                HAVING min(checkedAt) <= ? OR min(checkedAt) > ?
                """, arguments: [StoredDateArgument(dueBefore), StoredDateArgument(orAfter)])
            for row in rows {
                schedule.due[try row.decode(forColumn: "customerId")] = try row.decodeDate(forColumn: "checkedAt")
            }
            return schedule
        }
    }

    /// Forgets a customer's verdicts if, and only if, its share is gone now (decided on the state in the file,
    /// not on the caller's snapshot: a share accepted again meanwhile keeps its new verdicts).
    public func clearChecks(customerId: Int64) async throws {
        try await write { db in
            guard let customer = try Customer.fetchOne(db, key: customerId),
                  !ResourceConfigurationChecks.sharedStates.contains(customer.state) else { return }
            try db.execute(sql: "DELETE FROM customer_check WHERE customerId = ?", arguments: [customerId])
        }
    }

    /// Every stored verdict, by customer id (for `status`, the metrics and the pass's schedule).
    public func checks() async throws -> [Int64: [StoredCheck]] {
        try await read { db in try Self.checks(db) }
    }

    static func checks(_ db: Database) throws -> [Int64: [StoredCheck]] {
        Dictionary(grouping: try StoredCheck.order(Column("customerId")).fetchAll(db), by: \.customerId).mapValues(CheckOrder.sorted)
    }
}
