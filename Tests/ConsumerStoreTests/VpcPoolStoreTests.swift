import AWSModels
import ConsumerCore
import Foundation
import Testing
import TestSupport
@testable import ConsumerStore

/// The pool in the state, on both backends: a generation records the VPC it was made (or found) in and keeps
/// it, the schema refuses anything that is not a VPC id, and the pools' capacity is replaced whole, in one
/// transaction, and read back in configured order for `status`.
@Suite struct VpcPoolStoreTests {
    func arn(_ n: Int) throws -> ResourceConfigurationARN { try ResourceConfigurationARN.parse(testARN(n)).get() }

    static func request(vpc: String, arn: String) -> String {
        StoredCreateRequest(ResourceEndpointRequest(
            resourceConfigurationArn: arn, vpcId: vpc, subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"],
            ipAddressType: "ipv4", privateDnsEnabled: true, clientToken: "t", tags: [])).json
    }

    @Test(arguments: Backend.allCases) func aGenerationRecordsItsVpcAndKeepsIt(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let acme = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(1)), by: StoreFixtures.actor)
        let created = try #require(try await store.beginEndpoint(customerId: acme.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                 clientToken: "token-acme", request: Self.request(vpc: "vpc-0b2", arn: testARN(1))))
        #expect(created.vpcId == "vpc-0b2")
        // A listing that says otherwise does not move it (an endpoint never moves).
        #expect(try await store.changeEndpoint(created.id!, .init(from: [.creating], to: .available, vpcEndpointId: "vpce-0000000000000000b",
                                                                  awsState: "Available", vpcId: "vpc-0ff")))
        #expect(try await store.endpointGeneration(created.id!)?.vpcId == "vpc-0b2")

        // An adopted endpoint records the VPC EC2 listed it in.
        let globex = try await store.addCustomer(NewCustomer(name: "globex", arn: try arn(2)), by: StoreFixtures.actor)
        let adopted = try #require(try await store.adoptEndpoint(customerId: globex.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                 vpcEndpointId: "vpce-0000000000000000c", vpcId: "vpc-0c3",
                                                                 state: .available, awsState: "Available", dnsName: nil))
        #expect(try await store.endpointGeneration(adopted.id!)?.vpcId == "vpc-0c3")

        // A row that has none (a request stored before pools, unreadable) learns it from the listing once.
        let initech = try await store.addCustomer(NewCustomer(name: "initech", arn: try arn(3)), by: StoreFixtures.actor)
        let legacy = try #require(try await store.beginEndpoint(customerId: initech.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                clientToken: "token-initech", request: "{}"))
        #expect(legacy.vpcId == nil)
        #expect(try await store.changeEndpoint(legacy.id!, .init(from: [.creating], to: .pending, vpcEndpointId: "vpce-0000000000000000d",
                                                                 awsState: "pending", seen: true, vpcId: "vpc-0d4")))
        #expect(try await store.endpointGeneration(legacy.id!)?.vpcId == "vpc-0d4")
        #expect(try await store.statusSnapshot().endpoints[initech.id!]?.vpcId == "vpc-0d4")
    }

    @Test(arguments: Backend.allCases) func theSchemaRefusesAVpcThatIsNotOne(_ backend: Backend) async throws {
        let opened = try await backend.open()
        let acme = try await opened.store.addCustomer(NewCustomer(name: "acme", arn: try arn(4)), by: StoreFixtures.actor)
        let row = try #require(try await opened.store.beginEndpoint(customerId: acme.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                    clientToken: "token-acme", request: "{}"))
        await #expect(throws: ConstraintRefusal.self) {
            try await opened.raw("UPDATE endpoint SET vpcId = 'subnet-0a1' WHERE id = ?", [.integer(Int(row.id!))])
        }
        // Once recorded, a generation's VPC stays (an endpoint never moves), whoever writes.
        try await opened.raw("UPDATE endpoint SET vpcId = 'vpc-0a1' WHERE id = ?", [.integer(Int(row.id!))])
        let moved = await #expect(throws: ConstraintRefusal.self) {
            try await opened.raw("UPDATE endpoint SET vpcId = 'vpc-0b2' WHERE id = ?", [.integer(Int(row.id!))])
        }
        #expect(moved?.description.contains("never moves") == true, "\(moved.map(String.init(describing:)) ?? "-")")
        #expect(try await opened.store.endpointGeneration(row.id!)?.vpcId == "vpc-0a1")
        await #expect(throws: ConstraintRefusal.self) {
            try await opened.raw("""
                INSERT INTO vpc_capacity (region, vpcId, position, endpoints, endpointLimit, limitSource, changedAt)
                VALUES ('us-east-1', 'vpc-0a1', 0, 3, 200, 'guessed', '2026-01-01 00:00:00')
                """)
        }
        #expect(try await opened.store.statusSnapshot().capacity.isEmpty)
    }

    @Test(arguments: Backend.allCases) func capacityIsReplacedWholeAndReadInConfiguredOrder(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let time = Date(timeIntervalSince1970: 1_800_000_000)
        let east = [VpcCapacity(vpcId: "vpc-0b", endpoints: 200, limit: 200, limitSource: .serviceQuotas, fullBecause: "VpcEndpointLimitExceeded"),
                    VpcCapacity(vpcId: "vpc-0a", endpoints: 3, limit: 150, limitSource: .maxEndpoints)]
        let west = [VpcCapacity(vpcId: "vpc-0c", endpoints: 0, limit: 200, limitSource: .default)]
        let rows = CapacityRecord.rows(region: "us-west-2", pool: west, at: time) + CapacityRecord.rows(region: "us-east-1", pool: east, at: time)
        try await store.recordCapacity(rows)
        let read = try await store.statusSnapshot().capacity
        #expect(read.map(\.vpcId) == ["vpc-0b", "vpc-0a", "vpc-0c"])
        #expect(read.first == rows[1])
        #expect(read.map(\.limitSource) == ["service-quotas", "maxEndpoints", "default"])

        // A pool that lost a VPC: the old rows go with the write, nothing else stays behind.
        try await store.recordCapacity(CapacityRecord.rows(region: "us-east-1", pool: [east[1]], at: time))
        #expect(try await store.statusSnapshot().capacity.map(\.vpcId) == ["vpc-0a"])

        // Two VPCs in one place of the order: refused, and what was there stays (one transaction).
        var clash = CapacityRecord.rows(region: "us-east-1", pool: east, at: time)
        clash[1].position = 0
        await #expect(throws: (any Error).self) { try await store.recordCapacity(clash) }
        #expect(try await store.statusSnapshot().capacity.map(\.vpcId) == ["vpc-0a"])
    }
}

