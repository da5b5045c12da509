import AWSModels
@testable import ConsumerCore
import Foundation
import Testing
import TestSupport

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

    func snapshot(_ customers: [Customer], endpoints: [EndpointRecord] = [], invitations: [String: InvitationRecord] = [:]) -> RegistrySnapshot {
        RegistrySnapshot(customers: customers, openEndpoints: Dictionary(grouping: endpoints, by: \.customerId), invitations: invitations)
    }

    func row(_ id: Int64, customer: Int64 = 1, state: EndpointRecord.State, endpoint: String? = "vpce-0aaaaaaaaaaaaaaaa", dns: String? = nil,
             created: Date? = nil, seen: Date? = nil, generation: Int = 1) -> EndpointRecord {
        EndpointRecord(id: id, customerId: customer, region: "us-east-1", clientToken: "plc-token-\(id)", generation: generation,
                       vpcEndpointId: endpoint, state: state, awsState: nil, dnsName: dns, lastError: nil, createRequest: "{}",
                       lastSeenAt: seen, createdAt: created ?? now, updatedAt: created ?? now)
    }

    func events(_ actions: [ReconcileAction]) -> [CustomerLifecycle.Event] {
        actions.flatMap(\.steps).map(\.event)
    }

    func creates(_ actions: [ReconcileAction]) -> Int {
        actions.filter { if case .createEndpoint = $0 { true } else { false } }.count
    }

    func deletes(_ actions: [ReconcileAction]) -> [String] {
        actions.compactMap { if case .deleteEndpoint(_, _, _, let id, _) = $0 { id } else { nil } }
    }

    func changes(_ actions: [ReconcileAction]) -> [EndpointChange] {
        actions.compactMap { if case .changeEndpoint(_, _, _, let change, _) = $0 { change } else { nil } }
    }

    /// The customer's `accepting` move rides on the accept (written with its ClientToken, before the call).
    @Test func aMatchingInvitationIsRecordedThenAcceptedWithTheCustomersMove() {
        let acme = InvitationMatcherTests.customer("acme", 1)
        let invite = invitation("a")
        let observation = RegionObservation(region: "us-east-1", invitations: [invite],
                                            pendingResources: [invite.resourceShareInvitationArn: [InvitationMatcherTests.resource(1)]])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: "999999999999", now: now)
        guard actions.count == 2, case .recordInvitation(let record) = actions[0],
              case .accept(let arn, let customers, let steps) = actions[1], steps.count == 1,
              steps[0].event == .invitationMatched, steps[0].from == .awaitingShare, steps[0].customerId == 1 else {
            Issue.record("unexpected plan \(actions)")
            return
        }
        #expect(record.decision == .pending && record.reason == nil)
        #expect(arn == invite.resourceShareInvitationArn && customers == [1])
    }

    @Test func anUnmatchedInvitationIsRecordedOnceAndRejectedOnlyWhenConfigured() {
        let invite = invitation("stranger", sender: "999988887777")
        let observation = RegionObservation(region: "us-east-1", invitations: [invite],
                                            pendingResources: [invite.resourceShareInvitationArn: [InvitationMatcherTests.resource(1, account: "999988887777")]])
        let first = ReconcilePlanner.plan(observation, snapshot: snapshot([]), policy: policy, accountId: nil, now: now)
        guard case .recordInvitation(let record) = first.first, first.count == 1 else {
            Issue.record("unexpected plan \(first)")
            return
        }
        #expect(record.decision == .ignored && record.reason == .unregisteredResource)
        let again = ReconcilePlanner.plan(observation, snapshot: snapshot([], invitations: [record.invitationArn: record]),
                                          policy: policy, accountId: nil, now: now)
        #expect(again.isEmpty)
        let rejecting = ReconcilePlanner.plan(observation, snapshot: snapshot([]), policy: ReconcilePolicy(unmatchedInvitations: .reject),
                                              accountId: nil, now: now)
        #expect(rejecting.contains(.reject(invitationArn: invite.resourceShareInvitationArn)))
    }

    @Test func anInvitationBecomesAcceptableWhenItsArnIsRegisteredLater() {
        let invite = invitation("early")
        let observation = RegionObservation(region: "us-east-1", invitations: [invite],
                                            pendingResources: [invite.resourceShareInvitationArn: [InvitationMatcherTests.resource(1)]])
        let refused = ReconcilePlanner.plan(observation, snapshot: snapshot([]), policy: policy, accountId: nil, now: now)
        guard case .recordInvitation(let record) = refused.first else { Issue.record("no record"); return }
        let acme = InvitationMatcherTests.customer("acme", 1)
        let later = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], invitations: [record.invitationArn: record]),
                                          policy: policy, accountId: nil, now: now)
        #expect(later.contains { action in
            if case .accept(invite.resourceShareInvitationArn, [1], let steps) = action { steps.map(\.event) == [.invitationMatched] } else { false }
        })
    }

    @Test func aRemovingCustomersArnIsNotRegisteredForMatching() {
        let leaving = InvitationMatcherTests.customer("acme", 1, state: .removing)
        let invite = invitation("late")
        let observation = RegionObservation(region: "us-east-1", invitations: [invite],
                                            pendingResources: [invite.resourceShareInvitationArn: [InvitationMatcherTests.resource(1)]])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([leaving]), policy: policy, accountId: nil, now: now)
        #expect(!actions.contains { if case .accept = $0 { true } else { false } })
    }

    @Test func aVisibleShareLeadsToOneCreateAndAStoredTokenIsResumedNotReplaced() {
        var acme = InvitationMatcherTests.customer("acme", 1, state: .shareAccepted)
        acme.resourceShareArn = "s"
        let shared = InvitationMatcherTests.resource(1)
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared])
        let first = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(creates(first) == 1)

        let creating = row(10, state: .creating, endpoint: nil)
        let resumed = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [creating]), policy: policy,
                                            accountId: nil, now: now)
        #expect(resumed.contains(.resumeCreate(customerId: 1, name: "acme", endpoint: creating)))
        #expect(creates(resumed) == 0)
    }

    @Test func noEndpointUntilTheSharedResourceIsAvailable() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .shareAccepted)
        var shared = InvitationMatcherTests.resource(1)
        shared.status = "PENDING"
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(creates(actions) == 0)
        #expect(actions.flatMap(\.steps).contains { $0.event == .shareAccepted && ($0.detail ?? "").contains("AVAILABLE") })
    }

    @Test func anEndpointFoundInEC2IsAdoptedAndReadyInTheSamePass() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .shareAccepted)
        let shared = InvitationMatcherTests.resource(1)
        let endpoint = try! #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: shared.arn, tag: nil, state: "available"))
        var observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared], endpoints: [endpoint])
        #expect(ReconcilePlanner.dnsNamesNeeded(observation, snapshot: snapshot([acme])) == [endpoint.vpcEndpointId])
        observation.dnsNames = [endpoint.vpcEndpointId: "acme.example"]
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(actions.contains(.adoptEndpoint(customerId: 1, name: "acme", endpoint: endpoint, dnsName: "acme.example")))
        #expect(events(actions) == [.endpointAvailable])
        #expect(creates(actions) == 0)
    }

    @Test func anEndpointAnOpenGenerationRecordsIsNeverAdoptedByAnother() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .removing)
        var again = InvitationMatcherTests.customer("acme", 2, state: .shareAccepted)
        again.resourceConfigurationArn = acme.resourceConfigurationArn
        let shared = InvitationMatcherTests.resource(1)
        let endpoint = try! #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: shared.arn, tag: "acme", state: "available"))
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared], endpoints: [endpoint])
        let old = row(1, customer: 1, state: .available, seen: now)
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme, again], endpoints: [old]), policy: policy, accountId: nil, now: now)
        #expect(deletes(actions) == ["vpce-0aaaaaaaaaaaaaaaa"])
        #expect(!actions.contains { if case .adoptEndpoint = $0 { true } else { false } })
        // The new registration waits for the old one's removal before it creates anything.
        #expect(creates(actions) == 0)
    }

    @Test func aWithdrawnShareIsReportedAndItsEndpointDeleted() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .ready)
        let endpoint = try! #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: acme.resourceConfigurationArn, tag: "acme", state: "available"))
        var observation = RegionObservation(region: "us-east-1", endpoints: [endpoint])
        observation.confirmedUnshared = [acme.resourceConfigurationArn]
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [row(1, state: .available, seen: now)]),
                                            policy: policy, accountId: nil, now: now)
        #expect(deletes(actions) == ["vpce-0aaaaaaaaaaaaaaaa"])
        #expect(events(actions) == [.shareWithdrawn])
    }

    @Test func aShareRAMDoesNotListYetRightAfterItsAcceptanceIsNotAWithdrawal() {
        var acme = InvitationMatcherTests.customer("acme", 1, state: .shareAccepted)
        let observation = RegionObservation(region: "us-east-1")
        acme.stateChangedAt = now.addingTimeInterval(-(policy.missingGrace - 1))
        let early = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(events(early) == [.shareAccepted])
        #expect(creates(early) == 0)
        acme.stateChangedAt = now.addingTimeInterval(-policy.missingGrace)
        // After the window, still one listing is not a withdrawal: a lookup of that ARN must find nothing.
        let unconfirmed = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(events(unconfirmed).isEmpty)
        var confirmed = observation
        confirmed.confirmedUnshared = [acme.resourceConfigurationArn]
        let late = ReconcilePlanner.plan(confirmed, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(events(late) == [.shareWithdrawn])
    }

    @Test func aFailedGenerationIsCountedOnceThenOnlyDeleted() throws {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .endpointPending)
        let shared = InvitationMatcherTests.resource(1)
        let endpoint = try #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: shared.arn, tag: "acme", state: "failed"))
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared], endpoints: [endpoint])
        let first = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [row(1, state: .pending, seen: now)]),
                                          policy: policy, accountId: nil, now: now)
        #expect(changes(first).map(\.to) == [.failed])
        #expect(changes(first).first?.failureNextAttempt != nil)
        #expect(changes(first).first?.from == [.pending, .available])
        #expect(events(first) == [.endpointFailed])
        // The next pass, while EC2 still lists the failed endpoint (its delete deferred or failed): no count.
        var failedAcme = acme
        failedAcme.state = .endpointFailed
        failedAcme.endpointFailures = 1
        failedAcme.nextEndpointAttemptAt = now.addingTimeInterval(30)
        let next = ReconcilePlanner.plan(observation, snapshot: snapshot([failedAcme], endpoints: [row(1, state: .failed, seen: now)]),
                                         policy: policy, accountId: nil, now: now.addingTimeInterval(5))
        #expect(changes(next).allSatisfy { $0.failureNextAttempt == nil })
        #expect(deletes(next) == ["vpce-0aaaaaaaaaaaaaaaa"])
    }

    @Test func anEndpointEC2DoesNotListYetIsWaitedForNotRecreated() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .endpointPending)
        let shared = InvitationMatcherTests.resource(1)
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared])
        let young = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [row(1, state: .pending)]),
                                          policy: policy, accountId: nil, now: now.addingTimeInterval(10))
        #expect(creates(young) == 0 && changes(young).isEmpty)
        // Once listed, one listing's silence changes nothing: the lookup by id must confirm it.
        let silent = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [row(1, state: .pending, seen: now)]),
                                           policy: policy, accountId: nil, now: now.addingTimeInterval(10))
        #expect(creates(silent) == 0 && changes(silent).isEmpty && events(silent).isEmpty)
        // Confirmed (NotFound by id), its disappearance is real: missing, and a new generation.
        var confirmed = observation
        confirmed.confirmedGone = ["vpce-0aaaaaaaaaaaaaaaa"]
        let gone = ReconcilePlanner.plan(confirmed, snapshot: snapshot([acme], endpoints: [row(1, state: .pending, seen: now)]),
                                         policy: policy, accountId: nil, now: now.addingTimeInterval(10))
        #expect(changes(gone).map(\.to) == [.deleted])
        #expect(events(gone) == [.endpointMissing])
        #expect(creates(gone) == 1)
    }

    @Test func removalDeletesEveryGenerationAndFinishesOnlyWhenNoneIsOpen() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .removing)
        let listed = try! #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: acme.resourceConfigurationArn, tag: "acme", state: "available"))
        let failed = row(2, state: .failed, endpoint: "vpce-0bbbbbbbbbbbbbbbb", seen: now, generation: 1)
        let current = row(3, state: .available, seen: now, generation: 2)
        let observation = RegionObservation(region: "us-east-1", endpoints: [listed])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [failed, current]), policy: policy,
                                            accountId: nil, now: now)
        #expect(Set(deletes(actions)) == ["vpce-0aaaaaaaaaaaaaaaa", "vpce-0bbbbbbbbbbbbbbbb"])
        #expect(events(actions).isEmpty)
        // A create whose answer was lost is resolved through its token first.
        let creating = row(4, state: .creating, endpoint: nil)
        let resolving = ReconcilePlanner.plan(RegionObservation(region: "us-east-1"), snapshot: snapshot([acme], endpoints: [creating]),
                                              policy: policy, accountId: nil, now: now)
        #expect(resolving == [.resumeCreate(customerId: 1, name: "acme", endpoint: creating)])
        // A deleted endpoint EC2 does not list yet, just created: not confirmed gone, the removal waits.
        let young = row(5, state: .deleting)
        let waiting = ReconcilePlanner.plan(RegionObservation(region: "us-east-1"), snapshot: snapshot([acme], endpoints: [young]),
                                            policy: policy, accountId: nil, now: now.addingTimeInterval(5))
        #expect(waiting.isEmpty)
        // Settled, its absence from the listing is still not enough: NotFound by id is.
        let silent = ReconcilePlanner.plan(RegionObservation(region: "us-east-1"), snapshot: snapshot([acme], endpoints: [young]),
                                           policy: policy, accountId: nil, now: now.addingTimeInterval(policy.missingGrace))
        #expect(changes(silent).isEmpty)
        var notFound = RegionObservation(region: "us-east-1")
        notFound.confirmedGone = ["vpce-0aaaaaaaaaaaaaaaa"]
        let confirmed = ReconcilePlanner.plan(notFound, snapshot: snapshot([acme], endpoints: [young]),
                                              policy: policy, accountId: nil, now: now.addingTimeInterval(policy.missingGrace))
        #expect(changes(confirmed).map(\.to) == [.deleted])
        let done = ReconcilePlanner.plan(RegionObservation(region: "us-east-1"), snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(events(done) == [.removalFinished])
    }

    @Test(arguments: [
        (CreateOutcome.refused(code: "InvalidParameterValue", message: "m"), EndpointRecord.State.deleted, true),
        (.idempotentMismatch(message: "m"), .deleted, false),
        // A full VPC is not the customer's failure: the generation closes, nothing is counted.
        (.noRoom(code: "VpcEndpointLimitExceeded", message: "m"), .deleted, false),
    ] as [(CreateOutcome, EndpointRecord.State, Bool)])
    func createOutcomes(_ outcome: CreateOutcome, _ to: EndpointRecord.State, _ counts: Bool) {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .endpointPending)
        let (change, next) = ReconcilePlanner.after(outcome, row: row(1, state: .creating, endpoint: nil), customer: acme, policy: policy, now: now)
        #expect(change.from == [.creating] && change.to == to)
        #expect((change.failureNextAttempt != nil) == counts)
        #expect((next?.event == .endpointFailed) == counts)
    }

    @Test func aMismatchIsADeletedEndpointOnlyWhenTheExactRequestWasStored() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .removing)
        var stored = row(1, state: .creating, endpoint: nil)
        stored.createRequest = StoredCreateRequest(ResourceEndpointRequest(
            resourceConfigurationArn: acme.resourceConfigurationArn, vpcId: "vpc-0123", subnetIds: ["subnet-1"], securityGroupIds: [],
            ipAddressType: "ipv4", privateDnsEnabled: true, clientToken: "plc-1", tags: [])).json
        var legacy = stored
        legacy.createRequest = nil
        var garbled = stored
        garbled.createRequest = #"{"stored":true}"#
        let deleted = ReconcilePlanner.after(.idempotentMismatch(message: "m"), row: stored, customer: acme, policy: policy, now: now).change
        let unresolved = ReconcilePlanner.after(.idempotentMismatch(message: "m"), row: legacy, customer: acme, policy: policy, now: now).change
        #expect(deleted.to == .deleted && deleted.note?.event == "endpoint_deleted")
        #expect(unresolved.to == .deleted && unresolved.note?.event == "endpoint_unresolved")
        #expect(unresolved.note?.detail.contains("tag") == true)
        // A stored value that is not a request is no better than none.
        let unusable = ReconcilePlanner.after(.idempotentMismatch(message: "m"), row: garbled, customer: acme, policy: policy, now: now).change
        #expect(unusable.note?.event == "endpoint_unresolved")
    }

    @Test func aDeleteAnsweredNotFoundForANeverListedEndpointTeachesNothing() {
        let young = row(1, state: .available)
        #expect(ReconcilePlanner.after(DeleteOutcome.notFound, row: young, policy: policy, now: now.addingTimeInterval(1)) == nil)
        #expect(ReconcilePlanner.after(DeleteOutcome.notFound, row: row(1, state: .available, seen: now), policy: policy, now: now)?.to == .deleting)
        #expect(ReconcilePlanner.after(DeleteOutcome.accepted, row: young, policy: policy, now: now)?.deleteRequested == true)
    }

    @Test func aStrayEndpointTaggedForACustomerWithACurrentOneIsDeleted() throws {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .ready)
        let shared = InvitationMatcherTests.resource(1)
        let current = try #require(EC2Fixture.endpoint(id: "vpce-0aaaaaaaaaaaaaaaa", arn: shared.arn, tag: "acme", state: "available"))
        // An older generation EC2 listed only after the window, long since closed: no row records it.
        let stray = try #require(EC2Fixture.endpoint(id: "vpce-0bbbbbbbbbbbbbbbb", arn: shared.arn, tag: "acme", state: "available"))
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared], endpoints: [current, stray])
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot([acme], endpoints: [row(1, state: .available, dns: "d", seen: now)]),
                                            policy: policy, accountId: nil, now: now)
        #expect(deletes(actions) == ["vpce-0bbbbbbbbbbbbbbbb"])
        // And a customer being removed deletes strays tagged for it before it finishes.
        let leaving = InvitationMatcherTests.customer("acme", 1, state: .removing)
        let removal = ReconcilePlanner.plan(RegionObservation(region: "us-east-1", endpoints: [stray]), snapshot: snapshot([leaving]),
                                            policy: policy, accountId: nil, now: now)
        #expect(deletes(removal) == ["vpce-0bbbbbbbbbbbbbbbb"])
        #expect(events(removal).isEmpty)
    }

    @Test func aReadyCustomerWithoutACurrentGenerationSaysMissingBeforeItRecreates() {
        let acme = InvitationMatcherTests.customer("acme", 1, state: .ready)
        let shared = InvitationMatcherTests.resource(1)
        let actions = ReconcilePlanner.plan(RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared]),
                                            snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(events(actions) == [.endpointMissing])
        #expect(creates(actions) == 1)
    }

    @Test func failuresBackOffThenStop() {
        var acme = InvitationMatcherTests.customer("acme", 1, state: .endpointFailed)
        let shared = InvitationMatcherTests.resource(1)
        let observation = RegionObservation(region: "us-east-1", sharedResources: [shared.arn: shared])
        acme.endpointFailures = 2
        acme.nextEndpointAttemptAt = now.addingTimeInterval(60)
        let waiting = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now)
        #expect(creates(waiting) == 0)
        let due = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now.addingTimeInterval(61))
        #expect(creates(due) == 1)
        acme.endpointFailures = policy.maxEndpointFailures
        let exhausted = ReconcilePlanner.plan(observation, snapshot: snapshot([acme]), policy: policy, accountId: nil, now: now.addingTimeInterval(3600 * 24))
        #expect(creates(exhausted) == 0)
        #expect(policy.backoff(afterFailures: 1) == 30)
        #expect(policy.backoff(afterFailures: 3) == 120)
        #expect(policy.backoff(afterFailures: 20) == 3600)
    }
}

