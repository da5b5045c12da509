import Foundation
import PostgresNIO

// The store operations, statement for statement the SQLite store's (SQLiteStore+*.swift); the rules and
// words they share live in `StoreRules` and `TransitionStep`.

extension PostgresStore {
    // MARK: Registry

    public func addCustomer(_ new: NewCustomer, by actor: LifecycleActor) async throws -> Customer {
        try StoreRules.validate(new)
        let time = now().storedPrecision
        return try await write { session in
            if let existing = try await session.registeredCustomer(new.name, lock: false) {
                throw StoreRules.duplicateName(new.name, registeredArn: existing.resourceConfigurationArn)
            }
            let arn = new.arn.description
            if let existing = try await session.one("""
                SELECT * FROM customer WHERE resourceConfigurationArn = \(arn) AND state NOT IN ('removing', 'removed')
                """, Customer.init(postgres:)) {
                throw StoreRules.duplicateArn(arn, registeredAs: existing.name)
            }
            let customer = try StoreRules.newCustomer(new, by: actor, at: time)
            guard let inserted = try await session.one("""
                INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, note, state, stateDetail,
                                      keepEndpoint, createdAt, updatedAt, stateChangedAt, stateActor)
                VALUES (\(customer.name), \(customer.resourceConfigurationArn), \(customer.partition), \(customer.region),
                        \(customer.accountId), \(customer.port), \(customer.note), \(customer.state.rawValue), \(customer.stateDetail),
                        \(customer.keepEndpoint), \(time), \(time), \(time), \(customer.stateActor))
                RETURNING *
                """, Customer.init(postgres:)) else { throw StoreError(.corrupt, "state database: an insert returned no row") }
            try await session.bumpRegistryVersion()
            try await session.insert(LifecycleEvent(time: time, customerId: inserted.id, customerName: inserted.name,
                                                    event: CustomerLifecycle.Event.registered.rawValue, fromState: nil,
                                                    toState: .awaitingShare, detail: StoreRules.registeredDetail(new), actor: actor))
            return inserted
        }
    }

    public func customers(includeRemoved: Bool) async throws -> [Customer] {
        try await read { session in
            // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
            let query: StoreQuery = includeRemoved
                ? #"SELECT * FROM customer ORDER BY name COLLATE "C", id"#
                : #"SELECT * FROM customer WHERE state <> 'removed' ORDER BY name COLLATE "C", id"#
            return try await session.all(query, Customer.init(postgres:))
        }
    }

    public func customerCounts() async throws -> (live: Int, ready: Int) {
        try await read { session in
            let counts = try await session.one("""
                SELECT count(*) FILTER (WHERE state <> 'removed') AS live, count(*) FILTER (WHERE state = 'ready') AS ready FROM customer
                """) { row in (Int(try row("live", as: Int64.self)), Int(try row("ready", as: Int64.self))) }
            return counts ?? (0, 0)
        }
    }

    public func customer(named name: String) async throws -> Customer? {
        try await read { session in try await session.liveCustomer(name) }
    }

    public func requestRemoval(named name: String, keepEndpoint: Bool, by actor: LifecycleActor) async throws -> Customer {
        let time = now().storedPrecision
        return try await write { session in
            guard var customer = try await session.registeredCustomer(name, lock: true), let id = customer.id else {
                if try await session.liveCustomer(name) != nil { throw StoreRules.alreadyRemoving(name) }
                throw StoreRules.notFound(name)
            }
            if keepEndpoint {
                try await session.run("""
                    UPDATE endpoint SET state = 'released', updatedAt = \(time) WHERE customerId = \(id) AND state IN ('creating', 'pending', 'available')
                    """)
            }
            let open = Int(try await session.int("""
                SELECT count(*) FROM endpoint WHERE customerId = \(id) AND state NOT IN ('deleted', 'released')
                """) ?? 0)
            let (event, detail) = StoreRules.removal(open: open, keepEndpoint: keepEndpoint)
            customer.keepEndpoint = keepEndpoint
            let outcome = try await session.applyTransition(&customer, from: customer.state, event: event, detail: detail, hint: nil,
                                                            by: actor, at: time)
            if case .refused(let refusal) = outcome { throw StoreError(.invalid, refusal.description) }
            try await session.bumpRegistryVersion()
            return customer
        }
    }

