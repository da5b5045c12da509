@testable import AWSClient
import ConsumerStore
import Foundation
import Testing
import TestSupport
@testable import Consumer

/// The decisions as tables and transcripts: no AWS, no database.
@Suite struct InvitationMatcherTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func customer(_ name: String, _ n: Int, account: String = "111122223333", state: CustomerState = .awaitingShare) -> Customer {
        let arn = testARN(n, account: account)
        return Customer(id: Int64(n), name: name, resourceConfigurationArn: arn, partition: "aws", region: "us-east-1",
                        accountId: account, port: 5432, note: nil, state: state, stateDetail: nil, hint: nil, keepEndpoint: false,
                        resourceShareArn: nil, invitationArn: nil, createdAt: now, updatedAt: now, stateChangedAt: now,
                        removedAt: nil, endpointFailures: 0, nextEndpointAttemptAt: nil)
    }

    static func resource(_ n: Int, account: String = "111122223333", type: String = "vpc-lattice:ResourceConfiguration") -> RAMResource {
        RAMResource(arn: testARN(n, account: account), type: type, resourceShareArn: "arn:aws:ram:us-east-1:\(account):resource-share/s", status: "AVAILABLE")
    }

    static let registered: [String: Customer] = [
        testARN(1): customer("acme", 1),
        testARN(2): customer("acme-eu", 2),
        testARN(3, account: "444455556666"): customer("globex", 3, account: "444455556666"),
        testARN(4): customer("leaving", 4, state: .removing),
    ]

    @Test(arguments: [
        ("111122223333", [resource(1)], InvitationMatcher.Decision.accept(customers: ["acme"])),
        ("111122223333", [resource(1), resource(2)], .accept(customers: ["acme", "acme-eu"])),
        ("111122223333", [resource(1, type: "VPC-LATTICE:RESOURCECONFIGURATION")], .accept(customers: ["acme"])),
        ("111122223333", [], .refuse(.emptyShare, detail: "")),
        ("111122223333", [resource(1), resource(9)], .refuse(.unregisteredResource, detail: "")),
        ("111122223333", [resource(1), resource(1, type: "ec2:Subnet")], .refuse(.unexpectedResourceType, detail: "")),
        ("999988887777", [resource(1)], .refuse(.senderMismatch, detail: "")),
        ("111122223333", [resource(3, account: "444455556666")], .refuse(.senderMismatch, detail: "")),
        ("444455556666", [resource(3, account: "444455556666"), resource(1)], .refuse(.senderMismatch, detail: "")),
        ("111122223333", [resource(4)], .refuse(.unregisteredResource, detail: "")),
    ] as [(String, [RAMResource], InvitationMatcher.Decision)])
    func matchingRule(_ sender: String, _ resources: [RAMResource], _ expected: InvitationMatcher.Decision) {
        let decision = InvitationMatcher.decide(senderAccountId: sender, resources: resources, registered: Self.registered)
        switch (decision, expected) {
        case (.accept(let got), .accept(let want)): #expect(got == want)
        case (.refuse(let got, let detail), .refuse(let want, _)):
            #expect(got == want)
            #expect(!detail.isEmpty)
        default: Issue.record("expected \(expected), got \(decision)")
        }
    }
}

@Suite struct ReconcilePlannerTests {
    let now = InvitationMatcherTests.now
    let policy = ReconcilePolicy()

    func invitation(_ id: String, sender: String = "111122223333", status: String = "PENDING") -> ResourceShareInvitation {
        ResourceShareInvitation(resourceShareInvitationArn: "arn:aws:ram:us-east-1:\(sender):resource-share-invitation/\(id)",
                                resourceShareName: id, resourceShareArn: "arn:aws:ram:us-east-1:\(sender):resource-share/\(id)",
                                senderAccountId: sender, receiverAccountId: "999999999999", invitationTimestamp: now, status: status)
    }

    func snapshot(_ customers: [Customer], endpoints: [Int64: EndpointRecord] = [:], invitations: [String: InvitationRecord] = [:]) -> RegistrySnapshot {
        RegistrySnapshot(customers: customers, endpoints: endpoints, invitations: invitations)
    }

