import ConsumerCore
import Foundation
import Testing
import TestSupport
@testable import ConsumerStore

/// Upgrades and mixed versions on both backends, an older build simulated by the schema version it knows:
/// a new build migrates an old state and keeps its rows; an old build refuses a newer state, naming both
/// versions and the fix, and writes nothing; during a rolling upgrade of several hosts on PostgreSQL, a daemon
/// of the old build that is already running keeps working on the migrated state until its host is upgraded.
@Suite struct UpgradeTests {
    static func arn(_ n: Int) throws -> ResourceConfigurationARN { try ResourceConfigurationARN.parse(testARN(n)).get() }

    /// The schema version an old build knows (the one before this build's newest) and this build's.
    static func versions(_ backend: Backend) -> (old: Int, new: Int) {
        switch backend {
        case .sqlite: (Schema.currentVersion - 1, Schema.currentVersion)
        case .postgres: (PostgresSchema.currentVersion - 1, PostgresSchema.currentVersion)
        }
    }

    /// A store of the build that knows schema `known`, on the state `opened` names.
    static func build(_ opened: OpenedStore, knows known: Int) async throws -> any StateStore {
        if let postgres = opened.postgres { return try await PostgresStore.open(postgres, knownSchema: known) }
        return try SQLiteStore(path: opened.path!, knownSchema: known)
    }

    /// A fresh state written by the old build (the conformance helper opens it at the current version: the
    /// old build is simulated on a state it created itself).
    static func oldState(_ backend: Backend) async throws -> OpenedStore {
        let (old, _) = versions(backend)
        switch backend {
        case .sqlite:
            let path = conformanceRoot.file("\(UUID().uuidString).sqlite3")
            return OpenedStore(store: try SQLiteStore(path: path, knownSchema: old), path: path, postgres: nil)
        case .postgres:
            let config = try await TestPostgresDatabase.make()
            return OpenedStore(store: try await PostgresStore.open(config, knownSchema: old), path: nil, postgres: config)
        }
    }

    @Test(arguments: Backend.allCases) func aNewBuildMigratesAnOldStateAndKeepsItsRows(_ backend: Backend) async throws {
        let (old, new) = Self.versions(backend)
        let opened = try await Self.oldState(backend)
        #expect(try await opened.store.schemaVersion() == old)
        _ = try await opened.store.addCustomer(NewCustomer(name: "acme", arn: try Self.arn(1)), by: StoreFixtures.actor)
        let upgraded = try await Self.build(opened, knows: new)
        #expect(try await upgraded.schemaVersion() == new)
        #expect(try await upgraded.customers().map(\.name) == ["acme"])
        _ = try await upgraded.addCustomer(NewCustomer(name: "globex", arn: try Self.arn(2)), by: StoreFixtures.actor)
    }

    /// Generations written before pools learn their VPC from the request stored with their token; a request that
    /// names no VPC, or something else, leaves the row without one (the listing fills it in later), never a failed upgrade.
    @Test(arguments: Backend.allCases) func theUpgradeLearnsEachGenerationsVpcFromItsStoredRequest(_ backend: Backend) async throws {
        let opened = try await Self.oldState(backend)
        let customer = try await opened.store.addCustomer(NewCustomer(name: "acme", arn: try Self.arn(6)), by: StoreFixtures.actor)
        let insert = """
            INSERT INTO endpoint (customerId, region, clientToken, generation, state, createRequest, createdAt, updatedAt)
            VALUES (?, 'us-east-1', ?, ?, ?, ?, '2026-01-01 00:00:00', '2026-01-01 00:00:00')
            """
        let id = SQLValue.integer(Int(customer.id!))
        try await opened.raw([
            (insert, [id, "token-1", 1, "deleted", .text(VpcPoolStoreTests.request(vpc: "vpc-0c3", arn: testARN(6)))]),
            (insert, [id, "token-2", 2, "deleted", #"{"stored":true}"#]),
            (insert, [id, "token-3", 3, "deleted", #"{"vpcId":"subnet-1"}"#]),
            (insert, [id, "token-4", 4, "creating", nil]),
        ])
        let upgraded = try await Self.build(opened, knows: Self.versions(backend).new)
        let generations = try await upgraded.endpointGenerations(customerId: customer.id!)
        #expect(generations.map(\.clientToken) == ["token-1", "token-2", "token-3", "token-4"])
        #expect(generations.map(\.vpcId) == ["vpc-0c3", nil, nil, nil])
    }

    @Test(arguments: Backend.allCases) func anOldBuildRefusesANewerStateAndWritesNothing(_ backend: Backend) async throws {
        let (old, new) = Self.versions(backend)
        let opened = try await backend.open()
        _ = try await opened.store.addCustomer(NewCustomer(name: "acme", arn: try Self.arn(3)), by: StoreFixtures.actor)
        let before = try await opened.store.events(after: 0).count
        let error = await #expect(throws: StoreError.self) { _ = try await Self.build(opened, knows: old) }
        #expect(error?.code == .newerSchema)
        let message = error?.message ?? ""
        #expect(message.contains("schema version \(new)") && message.contains("this build's \(old)"), "\(message)")
        #expect(message.contains("upgrade this host") && message.contains("nothing was modified"), "\(message)")
        #expect(!message.contains("\n"), "one line: \(message)")
        #expect(try await opened.store.schemaVersion() == new)
        #expect(try await opened.store.events(after: 0).count == before)
    }

    /// Hosts upgraded one at a time (Deploy/README.md, "Upgrades"): the old build's running daemon, opened before
    /// the migration, goes on registering and moving customers on the migrated schema.
    @Test func aRunningOldDaemonKeepsWorkingWhileAnotherHostMigrates() async throws {
        let (_, new) = Self.versions(.postgres)
        let opened = try await Self.oldState(.postgres)
        let running = opened.store
        let customer = try await running.addCustomer(NewCustomer(name: "acme", arn: try Self.arn(4)), by: StoreFixtures.actor)
        let upgradedHost = try await Self.build(opened, knows: new)
        #expect(try await upgradedHost.schemaVersion() == new)
        let outcome = try await running.transition(TransitionRequest(customerId: customer.id!, from: .awaitingShare, event: .shareAccepted,
                                                                     detail: "accepted by the old build"))
        guard case .applied = outcome else { Issue.record("the old build's write was refused: \(outcome)"); return }
        _ = try await running.addCustomer(NewCustomer(name: "globex", arn: try Self.arn(5)), by: StoreFixtures.actor)
        #expect(try await upgradedHost.customers().map(\.name).sorted() == ["acme", "globex"])
    }
}