    public func setProbeLogin(named name: String, user: String?, passwordFile: String?, database: String?,
                              by actor: LifecycleActor) async throws -> Customer {
        let time = now().storedPrecision
        return try await write { session in
            guard var customer = try await session.registeredCustomer(name, lock: true) else { throw StoreRules.notFound(name) }
            customer.probeUser = user
            customer.probePasswordFile = user == nil ? nil : passwordFile
            customer.probeDatabase = user == nil ? nil : database
            customer.updatedAt = time
            try await session.update(customer)
            try await session.insert(StoreRules.probeLoginEvent(customer, user: user, passwordFile: passwordFile, by: actor, at: time))
            try await session.bumpRegistryVersion()
            return customer
        }
    }

    public func registryVersion() async throws -> Int {
        try await read { session in Int(try await session.meta("registryVersion")) }
    }

    // MARK: Lifecycle and the outbox

    public func transition(_ request: TransitionRequest, by actor: LifecycleActor) async throws -> TransitionOutcome {
        let time = now().storedPrecision
        return try await write { session in try await session.step(request, by: actor, at: time) }
    }

    public func events(customerId: Int64, limit: Int) async throws -> [LifecycleEvent] {
        try await read { session in
            try await session.all("SELECT * FROM event WHERE customerId = \(customerId) ORDER BY id DESC LIMIT \(limit)",
                                  LifecycleEvent.init(postgres:)).reversed()
        }
    }

    public func events(after cursor: Int64, limit: Int) async throws -> [LifecycleEvent] {
        try await read { session in
            try await session.all("SELECT * FROM event WHERE id > \(cursor) ORDER BY id LIMIT \(limit)", LifecycleEvent.init(postgres:))
        }
    }

    public func stateId() async throws -> Int64 {
        try await read { session in try await session.meta("stateId") }
    }

    public func healthLogCursor() async throws -> Int64 {
        try await read { session in try await session.meta("healthLogCursor") }
    }

    public func advanceHealthLogCursor(to id: Int64) async throws {
        try await write { session in
            try await session.run("UPDATE meta SET value = greatest(value, \(id)) WHERE key = 'healthLogCursor'")
        }
    }

    @discardableResult
    public func pruneHistory(invitationsBefore: Date, eventsBefore: Date, eventsPerCustomer: Int) async throws -> (invitations: Int, events: Int) {
        try await write { session in
            // Each DELETE counts its rows in the same statement (a prepared statement's answer has no command tag).
            let invitations = try await session.int("""
                WITH gone AS (DELETE FROM invitation WHERE lastSeen < \(invitationsBefore) AND firstSeen < \(invitationsBefore) RETURNING 1)
                SELECT count(*) FROM gone
                """) ?? 0
            let cursor = try await session.meta("healthLogCursor")
            var events = try await session.int("""
                WITH gone AS (DELETE FROM event WHERE time < \(eventsBefore) AND id <= \(cursor) RETURNING 1) SELECT count(*) FROM gone
                """) ?? 0
            events += try await session.int("""
                WITH gone AS (DELETE FROM event WHERE id IN (
                    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY customerId ORDER BY id DESC) AS newer
                                    FROM event WHERE customerId IS NOT NULL) ranked
                    WHERE newer > \(eventsPerCustomer)) AND id <= \(cursor) RETURNING 1)
                SELECT count(*) FROM gone
                """) ?? 0
            return (Int(invitations), Int(events))
        }
    }

    // MARK: The reconciler

    public func snapshot() async throws -> RegistrySnapshot {
        try await read(consistent: true) { session in
            let customers = try await session.all(#"SELECT * FROM customer WHERE state <> 'removed' ORDER BY name COLLATE "C", id"#,
                                                  Customer.init(postgres:))
            let open = try await session.all("""
                SELECT \(unescaped: EndpointRecord.columnsForPasses) FROM endpoint WHERE state NOT IN ('deleted', 'released') ORDER BY generation, id
                """,
                                             EndpointRecord.init(postgres:))
            var snapshot = RegistrySnapshot(customers: customers, openEndpoints: Dictionary(grouping: open, by: \.customerId), invitations: [:],
                                            released: try await Self.released(session))
            snapshot.removedRegistrations = Set(try await session.all(
                "SELECT DISTINCT name, resourceConfigurationArn FROM customer WHERE state = 'removed'") { row in
                RegistrySnapshot.Registration(name: try row("name", as: String.self), resourceConfigurationArn: try row("resourceConfigurationArn", as: String.self))
            })
            return snapshot
        }
    }

