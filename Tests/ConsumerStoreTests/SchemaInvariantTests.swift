import Foundation
import GRDB
import Testing
import TestSupport
@testable import ConsumerStore

/// The schema itself refuses bad rows, whatever code writes them.
@Suite struct SchemaInvariantTests {
    let dir = TemporaryDirectory()

    func store() throws -> ConsumerStore { try ConsumerStore(path: dir.file("state.sqlite3")) }

    static func insertCustomer(_ db: Database, name: String = "acme", arn: String = testARN(1), state: String = "awaiting_share",
                        port: Int = 5432, removedAt: String? = nil) throws {
        try db.execute(sql: """
            INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, state,
                                  keepEndpoint, createdAt, updatedAt, stateChangedAt, removedAt, stateActor)
            VALUES (?, ?, 'aws', 'us-east-1', '111122223333', ?, ?, 0, '2026-01-01', '2026-01-01', '2026-01-01', ?, 'cli:test')
            """, arguments: [name, arn, port, state, removedAt])
    }

    static func move(_ db: Database, id: Int = 1, to state: String, by actor: String) throws {
        try db.execute(sql: """
            UPDATE customer SET state = ?, stateActor = ?, removedAt = CASE WHEN ? = 'removed' THEN '2026-01-02' END WHERE id = ?
            """, arguments: [state, actor, state, id])
    }

    /// Writes the schema must refuse, whatever code attempts them.
    enum BadWrite: String, CaseIterable, Sendable {
        case badState, portZero, portTooHigh, upperCaseName, nameWithSpace, notAnArn, removedWithoutTime
        case duplicateLiveName, duplicateLiveArn, endpointWithoutCustomer, twoLiveEndpoints
        case ignoredInvitationWithoutReason, unknownRefusalReason, unknownProbeStage
        case registeredInAnotherState, registeredByTheDaemon, edgeNotInTheTable, daemonEntersRemoving, cliMakesACustomerReady
        case removedComesBack, removalFinishesWithAnOpenEndpoint, endpointForACustomerBeingRemoved, closedEndpointReopens
        case liveEndpointWithoutId, twoOpenGenerationsWithOneId

