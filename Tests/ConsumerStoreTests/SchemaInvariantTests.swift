import Foundation
import Testing
import TestSupport
@testable import ConsumerStore

/// The schema itself refuses bad rows, whatever code writes them: in the SQLite file and in PostgreSQL alike.
@Suite struct SchemaInvariantTests {
    typealias Statement = (String, [SQLValue])

    static func insertCustomer(name: String = "acme", arn: String = testARN(1), state: String = "awaiting_share",
                               port: Int = 5432, removed: Bool = false) -> Statement {
        ("""
            INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, state,
                                  keepEndpoint, createdAt, updatedAt, stateChangedAt, removedAt, stateActor)
            VALUES (?, ?, 'aws', 'us-east-1', '111122223333', ?, ?, false, '2026-01-01', '2026-01-01', '2026-01-01', \
            \(removed ? "'2026-01-02'" : "NULL"), 'cli:test')
            """, [.text(name), .text(arn), .integer(port), .text(state)])
    }

    static func move(id: Int = 1, to state: String, by actor: String) -> Statement {
        ("UPDATE customer SET state = ?, stateActor = ?, removedAt = \(state == "removed" ? "'2026-01-02'" : "NULL") WHERE id = ?",
         [.text(state), .text(actor), .integer(id)])
    }

    static func endpoint(customer: Int = 1, token: String, generation: Int, state: String, vpcEndpointId: String? = nil) -> Statement {
        ("""
            INSERT INTO endpoint (customerId, region, clientToken, generation, state, vpcEndpointId, createdAt, updatedAt)
            VALUES (?, 'us-east-1', ?, ?, ?, ?, '2026-01-01', '2026-01-01')
            """, [.integer(customer), .text(token), .integer(generation), .text(state), vpcEndpointId.map { .text($0) } ?? .null])
    }

    static func invitation(reason: String?) -> Statement {
        ("""
            INSERT INTO invitation (invitationArn, region, resourceShareArn, senderAccountId, status, decision, reason, firstSeen, lastSeen)
            VALUES ('arn:aws:ram:us-east-1:1:resource-share-invitation/x', 'us-east-1', 's', '1', 'PENDING', 'ignored', ?, '2026-01-01', '2026-01-01')
            """, [reason.map { .text($0) } ?? .null])
    }

    /// Writes the schema must refuse, whatever code attempts them.
    enum BadWrite: String, CaseIterable, Sendable {
        case badState, portZero, portTooHigh, upperCaseName, nameWithSpace, notAnArn, removedWithoutTime
        case duplicateLiveName, duplicateLiveArn, endpointWithoutCustomer, twoLiveEndpoints
        case ignoredInvitationWithoutReason, unknownRefusalReason, unknownProbeStage
        case registeredInAnotherState, registeredByTheDaemon, edgeNotInTheTable, daemonEntersRemoving, cliMakesACustomerReady
        case removedComesBack, removalFinishesWithAnOpenEndpoint, endpointForACustomerBeingRemoved, closedEndpointReopens
        case liveEndpointWithoutId, twoOpenGenerationsWithOneId
        // The same checks met by an UPDATE, past the insert trigger that refuses these rows first.
        case movedToAnUnknownState, removedWithoutTimeByUpdate