/// `VpcEndpoint` values as the EC2 client builds them (its XML parsing is tested with the client).
/// Nothing destroyed on one observation, kept endpoints kept, leaks found: the planner's decisions as
/// transcripts (what was observed and stored in, the actions as text out).
@Suite struct DestructiveDecisionTranscripts {
    let now = InvitationMatcherTests.now
    let policy = ReconcilePolicy()
    static let a = "vpce-0aaaaaaaaaaaaaaaa", b = "vpce-0bbbbbbbbbbbbbbbb", c = "vpce-0cccccccccccccccc"

    /// A customer as the planner last left it (its detail and hint as written), so that a transcript shows
    /// only what a pass changes.
    func customer(_ name: String, _ n: Int, _ state: CustomerState, id: Int64? = nil) -> Customer {
        var customer = InvitationMatcherTests.customer(name, n, state: state)
        if let id { customer.id = id }
        switch state {
        case .ready:
            customer.stateDetail = "endpoint vpce-0aaaaaaaaaaaaaaaa available at vpce-0aaaaaaaaaaaaaaaa.example"
            customer.resourceShareArn = InvitationMatcherTests.resource(n).resourceShareArn
        case .awaitingShare:
            customer.stateDetail = "waiting for the customer's RAM share"
            customer.hint = Hints.awaitingShare(arn: customer.resourceConfigurationArn, accountId: nil)
        default:
            break
        }
        return customer
    }