        func apply(_ db: Database) throws {
            let endpoint = "INSERT INTO endpoint (customerId, region, clientToken, generation, state, createdAt, updatedAt) VALUES (?, 'us-east-1', ?, ?, ?, '2026', '2026')"
            let invitation = "INSERT INTO invitation (invitationArn, region, resourceShareArn, senderAccountId, status, decision, reason, firstSeen, lastSeen) VALUES ('arn:aws:ram:us-east-1:1:resource-share-invitation/x', 'us-east-1', 's', '1', 'PENDING', 'ignored', ?, '2026', '2026')"
            switch self {
            case .badState: try insertCustomer(db, state: "happy")
            case .portZero: try insertCustomer(db, port: 0)
            case .portTooHigh: try insertCustomer(db, port: 70000)
            case .upperCaseName: try insertCustomer(db, name: "Acme")
            case .nameWithSpace: try insertCustomer(db, name: "ac me")
            case .notAnArn: try insertCustomer(db, arn: "rcfg-1")
            case .removedWithoutTime: try insertCustomer(db, state: "removed")
            case .duplicateLiveName:
                try insertCustomer(db)
                try insertCustomer(db, arn: testARN(2))
            case .duplicateLiveArn:
                try insertCustomer(db)
                try insertCustomer(db, name: "other")
            case .endpointWithoutCustomer:
                try db.execute(sql: endpoint, arguments: [99, "t", 1, "creating"])
            case .twoLiveEndpoints:
                try insertCustomer(db)
                try db.execute(sql: endpoint, arguments: [1, "t1", 1, "creating"])
                try db.execute(sql: endpoint, arguments: [1, "t2", 2, "creating"])
            case .registeredInAnotherState: try insertCustomer(db, state: "ready")
            case .registeredByTheDaemon:
                try db.execute(sql: """
                    INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, state, keepEndpoint,
                                          createdAt, updatedAt, stateChangedAt, stateActor)
                    VALUES ('other', ?, 'aws', 'us-east-1', '111122223333', 5432, 'awaiting_share', 0, '2026', '2026', '2026', 'daemon')
                    """, arguments: [testARN(2)])
            case .edgeNotInTheTable:
                try insertCustomer(db)
                try move(db, to: "endpoint_missing", by: "daemon")
            case .daemonEntersRemoving:
                try insertCustomer(db)
                try move(db, to: "removing", by: "daemon")
            case .cliMakesACustomerReady:
                try insertCustomer(db)
                try move(db, to: "ready", by: "cli:test")
            case .removedComesBack:
                try insertCustomer(db)
                try move(db, to: "removed", by: "cli:test")
                try move(db, to: "awaiting_share", by: "cli:test")
            case .removalFinishesWithAnOpenEndpoint:
                try insertCustomer(db)
                try db.execute(sql: "INSERT INTO endpoint (customerId, region, clientToken, generation, state, createdAt, updatedAt) VALUES (1, 'us-east-1', 't', 1, 'creating', '2026', '2026')")
                try move(db, to: "removing", by: "cli:test")
                try move(db, to: "removed", by: "daemon")
            case .endpointForACustomerBeingRemoved:
                try insertCustomer(db)
                try move(db, to: "removing", by: "cli:test")
                try db.execute(sql: endpoint, arguments: [1, "t", 1, "creating"])
            case .closedEndpointReopens:
                try insertCustomer(db)
                try db.execute(sql: endpoint, arguments: [1, "t", 1, "deleted"])
                try db.execute(sql: "UPDATE endpoint SET state = 'creating'")
            case .liveEndpointWithoutId:
                try insertCustomer(db)
                try db.execute(sql: endpoint, arguments: [1, "t", 1, "available"])
            case .twoOpenGenerationsWithOneId:
                try insertCustomer(db)
                let withId = "INSERT INTO endpoint (customerId, region, clientToken, generation, state, vpcEndpointId, createdAt, updatedAt) VALUES (1, 'us-east-1', ?, ?, ?, 'vpce-0aaaaaaaaaaaaaaaa', '2026', '2026')"
                try db.execute(sql: withId, arguments: ["t1", 1, "failed"])
                try db.execute(sql: withId, arguments: ["t2", 2, "available"])
            case .ignoredInvitationWithoutReason:
                try db.execute(sql: invitation, arguments: [nil as String?])
            case .unknownRefusalReason:
                try db.execute(sql: invitation, arguments: ["because"])
            case .unknownProbeStage:
                try insertCustomer(db)
                try db.execute(sql: "INSERT INTO probeResult (customerId, time, ok, stage, port) VALUES (1, '2026', 1, 'ping', 5432)")
            }
        }
    }

    @Test(arguments: BadWrite.allCases)
    func schemaRefuses(_ write: BadWrite) throws {
        let store = try store()
        // A constraint must refuse it: any other error (a typo in the test's SQL) would prove nothing.
        let error = #expect(throws: DatabaseError.self, "\(write)") {
            try store.database.write { db in try write.apply(db) }
        }
        #expect(error?.resultCode == .SQLITE_CONSTRAINT, "\(write): \(String(describing: error))")
    }

    @Test func aRemovedCustomersNameAndArnCanBeRegisteredAgain() throws {
        let store = try store()
        try store.database.write { db in
            try Self.insertCustomer(db)
            try Self.move(db, to: "removed", by: "cli:test")
            try Self.insertCustomer(db)
        }
        let count = try store.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM customer WHERE name = 'acme'") }
        #expect(count == 2)
    }
}

/// The store's lifecycle table is the code's: the migration's literal rows equal `CustomerLifecycle.table`.
@Suite struct LifecycleTableInTheStoreTests {
    @Test func theStoredEdgesAreTheLifecycleTable() async throws {
        let dir = TemporaryDirectory()
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
        let stored = try await store.read { db in
            try Row.fetchAll(db, sql: "SELECT fromState, toState, byActor FROM lifecycle_edge").map {
                CustomerLifecycle.StoredEdge(from: $0["fromState"], to: $0["toState"], by: $0["byActor"])
            }
        }
        #expect(Set(stored) == CustomerLifecycle.storedEdges)
        #expect(stored.count == CustomerLifecycle.storedEdges.count)
    }
}