        var statements: [Statement] {
            switch self {
            case .badState: [insertCustomer(state: "happy")]
            case .portZero: [insertCustomer(port: 0)]
            case .portTooHigh: [insertCustomer(port: 70000)]
            case .upperCaseName: [insertCustomer(name: "Acme")]
            case .nameWithSpace: [insertCustomer(name: "ac me")]
            case .notAnArn: [insertCustomer(arn: "rcfg-1")]
            case .removedWithoutTime: [insertCustomer(state: "removed")]
            case .duplicateLiveName: [insertCustomer(), insertCustomer(arn: testARN(2))]
            case .duplicateLiveArn: [insertCustomer(), insertCustomer(name: "other")]
            case .endpointWithoutCustomer: [endpoint(customer: 99, token: "t", generation: 1, state: "creating")]
            case .twoLiveEndpoints:
                [insertCustomer(), endpoint(token: "t1", generation: 1, state: "creating"), endpoint(token: "t2", generation: 2, state: "creating")]
            case .registeredInAnotherState: [insertCustomer(state: "ready")]
            case .registeredByTheDaemon:
                [("""
                    INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, state, keepEndpoint,
                                          createdAt, updatedAt, stateChangedAt, stateActor)
                    VALUES ('other', ?, 'aws', 'us-east-1', '111122223333', 5432, 'awaiting_share', false, '2026-01-01', '2026-01-01', '2026-01-01', 'daemon')
                    """, [.text(testARN(2))])]
            case .edgeNotInTheTable: [insertCustomer(), move(to: "endpoint_missing", by: "daemon")]
            case .daemonEntersRemoving: [insertCustomer(), move(to: "removing", by: "daemon")]
            case .cliMakesACustomerReady: [insertCustomer(), move(to: "ready", by: "cli:test")]
            case .removedComesBack: [insertCustomer(), move(to: "removed", by: "cli:test"), move(to: "awaiting_share", by: "cli:test")]
            case .removalFinishesWithAnOpenEndpoint:
                [insertCustomer(), endpoint(token: "t", generation: 1, state: "creating"), move(to: "removing", by: "cli:test"),
                 move(to: "removed", by: "daemon")]
            case .endpointForACustomerBeingRemoved:
                [insertCustomer(), move(to: "removing", by: "cli:test"), endpoint(token: "t", generation: 1, state: "creating")]
            case .closedEndpointReopens:
                [insertCustomer(), endpoint(token: "t", generation: 1, state: "deleted"), ("UPDATE endpoint SET state = 'creating'", [])]
            case .liveEndpointWithoutId: [insertCustomer(), endpoint(token: "t", generation: 1, state: "available")]
            case .twoOpenGenerationsWithOneId:
                [insertCustomer(), endpoint(token: "t1", generation: 1, state: "failed", vpcEndpointId: "vpce-0aaaaaaaaaaaaaaaa"),
                 endpoint(token: "t2", generation: 2, state: "available", vpcEndpointId: "vpce-0aaaaaaaaaaaaaaaa")]
            case .movedToAnUnknownState:
                // An edge to it in the table, so that the lifecycle trigger lets it through to the CHECK.
                [insertCustomer(), ("INSERT INTO lifecycle_edge (fromState, toState, byActor) VALUES ('awaiting_share', 'happy', 'daemon')", []),
                 ("UPDATE customer SET state = 'happy', stateActor = 'daemon' WHERE id = 1", [])]
            case .removedWithoutTimeByUpdate:
                [insertCustomer(), ("UPDATE customer SET state = 'removed', stateActor = 'cli:test' WHERE id = 1", [])]
            case .ignoredInvitationWithoutReason: [invitation(reason: nil)]
            case .unknownRefusalReason: [invitation(reason: "because")]
            case .unknownProbeStage:
                [insertCustomer(), ("INSERT INTO probeResult (customerId, time, ok, stage, port) VALUES (1, '2026-01-01', true, 'ping', 5432)", [])]
            }
        }

        /// Whether a CHECK constraint (not a trigger) is what must refuse it.
        var refusedByACheck: Bool { self == .movedToAnUnknownState || self == .removedWithoutTimeByUpdate }

        /// The same statements up to the last, which is the bad one: they must all be accepted.
        var preparation: [Statement] { Array(statements.dropLast()) }
    }

    @Test(arguments: Backend.allCases, BadWrite.allCases)
    func schemaRefuses(_ backend: Backend, _ write: BadWrite) async throws {
        let opened = try await backend.open()
        // The statements before the bad one are fine on their own: the refusal is the bad one's.
        try await opened.raw(write.preparation)
        let fresh = try await backend.open()
        // A constraint must refuse it: any other error (a typo in the test's SQL) would prove nothing.
        let refusal = await #expect(throws: ConstraintRefusal.self, "\(backend) \(write)") {
            try await fresh.raw(write.statements)
        }
        if write.refusedByACheck {
            #expect(refusal?.description.lowercased().contains("check constraint") == true, "\(backend) \(write): \(String(describing: refusal))")
        }
    }

    @Test(arguments: Backend.allCases)
    func aRemovedCustomersNameAndArnCanBeRegisteredAgain(_ backend: Backend) async throws {
        let opened = try await backend.open()
        try await opened.raw([Self.insertCustomer(), Self.move(to: "removed", by: "cli:test"), Self.insertCustomer()])
        let rows = try await opened.rawRows("SELECT name FROM customer WHERE name = 'acme'", columns: 1)
        #expect(rows.count == 2)
    }
}

/// The store's lifecycle table is the code's: the migration's literal rows equal `CustomerLifecycle.table`, in both databases.
@Suite struct LifecycleTableInTheStoreTests {
    @Test(arguments: Backend.allCases)
    func theStoredEdgesAreTheLifecycleTable(_ backend: Backend) async throws {
        let opened = try await backend.open()
        let stored = try await opened.rawRows("SELECT fromState, toState, byActor FROM lifecycle_edge", columns: 3).map {
            CustomerLifecycle.StoredEdge(from: $0[0], to: $0[1], by: $0[2])
        }
        #expect(Set(stored) == CustomerLifecycle.storedEdges)
        #expect(stored.count == CustomerLifecycle.storedEdges.count)
    }
}