/// What a probe sweep reads, on both backends: the ready customers, their live endpoints, and which of them last
/// timed out: the newest probe of each decides, whatever came before it.
@Suite struct ProbeTargetRowsTests {
    static func probe(_ customerId: Int64, ok: Bool, errorKind: String?, at seconds: Double) -> ProbeResultRecord {
        ProbeResultRecord(id: nil, customerId: customerId, time: Date(timeIntervalSince1970: seconds), ok: ok,
                          stage: ok ? .postgres : .connect, errorKind: errorKind, error: ok ? nil : "e", hint: nil,
                          latencyMs: [:], vpcEndpointId: nil, dnsName: "localhost", port: 5432)
    }

    @Test(arguments: Backend.allCases) func readyCustomersTheirEndpointsAndWhoLastTimedOut(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let slow = try await StoreFixtures.readyCustomer(store, name: "slow", arn: testARN(11), vpcEndpointId: "vpce-0000000000000000b")
        let recovered = try await StoreFixtures.readyCustomer(store, name: "recovered", arn: testARN(12), vpcEndpointId: "vpce-0000000000000000c")
        let refused = try await StoreFixtures.readyCustomer(store, name: "refused", arn: testARN(13), vpcEndpointId: "vpce-0000000000000000d")
        _ = try await store.addCustomer(NewCustomer(name: "waiting", arn: try ResourceConfigurationARN.parse(testARN(14)).get()),
                                        by: StoreFixtures.actor)
        try await store.recordProbes([
            Self.probe(slow.id!, ok: true, errorKind: nil, at: 1), Self.probe(slow.id!, ok: false, errorKind: "connectTimeout", at: 2),
            Self.probe(recovered.id!, ok: false, errorKind: "postgresTimeout", at: 1), Self.probe(recovered.id!, ok: true, errorKind: nil, at: 2),
            Self.probe(refused.id!, ok: false, errorKind: "connectRefused", at: 1),
        ], history: 10)
        let rows = try await store.probeTargetRows()
        #expect(rows.map(\.name) == ["recovered", "refused", "slow"])
        #expect(rows.map(\.customerId) == [recovered.id!, refused.id!, slow.id!])
        #expect(rows.map(\.endpoint?.vpcEndpointId) == ["vpce-0000000000000000c", "vpce-0000000000000000d", "vpce-0000000000000000b"])
        #expect(rows.filter(\.lastTimedOut).map(\.name) == ["slow"])
    }

