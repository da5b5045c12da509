import Foundation
import GRDB

/// What the reconciler reads at the start of a pass.
public struct RegistrySnapshot: Sendable, Equatable {
    /// Live customers (including `removing`), by name.
    public var customers: [Customer]
    /// Each customer's current endpoint row, by customer id.
    public var endpoints: [Int64: EndpointRecord]
    /// Every invitation seen, by invitation ARN.
    public var invitations: [String: InvitationRecord]

    public init(customers: [Customer], endpoints: [Int64: EndpointRecord], invitations: [String: InvitationRecord]) {
        self.customers = customers
        self.endpoints = endpoints
        self.invitations = invitations
    }
}

/// A lifecycle change the store made, to be mirrored in the health log and the daemon's log.
public struct Transition: Sendable, Equatable {
    public var event: LifecycleEvent
    public var customer: String
}

extension ConsumerStore {
    /// Customers, endpoints and invitations in one consistent read.
    public func snapshot() async throws -> RegistrySnapshot {
        try await read { db in
            let customers = try Customer.filter(Column("state") != CustomerState.removed.rawValue).order(Column("name")).fetchAll(db)
            let endpoints = try Self.liveEndpoints(db)
            let invitations = try InvitationRecord.fetchAll(db)
            return RegistrySnapshot(
                customers: customers,
                endpoints: endpoints,
                invitations: Dictionary(invitations.map { ($0.invitationArn, $0) }, uniquingKeysWith: { _, last in last }))
        }
    }

    /// Inserts or updates an invitation record. Returns true when it is new or its decision or reason changed
    /// (what deserves a log line: the same refusal is not repeated every pass).
    @discardableResult
    public func recordInvitation(_ record: InvitationRecord) async throws -> Bool {
        try await write { db in
            if var existing = try InvitationRecord.fetchOne(db, key: record.invitationArn) {
                let changed = existing.decision != record.decision || existing.reason != record.reason
                existing.status = record.status
                existing.lastSeen = record.lastSeen
                existing.decision = record.decision
                existing.reason = record.reason
                existing.resources = record.resources
                existing.acceptClientToken = record.acceptClientToken ?? existing.acceptClientToken
                if changed { existing.decidedAt = record.decidedAt ?? record.lastSeen }
                try existing.update(db)
                return changed
            }
            try record.insert(db)
            return true
        }
    }

    /// Stores the clientToken of an AcceptResourceShareInvitation before the call is made, and returns
    /// the token to use: the stored one if an earlier (possibly crashed) attempt left one.
    public func acceptToken(for invitationArn: String, proposed: String) async throws -> String {
        try await write { db in
            guard var record = try InvitationRecord.fetchOne(db, key: invitationArn) else { return proposed }
            if let token = record.acceptClientToken { return token }
            record.acceptClientToken = proposed
            try record.update(db)
            return proposed
        }
    }

    /// Moves the named customer to `state` (an event row when the state changes; otherwise only the detail
    /// and hint are refreshed). Returns the transition when there was one.
    @discardableResult
    public func transition(customer name: String, to state: CustomerState, detail: String?, hint: String?,
                           resourceShareArn: String? = nil, invitationArn: String? = nil) async throws -> Transition? {
        let time = now()
        return try await write { db in
            guard var customer = try Self.liveCustomer(name, db) else {
                return nil
            }
            if let resourceShareArn { customer.resourceShareArn = resourceShareArn }
            if let invitationArn { customer.invitationArn = invitationArn }
            if customer.state == state {
                guard customer.stateDetail != detail || customer.hint != hint || resourceShareArn != nil || invitationArn != nil else { return nil }
                customer.stateDetail = detail
                customer.hint = hint
                customer.updatedAt = time
                try customer.update(db)
                return nil
            }
            let event = try Self.transition(&customer, to: state, detail: detail, hint: hint, at: time, in: db)
            return Transition(event: event, customer: name)
        }
    }

    /// Records the ClientToken of a new endpoint generation before CreateVpcEndpoint is called, so that
    /// a crash or a lost answer is followed by a retry with the same token, never a second endpoint.
    public func beginEndpoint(customer name: String, region: String, clientToken: String) async throws -> EndpointRecord {
        let time = now()
        return try await write { db in
            guard let customer = try Self.liveCustomer(name, db),
                  let customerId = customer.id else {
                throw StoreError(.notFound, "no customer named \(name)")
            }
            let generation = (try Int.fetchOne(db, sql: "SELECT max(generation) FROM endpoint WHERE customerId = ?", arguments: [customerId]) ?? 0) + 1
            var record = EndpointRecord(id: nil, customerId: customerId, region: region, clientToken: clientToken, generation: generation,
                                        vpcEndpointId: nil, state: .creating, awsState: nil, dnsName: nil, lastError: nil,
                                        createdAt: time, updatedAt: time)
            try record.insert(db)
            return record
        }
    }

    /// Records what EC2 says about an endpoint row (its id once known, state, DNS name, last error).
    public func updateEndpoint(_ id: Int64, vpcEndpointId: String? = nil, state: EndpointRecord.State, awsState: String?,
                               dnsName: String?, lastError: String?) async throws {
        let time = now()
        try await write { db in
            guard var record = try EndpointRecord.fetchOne(db, key: id) else { return }
            if let vpcEndpointId { record.vpcEndpointId = vpcEndpointId }
            guard record.state != state || record.awsState != awsState || record.dnsName != dnsName
                    || record.lastError != lastError || vpcEndpointId != nil else { return }
            record.state = state
            record.awsState = awsState
            record.dnsName = dnsName
            record.lastError = lastError
            record.updatedAt = time
            try record.update(db)
        }
    }

