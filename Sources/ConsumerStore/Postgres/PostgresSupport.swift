import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A statement on a connection that the server may have closed meanwhile.
struct ConnectionClosed: Error {}

extension PostgresConnection {
    /// Runs one statement and collects its rows. Fails at once on a closed connection:
    /// postgres-nio leaves a query sent on a connection the server has closed (it ended an idle
    /// transaction, it restarted) waiting forever.
    ///
    /// The answer also races the connection's closing: a query written in the instant the channel closes
    /// is dropped by postgres-nio without failing, and would otherwise be waited for forever (the pool's
    /// deadline closes the connection, which ends the wait here).
    ///
    /// A statement built from a literal runs by name (`NamedStatement`): prepared at its first use on this
    /// connection, then only bound and executed.
    @discardableResult
    func statement(_ statement: StoreQuery, logger: Logger) async throws -> [PostgresRow] {
        guard !isClosed else { throw ConnectionClosed() }
        let answer = eventLoop.makePromise(of: [PostgresRow].self)
        // One watch per connection fails what is pending when it closes; a callback per statement on the
        // connection's close future would stay there until the connection closes, for every statement it ran.
        let watch = ClosingWatch.of(self)
        guard let ticket = watch.add(answer) else { throw ConnectionClosed() }
        defer { watch.remove(ticket) }
        guard let name = PreparedNames.name(for: statement) else {
            query(statement.query, logger: logger).map(\.rows).cascade(to: answer)
            return try await answer.futureResult.get()
        }
        // postgres-nio runs a prepared statement as an async call: in a task of its own on this connection's
        // event loop (no thread hand-over), so that the watch can still fail the answer when the connection closes.
        let connection = self
        Task(executorPreference: EventLoopTaskExecutor(eventLoop)) {
            do {
                answer.succeed(try await NamedStatement.run(statement, name: name, on: connection, logger: logger))
            } catch {
                answer.fail(error)
            }
        }
        do {
            let rows = try await answer.futureResult.get()
            watch.prepared(name)
            return rows
        } catch {
            if NamedStatement.spoilsConnection(error, preparedBefore: watch.isPrepared(name)) { try? await close() }
            throw error
        }
    }
}

/// The statements waiting on one connection, failed together when it closes (a promise completes once:
/// whichever of the answer and the close comes second is ignored); and the statement names that ran on it.
final class ClosingWatch: Sendable {
    private struct Pending {
        var closed = false
        var next = 0
        var promises: [Int: EventLoopPromise<[PostgresRow]>] = [:]
        /// Names prepared on this connection (they ran once): a later failure of one is its execution's.
        var prepared: Set<String> = []
    }

    private let pending = Mutex(Pending())
    /// The connection watched: a watch found under the address of a connection since freed (whose close
    /// callback has not run yet) is not this connection's.
    /// Written once, in `init`, and only read after (so `nonisolated(unsafe)`: a `weak let` needs Swift 6.2's
    /// tools version, and the package declares 6.0).
    private nonisolated(unsafe) weak var connection: PostgresConnection?
    private static let watches = Mutex<[ObjectIdentifier: ClosingWatch]>([:])

    private init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// The connection's watch, made (with its one close callback) at its first statement.
    static func of(_ connection: PostgresConnection) -> ClosingWatch {
        let key = ObjectIdentifier(connection)
        let (watch, made) = watches.withLock { watches -> (ClosingWatch, Bool) in
            if let watch = watches[key], watch.connection === connection { return (watch, false) }
            let watch = ClosingWatch(connection)
            watches[key] = watch
            return (watch, true)
        }
        if made {
            connection.closeFuture.whenComplete { _ in
                watches.withLock { watches in
                    if watches[key] === watch { watches.removeValue(forKey: key) }
                }
                watch.close()
            }
        }
        return watch
    }

    /// A ticket for `promise`, or nil when the connection has closed already.
    func add(_ promise: EventLoopPromise<[PostgresRow]>) -> Int? {
        pending.withLock { pending in
            guard !pending.closed else { return nil }
            pending.next += 1
            pending.promises[pending.next] = promise
            return pending.next
        }
    }

    func prepared(_ name: String) {
        _ = pending.withLock { $0.prepared.insert(name) }
    }

    func isPrepared(_ name: String) -> Bool {
        pending.withLock { $0.prepared.contains(name) }
    }

    func remove(_ ticket: Int) {
        _ = pending.withLock { $0.promises.removeValue(forKey: ticket) }
    }

    /// How many statements wait (tests).
    var waiting: Int { pending.withLock { $0.promises.count } }

    private func close() {
        let promises = pending.withLock { pending in
            pending.closed = true
            defer { pending.promises = [:] }
            return Array(pending.promises.values)
        }
        for promise in promises { promise.fail(ConnectionClosed()) }
    }
}

/// One transaction on one connection: BEGIN, the body, COMMIT; ROLLBACK when the body throws. The body's
/// own error is rethrown as it is (postgres-nio's `withTransaction` wraps it).
enum PostgresTransaction {
    static func run<T: Sendable>(on connection: PostgresConnection, logger: Logger,
                                 _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await connection.statement("BEGIN", logger: logger)
        do {
            let value = try await body(connection)
            try await connection.statement("COMMIT", logger: logger)
            return value
        } catch {
            // Unnamed: a one-off on the error path.
            if !connection.isClosed { _ = try? await connection.statement(StoreQuery(unsafeSQL: "ROLLBACK"), logger: logger) }
            throw error
        }
    }
}

