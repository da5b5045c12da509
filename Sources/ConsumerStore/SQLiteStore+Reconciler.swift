import Foundation
import GRDB

private extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}

extension SQLiteStore {
    /// Customers and their open endpoint generations in one consistent read. Invitation records are read
    /// separately, only those a pass needs (`invitationRecords`): the history stays out of the pass.
    public func snapshot() async throws -> RegistrySnapshot {
        try await read { db in
            // Read row by row into storage of the right size: 10,000 customers are never held twice while an
            // array grows, nor the open generations as a list beside their index.
            let live = Customer.filter(Column("state") != CustomerState.removed.rawValue)
            var customers: [Customer] = []
            customers.reserveCapacity(try live.fetchCount(db))
            let rows = try live.order(Column("name"), Column("id")).fetchCursor(db)
            while let customer = try rows.next() { customers.append(customer) }
            var open: [Int64: [EndpointRecord]] = [:]
            open.reserveCapacity(customers.count)
            let generations = try EndpointRecord.fetchCursor(db, sql: """
                SELECT \(EndpointRecord.columnsForPasses) FROM endpoint WHERE state NOT IN ('deleted', 'released') ORDER BY generation
                """)
            while let record = try generations.next() { open[record.customerId, default: []].append(record) }
            var snapshot = RegistrySnapshot(customers: customers, openEndpoints: open, invitations: [:], released: try Self.released(db))
            snapshot.removedRegistrations = Set(try Row.fetchAll(db, sql: "SELECT DISTINCT name, resourceConfigurationArn FROM customer WHERE state = 'removed'")
                .map { RegistrySnapshot.Registration(name: $0[0], resourceConfigurationArn: $0[1]) })
            return snapshot
        }
    }