    /// Takes over an endpoint found in EC2 for the customer (ours from before a crash, or made by hand),
    /// replacing whatever row the customer had.
    public func adoptEndpoint(customer name: String, region: String, vpcEndpointId: String, state: EndpointRecord.State,
                              awsState: String) async throws {
        let time = now()
        try await write { db in
            guard let customer = try Self.liveCustomer(name, db),
                  let customerId = customer.id else { return }
            // The id may sit on an older row of this customer (a generation that was marked gone too early).
            try db.execute(sql: "UPDATE endpoint SET state = 'deleted', vpcEndpointId = NULL, updatedAt = ? WHERE vpcEndpointId = ?",
                           arguments: [time, vpcEndpointId])
            if var live = try EndpointRecord.filter(Column("customerId") == customerId && !["deleted", "failed"].contains(Column("state")))
                .fetchOne(db) {
                live.vpcEndpointId = vpcEndpointId
                live.state = state
                live.awsState = awsState
                live.dnsName = nil
                live.updatedAt = time
                try live.update(db)
                return
            }
            let generation = (try Int.fetchOne(db, sql: "SELECT max(generation) FROM endpoint WHERE customerId = ?", arguments: [customerId]) ?? 0) + 1
            var record = EndpointRecord(id: nil, customerId: customerId, region: region, clientToken: "adopted-\(vpcEndpointId)-\(generation)",
                                        generation: generation, vpcEndpointId: vpcEndpointId, state: state, awsState: awsState,
                                        dnsName: nil, lastError: nil, createdAt: time, updatedAt: time)
            try record.insert(db)
        }
    }

    /// Counts an endpoint failure and sets when the next generation may be tried (`nextAttempt` maps
    /// the new failure count to that time). Returns the new count.
    public func recordEndpointFailure(customer name: String, nextAttempt: @escaping @Sendable (Int) -> Date) async throws -> Int {
        try await write { db in
            guard var customer = try Self.liveCustomer(name, db) else { return 0 }
            customer.endpointFailures += 1
            customer.nextEndpointAttemptAt = nextAttempt(customer.endpointFailures)
            try customer.update(db)
            return customer.endpointFailures
        }
    }

    /// Clears the failure count once an endpoint works.
    public func resetEndpointFailures(customer name: String) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE customer SET endpointFailures = 0, nextEndpointAttemptAt = NULL WHERE name = ? AND state <> 'removed' AND endpointFailures > 0",
                           arguments: [name])
        }
    }

    /// Finishes a removal: the customer leaves `status`, its endpoint rows are closed.
    @discardableResult
    public func finishRemoval(customer name: String, detail: String) async throws -> Transition? {
        let time = now()
        return try await write { db in
            guard var customer = try Customer.filter(Column("name") == name && Column("state") == CustomerState.removing.rawValue).fetchOne(db),
                  let id = customer.id else { return nil }
            try db.execute(sql: "UPDATE endpoint SET state = 'deleted', updatedAt = ? WHERE customerId = ? AND state <> 'deleted'", arguments: [time, id])
            let event = try Self.transition(&customer, to: .removed, detail: detail, hint: nil, at: time, in: db)
            return Transition(event: event, customer: name)
        }
    }

    /// Records RAM's answer to our accept or reject call: the invitation's status and our decision, in one
    /// transaction (no read-then-write window for the CLI to slip into).
    public func markInvitation(_ arn: String, status: String, decision: InvitationRecord.Decision) async throws {
        let time = now()
        try await write { db in
            guard var record = try InvitationRecord.fetchOne(db, key: arn) else { return }
            record.status = status
            record.decision = decision
            record.reason = nil
            record.decidedAt = time
            try record.update(db)
        }
    }
}

/// Everything `status` shows, read in one snapshot.
public struct StatusSnapshot: Sendable {
    public var customers: [Customer]
    public var endpoints: [Int64: EndpointRecord]
    public var latestProbes: [Int64: ProbeResultRecord]
    public var refusedInvitations: [InvitationRecord]
}

extension ConsumerStore {
    public func statusSnapshot() async throws -> StatusSnapshot {
        try await read { db in
            let customers = try Customer.filter(Column("state") != CustomerState.removed.rawValue).order(Column("name")).fetchAll(db)
            let endpoints = try Self.liveEndpoints(db)
            let probes = try ProbeResultRecord.fetchAll(db, sql: """
                SELECT * FROM probeResult WHERE id IN (SELECT max(id) FROM probeResult GROUP BY customerId)
                """)
            let refused = try InvitationRecord.filter(["ignored", "rejected"].contains(Column("decision")))
                .order(Column("firstSeen")).fetchAll(db)
            return StatusSnapshot(
                customers: customers,
                endpoints: endpoints,
                latestProbes: Dictionary(probes.map { ($0.customerId, $0) }, uniquingKeysWith: { _, newer in newer }),
                refusedInvitations: refused)
        }
    }
}
