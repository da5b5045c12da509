import Foundation
import GRDB
import PostgresNIO

/// Moving and keeping state: a SQLite state copied into an empty PostgreSQL one (`state copy`), and an
/// online, consistent copy of a SQLite state file (`state backup`).
public enum StateCopy {
    /// Rows per table, in copy order.
    public struct Counts: Sendable, Equatable {
        public var tables: [(table: String, rows: Int)]

        public static func == (lhs: Counts, rhs: Counts) -> Bool {
            lhs.tables.map(\.table) == rhs.tables.map(\.table) && lhs.tables.map(\.rows) == rhs.tables.map(\.rows)
        }
    }

    /// The tables copied, parents first; `lifecycle_edge` and `leader` come from the target's own migrations.
    static let tables = ["customer", "endpoint", "invitation", "event", "probeResult", "customer_check"]
    static let metaKeys = ["registryVersion", "healthLogCursor", "stateId"]
    static let batch = 2000

    /// Copies every row of `source` (one consistent read) into `target`, which must hold no customer, event,
    /// invitation, endpoint, probe result or check yet, in one transaction: ids, times, states and the
    /// health log's cursor and state id as they are, every row checked by the target's constraints. The
    /// rows in the target are counted before the commit and must equal the source's, or nothing is kept.
    public static func copy(from source: SQLiteStore, to target: PostgresStore) async throws -> Counts {
        let rows = try await source.read { db in
            Snapshot(customers: try Customer.order(Column("id")).fetchAll(db),
                     endpoints: try EndpointRecord.order(Column("id")).fetchAll(db),
                     invitations: try InvitationRecord.order(Column("invitationArn")).fetchAll(db),
                     events: try LifecycleEvent.order(Column("id")).fetchAll(db),
                     probes: try ProbeResultRecord.order(Column("id")).fetchAll(db),
                     checks: try StoredCheck.order(Column("customerId"), Column("name")).fetchAll(db),
                     meta: Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM meta").map { ($0["key"] as String, $0["value"] as Int64) },
                                      uniquingKeysWith: { first, _ in first }))
        }
        let expected = Counts(tables: [("customer", rows.customers.count), ("endpoint", rows.endpoints.count),
                                       ("invitation", rows.invitations.count), ("event", rows.events.count),
                                       ("probeResult", rows.probes.count), ("customer_check", rows.checks.count)])
        // One transaction, however long it takes (10,000 customers and their history: seconds).
        return try await target.write(timeout: .seconds(1800)) { session in
            // Building a table's rows takes time between statements: not an idle transaction to end.
            try await session.run("SET LOCAL idle_in_transaction_session_timeout = 0")
            let existing = try await counts(session)
            let occupied = existing.tables.filter { $0.rows > 0 }
            guard occupied.isEmpty else {
                throw StoreError(.invalid, "state copy: \(target.location) is not empty (\(occupied.map { "\($0.rows) \($0.table)" }.joined(separator: ", "))); copy only into a new, empty database")
            }
            // Rows go in as they stand (a removed customer, an endpoint of one being removed): the two insert
            // triggers that only let new registrations and generations in are off for this transaction only
            // (DDL is transactional; the tables' owner, the daemon's role, may). Every CHECK still applies.
            try await session.run("ALTER TABLE customer DISABLE TRIGGER customer_starts_awaiting_share")
            try await session.run("ALTER TABLE endpoint DISABLE TRIGGER endpoint_not_for_removed")
            try await session.run("ALTER TABLE endpoint DISABLE TRIGGER endpoint_released_kept")
            try await insert(session, "customer", rows.customers.map(json))
            try await insert(session, "endpoint", rows.endpoints.map(json))
            try await insert(session, "invitation", rows.invitations.map(json))
            try await insert(session, "event", rows.events.map(json))
            try await insert(session, "probeResult", rows.probes.map(json))
            try await insert(session, "customer_check", rows.checks.map(json))
            for table in ["customer", "endpoint", "event", "probeResult"] {
                try await session.run(StoreQuery(unsafeSQL: """
                    SELECT setval(pg_get_serial_sequence('\(table.lowercased())', 'id'), coalesce((SELECT max(id) FROM \(table)), 0) + 1, false)
                    """))
            }
            for key in metaKeys {
                if let value = rows.meta[key] { try await session.run("UPDATE meta SET value = \(value) WHERE key = \(key)") }
            }
            try await session.run("ALTER TABLE customer ENABLE TRIGGER customer_starts_awaiting_share")
            try await session.run("ALTER TABLE endpoint ENABLE TRIGGER endpoint_not_for_removed")
            try await session.run("ALTER TABLE endpoint ENABLE TRIGGER endpoint_released_kept")
            let copied = try await counts(session)
            guard copied == expected else {
                throw StoreError(.corrupt, "state copy: counts differ after the copy (source \(describe(expected)); target \(describe(copied))); nothing was kept")
            }
            return copied
        }
    }

    public static func describe(_ counts: Counts) -> String {
        counts.tables.map { "\($0.rows) \($0.table)" }.joined(separator: ", ")
    }

    private struct Snapshot: Sendable {
        var customers: [Customer]
        var endpoints: [EndpointRecord]
        var invitations: [InvitationRecord]
        var events: [LifecycleEvent]
        var probes: [ProbeResultRecord]
        var checks: [StoredCheck]
        var meta: [String: Int64]
    }

    private static func counts(_ session: PostgresStore.Session) async throws -> Counts {
        var tables: [(String, Int)] = []
        for table in Self.tables {
            tables.append((table, Int(try await session.int(StoreQuery(unsafeSQL: "SELECT count(*) FROM \(table)")) ?? 0)))
        }
        return Counts(tables: tables)
    }

    /// Rows go in as JSON objects named like the columns (PostgreSQL folds names to lower case), `batch` per
    /// statement, through `json_populate_recordset` with the table's own row type: the target's types,
    /// defaults and constraints apply as to any insert.
    private static func insert(_ session: PostgresStore.Session, _ table: String, _ rows: [[String: Any?]]) async throws {
        for start in stride(from: 0, to: rows.count, by: batch) {
            let chunk = rows[start..<min(start + batch, rows.count)].map { row in
                Dictionary(uniqueKeysWithValues: row.map { ($0.key.lowercased(), $0.value ?? NSNull()) })
            }
            let data = try JSONSerialization.data(withJSONObject: chunk, options: [.sortedKeys])
            let document = String(decoding: data, as: UTF8.self)
            try await session.run(StoreQuery(unsafeSQL: """
                INSERT INTO \(table) SELECT * FROM json_populate_recordset(NULL::\(table.lowercased()), $1::json)
                """, binds: { var binds = PostgresBindings(); binds.append(document); return binds }()))
        }
    }

    private static func time(_ date: Date?) -> Any? { date.map(Timestamp.string) }

    private static func json(_ row: Customer) -> [String: Any?] {
        ["id": row.id, "name": row.name, "resourceConfigurationArn": row.resourceConfigurationArn, "partition": row.partition,
         "region": row.region, "accountId": row.accountId, "port": row.port, "note": row.note, "state": row.state.rawValue,
         "stateDetail": row.stateDetail, "hint": row.hint, "keepEndpoint": row.keepEndpoint, "resourceShareArn": row.resourceShareArn,
         "invitationArn": row.invitationArn, "createdAt": time(row.createdAt), "updatedAt": time(row.updatedAt),
         "stateChangedAt": time(row.stateChangedAt), "removedAt": time(row.removedAt), "endpointFailures": row.endpointFailures,
         "nextEndpointAttemptAt": time(row.nextEndpointAttemptAt), "probeUser": row.probeUser, "probePasswordFile": row.probePasswordFile,
         "probeDatabase": row.probeDatabase, "stateActor": row.stateActor]
    }

    private static func json(_ row: EndpointRecord) -> [String: Any?] {
        ["id": row.id, "customerId": row.customerId, "region": row.region, "clientToken": row.clientToken, "generation": row.generation,
         "vpcEndpointId": row.vpcEndpointId, "vpcId": row.vpcId, "state": row.state.rawValue, "awsState": row.awsState, "dnsName": row.dnsName,
         "lastError": row.lastError, "createRequest": row.createRequest, "createAnsweredAt": time(row.createAnsweredAt),
         "lastSeenAt": time(row.lastSeenAt), "deleteRequestedAt": time(row.deleteRequestedAt), "createdAt": time(row.createdAt),
         "updatedAt": time(row.updatedAt)]
    }

    private static func json(_ row: InvitationRecord) -> [String: Any?] {
        ["invitationArn": row.invitationArn, "region": row.region, "resourceShareArn": row.resourceShareArn,
         "resourceShareName": row.resourceShareName, "senderAccountId": row.senderAccountId, "status": row.status,
         "resources": row.resourcesJSON, "decision": row.decision.rawValue, "reason": row.reason?.rawValue,
         "acceptClientToken": row.acceptClientToken, "firstSeen": time(row.firstSeen), "lastSeen": time(row.lastSeen),
         "decidedAt": time(row.decidedAt)]
    }

    private static func json(_ row: LifecycleEvent) -> [String: Any?] {
        ["id": row.id, "time": time(row.time), "customerId": row.customerId, "customerName": row.customerName, "event": row.event,
         "fromState": row.fromState?.rawValue, "toState": row.toState?.rawValue, "detail": row.detail, "actor": row.actor,
         "checkName": row.checkName, "verdict": row.verdict?.rawValue, "hint": row.hint]
    }

    private static func json(_ row: ProbeResultRecord) -> [String: Any?] {
        let latency = (try? JSONEncoder().encode(row.latencyMs)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ["id": row.id, "customerId": row.customerId, "time": time(row.time), "ok": row.ok, "stage": row.stage.rawValue,
                "errorKind": row.errorKind, "error": row.error, "hint": row.hint, "latencyMs": latency,
                "vpcEndpointId": row.vpcEndpointId, "dnsName": row.dnsName, "port": row.port]
    }

    private static func json(_ row: StoredCheck) -> [String: Any?] {
        ["customerId": row.customerId, "name": row.name, "verdict": row.verdict.rawValue, "detail": row.detail, "hint": row.hint,
         "checkedAt": time(row.checkedAt), "changedAt": time(row.changedAt)]
    }
}