    @Test func aMatchingInvitationIsRecordedThenTheCustomerMovesThenItIsAccepted() {
        let acme = InvitationMatcherTests.customer("acme", 1)
        let invite = invitation("inv1")
        let observation = RegionObservation(region: "us-east-1", invitations: [invite],
                                            pendingResources: [invite.resourceShareInvitationArn: [InvitationMatcherTests.resource(1)]])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: "999999999999", now: now)
        guard actions.count == 3, case .recordInvitation(let record) = actions[0],
              case .transition("acme", .accepting, _, _, _) = actions[1],
              case .accept(let arn, ["acme"]) = actions[2] else {
            Issue.record("unexpected plan \(actions)")
            return
        }
        #expect(record.decision == .pending)
        #expect(arn == invite.resourceShareInvitationArn)
    }

    @Test func anUnregisteredInvitationIsRecordedOnceAndNeverAccepted() {
        let invite = invitation("stranger", sender: "555566667777")
        let observation = RegionObservation(region: "us-east-1", invitations: [invite],
                                            pendingResources: [invite.resourceShareInvitationArn: [InvitationMatcherTests.resource(7, account: "555566667777")]])
        let first = ReconcilePlanner.plan(observation, snapshot: snapshot([]), policy: policy, accountId: nil, now: now)
        guard first.count == 1, case .recordInvitation(let record) = first[0] else {
            Issue.record("unexpected plan \(first)")
            return
        }
        #expect(record.decision == .ignored)
        #expect(record.reason == .unregisteredResource)
        // Already recorded with the same decision: nothing to do, nothing to log again.
        let again = ReconcilePlanner.plan(observation, snapshot: snapshot([], invitations: [record.invitationArn: record]),
                                          policy: policy, accountId: nil, now: now)
        #expect(again.isEmpty)
        // With the reject policy it is rejected, never accepted.
        let rejecting = ReconcilePlanner.plan(observation, snapshot: snapshot([]), policy: ReconcilePolicy(unmatchedInvitations: .reject),
                                              accountId: nil, now: now)
        #expect(rejecting.contains(.reject(invitationArn: invite.resourceShareInvitationArn)))
        #expect(!rejecting.contains { if case .accept = $0 { true } else { false } })
    }

    @Test func aRefusedInvitationIsAcceptedOnceTheArnIsRegistered() {
        let invite = invitation("early")
        let observation = RegionObservation(region: "us-east-1", invitations: [invite],
                                            pendingResources: [invite.resourceShareInvitationArn: [InvitationMatcherTests.resource(1)]])
        let refused = ReconcilePlanner.plan(observation, snapshot: snapshot([]), policy: policy, accountId: nil, now: now)
        guard case .recordInvitation(let record) = refused.first else { Issue.record("\(refused)"); return }
        let acme = InvitationMatcherTests.customer("acme", 1)
        let later = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], invitations: [record.invitationArn: record]),
                                          policy: policy, accountId: nil, now: now)
        #expect(later.contains(.accept(invitationArn: invite.resourceShareInvitationArn, customers: ["acme"])))
    }

    @Test func aVisibleShareLeadsToOneCreateAndAStoredTokenIsResumedNotReplaced() {
        var acme = InvitationMatcherTests.customer("acme", 1, state: .shareAccepted)
        acme.resourceShareArn = "s"
        let shared = InvitationMatcherTests.resource(1)
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared])
        let first = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(first.filter { if case .createEndpoint = $0 { true } else { false } }.count == 1)

        let creating = EndpointRecord(id: 10, customerId: 1, region: "us-east-1", clientToken: "plc-token", generation: 1,
                                      vpcEndpointId: nil, state: .creating, awsState: nil, dnsName: nil, lastError: nil,
                                      createdAt: now, updatedAt: now)
        let resumed = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [1: creating]), policy: policy,
                                            accountId: nil, now: now)
        #expect(resumed.contains(.resumeCreate(customer: "acme", resourceConfigurationArn: testARN(1), endpointRowId: 10, clientToken: "plc-token")))
        #expect(!resumed.contains { if case .createEndpoint = $0 { true } else { false } })
    }

    @Test func noEndpointUntilTheSharedResourceIsAvailable() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .shareAccepted)
        var shared = InvitationMatcherTests.resource(1)
        shared.status = "PENDING"
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(!actions.contains { if case .createEndpoint = $0 { true } else { false } })
        #expect(actions.contains { if case .transition("acme", .shareAccepted, let detail?, _, _) = $0 { detail.contains("AVAILABLE") } else { false } })
    }

    @Test func anEndpointFoundInEC2IsAdoptedInsteadOfCreatingASecond() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .shareAccepted)
        let shared = InvitationMatcherTests.resource(1)
        let endpoint = try! #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: shared.arn, tag: nil, state: "available"))
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared], endpoints: [endpoint])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(actions.contains(.adoptEndpoint(customer: "acme", endpoint: endpoint)))
        #expect(!actions.contains { if case .createEndpoint = $0 { true } else { false } })
    }

    @Test func aWithdrawnShareIsReportedAndItsEndpointDeleted() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .ready)
        let endpoint = try! #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: acme.resourceConfigurationArn, tag: "acme", state: "available"))
        let observation = RegionObservation(region: "us-east-1", endpoints: [endpoint])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(actions.contains(.deleteEndpoint(customer: "acme", vpcEndpointId: "vpce-0aaaaaaaaaaaaaaaa", reason: "the customer withdrew the share")))
        #expect(actions.contains { if case .transition("acme", .shareRevoked, _, _, _) = $0 { true } else { false } })
    }

    @Test func failuresBackOffThenStop() {
        var acme = InvitationMatcherTests.customer("acme", 1, state: .endpointFailed)
        let shared = InvitationMatcherTests.resource(1)
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared])
        acme.endpointFailures = 2
        acme.nextEndpointAttemptAt = now.addingTimeInterval(60)
        let waiting = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(!waiting.contains { if case .createEndpoint = $0 { true } else { false } })
        let due = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now.addingTimeInterval(61))
        #expect(due.contains(.createEndpoint(customer: "acme", resourceConfigurationArn: testARN(1))))
        acme.endpointFailures = policy.maxEndpointFailures
        let exhausted = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now.addingTimeInterval(3600 * 24))
        #expect(!exhausted.contains { if case .createEndpoint = $0 { true } else { false } })
        #expect(policy.backoff(afterFailures: 1) == 30)
        #expect(policy.backoff(afterFailures: 3) == 120)
        #expect(policy.backoff(afterFailures: 20) == 3600)
    }
}