    /// Each row carries what the probe uses, column by column: port, login, the endpoint's id and DNS name (or
    /// none), and a customer's newest generation when an older, failed one is still open.
    @Test(arguments: Backend.allCases) func eachRowCarriesThePortTheLoginAndTheNewestEndpoint(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let login = try await StoreFixtures.readyCustomer(store, name: "login", arn: testARN(15), port: 6432, vpcEndpointId: "vpce-0000000000000000e")
        _ = try await store.setProbeLogin(named: "login", user: "monitor", passwordFile: "/etc/plc/login.pw", database: "app", by: StoreFixtures.actor)
        let nameless = try await StoreFixtures.readyCustomer(store, name: "nameless", arn: testARN(16), vpcEndpointId: "vpce-00000000000000010",
                                                             dnsName: nil)
        // A failed generation stays open beside the next one: the newest is the live endpoint.
        let retried = try await store.addCustomer(NewCustomer(name: "retried", arn: try ResourceConfigurationARN.parse(testARN(17)).get()),
                                                  by: StoreFixtures.actor)
        let failed = try #require(try await store.beginEndpoint(customerId: retried.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                clientToken: "token-retried-1", request: "{}"))
        #expect(try await store.changeEndpoint(failed.id!, .init(from: [.creating], to: .failed, vpcEndpointId: "vpce-00000000000000011",
                                                                 dnsName: "old.example", lastError: "refused")))
        let second = try #require(try await store.beginEndpoint(customerId: retried.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                clientToken: "token-retried-2", request: "{}"))
        #expect(try await store.changeEndpoint(second.id!, .init(from: [.creating], to: .available, vpcEndpointId: "vpce-00000000000000012",
                                                                 awsState: "Available", dnsName: "new.example", seen: true)))
        guard case .applied = try await store.transition(TransitionRequest(customerId: retried.id!, from: .awaitingShare, event: .endpointAvailable,
                                                                            detail: "test")) else {
            Issue.record("retried did not become ready")
            return
        }
        #expect(try await store.endpointGenerations(customerId: retried.id!).count == 2)
        let rows = try await store.probeTargetRows()
        #expect(rows == [
            ProbeTargetRow(customerId: login.id!, name: "login", port: 6432, probeUser: "monitor", probePasswordFile: "/etc/plc/login.pw",
                           probeDatabase: "app", endpoint: .init(vpcEndpointId: "vpce-0000000000000000e", dnsName: "localhost")),
            ProbeTargetRow(customerId: nameless.id!, name: "nameless", port: 5432,
                           endpoint: .init(vpcEndpointId: "vpce-00000000000000010", dnsName: nil)),
            ProbeTargetRow(customerId: retried.id!, name: "retried", port: 5432,
                           endpoint: .init(vpcEndpointId: "vpce-00000000000000012", dnsName: "new.example")),
        ])
    }
}