extension SQLiteStore {
    /// An online, consistent copy of the state file at `path` (SQLite's backup API, from one read snapshot,
    /// while the daemon keeps writing), readable by its owner only. Written next to `path` and renamed into
    /// place once complete and checked, so that `path` is never a half-written file; an existing file is
    /// never overwritten. Returns the customers in the copy.
    @discardableResult
    public func backup(to path: String) async throws -> Int {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.invalid, "state backup: \(path) exists; backups are never overwritten, choose a new name (e.g. with the date)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StoreError(.invalid, "state backup: directory \(directory) does not exist; create it first")
        }
        let partial = directory + "/." + url.lastPathComponent + ".partial-\(getpid())"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError(.cannotOpen, "state backup: cannot create \(partial): check the directory's permissions")
            }
            let copy = try DatabaseQueue(path: partial)
            try database.backup(to: copy)
            let (check, customers) = try await copy.read { db in
                (try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "", try Int.fetchOne(db, sql: "SELECT count(*) FROM customer") ?? 0)
            }
            try copy.close()
            guard check == "ok" else { throw StoreError(.corrupt, "state backup: the copy does not check out (\(check)); nothing was kept") }
            // link(2) refuses an existing name (rename would replace a file that appeared meanwhile).
            guard link(partial, path) == 0 else {
                let reason = errno == EEXIST ? "it exists now; choose a new name" : String(cString: strerror(errno))
                throw StoreError(.cannotOpen, "state backup: cannot put the copy at \(path): \(reason)")
            }
            unlink(partial)
            return customers
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            if let error = error as? StoreError { throw error }
            throw StoreError(.cannotOpen, "state backup to \(path): \(Self.describe(error))")
        }
    }
}