    func row(_ id: Int64, customer: Int64 = 1, _ state: EndpointRecord.State, _ endpoint: String?, generation: Int = 1) -> EndpointRecord {
        EndpointRecord(id: id, customerId: customer, region: "us-east-1", clientToken: "plc-token-\(id)", generation: generation,
                       vpcEndpointId: endpoint, state: state, awsState: state == .available ? "Available" : nil,
                       dnsName: state == .available ? "\(endpoint ?? "").example" : nil,
                       lastError: nil, createRequest: "{}", lastSeenAt: now, createdAt: now, updatedAt: now)
    }

    func listed(_ id: String, _ tag: String?, arn n: Int, _ state: String = "available", created: Date? = nil) -> VpcEndpoint {
        var endpoint = EC2Fixture.endpoint(id: id, arn: testARN(n), tag: tag, state: state)!
        endpoint.creationTimestamp = created.map(Timestamp.string)
        return endpoint
    }

    /// The plan, one action a line.
    func transcript(_ observation: RegionObservation, _ customers: [Customer], _ rows: [EndpointRecord] = [],
                    released: ReleasedEndpoints = ReleasedEndpoints(), removed: [(String, Int)] = []) -> String {
        var snapshot = RegistrySnapshot(customers: customers, openEndpoints: Dictionary(grouping: rows, by: \.customerId), invitations: [:],
                                        released: released)
        snapshot.removedRegistrations = Set(removed.map { .init(name: $0.0, resourceConfigurationArn: testARN($0.1)) })
        let actions = ReconcilePlanner.plan(observation, snapshot: snapshot, policy: policy, accountId: nil, now: now)
        return actions.map(Self.line).joined(separator: "\n")
    }

