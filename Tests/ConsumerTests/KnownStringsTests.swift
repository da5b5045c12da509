import AWSClient
import ConsumerStore
import Foundation
import LatticeSimulator
import Testing
import TestSupport
@testable import Consumer

/// A pass holds one storage for each string its registry and AWS's listings have in common: RAM's resource and
/// share ARNs, EC2's endpoint ids, resource ARNs and customer tags are the registry's (the real clients, the
/// simulator's real wire protocols).
struct KnownStringsTests {
    static func storage(_ text: String?) -> UnsafeRawPointer? {
        text?.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
    }

    /// `text` in storage of its own, as a registry row decodes it.
    static func copy(_ text: String) -> String { String(decoding: Array(text.utf8), as: UTF8.self) }

    @Test func listingsHoldTheRegistrysStringsWhereTheyRepeatThem() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 2)) { simulator, clients in
            let arns = (1...3).map { testARN($0) }
            let share = simulator.addOrganizationShare(owner: "111122223333", shareName: "org", resources: arns.map { SharedResource(arn: $0) })
            let names = (1...3).map { "a-customer-with-a-long-name-\($0)" }
            var ids: [String] = []
            for (index, arn) in arns.enumerated() {
                ids.append(try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "t\(index)", customer: names[index])).vpcEndpointId)
            }
            let context = AWSContext(executor: clients.executor,
                                     credentials: CredentialChain(sources: [EnvironmentCredentialSource(environment: [
                                         "AWS_ACCESS_KEY_ID": SimulatorConfiguration.defaultCredentials.accessKeyId,
                                         "AWS_SECRET_ACCESS_KEY": SimulatorConfiguration.defaultCredentials.secretAccessKey])]),
                                     environment: [:], defaultRegion: "us-east-1")
            // The registry's copies, each in storage of its own (none of them the strings the test passed to AWS).
            let registry = (arns + names + ids + [share.arn]).map(Self.copy)
            let known = KnownStrings(registry)
            #expect(known.count == registry.count)
            func isRegistrys(_ text: String?) -> Bool { registry.contains { Self.storage($0) == Self.storage(text) } }

            let shared = try await context.sharedResourceConfigurations(region: "us-east-1", known: known)
            #expect(Set(shared.keys) == Set(arns))
            #expect(shared.values.allSatisfy { isRegistrys($0.arn) && isRegistrys($0.resourceShareArn) })
            #expect(shared.allSatisfy { Self.storage($0.key) == Self.storage($0.value.arn) })

            let listed = try await context.resourceEndpoints(region: "us-east-1", vpcIds: ["vpc-0123456789abcdef0"], known: known)
            #expect(listed.map(\.vpcEndpointId) == ids)
            #expect(listed.allSatisfy { isRegistrys($0.vpcEndpointId) && isRegistrys($0.resourceConfigurationArn) })
            #expect(listed.allSatisfy { isRegistrys($0.tags["privatelink-consumer:customer"]) })
            // What the registry does not hold (the Name tag) stays the listing's own, and so does everything without it.
            #expect(listed.allSatisfy { !isRegistrys($0.tags["Name"]) && $0.tags["Name"]?.hasPrefix("privatelink-consumer/") == true })
            let unshared = try await context.resourceEndpoints(region: "us-east-1", vpcIds: ["vpc-0123456789abcdef0"], known: .none)
            #expect(unshared.map(\.vpcEndpointId) == ids)
            #expect(unshared.allSatisfy { !isRegistrys($0.vpcEndpointId) && !isRegistrys($0.resourceConfigurationArn) })
        }
    }

    /// What a pass offers the listings: its region's customers' ARNs, share ARNs, names and endpoint ids, and
    /// nothing of another region's; strings stored inline (15 bytes or fewer) are left out.
    @Test func thePassOffersItsRegionsStrings() throws {
        func customer(_ id: Int64, _ name: String, region: String, share: String?) -> Customer {
            let now = Date(timeIntervalSince1970: 0)
            return Customer(id: id, name: name, resourceConfigurationArn: testARN(Int(id), region: region), partition: "aws", region: region,
                            accountId: "111122223333", port: 5432, note: nil, state: .ready, stateDetail: nil, hint: nil, keepEndpoint: false,
                            resourceShareArn: share, invitationArn: nil, createdAt: now, updatedAt: now, stateChangedAt: now,
                            removedAt: nil, endpointFailures: 0, nextEndpointAttemptAt: nil)
        }
        let endpoint = EndpointRecord(id: 1, customerId: 1, region: "us-east-1", clientToken: "token", generation: 1,
                                      vpcEndpointId: "vpce-0123456789abcdef0", state: .available, awsState: "Available", dnsName: nil,
                                      lastError: nil, createdAt: Date(), updatedAt: Date())
        let snapshot = RegistrySnapshot(customers: [customer(1, "a-customer-with-a-long-name", region: "us-east-1", share: "arn:aws:ram:us-east-1:111122223333:resource-share/a"),
                                                    customer(2, "short", region: "us-east-1", share: nil),
                                                    customer(3, "another-region-customer", region: "eu-west-1", share: nil)],
                                        openEndpoints: [1: [endpoint]], invitations: [:])
        let known = RegionObserver.repeatedByAWS(snapshot, region: "us-east-1")
        let offered = [testARN(1, region: "us-east-1"), "a-customer-with-a-long-name", "arn:aws:ram:us-east-1:111122223333:resource-share/a",
                       "vpce-0123456789abcdef0", testARN(2, region: "us-east-1")]
        #expect(known.count == offered.count)
        for text in offered { #expect(Self.storage(known.shared(Self.copy(text))) == Self.storage(snapshot.customers.flatMap { [$0.resourceConfigurationArn, $0.name, $0.resourceShareArn ?? ""] }.first { $0 == text } ?? endpoint.vpcEndpointId)) }
        #expect(Self.storage(known.shared(testARN(3, region: "eu-west-1"))) != Self.storage(snapshot.customers[2].resourceConfigurationArn))
    }
}