    public func invitationRecords(invitationArns: Set<String>, resourceArns: Set<String>, senders: Set<String>) async throws -> [String: InvitationRecord] {
        try await read(consistent: true) { session in
            var records = try await session.all("SELECT * FROM invitation WHERE invitationArn = ANY(\(Array(invitationArns)))",
                                                InvitationRecord.init(postgres:))
            if !resourceArns.isEmpty {
                records += try await session.all("""
                    SELECT * FROM invitation WHERE senderAccountId = ANY(\(Array(senders)))
                      AND (EXISTS (SELECT 1 FROM json_array_elements(resources::json) AS resource
                                   WHERE resource->>'arn' = ANY(\(Array(resourceArns))))
                           OR (resources = '[]' AND status = 'EXPIRED'))
                    """, InvitationRecord.init(postgres:))
            }
            return Dictionary(records.map { ($0.invitationArn, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// Three statements whatever the count: the stored records, locked; the new ones, inserted together; the
    /// changed ones, updated together (each a JSON array of rows, like a sweep's probe results).
    @discardableResult
    public func recordInvitations(_ records: [InvitationRecord]) async throws -> [Bool] {
        guard !records.isEmpty else { return [] }
        return try await write { session in
            var stored: [String: InvitationRecord] = [:]
            for existing in try await session.all("""
                SELECT * FROM invitation WHERE invitationArn = ANY(\(Array(Set(records.map(\.invitationArn))))) ORDER BY invitationArn FOR UPDATE
                """, InvitationRecord.init(postgres:)) {
                stored[existing.invitationArn] = existing
            }
            var inserted: [String: InvitationRecord] = [:]
            var updated: [String: InvitationRecord] = [:]
            var changes: [Bool] = []
            for record in records {
                // A record named twice merges into its earlier self, whether that is stored or new in this batch.
                if let earlier = inserted[record.invitationArn] {
                    let (merged, changed) = StoreRules.merge(record, into: earlier)
                    inserted[record.invitationArn] = merged
                    changes.append(changed)
                } else if let existing = updated[record.invitationArn] ?? stored[record.invitationArn] {
                    let (merged, changed) = StoreRules.merge(record, into: existing)
                    updated[record.invitationArn] = merged
                    changes.append(changed)
                } else {
                    inserted[record.invitationArn] = record
                    changes.append(true)
                }
            }
            if !inserted.isEmpty {
                try await session.run("""
                    INSERT INTO invitation (\(unescaped: Self.invitationColumns)) SELECT \(unescaped: Self.invitationColumns)
                    FROM json_to_recordset(\(Self.invitationRows(inserted.values))::json) AS row(\(unescaped: Self.invitationRowTypes))
                    """)
            }
            if !updated.isEmpty {
                try await session.run("""
                    UPDATE invitation SET status = row.status, lastSeen = row.lastseen, decision = row.decision, reason = row.reason,
                        resources = row.resources, acceptClientToken = row.acceptclienttoken, decidedAt = row.decidedat
                    FROM json_to_recordset(\(Self.invitationRows(updated.values))::json) AS row(\(unescaped: Self.invitationRowTypes))
                    WHERE invitation.invitationArn = row.invitationarn
                    """)
            }
            return changes
        }
    }

    /// An invitation's columns (the same names, folded to lower case, as `invitationRowTypes` reads them).
    private static let invitationColumns = """
        invitationArn, region, resourceShareArn, resourceShareName, senderAccountId, status, resources, decision, reason, \
        acceptClientToken, firstSeen, lastSeen, decidedAt
        """

    /// The column list `json_to_recordset` reads invitation rows with.
    private static let invitationRowTypes = """
        invitationarn text, region text, resourcesharearn text, resourcesharename text, senderaccountid text, status text, \
        resources text, decision text, reason text, acceptclienttoken text, firstseen timestamptz, lastseen timestamptz, decidedat timestamptz
        """

    private struct InvitationRow: Encodable {
        var invitationarn, region, resourcesharearn: String
        var resourcesharename: String?
        var senderaccountid, status, resources, decision: String
        var reason, acceptclienttoken: String?
        var firstseen, lastseen: String
        var decidedat: String?
    }

    private static func invitationRows(_ records: some Sequence<InvitationRecord>) -> String {
        json(records.map { record in
            InvitationRow(invitationarn: record.invitationArn, region: record.region, resourcesharearn: record.resourceShareArn,
                          resourcesharename: record.resourceShareName, senderaccountid: record.senderAccountId, status: record.status,
                          resources: record.resourcesJSON, decision: record.decision.rawValue, reason: record.reason?.rawValue,
                          acceptclienttoken: record.acceptClientToken, firstseen: Timestamp.string(record.firstSeen.storedPrecision),
                          lastseen: Timestamp.string(record.lastSeen.storedPrecision),
                          decidedat: record.decidedAt.map { Timestamp.string($0.storedPrecision) })
        })
    }

    public func acceptToken(for invitationArn: String, proposed: String, then requests: [TransitionRequest],
                            by actor: LifecycleActor) async throws -> (token: String, transitions: [TransitionOutcome]) {
        let time = now().storedPrecision
        return try await write { session in
            // The stored token wins; none stored: `proposed` is stored. One statement, the row locked by the UPDATE.
            let token = try await session.one("""
                UPDATE invitation SET acceptClientToken = coalesce(acceptClientToken, \(proposed)) WHERE invitationArn = \(invitationArn)
                RETURNING acceptClientToken
                """, { try $0("acceptClientToken", as: String?.self) }).flatMap { $0 } ?? proposed
            var outcomes: [TransitionOutcome] = []
            for request in requests { outcomes.append(try await session.step(request, by: actor, at: time)) }
            return (token, outcomes)
        }
    }

    public func markInvitation(_ arn: String, status: String, decision: InvitationRecord.Decision) async throws {
        _ = try await markInvitation(arn, status: status, decision: decision, then: [], by: .daemon)
    }

    public func markInvitation(_ arn: String, status: String, decision: InvitationRecord.Decision, then requests: [TransitionRequest],
                               by actor: LifecycleActor) async throws -> [TransitionOutcome] {
        let time = now().storedPrecision
        return try await write { session in
            try await session.run("""
                UPDATE invitation SET status = \(status), decision = \(decision.rawValue), reason = NULL, decidedAt = \(time)
                WHERE invitationArn = \(arn)
                """)
            var outcomes: [TransitionOutcome] = []
            for request in requests { outcomes.append(try await session.step(request, by: actor, at: time)) }
            return outcomes
        }
    }

    public func beginEndpoint(customerId: Int64, expecting expected: CustomerState, region: String, clientToken: String,
                              request: String) async throws -> EndpointRecord? {
        let time = now().storedPrecision
        return try await write { session in
            guard let (customer, generation) = try await session.customerAndNextGeneration(customerId),
                  customer.state == expected else { return nil }
            return try await session.insert(Self.newGeneration(customerId: customerId, generation: generation, region: region,
                                                               clientToken: clientToken, request: request, at: time))
        }
    }

    public func beginEndpoint(after step: TransitionRequest, region: String, clientToken: String, request: String,
                              by actor: LifecycleActor) async throws -> (transition: TransitionOutcome, row: EndpointRecord?) {
        // Only the step into `endpoint_pending` goes with a new generation (the schema keeps removed customers
        // out; this keeps, say, a failure step from opening one).
        guard step.event == .endpointRequested else {
            throw StoreError(.invalid, "beginEndpoint(after:) takes the endpoint_requested step, not \(step.event.rawValue)")
        }
        let time = now().storedPrecision
        return try await write { session in
            guard let (found, generation) = try await session.customerAndNextGeneration(step.customerId) else { return (.stale(current: nil), nil) }
            var customer = found
            let outcome = try await session.step(step, on: &customer, by: actor, at: time)
            switch outcome {
            case .applied, .refreshed:
                return (outcome, try await session.insert(Self.newGeneration(customerId: step.customerId, generation: generation, region: region,
                                                                             clientToken: clientToken, request: request, at: time)))
            case .stale, .refused:
                return (outcome, nil)
            }
        }
    }

    static func newGeneration(customerId: Int64, generation: Int, region: String, clientToken: String, request: String,
                              at time: Date) -> EndpointRecord {
        EndpointRecord(id: nil, customerId: customerId, region: region, clientToken: clientToken, generation: generation,
                       vpcEndpointId: nil, state: .creating, awsState: nil, dnsName: nil, lastError: nil,
                       createRequest: request, vpcId: StoredCreateRequest(json: request)?.vpcId, createdAt: time, updatedAt: time)
    }

    public func changeEndpoints(_ writes: [EndpointWrite], by actor: LifecycleActor) async throws -> [(changed: Bool, transition: TransitionOutcome?)] {
        guard !writes.isEmpty else { return [] }
        let time = now().storedPrecision
        return try await write { session in
            var outcomes: [(changed: Bool, transition: TransitionOutcome?)] = []
            for write in writes {
                guard try await Self.changeEndpoint(write.rowId, write.change, at: time, in: session) else {
                    outcomes.append((false, nil))
                    continue
                }
                if let step = write.then {
                    outcomes.append((true, try await session.step(step, by: actor, at: time)))
                } else {
                    outcomes.append((true, nil))
                }
            }
            return outcomes
        }
    }

    /// The compare-and-set of `changeEndpoint`, inside the caller's transaction.
    static func changeEndpoint(_ rowId: Int64, _ change: EndpointChange, at time: Date, in session: Session) async throws -> Bool {
        guard var record = try await session.one("SELECT * FROM endpoint WHERE id = \(rowId) FOR UPDATE", EndpointRecord.init(postgres:)),
              change.from.contains(record.state) else { return false }
        let moved = record.state != change.to
        record.apply(change, at: time)
        // The row's new columns, and its note when it has one, in one statement (the UPDATE a data-modifying WITH).
        var query = StoreQuery.StringInterpolation(literalCapacity: 0, interpolationCount: 19)
        if change.note != nil { query.appendLiteral("WITH changed AS (") }
        query.appendLiteral("UPDATE endpoint SET state = ")
        query.appendInterpolation(record.state.rawValue)
        for (column, value) in [(", vpcEndpointId = ", record.vpcEndpointId), (", vpcId = ", record.vpcId), (", awsState = ", record.awsState),
                                (", dnsName = ", record.dnsName), (", lastError = ", record.lastError)] {
            query.appendLiteral(column)
            query.appendInterpolation(value)
        }
        for (column, value) in [(", createAnsweredAt = ", record.createAnsweredAt), (", lastSeenAt = ", record.lastSeenAt),
                                (", deleteRequestedAt = ", record.deleteRequestedAt), (", updatedAt = ", Optional(record.updatedAt))] {
            query.appendLiteral(column)
            query.appendInterpolation(value)
        }
        query.appendLiteral(" WHERE id = ")
        query.appendInterpolation(rowId)
        if let note = change.note {
            query.appendLiteral(") ")
            Session.appendNote(note.event, customerId: record.customerId, detail: note.detail, at: time, to: &query)
        }
        try await session.run(StoreQuery(stringInterpolation: query))
        if moved, let next = change.failureNextAttempt {
            try await session.run("""
                UPDATE customer SET endpointFailures = endpointFailures + 1, nextEndpointAttemptAt = \(next.storedPrecision)
                WHERE id = \(record.customerId)
                """)
        }
        return true
    }

    public func adoptEndpoint(customerId: Int64, expecting expected: CustomerState, region: String, vpcEndpointId: String, vpcId: String?,
                              state: EndpointRecord.State, awsState: String, dnsName: String?) async throws -> EndpointRecord? {
        let time = now().storedPrecision
        return try await write { session in
            guard let (customer, generation) = try await session.customerAndNextGeneration(customerId), customer.state == expected,
                  try await session.int("""
                      SELECT count(*) FROM endpoint WHERE customerId = \(customerId) AND state IN ('creating', 'pending', 'available')
                      """) == 0 else { return nil }
            // A released generation (kept at an earlier removal) is nobody's to adopt (the schema refuses it too).
            guard try await session.int("""
                SELECT count(*) FROM endpoint WHERE vpcEndpointId = \(vpcEndpointId) AND state = 'released'
                """) == 0 else { return nil }
            let record = try await session.insert(EndpointRecord(
                id: nil, customerId: customerId, region: region, clientToken: "adopted-\(vpcEndpointId)-\(generation)",
                generation: generation, vpcEndpointId: vpcEndpointId, state: state, awsState: awsState,
                dnsName: dnsName, lastError: nil, lastSeenAt: time, vpcId: vpcId, createdAt: time, updatedAt: time))
            try await session.note("endpoint_adopted", customerId: customerId, detail: "\(vpcEndpointId) (\(awsState)) found in EC2", at: time)
            return record
        }
    }

    /// Released generations as a pass needs them: the ids, and the few released before their id was known.
    static func released(_ session: Session) async throws -> ReleasedEndpoints {
        let ids = try await session.all("SELECT vpcEndpointId FROM endpoint WHERE state = 'released' AND vpcEndpointId IS NOT NULL") {
            try $0("vpcEndpointId", as: String.self)
        }
        let unresolved = try await session.all("""
            SELECT e.id, c.name, c.resourceConfigurationArn, e.updatedAt FROM endpoint e JOIN customer c ON c.id = e.customerId
            WHERE e.state = 'released' AND e.vpcEndpointId IS NULL AND e.createAnsweredAt IS NULL AND e.lastSeenAt IS NULL ORDER BY e.id
            """) { row in
            ReleasedEndpoints.Unresolved(rowId: try row("id", as: Int64.self), customerName: try row("name", as: String.self),
                                         resourceConfigurationArn: try row("resourceConfigurationArn", as: String.self),
                                         releasedAt: try row("updatedAt", as: Date.self))
        }
        return ReleasedEndpoints(ids: Set(ids), unresolved: unresolved)
    }

    public func endpointClaims(vpcEndpointId: String, customerTag: String?, resourceConfigurationArn: String?) async throws -> EndpointClaims {
        try await read(consistent: true) { session in
            var claims = EndpointClaims()
            let rows = try await session.all("SELECT customerId, state FROM endpoint WHERE vpcEndpointId = \(vpcEndpointId) AND state <> 'deleted'") {
                (try $0("customerId", as: Int64.self), try $0("state", as: String.self))
            }
            for (customerId, state) in rows {
                if state == EndpointRecord.State.released.rawValue { claims.released = true } else { claims.recordedBy.insert(customerId) }
            }
            if let customerTag {
                claims.liveNamed = try await session.all("SELECT * FROM customer WHERE name = \(customerTag) AND state <> 'removed'",
                                                         Customer.init(postgres:))
                if let resourceConfigurationArn, try await session.int("""
                    SELECT count(*) FROM endpoint e JOIN customer c ON c.id = e.customerId
                    WHERE e.state = 'released' AND e.vpcEndpointId IS NULL AND e.createAnsweredAt IS NULL AND e.lastSeenAt IS NULL
                      AND c.name = \(customerTag) AND c.resourceConfigurationArn = \(resourceConfigurationArn)
                    """) ?? 0 > 0 {
                    claims.released = true
                }
            }
            return claims
        }
    }

    @discardableResult
    public func recordReleasedEndpoint(rowId: Int64, vpcEndpointId: String) async throws -> Bool {
        let time = now().storedPrecision
        return try await write { session in
            guard let record = try await session.one("SELECT * FROM endpoint WHERE id = \(rowId) FOR UPDATE", EndpointRecord.init(postgres:)),
                  record.state == .released, record.vpcEndpointId == nil,
                  try await session.int("SELECT count(*) FROM endpoint WHERE vpcEndpointId = \(vpcEndpointId) AND state <> 'deleted'") == 0
            else { return false }
            try await session.run("UPDATE endpoint SET vpcEndpointId = \(vpcEndpointId), updatedAt = \(time) WHERE id = \(rowId)")
            try await session.note("endpoint_released", customerId: record.customerId,
                                   detail: "\(vpcEndpointId) found in EC2: the endpoint of generation \(record.generation), kept at removal", at: time)
            return true
        }
    }

    public func recordNote(customerId: Int64, event: String, detail: String) async throws {
        let time = now().storedPrecision
        try await write { session in try await session.note(event, customerId: customerId, detail: detail, at: time) }
    }

    public func probeTargetRows() async throws -> [ProbeTargetRow] {
        try await read(consistent: true) { session in
            var endpoints: [Int64: ProbeTargetRow.LiveEndpoint] = [:]
            for (customerId, endpoint) in try await session.all("""
                SELECT customerId, vpcEndpointId, dnsName FROM endpoint
                WHERE state NOT IN ('deleted', 'released') AND customerId IN (SELECT id FROM customer WHERE state = 'ready')
                ORDER BY generation
                """, { (try $0("customerId", as: Int64.self), ProbeTargetRow.LiveEndpoint(vpcEndpointId: try $0("vpcEndpointId"), dnsName: try $0("dnsName"))) }) {
                // The newest generation wins, as in every other read of the live endpoint.
                endpoints[customerId] = endpoint
            }
            let timedOut = Set(try await session.all("""
                SELECT customerId FROM (SELECT DISTINCT ON (customerId) customerId, ok, errorKind FROM probeResult
                                        ORDER BY customerId, id DESC) AS newest
                WHERE NOT ok AND errorKind LIKE '%Timeout'
                """) { try $0("customerId", as: Int64.self) })
            return try await session.all(#"""
                SELECT \#(unescaped: ProbeTargetRow.customerColumns) FROM customer WHERE state = 'ready' ORDER BY name COLLATE "C", id
                """#) { row in
                let id = try row("id", as: Int64.self)
                return ProbeTargetRow(customerId: id, name: try row("name"), port: try row("port"), probeUser: try row("probeUser"),
                                      probePasswordFile: try row("probePasswordFile"), probeDatabase: try row("probeDatabase"),
                                      endpoint: endpoints[id], lastTimedOut: timedOut.contains(id))
            }
        }
    }

    public func recordCapacity(_ rows: [CapacityRecord]) async throws {
        try await write { session in
            try await session.run("DELETE FROM vpc_capacity")
            for row in rows {
                try await session.run("""
                    INSERT INTO vpc_capacity (region, vpcId, position, endpoints, endpointLimit, limitSource, fullBecause, changedAt)
                    VALUES (\(row.region), \(row.vpcId), \(row.position), \(row.endpoints), \(row.endpointLimit), \(row.limitSource),
                            \(row.fullBecause), \(row.changedAt.storedPrecision))
                    """)
            }
        }
    }

    public func endpointGeneration(_ id: Int64) async throws -> EndpointRecord? {
        try await read { session in try await session.one("SELECT * FROM endpoint WHERE id = \(id)", EndpointRecord.init(postgres:)) }
    }

    public func endpointGenerations(customerId: Int64?) async throws -> [EndpointRecord] {
        try await read { session in
            if let customerId {
                return try await session.all("SELECT * FROM endpoint WHERE customerId = \(customerId) ORDER BY id", EndpointRecord.init(postgres:))
            }
            return try await session.all("SELECT * FROM endpoint ORDER BY id", EndpointRecord.init(postgres:))
        }
    }

    public func liveEndpoint(customerId: Int64) async throws -> EndpointRecord? {
        try await read { session in
            try await session.one("""
                SELECT * FROM endpoint WHERE customerId = \(customerId) AND state NOT IN ('deleted', 'released')
                ORDER BY generation DESC LIMIT 1
                """, EndpointRecord.init(postgres:))
        }
    }

    public func resetEndpointFailures(customerId: Int64) async throws {
        try await write { session in
            try await session.run("""
                UPDATE customer SET endpointFailures = 0, nextEndpointAttemptAt = NULL WHERE id = \(customerId) AND endpointFailures > 0
                """)
        }
    }

    // MARK: Probes and checks

    /// One statement for a whole sweep's results (a JSON array of rows), one to trim each customer's history.
    public func recordProbes(_ results: [ProbeResultRecord], history: Int) async throws {
        guard !results.isEmpty else { return }
        let rows = results.map { result in
            ProbeRow(customerid: result.customerId, time: Timestamp.string(result.time.storedPrecision), ok: result.ok,
                     stage: result.stage.rawValue, errorkind: result.errorKind, error: result.error, hint: result.hint,
                     latencyms: Self.json(result.latencyMs), vpcendpointid: result.vpcEndpointId, dnsname: result.dnsName,
                     port: result.port)
        }
        let document = Self.json(rows)
        let customers = Array(Set(results.map(\.customerId)))
        try await write { session in
            try await session.run("""
                INSERT INTO probeResult (customerId, time, ok, stage, errorKind, error, hint, latencyMs, vpcEndpointId, dnsName, port)
                SELECT customerid, time, ok, stage, errorkind, error, hint, latencyms, vpcendpointid, dnsname, port
                FROM json_to_recordset(\(document)::json) AS row(customerid bigint, time timestamptz, ok boolean, stage text,
                     errorkind text, error text, hint text, latencyms text, vpcendpointid text, dnsname text, port integer)
                """)
            try await session.run("""
                DELETE FROM probeResult WHERE id IN (
                    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY customerId ORDER BY id DESC) AS newer
                                    FROM probeResult WHERE customerId = ANY(\(customers))) ranked
                    WHERE newer > \(history))
                """)
        }
    }

    private struct ProbeRow: Encodable {
        var customerid: Int64
        var time: String
        var ok: Bool
        var stage: String
        var errorkind: String?
        var error: String?
        var hint: String?
        var latencyms: String
        var vpcendpointid: String?
        var dnsname: String?
        var port: Int
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain strings, numbers and booleans cannot fail.
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    public func probeHistory(customerId: Int64, limit: Int) async throws -> [ProbeResultRecord] {
        try await read { session in
            try await session.all("SELECT * FROM probeResult WHERE customerId = \(customerId) ORDER BY id DESC LIMIT \(limit)",
                                  ProbeResultRecord.init(postgres:))
        }
    }

    @discardableResult
    public func recordChecks(_ readings: [(customerId: Int64, results: [CheckResult])]) async throws -> [(customerId: Int64, result: CheckResult)] {
        let time = now().storedPrecision
        let ids = Array(Set(readings.map(\.customerId))).sorted()
        guard !ids.isEmpty else { return [] }
        return try await write { session in
            // Three statements whatever the count (the customers, locked; their stored verdicts; the new ones),
            // and one event per changed verdict.
            let customers = Dictionary(try await session.all("SELECT * FROM customer WHERE id = ANY(\(ids)) ORDER BY id FOR UPDATE",
                                                             Customer.init(postgres:)).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            var stored: [CheckKey: StoredCheck] = [:]
            for check in try await session.all("SELECT * FROM customer_check WHERE customerId = ANY(\(ids))", StoredCheck.init(postgres:)) {
                stored[CheckKey(customerId: check.customerId, name: check.name)] = check
            }
            var changed: [(customerId: Int64, result: CheckResult)] = []
            var events: [LifecycleEvent] = []
            var written: [CheckKey: StoredCheck] = [:]
            var order: [CheckKey] = []
            for (customerId, results) in readings {
                guard let customer = customers[customerId], ResourceConfigurationChecks.sharedStates.contains(customer.state) else { continue }
                for result in results {
                    let key = CheckKey(customerId: customerId, name: result.check)
                    let previous = written[key] ?? stored[key]
                    let isChange = previous.map { $0.verdict != result.verdict } ?? (result.verdict != .pass)
                    let changedAt = previous.map { $0.verdict == result.verdict ? $0.changedAt : time } ?? time
                    if written[key] == nil { order.append(key) }
                    written[key] = StoredCheck(customerId: customerId, name: result.check, verdict: result.verdict, detail: result.detail,
                                               hint: result.hint, checkedAt: time, changedAt: changedAt)
                    guard isChange else { continue }
                    changed.append((customerId, result))
                    events.append(StoreRules.checkEvent(customerId: customerId, name: customer.name, result, at: time))
                }
            }
            if !order.isEmpty {
                let rows = order.compactMap { written[$0] }.map { check in
                    CheckRow(customerid: check.customerId, name: check.name, verdict: check.verdict.rawValue, detail: check.detail,
                             hint: check.hint, checkedat: Timestamp.string(check.checkedAt), changedat: Timestamp.string(check.changedAt))
                }
                try await session.run("""
                    INSERT INTO customer_check (customerId, name, verdict, detail, hint, checkedAt, changedAt)
                    SELECT customerid, name, verdict, detail, hint, checkedat, changedat
                    FROM json_to_recordset(\(Self.json(rows))::json) AS row(customerid bigint, name text, verdict text, detail text,
                         hint text, checkedat timestamptz, changedat timestamptz)
                    ON CONFLICT (customerId, name) DO UPDATE SET verdict = excluded.verdict, detail = excluded.detail,
                        hint = excluded.hint, checkedAt = excluded.checkedAt, changedAt = excluded.changedAt
                    """)
            }
            for event in events { try await session.insert(event) }
            return changed
        }
    }

    private struct CheckKey: Hashable {
        var customerId: Int64
        var name: String
    }

    private struct CheckRow: Encodable {
        var customerid: Int64
        var name: String
        var verdict: String
        var detail: String
        var hint: String?
        var checkedat: String
        var changedat: String
    }

    public func checkSchedule(dueBefore: Date, orAfter: Date) async throws -> CheckSchedule {
        try await read(consistent: true) { session in
            var schedule = CheckSchedule()
            schedule.checked = Set(try await session.all("SELECT DISTINCT customerId FROM customer_check") { try $0("customerId", as: Int64.self) })
            let due = try await session.all("""
                SELECT customerId, min(checkedAt) AS checkedAt FROM customer_check GROUP BY customerId
                HAVING min(checkedAt) <= \(dueBefore) OR min(checkedAt) > \(orAfter)
                """) { row in (try row("customerId", as: Int64.self), try row("checkedAt", as: Date.self)) }
            for (customerId, checkedAt) in due { schedule.due[customerId] = checkedAt }
            return schedule
        }
    }

    public func clearChecks(customerId: Int64) async throws {
        try await write { session in
            guard let customer = try await session.customer(id: customerId, lock: true),
                  !ResourceConfigurationChecks.sharedStates.contains(customer.state) else { return }
            try await session.run("DELETE FROM customer_check WHERE customerId = \(customerId)")
        }
    }

    public func checks() async throws -> [Int64: [StoredCheck]] {
        try await read(consistent: true) { session in try await session.checks() }
    }

    public func statusSnapshot() async throws -> StatusSnapshot {
        try await read(consistent: true) { session in
            let customers = try await session.all(#"SELECT * FROM customer WHERE state <> 'removed' ORDER BY name COLLATE "C", id"#,
                                                  Customer.init(postgres:))
            let endpoints = try await session.liveEndpoints()
            let probes = try await session.all("SELECT DISTINCT ON (customerId) * FROM probeResult ORDER BY customerId, id DESC",
                                               ProbeResultRecord.init(postgres:))
            let refused = try await session.all("SELECT * FROM invitation WHERE decision IN ('ignored', 'rejected') ORDER BY firstSeen",
                                                InvitationRecord.init(postgres:))
            return StatusSnapshot(
                customers: customers,
                endpoints: endpoints,
                latestProbes: Dictionary(probes.map { ($0.customerId, $0) }, uniquingKeysWith: { _, newer in newer }),
                refusedInvitations: refused,
                checks: try await session.checks(),
                capacity: try await session.all(#"SELECT * FROM vpc_capacity ORDER BY region COLLATE "C", position"#,
                                                CapacityRecord.init(postgres:)))
        }
    }
}