    static func line(_ action: ReconcileAction) -> String {
        switch action {
        case .transition(let r): "transition \(r.customerId) \(r.event.rawValue)"
        case .deleteEndpoint(let id, _, let row, let endpoint, _): "delete \(endpoint) of \(id)" + (row == nil ? " (untracked)" : "")
        case .deleteOrphan(let endpoint, let tag, _, _): "delete orphan \(endpoint) tagged \(tag)"
        case .changeEndpoint(let id, _, let rowId, let change, let then):
            "change \(id)/\(rowId) → \(change.to.rawValue)" + (then.map { ", then \($0.event.rawValue)" } ?? "")
        case .createEndpoint(let id, _, _, _, _): "create for \(id)"
        case .adoptEndpoint(let id, _, let endpoint, _): "adopt \(endpoint.vpcEndpointId) for \(id)"
        case .recordReleasedEndpoint(let rowId, let endpoint): "record released \(rowId) = \(endpoint)"
        case .note(let id, _, let event, _): "note \(id) \(event)"
        case .resumeCreate(let id, _, let row): "resume create \(id)/\(row.id ?? 0)"
        case .resetFailures(let id): "reset failures \(id)"
        case .recordInvitation(let record): "record invitation \(record.invitationArn)"
        case .accept(let arn, let ids, let steps):
            "accept \(arn) for \(ids)" + steps.map { ", with \($0.customerId) \($0.event.rawValue)" }.joined()
        case .reject(let arn): "reject \(arn)"
        }
    }

