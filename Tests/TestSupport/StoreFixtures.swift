import ConsumerStore
import Foundation

/// States reached through the lifecycle's own edges, for tests that need customers further along.
public enum StoreFixtures {
    /// The actor fixtures register customers as.
    public static let actor = LifecycleActor.cli(user: "test")

    /// Registers a customer and takes it to `ready` with an available endpoint, as a pass would (`dnsName`
    /// nil: an endpoint EC2 gave no DNS name, which a ready customer should never have).
    @discardableResult
    public static func readyCustomer(_ store: any StateStore, name: String, arn: String, port: Int = 5432,
                                     vpcEndpointId: String, dnsName: String? = "localhost") async throws -> Customer {
        let parsed = try ResourceConfigurationARN.parse(arn).get()
        let customer = try await store.addCustomer(NewCustomer(name: name, arn: parsed, port: port), by: actor)
        let id = customer.id!
        guard let row = try await store.beginEndpoint(customerId: id, expecting: .awaitingShare, region: parsed.region,
                                                      clientToken: "plc-fixture-\(id)", request: "{}") else {
            throw FixtureError("\(name): could not begin an endpoint")
        }
        try await store.changeEndpoint(row.id!, .init(from: [.creating], to: .available, vpcEndpointId: vpcEndpointId,
                                                      awsState: "Available", dnsName: dnsName, seen: true))
        let outcome = try await store.transition(TransitionRequest(customerId: id, from: .awaitingShare, event: .endpointAvailable,
                                                                   detail: "fixture"))
        guard case .applied = outcome else { throw FixtureError("\(name): \(outcome)") }
        return try await store.requireCustomer(named: name)
    }

    struct FixtureError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
