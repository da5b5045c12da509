import Foundation
import GRDB
import PostgresNIO
import Testing
import TestSupport
@testable import ConsumerStore

/// The conformance suite's two backends: every test that takes a `Backend` runs against the SQLite file
/// and against a real PostgreSQL (a fresh database on the tests' throwaway cluster).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// A new, empty state of this kind. SQLite files live in a directory removed when the test process
    /// exits (not when the test's values are released, which may be before its store's last use).
    func open(now: @escaping @Sendable () -> Date = { Date() }) async throws -> OpenedStore {
        switch self {
        case .sqlite:
            let path = conformanceRoot.file("\(UUID().uuidString).sqlite3")
            return OpenedStore(store: try SQLiteStore(path: path, now: now), path: path, postgres: nil)
        case .postgres:
            let config = try await TestPostgresDatabase.make()
            return OpenedStore(store: try await PostgresStore.open(config, now: now), path: nil, postgres: config)
        }
    }
}

/// Where the conformance suite's SQLite files live; removed at exit.
let conformanceRoot: TemporaryDirectory = {
    let directory = TemporaryDirectory("plc-conformance")
    conformanceRootPath = directory.path
    atexit { try? FileManager.default.removeItem(atPath: conformanceRootPath) }
    return directory
}()
nonisolated(unsafe) private var conformanceRootPath = ""

/// A value for `OpenedStore.raw`'s `?` placeholders.
enum SQLValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    case text(String)
    case integer(Int)
    case null

    init(stringLiteral value: String) { self = .text(value) }
    init(integerLiteral value: Int) { self = .integer(value) }
    init(nilLiteral: ()) { self = .null }
}

/// A write the database itself refused with a constraint (SQLite's SQLITE_CONSTRAINT; PostgreSQL's class 23,
/// which its lifecycle triggers raise as check_violation).
struct ConstraintRefusal: Error, CustomStringConvertible {
    var description: String
}

/// An opened store and a way around it: raw SQL in one transaction, for tests that prove the schema
/// refuses what no store method would write.
struct OpenedStore: Sendable {
    let store: any StateStore
    /// The SQLite file, or nil.
    let path: String?
    let postgres: PostgresStateConfig?

    /// Another store on the same state (another process's connections).
    func reopen() async throws -> any StateStore {
        if let postgres { return try await PostgresStore.open(postgres) }
        return try SQLiteStore(path: path!)
    }

    /// Runs `statements` (written in the SQL both databases accept, `?` placeholders) in one transaction.
    /// Throws `ConstraintRefusal` when a constraint refused one; any other error as it is.
    func raw(_ statements: [(String, [SQLValue])]) async throws {
        if let store = store as? SQLiteStore {
            do {
                try await store.database.write { db in
                    for (sql, values) in statements {
                        try db.execute(sql: sql, arguments: StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
                            switch value {
                            case .text(let text): text
                            case .integer(let number): number
                            case .null: nil
                            }
                        }))
                    }
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw ConstraintRefusal(description: error.message ?? "constraint")
            }
            return
        }
        guard let store = store as? PostgresStore else { throw ConstraintRefusal(description: "unknown store") }
        try await store.pool.withConnection { connection in
            try await PostgresTransaction.run(on: connection, logger: store.logger) { connection in
                for (sql, values) in statements {
                    var bindings = PostgresBindings()
                    for value in values {
                        switch value {
                        case .text(let text): bindings.append(text)
                        case .integer(let number): bindings.append(number)
                        case .null: bindings.appendNull()
                        }
                    }
                    var numbered = ""
                    var index = 0
                    for character in sql {
                        if character == "?" { index += 1; numbered += "$\(index)" } else { numbered.append(character) }
                    }
                    do {
                        try await connection.statement(StoreQuery(unsafeSQL: numbered, binds: bindings), logger: store.logger)
                    } catch let error as PSQLError where error.serverInfo?[.sqlState]?.hasPrefix("23") == true {
                        throw ConstraintRefusal(description: error.serverInfo?[.message] ?? "constraint")
                    }
                }
            }
        }
    }

    func raw(_ sql: String, _ values: [SQLValue] = []) async throws {
        try await raw([(sql, values)])
    }

    /// The rows of a query whose columns are all text, by position.
    func rawRows(_ sql: String, columns: Int) async throws -> [[String]] {
        if let store = store as? SQLiteStore {
            return try await store.database.read { db in
                try Row.fetchAll(db, sql: sql).map { row in (0..<columns).map { row[$0] as String } }
            }
        }
        guard let store = store as? PostgresStore else { throw ConstraintRefusal(description: "unknown store") }
        return try await store.pool.withConnection { connection in
            try await connection.statement(StoreQuery(unsafeSQL: sql), logger: store.logger).map { row in
                let access = row.makeRandomAccess()
                return try (0..<columns).map { try access[$0].decode(String.self, context: .default) }
            }
        }
    }
}