    func shared(_ n: Int...) -> [String: RAMResource] {
        Dictionary(uniqueKeysWithValues: n.map { (testARN($0), InvitationMatcherTests.resource($0)) })
    }

    @Test func aKeptEndpointSurvivesARemovalWithAnOlderGenerationStillDeleting() {
        // acme removed with --keep-endpoint: generation 2 (a) released; generation 1 (b) still Deleting in EC2.
        let acme = customer("acme", 1, .removing)
        let old = row(1, .deleting, Self.b)
        let released = ReleasedEndpoints(ids: [Self.a])
        let deleting = RegionObservation(region: "us-east-1", endpoints: [listed(Self.a, "acme", arn: 1), listed(Self.b, "acme", arn: 1, "deleting")])
        #expect(transcript(deleting, [acme], [old], released: released) == "")
        // EC2 confirms the old one gone: the removal finishes; the kept one is never touched.
        var gone = RegionObservation(region: "us-east-1", endpoints: [listed(Self.a, "acme", arn: 1)])
        gone.confirmedGone = [Self.b]
        #expect(transcript(gone, [acme], [old], released: released) == """
            change 1/1 → deleted, then removal_finished
            """)
        // A new registration of the same name and ARN does not adopt it either: it makes its own.
        var again = customer("acme", 1, .shareAccepted, id: 2)
        again.resourceShareArn = "s"
        let adopting = RegionObservation(region: "us-east-1", sharedResources: shared(1), endpoints: [listed(Self.a, "acme", arn: 1)])
        #expect(transcript(adopting, [again], released: released) == "create for 2")
    }

    @Test func aKeptEndpointWhoseIdWasUnknownIsRecordedNotDeleted() {
        let released = ReleasedEndpoints(unresolved: [.init(rowId: 7, customerName: "acme", resourceConfigurationArn: testARN(1), releasedAt: now)])
        let removed = [("acme", 1)]
        // Created before the release (or within its call's retries): that generation's, recorded, never deleted.
        let before = RegionObservation(region: "us-east-1", endpoints: [listed(Self.a, "acme", arn: 1, created: now.addingTimeInterval(-60))])
        #expect(transcript(before, [], released: released, removed: removed) == "record released 7 = \(Self.a)")
        // No creation time: kept (never deleted), but not recorded as it.
        let unknown = RegionObservation(region: "us-east-1", endpoints: [listed(Self.a, "acme", arn: 1)])
        #expect(transcript(unknown, [], released: released, removed: removed) == "")
        // Created long after the release: not that generation's (an orphan of the removed acme).
        let later = RegionObservation(region: "us-east-1", endpoints: [listed(Self.a, "acme", arn: 1, created: now.addingTimeInterval(3600))])
        #expect(transcript(later, [], released: released, removed: removed) == "delete orphan \(Self.a) tagged acme")
        // While a new registration of the same name and ARN has a create unanswered, the endpoint may be its:
        // nothing is recorded (and the new registration does not adopt a possibly kept endpoint either).
        var again = customer("acme", 1, .endpointPending, id: 2)
        again.resourceShareArn = InvitationMatcherTests.resource(1).resourceShareArn
        let creating = row(9, customer: 2, .creating, nil, generation: 1)
        let ambiguous = RegionObservation(region: "us-east-1", sharedResources: shared(1),
                                          endpoints: [listed(Self.a, "acme", arn: 1, created: now.addingTimeInterval(-60))])
        #expect(!transcript(ambiguous, [again], [creating], released: released).contains("record released"))
    }

    @Test func oneListingThatLeavesAReadyCustomerOutChangesNothing() {
        let acme = customer("acme", 1, .ready)
        let current = row(1, .available, Self.a)
        // Neither its endpoint nor its resource listed, lookups unanswered: notes only.
        let silent = RegionObservation(region: "us-east-1")
        #expect(transcript(silent, [acme], [current]) == """
            note 1 share_unconfirmed
            """)
        let resourceListed = RegionObservation(region: "us-east-1", sharedResources: shared(1))
        #expect(transcript(resourceListed, [acme], [current]) == "note 1 endpoint_unconfirmed")
        // Lookups found both: blinks, said, nothing else.
        var blink = RegionObservation(region: "us-east-1")
        blink.record(endpointLookup: Self.a, .found(listed(Self.a, "acme", arn: 1)))
        blink.record(resourceLookup: testARN(1), .found(InvitationMatcherTests.resource(1)))
        #expect(transcript(blink, [acme], [current]) == """
            note 1 share_unconfirmed
            note 1 endpoint_unconfirmed
            """)
        // Confirmed: the endpoint is gone (NotFound by id) → missing, a new generation.
        var gone = RegionObservation(region: "us-east-1", sharedResources: shared(1))
        gone.record(endpointLookup: Self.a, .absent)
        #expect(transcript(gone, [acme], [current]) == """
            change 1/1 → deleted, then endpoint_missing
            create for 1
            """)
        // Confirmed: the share is gone (RAM lists nothing for that ARN) → withdrawn, its endpoint deleted.
        var unshared = RegionObservation(region: "us-east-1", endpoints: [listed(Self.a, "acme", arn: 1)])
        unshared.record(resourceLookup: testARN(1), .absent)
        #expect(transcript(unshared, [acme], [current]) == """
            delete \(Self.a) of 1
            transition 1 share_withdrawn
            """)
    }

    @Test func whatAPassMustLookUpBeforeActingOnAnAbsence() {
        let acme = customer("acme", 1, .ready), globex = customer("globex", 2, .awaitingShare), leaving = customer("initech", 3, .removing)
        let rows = [row(1, .available, Self.a), row(2, customer: 3, .deleting, Self.b), row(3, customer: 3, .creating, nil, generation: 2)]
        let snapshot = RegistrySnapshot(customers: [acme, globex, leaving], openEndpoints: Dictionary(grouping: rows, by: \.customerId), invitations: [:])
        let none = ReconcilePlanner.absencesToConfirm(RegionObservation(region: "us-east-1"), snapshot: snapshot, policy: policy, now: now)
        #expect(none.endpointIds == [Self.a, Self.b])
        #expect(none.resourceArns == [testARN(1)])
        // Everything listed: nothing to ask (the steady state makes no extra call).
        let all = RegionObservation(region: "us-east-1", sharedResources: shared(1),
                                    endpoints: [listed(Self.a, "acme", arn: 1), listed(Self.b, "initech", arn: 3, "deleting")])
        let steady = ReconcilePlanner.absencesToConfirm(all, snapshot: snapshot, policy: policy, now: now)
        #expect(steady.endpointIds.isEmpty && steady.resourceArns.isEmpty)
    }

    @Test func aNameRegisteredAgainWithAnotherArnLeavesNoStrayBehind() {
        // The old acme (ARN 1) is being removed; its endpoint b was never recorded (a create answer lost long ago).
        let old = customer("acme", 1, .removing)
        var new = customer("acme", 2, .awaitingShare, id: 2)
        new.resourceConfigurationArn = testARN(2)
        let observation = RegionObservation(region: "us-east-1", endpoints: [listed(Self.b, "acme", arn: 1)])
        #expect(transcript(observation, [old, new]) == "delete \(Self.b) of 1 (untracked)")
        // With the same ARN, the new registration owns it: not deleted (it adopts it once its share is back).
        var same = customer("acme", 1, .awaitingShare, id: 2)
        same.resourceConfigurationArn = testARN(1)
        #expect(!transcript(observation, [old, same]).contains("delete"))
    }

    @Test func anEndpointTaggedForARemovedRegistrationIsAnOrphan() {
        let acme = customer("acme", 1, .awaitingShare)
        let removed = [("gone-customer", 5), ("acme", 9)]
        let observation = RegionObservation(region: "us-east-1", endpoints: [
            listed(Self.a, "gone-customer", arn: 5), listed(Self.b, "acme", arn: 1), listed(Self.c, nil, arn: 6),
        ])
        // Tagged for a removed registration nobody live owns: deleted; tagged for acme: acme's; untagged: not ours.
        #expect(transcript(observation, [acme], removed: removed) == "delete orphan \(Self.a) tagged gone-customer")
        // Tagged for acme but for the ARN of its earlier, removed registration: no live registration owns it.
        let foreign = RegionObservation(region: "us-east-1", endpoints: [listed(Self.b, "acme", arn: 9)])
        #expect(transcript(foreign, [acme], removed: removed) == "delete orphan \(Self.b) tagged acme")
        // A released endpoint is never an orphan.
        #expect(transcript(observation, [acme], released: ReleasedEndpoints(ids: [Self.a]), removed: removed) == "")
        // Tagged for names this state never knew (a lost or restored state, another installation): left alone.
        #expect(transcript(observation, [acme]) == "")
        #expect(transcript(foreign, [acme]) == "")
    }
}

@Suite struct EndpointClaimsTests {
    let acme = InvitationMatcherTests.customer("acme", 1, state: .removing)

    @Test func theStateIsAskedAgainRightBeforeAnUntrackedDelete() {
        let arn = acme.resourceConfigurationArn
        #expect(EndpointClaims().refusal(deletingFor: acme, endpointArn: arn) == nil)
        #expect(EndpointClaims(released: true).refusal(deletingFor: acme, endpointArn: arn) != nil)
        #expect(EndpointClaims(recordedBy: [2]).refusal(deletingFor: acme, endpointArn: arn) != nil)
        var again = InvitationMatcherTests.customer("acme", 1, state: .awaitingShare)
        again.id = 2
        #expect(EndpointClaims(liveNamed: [acme, again]).refusal(deletingFor: acme, endpointArn: arn) != nil)
        var other = again
        other.resourceConfigurationArn = testARN(9)
        #expect(EndpointClaims(liveNamed: [acme, other]).refusal(deletingFor: acme, endpointArn: arn) == nil)
        // An orphan: no live customer of its tag's name and its ARN (or of its name, when EC2 gave no ARN).
        #expect(EndpointClaims().refusal(deletingFor: nil, endpointArn: arn) == nil)
        #expect(EndpointClaims(liveNamed: [again]).refusal(deletingFor: nil, endpointArn: arn) != nil)
        #expect(EndpointClaims(liveNamed: [other]).refusal(deletingFor: nil, endpointArn: arn) == nil)
        #expect(EndpointClaims(liveNamed: [other]).refusal(deletingFor: nil, endpointArn: nil) != nil)
    }
}

enum EC2Fixture {
    static func endpoint(id: String, arn: String?, tag: String?, state: String) -> VpcEndpoint? {
        VpcEndpoint(vpcEndpointId: id, state: VpcEndpointState(state), vpcId: nil, resourceConfigurationArn: arn,
                    tags: tag.map { ["privatelink-consumer:customer": $0] } ?? [:])
    }
}

