import AWSModels
@testable import ConsumerCore
import Foundation
import Testing
import TestSupport

/// Several associations per endpoint, as AWS returns them for group configurations: the DNS name comes
/// from the one serving the customer's resource (or its child), and an inaccessible one keeps it out of ready.
@Suite struct AssociationTests {
    static func association(_ resource: String?, group: String? = nil, dns: String, accessible: Bool = true) -> VpcEndpointAssociation {
        VpcEndpointAssociation(id: "a-\(dns)", vpcEndpointId: "vpce-0aaaaaaaaaaaaaaaa", associatedResourceArn: resource,
                               resourceConfigurationGroupArn: group, accessibility: accessible ? "Accessible" : "Inaccessible",
                               dnsName: dns, privateDnsName: nil, failureCode: accessible ? nil : "ResourceConfigurationNotAvailable",
                               failureReason: nil)
    }

    @Test func theOwnResourceThenTheLowestChildThenTheOnlyOne() {
        let (own, group, other) = (testARN(1), testARN(2), testARN(3))
        let mine = Self.association(own, dns: "own")
        let childB = Self.association(testARN(21), group: group, dns: "child-b")
        let childA = Self.association(testARN(20), group: group, dns: "child-a")
        let stranger = Self.association(other, dns: "other")
        // Whatever the order EC2 lists them in.
        for list in [[stranger, mine, childB], [childB, stranger, mine]] {
            #expect(VpcEndpointAssociation.chosen(from: list, for: own)?.dnsName == "own")
        }
        for list in [[childB, childA, stranger], [childA, stranger, childB]] {
            #expect(VpcEndpointAssociation.chosen(from: list, for: group)?.dnsName == "child-a")
        }
        #expect(VpcEndpointAssociation.chosen(from: [stranger], for: own)?.dnsName == "other", "the only one")
        #expect(VpcEndpointAssociation.chosen(from: [stranger, childA], for: own) == nil, "several, none of ours")
        #expect(VpcEndpointAssociation.chosen(from: [], for: own) == nil)
    }

    @Test func aCustomerAboutToBeReadyHasItsAssociationReadEvenWithAStoredName() throws {
        let planner = ReconcilePlannerTests()
        var acme = InvitationMatcherTests.customer("acme", 1, state: .endpointFailed)
        let shared = InvitationMatcherTests.resource(1)
        let endpoint = try #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: shared.arn, tag: "acme", state: "available"))
        let named = planner.row(1, state: .available, dns: "old.example", seen: planner.now)
        var observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared], endpoints: [endpoint])
        let snapshot = { RegistrySnapshot(customers: [acme], openEndpoints: [1: [named]], invitations: [:]) }
        #expect(ReconcilePlanner.dnsNamesNeeded(observation, snapshot: snapshot()) == [endpoint.vpcEndpointId])
        observation.record(associations: [endpoint.vpcEndpointId: [Self.association(shared.arn, dns: "acme.example", accessible: false)]])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot(), policy: ReconcilePolicy(), accountId: nil, now: planner.now)
        #expect(!actions.flatMap(\.steps).contains { $0.event == .endpointAvailable })
        // Ready with a name: nothing is read (steady state makes no DescribeVpcEndpointAssociations call).
        acme.state = .ready
        #expect(ReconcilePlanner.dnsNamesNeeded(RegionObservation(region: "us-east-1", endpoints: [endpoint]), snapshot: snapshot()).isEmpty)
    }

    @Test func anInaccessibleAssociationKeepsTheCustomerOutOfReady() throws {
        var acme = InvitationMatcherTests.customer("acme", 1, state: .endpointPending)
        let shared = InvitationMatcherTests.resource(1)
        let endpoint = try #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: shared.arn, tag: "acme", state: "available"))
        var observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared], endpoints: [endpoint])
        observation.record(associations: [endpoint.vpcEndpointId: [Self.association(shared.arn, dns: "acme.example", accessible: false)]])
        #expect(observation.dnsNames.isEmpty)
        #expect(observation.inaccessible[endpoint.vpcEndpointId]?.contains("Inaccessible") == true)
        let planner = ReconcilePlannerTests()
        let row = planner.row(1, state: .pending, seen: planner.now)
        let policy = ReconcilePolicy()
        let pending = ReconcilePlanner.plan(observation, snapshot: RegistrySnapshot(customers: [acme], openEndpoints: [1: [row]], invitations: [:]),
                                            policy: policy, accountId: nil, now: planner.now)
        let moves = pending.flatMap(\.steps)
        #expect(!moves.contains { $0.event == .endpointAvailable })
        #expect(moves.first?.hint?.contains("setup steps 2, 4 and 5") == true)

        // A ready customer whose association turns inaccessible leaves ready (provisioning), with the hint.
        acme.state = .ready
        let ready = ReconcilePlanner.plan(observation, snapshot: RegistrySnapshot(customers: [acme], openEndpoints: [1: [row]], invitations: [:]),
                                          policy: policy, accountId: nil, now: planner.now)
        #expect(ready.flatMap(\.steps).contains { $0.event == .endpointProvisioning })

        // Accessible again: ready with the chosen association's name.
        observation.inaccessible = [:]
        observation.record(associations: [endpoint.vpcEndpointId: [Self.association(shared.arn, dns: "acme.example")]])
        acme.state = .endpointPending
        let back = ReconcilePlanner.plan(observation, snapshot: RegistrySnapshot(customers: [acme], openEndpoints: [1: [row]], invitations: [:]),
                                         policy: policy, accountId: nil, now: planner.now)
        #expect(back.flatMap(\.steps).contains { $0.event == .endpointAvailable && ($0.detail ?? "").contains("acme.example") })
    }
}