/// Builds `VpcEndpoint` values the way the EC2 client does: from XML.
enum EC2Fixture {
    static func endpoint(id: String, arn: String?, tag: String?, state: String) -> VpcEndpoint? {
        var xml = "<item><vpcEndpointId>\(id)</vpcEndpointId><vpcEndpointType>Resource</vpcEndpointType><state>\(state)</state>"
        if let arn { xml += "<resourceConfigurationArn>\(arn)</resourceConfigurationArn>" }
        if let tag { xml += "<tagSet><item><key>privatelink-consumer:customer</key><value>\(tag)</value></item></tagSet>" }
        xml += "</item>"
        guard let element = try? XMLDocumentParser.parse(Array(xml.utf8)) else { return nil }
        return try? VpcEndpoint(xml: element, operation: "test")
    }
}

@Suite struct MutationPacerTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 0)
    }

    @Test func burstOfFourThenThreeTenthsPerSecond() {
        let clock = Clock()
        let pacer = MutationPacer(capacity: 4, refillPerSecond: 0.3, now: { clock.now })
        for _ in 0..<4 { #expect(pacer.tryAcquire() == nil) }
        let wait = pacer.tryAcquire()
        #expect(wait == .milliseconds(3334))
        clock.now = clock.now.addingTimeInterval(3.34)
        #expect(pacer.tryAcquire() == nil)
        #expect(pacer.tryAcquire() != nil)
        clock.now = clock.now.addingTimeInterval(1000)
        for _ in 0..<4 { #expect(pacer.tryAcquire() == nil) }
        #expect(pacer.tryAcquire() != nil)
        #expect(MutationPacer.unpaced.tryAcquire() == nil)
    }
}
