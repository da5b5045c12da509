import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// One statement of the store: its SQL, its values and their types. The types are the Swift values'
/// own, a NULL's included, so that the statement can be prepared once per connection under a name
/// (`PreparedNames`) with exactly the types every later execution binds: from then on the server only
/// binds and executes it, with no parse and no planning.
///
/// Built from a string literal with interpolated values (its text fixed where it is written): prepared.
/// Built with `unsafeSQL` (text made at run time: DDL, a table name): run unnamed, as postgres-nio runs a
/// `PostgresQuery`.
struct StoreQuery: Sendable, ExpressibleByStringInterpolation {
    var query: PostgresQuery
    /// The declared type of each bound value, in order (empty for `unsafeSQL`).
    var types: [PostgresDataType]
    var prepared: Bool

    init(unsafeSQL sql: String, binds: PostgresBindings = PostgresBindings()) {
        query = PostgresQuery(unsafeSQL: sql, binds: binds)
        types = []
        prepared = false
    }

    init(stringLiteral value: String) {
        query = PostgresQuery(unsafeSQL: value)
        types = []
        prepared = true
    }

    init(stringInterpolation: StringInterpolation) {
        query = PostgresQuery(stringInterpolation: stringInterpolation.query)
        types = stringInterpolation.types
        prepared = true
    }

    struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var query: PostgresQuery.StringInterpolation
        var types: [PostgresDataType] = []

        init(literalCapacity: Int, interpolationCount: Int) {
            query = PostgresQuery.StringInterpolation(literalCapacity: literalCapacity, interpolationCount: interpolationCount)
            types.reserveCapacity(interpolationCount)
        }

        mutating func appendLiteral(_ literal: String) {
            query.appendLiteral(literal)
        }

        mutating func appendInterpolation<Value: PostgresNonThrowingEncodable>(_ value: Value) {
            query.appendInterpolation(value)
            types.append(Value.psqlType)
        }

        /// A NULL is declared with its Swift type's, as a value would be: the statement's types do not
        /// depend on which of its values happen to be NULL the first time it runs.
        mutating func appendInterpolation<Value: PostgresNonThrowingEncodable>(_ value: Value?) {
            query.appendInterpolation(value)
            types.append(Value.psqlType)
        }

        /// Text of the statement itself (a constant column list), never a value.
        mutating func appendInterpolation(unescaped text: String) {
            query.appendInterpolation(unescaped: text)
        }
    }
}

/// The names of prepared statements, one per distinct text and types, the same on every connection of the
/// process (postgres-nio prepares a name on a connection at its first use there). Bounded: the store's
/// statements are a few dozen fixed texts; should that ever grow past `limit`, the rest run unnamed.
enum PreparedNames {
    static let limit = 512

    private struct Key: Hashable {
        var sql: String
        var types: [PostgresDataType]
    }

    private static let names = Mutex<[Key: String]>([:])

    /// The name for `statement`, or nil when it runs unnamed.
    static func name(for statement: StoreQuery) -> String? {
        guard statement.prepared else { return nil }
        let key = Key(sql: statement.query.sql, types: statement.types)
        return names.withLock { names in
            if let name = names[key] { return name }
            guard names.count < limit else { return nil }
            let name = "plc_\(names.count + 1)"
            names[key] = name
            return name
        }
    }
}

/// A statement postgres-nio runs by name: prepared (Parse, Describe) at its first use on a connection,
/// then only bound and executed.
///
/// postgres-nio takes a prepared statement's name, text and types from its type (static requirements); the
/// store's come from the statement at hand, so they are read from a task-local set around the one call that
/// reads them (`PostgresConnection.execute`, which reads all three before it returns, and the text again
/// when it fails, all in the calling task).
struct NamedStatement: PostgresPreparedStatement {
    typealias Row = PostgresRow

    struct Identity: Sendable {
        var name = ""
        var sql = ""
        var types: [PostgresDataType] = []
    }

    @TaskLocal static var current = Identity()

    // Read only inside `run`'s task-local scope: anywhere else the identity is empty, which would run an empty
    // statement under an empty name, so it stops there instead.
    static var name: String { identity.name }
    static var sql: String { identity.sql }
    static var bindingDataTypes: [PostgresDataType] { identity.types }

    private static var identity: Identity {
        precondition(!current.name.isEmpty, "NamedStatement read outside NamedStatement.run")
        return current
    }

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }

    /// Runs `statement` under `name` on `connection` and collects its rows.
    static func run(_ statement: StoreQuery, name: String, on connection: PostgresConnection, logger: Logger) async throws -> [PostgresRow] {
        try await $current.withValue(Identity(name: name, sql: statement.query.sql, types: statement.types)) {
            var rows: [PostgresRow] = []
            for try await row in try await connection.execute(NamedStatement(bindings: statement.query.binds), logger: logger) {
                rows.append(row)
            }
            return rows
        }
    }

    /// Whether a named statement's failure spoils its connection: postgres-nio keeps a failed preparation for the
    /// connection's lifetime and fails every later use of that name with it, and the server fails every execution
    /// of a statement whose result columns a migration changed (0A000, "cached plan must not change result type").
    /// A statement already prepared on the connection fails only at execution, which nothing keeps; a constraint's
    /// refusal (class 23) never comes from a preparation. The connection is closed, and with it what it kept.
    static func spoilsConnection(_ error: any Error, preparedBefore: Bool) -> Bool {
        guard let error = error as? PSQLError, error.code == .server else { return false }
        let state = error.serverInfo?[.sqlState] ?? ""
        if state.hasPrefix("23") { return false }
        return state == "0A000" || !preparedBefore
    }
}
