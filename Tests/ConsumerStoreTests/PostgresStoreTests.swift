import Foundation
import Testing
import TestSupport
@testable import ConsumerStore

/// What only the PostgreSQL store has: several processes migrating one database at once, a server that
/// refuses us, is not there, or restarts under us. Against real servers on loopback.
@Suite struct PostgresStoreTests {
    static let arn = try! ResourceConfigurationARN.parse(testARN(1)).get()

    @Test func migrationsRunOnceHoweverManyStartAtOnce() async throws {
        let config = try await TestPostgresDatabase.make()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<8 { group.addTask { try await PostgresStore.open(config) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stores.count == 8)
        let opened = OpenedStore(store: stores[0], path: nil, postgres: config)
        let applied = try await opened.rawRows("SELECT version::text FROM schema_migration ORDER BY version", columns: 1)
        #expect(applied.map { $0[0] } == (1...PostgresSchema.currentVersion).map(String.init))
        for store in stores {
            #expect(try await store.schemaVersion() == PostgresSchema.currentVersion)
            await store.close()
        }
    }

    @Test func aDatabaseWrittenByANewerBuildIsRefusedAndLeftAlone() async throws {
        let opened = try await Backend.postgres.open()
        _ = try await opened.store.addCustomer(NewCustomer(name: "acme", arn: Self.arn), by: StoreFixtures.actor)
        try await opened.raw("INSERT INTO schema_migration (version, name) VALUES (99, 'from-the-future')")
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(opened.postgres!) }
        #expect(error?.code == .newerSchema)
        #expect(error?.message.contains("version 99") == true)
        #expect(try await opened.store.customers().map(\.name) == ["acme"])
    }

    @Test func aWrongPasswordIsRefusedWithoutShowingIt() async throws {
        var config = try await TestPostgresDatabase.make()
        let directory = TemporaryDirectory()
        config.passwordFile = try directory.write("password", "wrong-secret-4711\n")
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(config) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("login refused") == true, "\(String(describing: error))")
        #expect(error?.message.contains(config.description) == true)
        #expect(error?.message.contains("wrong-secret-4711") == false)
    }

    @Test func aMissingPasswordFileIsNamed() async throws {
        var config = try await TestPostgresDatabase.make()
        config.passwordFile = "/nonexistent/plc-password"
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(config) }
        #expect(error?.code == .cannotOpen)
        #expect(error?.message.contains("state.postgres.passwordFile /nonexistent/plc-password") == true)
    }

    @Test func nothingListeningFailsFastAndSaysWhere() async throws {
        let config = PostgresStateConfig(host: "127.0.0.1", port: try freeLoopbackPort(), database: "state", user: "plc", tls: .disable)
        let started = ContinuousClock.now
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(config) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("postgres://plc@127.0.0.1:\(config.port)/state") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(8))
    }

    /// A restart cuts every connection: operations while the server is down fail at once with `unavailable`
    /// (no hang), and the store reconnects by itself once it is back, with everything that was committed.
    @Test func aRestartedServerIsReconnectedAndNothingCommittedIsLost() async throws {
        let cluster = try await ThrowawayPostgres.dedicated()
        let config = try await TestPostgresDatabase.make(on: cluster)
        let store = try await PostgresStore.open(config)
        _ = try await store.addCustomer(NewCustomer(name: "acme", arn: Self.arn), by: StoreFixtures.actor)

        try await cluster.stop()
        let started = ContinuousClock.now
        let down = await #expect(throws: StoreError.self) { try await store.customers() }
        #expect(down?.code == .unavailable, "\(String(describing: down))")
        #expect(ContinuousClock.now - started < .seconds(8))
        let refused = await #expect(throws: StoreError.self) {
            try await store.addCustomer(NewCustomer(name: "globex", arn: try ResourceConfigurationARN.parse(testARN(2)).get()), by: StoreFixtures.actor)
        }
        #expect(refused?.code == .unavailable)

        try await cluster.startAgain()
        #expect(try await store.customers().map(\.name) == ["acme"], "committed before the stop, and nothing half-written after")
        _ = try await store.addCustomer(NewCustomer(name: "globex", arn: try ResourceConfigurationARN.parse(testARN(2)).get()), by: StoreFixtures.actor)
        try await cluster.restart()
        #expect(try await store.customers().map(\.name) == ["acme", "globex"])
        await store.close()
        try await cluster.stop()
    }
}