/// CreateVpcEndpoint's answer and the lifecycle step it means, written as one outcome in one transaction, on both
/// backends: the step keeps its own compare-and-set, and a stale step leaves the endpoint's change in place.
@Suite struct EndpointOutcomeTests {
    static func add(_ name: String, _ arn: Int, to store: any StateStore) async throws -> Customer {
        try await store.addCustomer(NewCustomer(name: name, arn: try ResourceConfigurationARN.parse(testARN(arn)).get()), by: StoreFixtures.actor)
    }

    @Test(arguments: Backend.allCases) func theChangeAndTheStepAreOneWrite(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let acme = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(21)).get()),
                                               by: StoreFixtures.actor)
        let row = try #require(try await store.beginEndpoint(customerId: acme.id!, expecting: .awaitingShare, region: "us-east-1",
                                                             clientToken: "token-acme", request: "{}"))
        let created = EndpointChange(from: [.creating], to: .pending, vpcEndpointId: "vpce-0000000000000000e", awsState: "pending",
                                     createAnswered: true, note: .init("endpoint_created", "vpce-0000000000000000e"))
        let step = TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .endpointRequested, detail: "created")
        let written = try await store.changeEndpoint(row.id!, created, then: step)
        #expect(written.changed)
        guard case .applied(let event) = written.transition else { Issue.record("\(written.transition)"); return }
        #expect(event.toState == .endpointPending)
        #expect(try await store.customer(named: "acme")?.state == .endpointPending)
        #expect(try await store.endpointGeneration(row.id!)?.vpcEndpointId == "vpce-0000000000000000e")

        // A step planned from a state the customer has left is stale; the endpoint's change still stands.
        let seen = EndpointChange(from: [.pending], to: .available, awsState: "available", dnsName: "acme.example", seen: true)
        let again = try await store.changeEndpoint(row.id!, seen, then: step)
        #expect(again.changed)
        #expect(again.transition == .stale(current: .endpointPending))
        #expect(try await store.endpointGeneration(row.id!)?.state == .available)

        // A change the generation no longer takes writes nothing, and the step it means is not taken either.
        let eventsBefore = try await store.events(customerId: acme.id!).count
        let ready = TransitionRequest(customerId: acme.id!, from: .endpointPending, event: .endpointAvailable, detail: "ready")
        let late = try await store.changeEndpoint(row.id!, created, then: ready)
        #expect(!late.changed)
        #expect(late.transition == nil)
        #expect(try await store.customer(named: "acme")?.state == .endpointPending)
        #expect(try await store.events(customerId: acme.id!).count == eventsBefore)
        // Taken when it applies: the change and the step, one write.
        let seenAgain = EndpointChange(from: [.available], to: .available, awsState: "available", dnsName: "acme.example", seen: true)
        let both = try await store.changeEndpoint(row.id!, seenAgain, then: ready)
        #expect(both.changed)
        guard case .applied(let readyEvent) = both.transition else { Issue.record("\(String(describing: both.transition))"); return }
        #expect(readyEvent.toState == .ready)
    }

    /// An accept's ClientToken and its customers' `accepting` steps, one write before the call: the stored token
    /// wins, and each step keeps its own compare-and-set.
    @Test(arguments: Backend.allCases) func theAcceptTokenAndTheAcceptingStepsAreOneWrite(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let acme = try await Self.add("acme", 24, to: store)
        let initech = try await Self.add("initech", 25, to: store)
        let invitation = InvitationRecordTests.record("fold", .pending)
        let arn = invitation.invitationArn
        try await store.recordInvitation(invitation)
        let steps = [
            TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .invitationMatched, detail: "accepting \(arn)"),
            // Planned from a state initech is not in: stale, and it does not undo acme's step or the token.
            TransitionRequest(customerId: initech.id!, from: .shareAccepted, event: .invitationMatched, detail: "accepting \(arn)"),
        ]
        let first = try await store.acceptToken(for: arn, proposed: "token-1", then: steps, by: .daemon)
        #expect(first.token == "token-1")
        guard first.transitions.count == 2, case .applied(let event) = first.transitions[0] else {
            Issue.record("\(first.transitions)")
            return
        }
        #expect(event.toState == .accepting)
        #expect(first.transitions[1] == .stale(current: .awaitingShare))
        #expect(try await store.customer(named: "acme")?.state == .accepting)
        #expect(try await store.customer(named: "initech")?.state == .awaitingShare)
        // Again (a retried accept): the stored token wins, and the step finds acme there already.
        let again = try await store.acceptToken(for: arn, proposed: "token-2", then: [steps[0]], by: .daemon)
        #expect(again.token == "token-1")
        #expect(again.transitions == [.stale(current: .accepting)])
        #expect(try await store.acceptToken(for: arn, proposed: "token-3") == "token-1")
    }

    /// A step the store refuses as it writes it (here a trigger of the test's on acme's row) takes the rest of its
    /// write with it: the accept's ClientToken is not stored, the endpoint's change is not kept. Two transactions
    /// would keep them.
    @Test(arguments: Backend.allCases) func aRefusedStepTakesItsWholeWriteWithIt(_ backend: Backend) async throws {
        let opened = try await backend.open()
        let store = opened.store
        let acme = try await Self.add("acme", 26, to: store)
        let row = try #require(try await store.beginEndpoint(customerId: acme.id!, expecting: .awaitingShare, region: "us-east-1",
                                                             clientToken: "token-acme", request: "{}"))
        let invitation = InvitationRecordTests.record("refused", .pending)
        try await store.recordInvitation(invitation)
        switch backend {
        case .sqlite:
            try await opened.raw("""
                CREATE TRIGGER test_refuses_acme BEFORE UPDATE ON customer WHEN NEW.name = 'acme'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """)
        case .postgres:
            try await opened.raw("CREATE FUNCTION test_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql")
            try await opened.raw("""
                CREATE TRIGGER test_refuses_acme BEFORE UPDATE ON customer FOR EACH ROW WHEN (NEW.name = 'acme') EXECUTE FUNCTION test_refuse()
                """)
        }
        let accepting = TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .invitationMatched, detail: "accepting")
        await #expect(throws: (any Error).self) {
            try await store.acceptToken(for: invitation.invitationArn, proposed: "token-1", then: [accepting], by: .daemon)
        }
        let stored = try await store.invitationRecords(invitationArns: [invitation.invitationArn], resourceArns: [], senders: [])
        #expect(stored[invitation.invitationArn]?.acceptClientToken == nil)

        let created = EndpointChange(from: [.creating], to: .pending, vpcEndpointId: "vpce-0000000000000000f", awsState: "pending",
                                     createAnswered: true)
        let step = TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .endpointRequested, detail: "created")
        await #expect(throws: (any Error).self) { try await store.changeEndpoint(row.id!, created, then: step) }
        let generation = try await store.endpointGeneration(row.id!)
        #expect(generation?.state == .creating && generation?.vpcEndpointId == nil)
    }

    /// "Creating the endpoint": the customer's step and its new generation in one transaction. A stale step
    /// begins nothing; a step whose generation cannot be written is not kept either.
    @Test(arguments: Backend.allCases) func theStepAndTheNewGenerationAreOneWrite(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let acme = try await Self.add("acme", 22, to: store)
        let initech = try await Self.add("initech", 23, to: store)
        let request = "{}"

        // Planned from a state the customer is not in: stale, nothing written.
        let stale = TransitionRequest(customerId: acme.id!, from: .shareAccepted, event: .endpointRequested, detail: "creating")
        let none = try await store.beginEndpoint(after: stale, region: "us-east-1", clientToken: "token-0", request: request, by: .daemon)
        #expect(none.transition == .stale(current: .awaitingShare))
        #expect(none.row == nil)

        // Only the step into endpoint_pending opens a generation: the store refuses any other.
        let failed = TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .endpointFailed, detail: "failed")
        let refusal = await #expect(throws: StoreError.self) {
            _ = try await store.beginEndpoint(after: failed, region: "us-east-1", clientToken: "token-1", request: request, by: .daemon)
        }
        #expect(refusal?.code == .invalid)
        #expect(try await store.endpointGenerations(customerId: acme.id!).isEmpty)
        #expect(try await store.customer(named: "acme")?.state == .awaitingShare)

        let step = TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .endpointRequested, detail: "creating")
        let written = try await store.beginEndpoint(after: step, region: "us-east-1", clientToken: "token-2", request: request, by: .daemon)
        guard case .applied(let event) = written.transition else { Issue.record("\(written.transition)"); return }
        #expect(event.toState == .endpointPending)
        let row = try #require(written.row)
        #expect(row.generation == 1 && row.state == .creating && row.clientToken == "token-2")
        #expect(try await store.customer(named: "acme")?.state == .endpointPending)
        #expect(try await store.events(customerId: acme.id!).last?.toState == .endpointPending)

        // A step that moves the customer, whose generation the store refuses (its ClientToken is taken): the
        // step is not kept either, no event, no generation.
        let initechEvents = try await store.events(customerId: initech.id!).count
        let clash = TransitionRequest(customerId: initech.id!, from: .awaitingShare, event: .endpointRequested, detail: "creating")
        await #expect(throws: (any Error).self) {
            _ = try await store.beginEndpoint(after: clash, region: "us-east-1", clientToken: "token-2", request: request, by: .daemon)
        }
        #expect(try await store.customer(named: "initech")?.state == .awaitingShare)
        #expect(try await store.events(customerId: initech.id!).count == initechEvents)
        #expect(try await store.endpointGenerations(customerId: initech.id!).isEmpty)

        // A second begin while the first generation is open is refused by the store; the detail refresh it
        // carried is not kept.
        let acmeEvents = try await store.events(customerId: acme.id!).count
        let again = TransitionRequest(customerId: acme.id!, from: .endpointPending, event: .endpointRequested, detail: "creating again")
        await #expect(throws: (any Error).self) {
            _ = try await store.beginEndpoint(after: again, region: "us-east-1", clientToken: "token-3", request: request, by: .daemon)
        }
        #expect(try await store.endpointGenerations(customerId: acme.id!).map(\.clientToken) == ["token-2"])
        let after = try await store.customer(named: "acme")
        #expect(after?.state == .endpointPending && after?.stateDetail == "creating")
        #expect(try await store.events(customerId: acme.id!).count == acmeEvents)
    }

    /// A pass's rows carry a generation's create request only while it is being created (the one time it is
    /// read: the call repeated from it); the stored request itself stays, whoever reads it whole. (A sweep's
    /// rows carry only an endpoint's id and DNS name.)
    @Test(arguments: Backend.allCases) func passRowsCarryTheRequestOnlyWhileCreating(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let acme = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(24)).get()),
                                               by: StoreFixtures.actor)
        let globex = try await store.addCustomer(NewCustomer(name: "globex", arn: try ResourceConfigurationARN.parse(testARN(25)).get()),
                                                 by: StoreFixtures.actor)
        let creating = try #require(try await store.beginEndpoint(customerId: acme.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                  clientToken: "token-acme", request: #"{"acme":1}"#))
        let created = try #require(try await store.beginEndpoint(customerId: globex.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                 clientToken: "token-globex", request: #"{"globex":1}"#))
        #expect(try await store.changeEndpoint(created.id!, EndpointChange(from: [.creating], to: .available, vpcEndpointId: "vpce-0000000000000000f",
                                                                          awsState: "available", dnsName: "globex.example", createAnswered: true)))

        let open = try await store.snapshot().openEndpoints
        #expect(open[acme.id!]?.first?.id == creating.id && open[acme.id!]?.first?.createRequest == #"{"acme":1}"#)
        #expect(open[globex.id!]?.first?.state == .available)
        #expect(open[globex.id!]?.first?.createRequest == nil)
        // Read whole, the stored request is still there.
        #expect(try await store.endpointGeneration(created.id!)?.createRequest == #"{"globex":1}"#)
        #expect(try await store.liveEndpoint(customerId: globex.id!)?.createRequest == #"{"globex":1}"#)
    }
}