    /// The invitation records a pass needs: those RAM lists now (`invitationArns`), and for customers still
    /// waiting for a share, the ones that name their resources (`resourceArns`) or, expired without a
    /// resource list, come from their accounts (`senders`). Steady state: only what RAM lists.
    public func invitationRecords(invitationArns: Set<String>, resourceArns: Set<String>, senders: Set<String>) async throws -> [String: InvitationRecord] {
        try await read { db in
            var records: [InvitationRecord] = []
            for chunk in Array(invitationArns).chunked(500) {
                records += try InvitationRecord.filter(chunk.contains(Column("invitationArn"))).fetchAll(db)
            }
            if !resourceArns.isEmpty {
                let arns = Array(resourceArns)
                records += try InvitationRecord.fetchAll(db, sql: """
                    SELECT * FROM invitation WHERE senderAccountId IN (\(databaseQuestionMarks(count: senders.count)))
                      AND (EXISTS (SELECT 1 FROM json_each(invitation.resources) WHERE json_extract(value, '$.arn') IN (\(databaseQuestionMarks(count: arns.count))))
                           OR (resources = '[]' AND status = 'EXPIRED'))
                    """, arguments: StatementArguments(Array(senders) + arns))
            }
            return Dictionary(records.map { ($0.invitationArn, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// Inserts or updates invitation records in one transaction. For each, true when it is new or its decision
    /// or reason changed (what deserves a log line: the same refusal is not repeated every pass).
    @discardableResult
    public func recordInvitations(_ records: [InvitationRecord]) async throws -> [Bool] {
        guard !records.isEmpty else { return [] }
        return try await write { db in
            try records.map { record in
                if let existing = try InvitationRecord.fetchOne(db, key: record.invitationArn) {
                    let (merged, changed) = StoreRules.merge(record, into: existing)
                    try merged.update(db)
                    return changed
                }
                try record.insert(db)
                return true
            }
        }
    }

    /// Stores the clientToken of an AcceptResourceShareInvitation before the call is made, with the customers'
    /// `accepting` steps, in one transaction; returns the token to use (the stored one if an earlier, possibly
    /// crashed, attempt left one) and the steps' outcomes.
    public func acceptToken(for invitationArn: String, proposed: String, then requests: [TransitionRequest],
                            by actor: LifecycleActor) async throws -> (token: String, transitions: [TransitionOutcome]) {
        let time = now()
        return try await write { db in
            // The stored token wins; none stored: `proposed` is stored.
            var token = proposed
            if var record = try InvitationRecord.fetchOne(db, key: invitationArn) {
                if let stored = record.acceptClientToken {
                    token = stored
                } else {
                    record.acceptClientToken = proposed
                    try record.update(db)
                }
            }
            return (token, try requests.map { try Self.step($0, by: actor, at: time, in: db) })
        }
    }

    /// Records the ClientToken and the exact request of a new endpoint generation before CreateVpcEndpoint
    /// is called, so that a crash or a lost answer is followed by the same call, never a second endpoint.
    /// Nil when the customer is no longer in `expected` (the plan is stale: nothing is written).
    public func beginEndpoint(customerId: Int64, expecting expected: CustomerState, region: String, clientToken: String,
                              request: String) async throws -> EndpointRecord? {
        let time = now()
        return try await write { db in
            guard let state = try CustomerState.fetchOne(db, sql: "SELECT state FROM customer WHERE id = ?", arguments: [customerId]),
                  state == expected else { return nil }
            return try Self.insertGeneration(customerId: customerId, region: region, clientToken: clientToken, request: request, at: time, in: db)
        }
    }

    public func beginEndpoint(after step: TransitionRequest, region: String, clientToken: String, request: String,
                              by actor: LifecycleActor) async throws -> (transition: TransitionOutcome, row: EndpointRecord?) {
        // Only the step into `endpoint_pending` goes with a new generation (the schema keeps removed customers
        // out; this keeps, say, a failure step from opening one).
        guard step.event == .endpointRequested else {
            throw StoreError(.invalid, "beginEndpoint(after:) takes the endpoint_requested step, not \(step.event.rawValue)")
        }
        let time = now()
        return try await write { db in
            let outcome = try Self.step(step, by: actor, at: time, in: db)
            switch outcome {
            case .applied, .refreshed:
                return (outcome, try Self.insertGeneration(customerId: step.customerId, region: region, clientToken: clientToken,
                                                           request: request, at: time, in: db))
            case .stale, .refused:
                return (outcome, nil)
            }
        }
    }

    /// A new generation, `creating`, numbered after the customer's last one.
    static func insertGeneration(customerId: Int64, region: String, clientToken: String, request: String, at time: Date,
                                 in db: Database) throws -> EndpointRecord {
        let generation = (try Int.fetchOne(db, sql: "SELECT max(generation) FROM endpoint WHERE customerId = ?", arguments: [customerId]) ?? 0) + 1
        var record = EndpointRecord(id: nil, customerId: customerId, region: region, clientToken: clientToken, generation: generation,
                                    vpcEndpointId: nil, state: .creating, awsState: nil, dnsName: nil, lastError: nil,
                                    createRequest: request, vpcId: StoredCreateRequest(json: request)?.vpcId, createdAt: time, updatedAt: time)
        try record.insert(db)
        return record
    }

    /// Compare-and-set on an endpoint generation: applies `change` when the row is in one of `change.from`.
    /// A closed generation never reopens (the schema refuses it too).
    public func changeEndpoints(_ writes: [EndpointWrite], by actor: LifecycleActor) async throws -> [(changed: Bool, transition: TransitionOutcome?)] {
        guard !writes.isEmpty else { return [] }
        let time = now()
        return try await write { db in
            try writes.map { write -> (changed: Bool, transition: TransitionOutcome?) in
                guard try Self.changeEndpoint(write.rowId, write.change, at: time, in: db) else { return (false, nil) }
                return (true, try write.then.map { try Self.step($0, by: actor, at: time, in: db) })
            }
        }
    }

    /// The compare-and-set of `changeEndpoint`, inside the caller's transaction.
    static func changeEndpoint(_ rowId: Int64, _ change: EndpointChange, at time: Date, in db: Database) throws -> Bool {
        guard var record = try EndpointRecord.fetchOne(db, key: rowId), change.from.contains(record.state) else { return false }
        let moved = record.state != change.to
        record.apply(change, at: time)
        try record.update(db)
        if let note = change.note {
            try Self.note(note.event, customerId: record.customerId, detail: note.detail, at: time, in: db)
        }
        if moved, let next = change.failureNextAttempt {
            try db.execute(sql: "UPDATE customer SET endpointFailures = endpointFailures + 1, nextEndpointAttemptAt = ? WHERE id = ?",
                           arguments: [StoredDateArgument(next), record.customerId])
        }
        return true
    }

    /// Takes over an endpoint found in EC2 for a customer that has no current generation (ours from a
    /// lost state file, a kept one, or one made by hand), with what is known of it. Nil when the plan
    /// is stale (the customer moved, or has a current generation now).
    public func adoptEndpoint(customerId: Int64, expecting expected: CustomerState, region: String, vpcEndpointId: String, vpcId: String?,
                              state: EndpointRecord.State, awsState: String, dnsName: String?) async throws -> EndpointRecord? {
        let time = now()
        return try await write { db in
            guard let current = try CustomerState.fetchOne(db, sql: "SELECT state FROM customer WHERE id = ?", arguments: [customerId]),
                  current == expected,
                  try EndpointRecord.filter(sql: "customerId = ? AND state IN ('creating', 'pending', 'available')", arguments: [customerId])
                    .fetchCount(db) == 0 else { return nil }
            // A released generation (kept at an earlier removal) is nobody's to adopt (the schema refuses it too).
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM endpoint WHERE vpcEndpointId = ? AND state = 'released'",
                                   arguments: [vpcEndpointId]) == 0 else { return nil }
            let generation = (try Int.fetchOne(db, sql: "SELECT max(generation) FROM endpoint WHERE customerId = ?", arguments: [customerId]) ?? 0) + 1
            var record = EndpointRecord(id: nil, customerId: customerId, region: region, clientToken: "adopted-\(vpcEndpointId)-\(generation)",
                                        generation: generation, vpcEndpointId: vpcEndpointId, state: state, awsState: awsState,
                                        dnsName: dnsName, lastError: nil, lastSeenAt: time, vpcId: vpcId, createdAt: time, updatedAt: time)
            try record.insert(db)
            try Self.note("endpoint_adopted", customerId: customerId, detail: "\(vpcEndpointId) (\(awsState)) found in EC2", at: time, in: db)
            return record
        }
    }

    /// One endpoint generation as stored now.
    public func endpointGeneration(_ id: Int64) async throws -> EndpointRecord? {
        try await read { db in try EndpointRecord.fetchOne(db, key: id) }
    }

    /// Every endpoint generation (of one customer, or all), oldest first: what `explain` and the
    /// interleaving tests read.
    public func endpointGenerations(customerId: Int64?) async throws -> [EndpointRecord] {
        try await read { db in
            if let customerId {
                return try EndpointRecord.filter(Column("customerId") == customerId).order(Column("id")).fetchAll(db)
            }
            return try EndpointRecord.order(Column("id")).fetchAll(db)
        }
    }

    /// A generation released while its CreateVpcEndpoint was unanswered (`e`): never answered, never listed,
    /// no id. (A kept generation whose id an earlier build gave away to an adopter was answered or listed.)
    static let releasedUnanswered = "e.state = 'released' AND e.vpcEndpointId IS NULL AND e.createAnsweredAt IS NULL AND e.lastSeenAt IS NULL"

    /// Released generations as a pass needs them: the ids, and the few released before their id was known.
    static func released(_ db: Database) throws -> ReleasedEndpoints {
        let ids = try String.fetchSet(db, sql: "SELECT vpcEndpointId FROM endpoint WHERE state = 'released' AND vpcEndpointId IS NOT NULL")
        let unresolved = try Row.fetchAll(db, sql: """
            SELECT e.id, c.name, c.resourceConfigurationArn, e.updatedAt FROM endpoint e JOIN customer c ON c.id = e.customerId
            WHERE \(Self.releasedUnanswered) ORDER BY e.id
            """).map { ReleasedEndpoints.Unresolved(rowId: $0[0], customerName: $0[1], resourceConfigurationArn: $0[2], releasedAt: $0[3]) }
        return ReleasedEndpoints(ids: ids, unresolved: unresolved)
    }

    public func endpointClaims(vpcEndpointId: String, customerTag: String?, resourceConfigurationArn: String?) async throws -> EndpointClaims {
        try await read { db in
            var claims = EndpointClaims()
            for row in try Row.fetchAll(db, sql: "SELECT customerId, state FROM endpoint WHERE vpcEndpointId = ? AND state <> 'deleted'",
                                        arguments: [vpcEndpointId]) {
                if row[1] as String == EndpointRecord.State.released.rawValue { claims.released = true } else { claims.recordedBy.insert(row[0]) }
            }
            if let customerTag {
                claims.liveNamed = try Customer.filter(Column("name") == customerTag && Column("state") != CustomerState.removed.rawValue).fetchAll(db)
                if let resourceConfigurationArn, try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM endpoint e JOIN customer c ON c.id = e.customerId
                    WHERE \(Self.releasedUnanswered) AND c.name = ? AND c.resourceConfigurationArn = ?
                    """, arguments: [customerTag, resourceConfigurationArn]) ?? 0 > 0 {
                    claims.released = true
                }
            }
            return claims
        }
    }

    @discardableResult
    public func recordReleasedEndpoint(rowId: Int64, vpcEndpointId: String) async throws -> Bool {
        let time = now()
        return try await write { db in
            guard let record = try EndpointRecord.fetchOne(db, key: rowId), record.state == .released, record.vpcEndpointId == nil,
                  try Int.fetchOne(db, sql: "SELECT count(*) FROM endpoint WHERE vpcEndpointId = ? AND state <> 'deleted'",
                                   arguments: [vpcEndpointId]) == 0 else { return false }
            try db.execute(sql: "UPDATE endpoint SET vpcEndpointId = ?, updatedAt = ? WHERE id = ?", arguments: [vpcEndpointId, StoredDateArgument(time), rowId])
            try Self.note("endpoint_released", customerId: record.customerId,
                          detail: "\(vpcEndpointId) found in EC2: the endpoint of generation \(record.generation), kept at removal", at: time, in: db)
            return true
        }
    }

    public func recordNote(customerId: Int64, event: String, detail: String) async throws {
        let time = now()
        try await write { db in try Self.note(event, customerId: customerId, detail: detail, at: time, in: db) }
    }

    /// Clears the failure count once an endpoint works.
    public func resetEndpointFailures(customerId: Int64) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE customer SET endpointFailures = 0, nextEndpointAttemptAt = NULL WHERE id = ? AND endpointFailures > 0",
                           arguments: [customerId])
        }
    }

    /// Records RAM's answer to our accept or reject call: the invitation's status and our decision, in one
    /// transaction (no read-then-write window for the CLI to slip into).
    public func markInvitation(_ arn: String, status: String, decision: InvitationRecord.Decision) async throws {
        _ = try await markInvitation(arn, status: status, decision: decision, then: [], by: .daemon)
    }

    public func markInvitation(_ arn: String, status: String, decision: InvitationRecord.Decision, then requests: [TransitionRequest],
                               by actor: LifecycleActor) async throws -> [TransitionOutcome] {
        let time = now()
        return try await write { db in
            if var record = try InvitationRecord.fetchOne(db, key: arn) {
                record.status = status
                record.decision = decision
                record.reason = nil
                record.decidedAt = time
                try record.update(db)
            }
            return try requests.map { try Self.step($0, by: actor, at: time, in: db) }
        }
    }
}

extension SQLiteStore {
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
                refusedInvitations: refused,
                checks: try Self.checks(db),
                capacity: try CapacityRecord.order(Column("region"), Column("position")).fetchAll(db))
        }
    }

    public func probeTargetRows() async throws -> [ProbeTargetRow] {
        try await read { db in
            // Column by column into what a probe needs: no `Customer` or `EndpointRecord` is made.
            var endpoints: [Int64: ProbeTargetRow.LiveEndpoint] = [:]
            let live = try Row.fetchCursor(db, sql: """
                SELECT customerId, vpcEndpointId, dnsName FROM endpoint
                WHERE state NOT IN ('deleted', 'released') AND customerId IN (SELECT id FROM customer WHERE state = 'ready')
                ORDER BY generation
                """)
            while let row = try live.next() {
                // The newest generation wins, as in every other read of the live endpoint.
                endpoints[try row.decode(atIndex: 0)] = ProbeTargetRow.LiveEndpoint(vpcEndpointId: try row.decode(atIndex: 1),
                                                                                     dnsName: try row.decode(atIndex: 2))
            }
            let timedOut = try Int64.fetchSet(db, sql: """
                SELECT customerId FROM probeResult WHERE id IN (SELECT max(id) FROM probeResult GROUP BY customerId)
                  AND ok = 0 AND errorKind LIKE '%Timeout'
                """)
            var rows: [ProbeTargetRow] = []
            rows.reserveCapacity(endpoints.count)
            let customers = try Row.fetchCursor(db, sql: """
                SELECT \(ProbeTargetRow.customerColumns) FROM customer WHERE state = 'ready' ORDER BY name
                """)
            while let row = try customers.next() {
                let id: Int64 = try row.decode(atIndex: 0)
                rows.append(ProbeTargetRow(customerId: id, name: try row.decode(atIndex: 1), port: try row.decode(atIndex: 2),
                                           probeUser: try row.decode(atIndex: 3), probePasswordFile: try row.decode(atIndex: 4),
                                           probeDatabase: try row.decode(atIndex: 5), endpoint: endpoints[id],
                                           lastTimedOut: timedOut.contains(id)))
            }
            return rows
        }
    }

    public func recordCapacity(_ rows: [CapacityRecord]) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM vpc_capacity")
            for row in rows { try row.insert(db) }
        }
    }
}
