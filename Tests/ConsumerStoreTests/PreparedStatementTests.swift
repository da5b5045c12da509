import Foundation
import Logging
import PostgresNIO
import Testing
import TestSupport
@testable import ConsumerStore

/// The store's statements run by name on a real PostgreSQL: prepared once per connection with their Swift
/// types, and a connection given up when what postgres-nio or the server keeps for a name would fail every
/// later use of it.
@Suite struct PreparedStatementTests {
    let logger = Logger(label: "test")

    private func sqlState(_ error: (any Error)?) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A NULL first, then values: declared by the Swift type (bigint, text), not by what the server would infer
    /// for a NULL (the column's integer), into which the later eight-byte value could not be bound.
    @Test func aStatementIsPreparedOnceWithItsSwiftTypes() async throws {
        let pool = try PostgresPool(try await TestPostgresDatabase.make(), capacity: 1, logger: logger)
        let (runs, stored) = try await pool.withConnection { connection in
            try await connection.statement("CREATE TABLE numbered (n integer, label text)", logger: logger)
            for (n, label) in [(nil, nil), (7, "seven"), (nil, "none"), (8, nil)] as [(Int?, String?)] {
                try await connection.statement("INSERT INTO numbered (n, label) VALUES (\(n), \(label))", logger: logger)
            }
            let runs = try await connection.statement("""
                SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO numbered%'
                """, logger: logger)
            let stored = try await connection.statement("SELECT n, label FROM numbered ORDER BY n NULLS FIRST, label NULLS FIRST",
                                                        logger: logger).map { row in
                try row.decode((Int?, String?).self, context: .default)
            }
            return (try runs.map { try $0.decode(Int64.self, context: .default) }, stored)
        }
        // One prepared statement on the connection, executed four times.
        #expect(runs == [4])
        #expect(stored.map(\.0) == [nil, nil, 7, 8])
        #expect(stored.map(\.1) == [nil, "none", "seven", nil])
        await pool.close()
    }

    /// postgres-nio keeps a failed preparation for the connection's lifetime: the connection is closed with it,
    /// and once the table exists the same statement runs on a new one.
    @Test func aFailedPreparationDoesNotStayWithTheConnection() async throws {
        let pool = try PostgresPool(try await TestPostgresDatabase.make(), capacity: 1, logger: logger)
        let closed = try await pool.withConnection { connection in
            let error = await #expect(throws: PSQLError.self) {
                try await connection.statement("SELECT count(*) FROM later WHERE id > \(Int64(0))", logger: logger)
            }
            #expect(sqlState(error) == "42P01")
            return connection.isClosed
        }
        #expect(closed)
        try await pool.withConnection { connection in
            try await connection.statement("CREATE TABLE later (id bigint)", logger: logger)
        }
        let count = try await pool.withConnection { connection in
            try await connection.statement("SELECT count(*) FROM later WHERE id > \(Int64(0))", logger: logger).firstInt()
        }
        #expect(count == 0)
        await pool.close()
    }

    /// A migration by another host that changes a statement's result columns: the server fails that name on this
    /// connection from then on (0A000), so the connection goes; the next one reads the new columns.
    @Test func aMigrationOfTheResultColumnsCostsOneConnection() async throws {
        let config = try await TestPostgresDatabase.make()
        let pool = try PostgresPool(config, capacity: 1, logger: logger)
        let other = try PostgresPool(config, capacity: 1, logger: logger)
        try await pool.withConnection { connection in
            try await connection.statement("CREATE TABLE widened (a integer)", logger: logger)
            try await connection.statement("INSERT INTO widened VALUES (1)", logger: logger)
            #expect(try await connection.statement("SELECT * FROM widened", logger: logger).first?.count == 1)
        }
        try await other.withConnection { connection in
            try await connection.statement(StoreQuery(unsafeSQL: "ALTER TABLE widened ADD COLUMN b integer"), logger: logger)
        }
        let closed = try await pool.withConnection { connection in
            let error = await #expect(throws: PSQLError.self) {
                try await connection.statement("SELECT * FROM widened", logger: logger)
            }
            #expect(sqlState(error) == "0A000")
            return connection.isClosed
        }
        #expect(closed)
        let columns = try await pool.withConnection { connection in
            try await connection.statement("SELECT * FROM widened", logger: logger).first?.count
        }
        #expect(columns == 2)

        // A read (the store's reads are idempotent) is run once more, on a new connection: no failure at all.
        try await other.withConnection { connection in
            try await connection.statement(StoreQuery(unsafeSQL: "ALTER TABLE widened ADD COLUMN c integer"), logger: logger)
        }
        let read = try await pool.withConnection(idempotent: true) { connection in
            try await connection.statement("SELECT * FROM widened", logger: logger).first?.count
        }
        #expect(read == 3)
        await pool.close()
        await other.close()
    }

    /// A statement prepared on the connection that fails as it executes (here a division by zero) leaves nothing
    /// behind: the connection stays.
    @Test func anExecutionFailureKeepsTheConnection() async throws {
        let pool = try PostgresPool(try await TestPostgresDatabase.make(), capacity: 1, logger: logger)
        let (closed, next) = try await pool.withConnection { connection in
            #expect(try await connection.statement("SELECT 10 / \(Int64(2))", logger: logger).firstInt() == 5)
            let error = await #expect(throws: PSQLError.self) {
                try await connection.statement("SELECT 10 / \(Int64(0))", logger: logger)
            }
            #expect(sqlState(error) == "22012")
            return (connection.isClosed, try await connection.statement("SELECT 10 / \(Int64(5))", logger: logger).firstInt())
        }
        #expect(!closed)
        #expect(next == 2)
        await pool.close()
    }

    /// A constraint's refusal is about the values: the connection stays, and so does what it prepared.
    @Test func aConstraintRefusalKeepsTheConnection() async throws {
        let pool = try PostgresPool(try await TestPostgresDatabase.make(), capacity: 1, logger: logger)
        let (closed, next) = try await pool.withConnection { connection in
            try await connection.statement("CREATE TABLE unique_names (name text PRIMARY KEY)", logger: logger)
            try await connection.statement("INSERT INTO unique_names VALUES (\("a"))", logger: logger)
            let error = await #expect(throws: PSQLError.self) {
                try await connection.statement("INSERT INTO unique_names VALUES (\("a"))", logger: logger)
            }
            #expect(sqlState(error) == "23505")
            let closed = connection.isClosed
            try await connection.statement("INSERT INTO unique_names VALUES (\("b"))", logger: logger)
            return (closed, try await connection.statement("SELECT count(*) FROM unique_names", logger: logger).firstInt())
        }
        #expect(!closed)
        #expect(next == 2)
        await pool.close()
    }

    /// Text made at run time (DDL, a table's name) is never given a name: the registry holds only the fixed texts.
    @Test func textMadeAtRunTimeRunsUnnamed() {
        #expect(PreparedNames.name(for: StoreQuery(unsafeSQL: "SELECT setval('customer_id_seq', 1)")) == nil)
        let fixed: StoreQuery = "SELECT \(Int64(1)) + \(Int64?.none)"
        #expect(fixed.types == [.int8, .int8])
        let name = PreparedNames.name(for: fixed)
        #expect(name != nil)
        #expect(PreparedNames.name(for: "SELECT \(Int64(2)) + \(Int64?.some(3))") == name)
        // The same text with other types is another statement.
        #expect(PreparedNames.name(for: "SELECT \(Int64(1)) + \("3")") != name)
    }
}
