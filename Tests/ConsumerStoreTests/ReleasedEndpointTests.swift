import ConsumerCore
import Foundation
import Testing
import TestSupport
@testable import ConsumerStore

/// An endpoint kept by `customer remove --keep-endpoint` is nobody's to adopt or delete, whoever writes: the
/// store says so to the planner (the snapshot), to the executor right before a delete (`endpointClaims`),
/// and the schema refuses a generation that would take its id.
@Suite struct ReleasedEndpointTests {
    static let kept = "vpce-0000000000000000a"

    func arn(_ n: Int) throws -> ResourceConfigurationARN { try ResourceConfigurationARN.parse(testARN(n)).get() }

    /// acme with an available endpoint, removed with --keep-endpoint.
    func keptEndpoint(_ store: any StateStore) async throws -> Customer {
        let customer = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(1)), by: StoreFixtures.actor)
        let row = try #require(try await store.beginEndpoint(customerId: customer.id!, expecting: .awaitingShare, region: "us-east-1",
                                                             clientToken: "token-acme", request: "{}"))
        #expect(try await store.changeEndpoint(row.id!, .init(from: [.creating], to: .available, vpcEndpointId: Self.kept, awsState: "Available")))
        #expect(try await store.requestRemoval(named: "acme", keepEndpoint: true, by: StoreFixtures.actor).state == .removed)
        return customer
    }

    @Test(arguments: Backend.allCases) func aKeptEndpointIsKnownAndNeverAdopted(_ backend: Backend) async throws {
        let opened = try await backend.open()
        let store = opened.store
        _ = try await keptEndpoint(store)
        let snapshot = try await store.snapshot()
        #expect(snapshot.released.ids == [Self.kept])
        #expect(snapshot.knownEndpointIds.contains(Self.kept))
        // A new registration of the same name and ARN may not adopt it: the store says no...
        let again = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(1)), by: StoreFixtures.actor)
        let adopted = try await store.adoptEndpoint(customerId: again.id!, expecting: .awaitingShare, region: "us-east-1",
                                                    vpcEndpointId: Self.kept, vpcId: "vpc-0a1", state: .available, awsState: "Available", dnsName: nil)
        #expect(adopted == nil)
        // ...and so does the schema, whoever writes.
        let refusal = await #expect(throws: ConstraintRefusal.self) {
            try await opened.raw([("""
                INSERT INTO endpoint (customerId, region, clientToken, generation, vpcEndpointId, state, createdAt, updatedAt)
                VALUES (?, 'us-east-1', 'raw-token', 9, ?, 'available', '2026-01-01 00:00:00', '2026-01-01 00:00:00')
                """, [.integer(Int(again.id!)), .text(Self.kept)])])
        }
        #expect(refusal?.description.contains("never adopted") == true, "\(refusal.map(String.init(describing:)) ?? "-")")
        // The executor's last check before a delete: released.
        let claims = try await store.endpointClaims(vpcEndpointId: Self.kept, customerTag: "acme", resourceConfigurationArn: testARN(1))
        #expect(claims.released)
        #expect(claims.refusal(deletingFor: nil, endpointArn: testARN(1)) != nil)
    }

    @Test(arguments: Backend.allCases) func aGenerationReleasedBeforeItsIdWasKnownLearnsItOnce(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let customer = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(2)), by: StoreFixtures.actor)
        let row = try #require(try await store.beginEndpoint(customerId: customer.id!, expecting: .awaitingShare, region: "us-east-1",
                                                             clientToken: "token-unanswered", request: "{}"))
        #expect(try await store.requestRemoval(named: "acme", keepEndpoint: true, by: StoreFixtures.actor).state == .removed)
        let snapshot = try await store.snapshot()
        #expect(snapshot.released.unresolved.map(\.rowId) == [row.id!])
        #expect(snapshot.released.unresolved.first?.customerName == "acme")
        #expect(snapshot.released.unresolved.first?.resourceConfigurationArn == testARN(2))
        let claims = try await store.endpointClaims(vpcEndpointId: "vpce-0000000000000000b", customerTag: "acme", resourceConfigurationArn: testARN(2))
        #expect(claims.released, "an endpoint of that tag and ARN may be the released generation's")
        #expect(try await store.recordReleasedEndpoint(rowId: row.id!, vpcEndpointId: "vpce-0000000000000000b"))
        #expect(!(try await store.recordReleasedEndpoint(rowId: row.id!, vpcEndpointId: "vpce-0000000000000000c")), "a released id is kept")
        let after = try await store.snapshot()
        #expect(after.released.ids == ["vpce-0000000000000000b"])
        #expect(after.released.unresolved.isEmpty)
        let events = try await store.events(customerId: customer.id!)
        #expect(events.last?.event == "endpoint_released")
    }

    @Test(arguments: Backend.allCases) func notesChangeNothingButTheHistory(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let customer = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(3)), by: StoreFixtures.actor)
        try await store.recordNote(customerId: customer.id!, event: "endpoint_unconfirmed", detail: "not listed; found by id")
        let events = try await store.events(customerId: customer.id!)
        #expect(events.map(\.event) == ["registered", "endpoint_unconfirmed"])
        #expect(try await store.customer(named: "acme")?.state == .awaitingShare)
    }
}