/// Reading rows whose values come from a database we do not trust blindly: a NULL where a value must be,
/// an unknown state name or a wrong type is an error naming the column, never a crash or a default.
struct PostgresRowReader {
    let row: PostgresRandomAccessRow
    let columns: PostgresColumns

    init(_ row: PostgresRow, columns: PostgresColumns = PostgresColumns()) {
        self.row = row.makeRandomAccess()
        self.columns = columns
    }

    /// The column named `name` (as written in the schema; PostgreSQL folded it to lower case).
    func callAsFunction<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        precondition(T.self != Date.self && T.self != Date?.self, "dates are read by their own overload, which rounds them")
        let cell = try self.cell(name)
        do {
            return try cell.decode(T.self, context: .default)
        } catch {
            throw StoreError(.corrupt, "state database: column \(cell.columnName) holds an unreadable value")
        }
    }

    /// A date column: postgres-nio reads whole microseconds, truncating (12:00:00.123 can come back as
    /// .122999), and every date the store writes is to the millisecond: read it back as written.
    func callAsFunction(_ name: String, as type: Date.Type = Date.self) throws -> Date {
        guard let date = try self(name, as: Date?.self) else {
            throw StoreError(.corrupt, "state database: column \(name.lowercased()) holds an unreadable value")
        }
        return date
    }

    func callAsFunction(_ name: String, as type: Date?.Type = Date?.self) throws -> Date? {
        let cell = try self.cell(name)
        do {
            guard let date = try cell.decode(Date?.self, context: .default) else { return nil }
            return Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
        } catch {
            throw StoreError(.corrupt, "state database: column \(cell.columnName) holds an unreadable value")
        }
    }

    private func cell(_ name: String) throws -> PostgresCell {
        guard let index = columns.index(of: name, in: row) else {
            throw StoreError(.corrupt, "state database: column \(name.lowercased()) is missing from a row")
        }
        return row[index]
    }

    /// A column holding one of `E`'s raw values.
    func value<E: RawRepresentable>(_ name: String, as type: E.Type = E.self) throws -> E where E.RawValue == String {
        let text: String = try self(name)
        guard let value = E(rawValue: text) else { throw StoreError(.corrupt, "state database: column \(name.lowercased()) holds unknown value \(text)") }
        return value
    }

    func optionalValue<E: RawRepresentable>(_ name: String, as type: E.Type = E.self) throws -> E? where E.RawValue == String {
        guard let text: String? = try self(name), let text else { return nil }
        guard let value = E(rawValue: text) else { throw StoreError(.corrupt, "state database: column \(name.lowercased()) holds unknown value \(text)") }
        return value
    }

    private static let decoder = JSONDecoder()

    /// A JSON document stored as text.
    func json<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        let text: String = try self(name)
        do {
            return try Self.decoder.decode(T.self, from: Data(text.utf8))
        } catch {
            throw StoreError(.corrupt, "state database: column \(name.lowercased()) holds unreadable JSON")
        }
    }
}

/// Where each column of one statement's rows is, by the name the store's code uses: the rows of one
/// statement share their columns, so each name is folded to lower case and found once, not once per row.
final class PostgresColumns {
    private var positions: [String: Int] = [:]
    private var folded: [String: Int]?

    func index(of name: String, in row: PostgresRandomAccessRow) -> Int? {
        if let index = positions[name] { return index }
        if folded == nil {
            folded = Dictionary(row.indices.map { (row[$0].columnName, $0) }, uniquingKeysWith: { first, _ in first })
        }
        guard let index = folded?[name.lowercased()] else { return nil }
        positions[name] = index
        return index
    }
}

extension [PostgresRow] {
    /// The first column of the first row as an integer, if there is one.
    func firstInt() throws -> Int64? {
        guard let row = first else { return nil }
        return try row.makeRandomAccess()[0].decode(Int64?.self, context: .default)
    }
}

/// Dates are stored to the millisecond, as the SQLite file stores them, so that both backends give back
/// exactly what they were given (to the millisecond) and compare the same.
extension Date {
    /// To the millisecond, down; a value already on a millisecond (up to a microsecond of floating-point
    /// error, as a date read back is) stays on it, so that storing a read value again never moves it.
    var storedPrecision: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000 + 0.001).rounded(.down) / 1000)
    }
}

/// Splits a migration's text into statements (the extended protocol takes one at a time): at a `;` that
/// ends a line, outside `$$`-quoted function bodies.
enum SQLStatements {
    static func split(_ text: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inDollarQuote = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if text[index...].hasPrefix("$$") {
                inDollarQuote.toggle()
                current += "$$"
                index = text.index(index, offsetBy: 2)
                continue
            }
            if character == ";" && !inDollarQuote {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
            } else {
                current.append(character)
            }
            index = text.index(after: index)
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty, !rest.split(separator: "\n").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }) {
            statements.append(rest)
        }
        return statements
    }
}
