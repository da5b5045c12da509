import Foundation

/// The daemon's and the CLI's only state, behind one contract with two implementations: `SQLiteStore` (one
/// file, the embedded default) and `PostgresStore` (a shared PostgreSQL database, for several hosts).
///
/// Both keep the same invariants in the database itself, whoever writes: a unique registered name and
/// ARN, at most one live endpoint generation per customer, checked states, lifecycle changes only along
/// the table's edges and only as compare-and-set on the state a decision was made from. The conformance
/// suite (`StoreConformanceTests`) runs every store test against both.
public protocol StateStore: Sendable {
    /// Where the state lives, for messages: the file's path, or `postgres://user@host:port/database`.
    var location: String { get }

    /// The schema version of the open state (SQLite's and PostgreSQL's are numbered separately).
    func schemaVersion() async throws -> Int

    /// Lets the store drop caches and idle connections once current work finishes (after each pass).
    func releaseMemory() async

    /// Closes connections (PostgreSQL); SQLite closes with its last reference.
    func close() async

    // MARK: Registry (the CLI)

    /// Registers a customer (`customer add`), refusing a name or ARN that is already registered.
    func addCustomer(_ new: NewCustomer, by actor: LifecycleActor) async throws -> Customer
    /// Registered customers by name; removed ones only when asked for.
    func customers(includeRemoved: Bool) async throws -> [Customer]
    /// How many live customers there are, and how many of them are ready.
    func customerCounts() async throws -> (live: Int, ready: Int)
    /// The customer named `name`: the registered one, else one still being removed.
    func customer(named name: String) async throws -> Customer?
    /// Deregisters a customer (`customer remove`): removed at once when nothing is left to clean up,
    /// else `removing` until the daemon confirms every endpoint gone. The name and ARN are free at once.
    func requestRemoval(named name: String, keepEndpoint: Bool, by actor: LifecycleActor) async throws -> Customer
    /// Sets or clears (`user: nil`) the probe's login stage for a customer.
    func setProbeLogin(named name: String, user: String?, passwordFile: String?, database: String?,
                       by actor: LifecycleActor) async throws -> Customer
    /// A number that changes whenever the CLI changes the registry (the daemon polls it cheaply).
    func registryVersion() async throws -> Int

    // MARK: Lifecycle and the health log's outbox

    /// Applies a lifecycle event to a customer if, and only if, it is still in `request.from`.
    func transition(_ request: TransitionRequest, by actor: LifecycleActor) async throws -> TransitionOutcome
    /// The newest `limit` events of a customer, oldest first.
    func events(customerId: Int64, limit: Int) async throws -> [LifecycleEvent]
    /// Events after `cursor`, oldest first, at most `limit`.
    func events(after cursor: Int64, limit: Int) async throws -> [LifecycleEvent]
    /// A random number fixed when the state was created: health-log lines carry it, so that another
    /// state's event ids are never mistaken for these.
    func stateId() async throws -> Int64
    /// The id of the last event written to the health log.
    func healthLogCursor() async throws -> Int64
    /// Moves the cursor forward (never back: a second writer that lags cannot rewind it).
    func advanceHealthLogCursor(to id: Int64) async throws
    /// Deletes old invitations and events, never an event the health log has not received yet.
    @discardableResult
    func pruneHistory(invitationsBefore: Date, eventsBefore: Date, eventsPerCustomer: Int) async throws -> (invitations: Int, events: Int)

    // MARK: The reconciler

    /// Customers and their open endpoint generations in one consistent read.
    func snapshot() async throws -> RegistrySnapshot
    /// The invitation records a pass needs (see `SQLiteStore.invitationRecords`).
    func invitationRecords(invitationArns: Set<String>, resourceArns: Set<String>, senders: Set<String>) async throws -> [String: InvitationRecord]
    /// Inserts or updates invitation records, in one transaction; for each, in order, true when it is new or
    /// its decision or reason changed. A record named twice is merged into its earlier self.
    @discardableResult
    func recordInvitations(_ records: [InvitationRecord]) async throws -> [Bool]
    /// Stores the clientToken of an accept call before it is made (the stored one wins), and each customer's
    /// lifecycle step `requests` (each its own compare-and-set), in one transaction; returns the token to use and
    /// the steps' outcomes in order.
    func acceptToken(for invitationArn: String, proposed: String, then requests: [TransitionRequest],
                     by actor: LifecycleActor) async throws -> (token: String, transitions: [TransitionOutcome])
    /// Records RAM's answer to our accept or reject call.
    func markInvitation(_ arn: String, status: String, decision: InvitationRecord.Decision) async throws
    /// `markInvitation`, then each customer's lifecycle step it means (each its own compare-and-set), in one
    /// transaction; the steps' outcomes in order.
    func markInvitation(_ arn: String, status: String, decision: InvitationRecord.Decision, then requests: [TransitionRequest],
                        by actor: LifecycleActor) async throws -> [TransitionOutcome]
    /// Records a new endpoint generation's ClientToken and request before CreateVpcEndpoint is called; nil
    /// when the customer is no longer in `expected`.
    func beginEndpoint(customerId: Int64, expecting expected: CustomerState, region: String, clientToken: String,
                       request: String) async throws -> EndpointRecord?
    /// The customer's lifecycle step `step` (its own compare-and-set on `from`), then, when it applied or found
    /// the customer already there, `beginEndpoint` for the state it left the customer in: "creating the endpoint"
    /// as one outcome in one transaction. A stale or refused step writes nothing and begins nothing (row nil).
    func beginEndpoint(after step: TransitionRequest, region: String, clientToken: String, request: String,
                       by actor: LifecycleActor) async throws -> (transition: TransitionOutcome, row: EndpointRecord?)
    /// Compare-and-set on endpoint generations, in one transaction, each on its own: its change, then, only when
    /// the change applied, the customer's lifecycle step `then` (its own compare-and-set on `from`): what EC2's
    /// answer means, written as one outcome. A change the generation no longer takes writes nothing, its step
    /// included (transition nil). The outcomes in order.
    func changeEndpoints(_ writes: [EndpointWrite], by actor: LifecycleActor) async throws -> [(changed: Bool, transition: TransitionOutcome?)]
    /// Takes over an endpoint found in EC2 for a customer with no current generation; nil when stale.
    func adoptEndpoint(customerId: Int64, expecting expected: CustomerState, region: String, vpcEndpointId: String, vpcId: String?,
                       state: EndpointRecord.State, awsState: String, dnsName: String?) async throws -> EndpointRecord?
    /// One endpoint generation as stored now.
    func endpointGeneration(_ id: Int64) async throws -> EndpointRecord?
    /// Every endpoint generation (of one customer, or all), oldest first.
    func endpointGenerations(customerId: Int64?) async throws -> [EndpointRecord]
    /// The customer's current (not closed) endpoint, if it has one.
    func liveEndpoint(customerId: Int64) async throws -> EndpointRecord?
    /// Clears the failure count once an endpoint works.
    func resetEndpointFailures(customerId: Int64) async throws
    /// What claims an endpoint a pass is about to delete as untracked, read right before the call.
    func endpointClaims(vpcEndpointId: String, customerTag: String?, resourceConfigurationArn: String?) async throws -> EndpointClaims
    /// Records the endpoint id of a generation released before CreateVpcEndpoint answered; false when that no
    /// longer applies (its id is known already, or another generation records this one).
    @discardableResult
    func recordReleasedEndpoint(rowId: Int64, vpcEndpointId: String) async throws -> Bool
    /// Writes what a pass saw to a customer's history (and so the health log), changing nothing else.
    func recordNote(customerId: Int64, event: String, detail: String) async throws
    /// Replaces the VPC pools' capacity (every region's rows) with `rows`, as the active daemon's pass left them.
    func recordCapacity(_ rows: [CapacityRecord]) async throws

    // MARK: Probes and checks

    /// Records probe results, keeping the newest `history` per customer.
    func recordProbes(_ results: [ProbeResultRecord], history: Int) async throws
    /// The newest probe results of a customer, newest first.
    func probeHistory(customerId: Int64, limit: Int) async throws -> [ProbeResultRecord]
    /// Several customers' check readings in one transaction; returns the changed checks by customer id.
    /// Only customers whose configuration is shared with us get verdicts.
    @discardableResult
    func recordChecks(_ readings: [(customerId: Int64, results: [CheckResult])]) async throws -> [(customerId: Int64, result: CheckResult)]
    /// Which customers have verdicts, and when the due ones were last read.
    func checkSchedule(dueBefore: Date, orAfter: Date) async throws -> CheckSchedule
    /// Forgets a customer's verdicts if, and only if, its share is gone now.
    func clearChecks(customerId: Int64) async throws
    /// Every stored verdict, by customer id, in display order.
    func checks() async throws -> [Int64: [StoredCheck]]

    /// Everything `status` shows, read in one snapshot.
    func statusSnapshot() async throws -> StatusSnapshot
    /// The ready customers as a probe sweep needs them, and nothing more, in one snapshot, in name order
    /// (see ``ProbeTargetRow``).
    func probeTargetRows() async throws -> [ProbeTargetRow]

    /// The daemon holding the leadership lease now; nil when none does (and always with SQLite, where
    /// one daemon per file is held by a file lock instead).
    func leader() async throws -> LeaderInfo?

    /// Throws `fenced` unless this daemon still holds the leadership lease (PostgreSQL; SQLite: always holds).
    func confirmLease() async throws
}

/// What became of a requested lifecycle change.
public enum TransitionOutcome: Sendable, Equatable {
    /// The state changed; the event row is the record of it (and the health log's outbox entry).
    case applied(LifecycleEvent)
    /// The event leads to the state the customer is in: only its detail and hint were refreshed.
    case refreshed
    /// The customer is no longer in the state the decision was made from (another writer moved it, or
    /// it is gone): nothing was written, and the next pass decides again.
    case stale(current: CustomerState?)
    /// The lifecycle table has no such edge: nothing was written.
    case refused(CustomerLifecycle.Refusal)
}

/// Everything `status` shows, read in one snapshot.
public struct StatusSnapshot: Sendable {
    public var customers: [Customer]
    public var endpoints: [Int64: EndpointRecord]
    public var latestProbes: [Int64: ProbeResultRecord]
    public var refusedInvitations: [InvitationRecord]
    /// The resource configuration checks' verdicts, by customer id, in display order.
    public var checks: [Int64: [StoredCheck]]
    /// Each region's VPC pool as the active daemon's last pass left it, by region then configured order.
    public var capacity: [CapacityRecord] = []
}

/// A ready customer as a probe sweep reads it: its name, port and login, its live endpoint's id and DNS name,
/// and whether its newest probe timed out. Not the whole customer and endpoint rows a pass reads, nor the checks,
/// invitations and whole probe records `status` reads: a sweep holds 10,000 of these.
public struct ProbeTargetRow: Sendable, Equatable {
    /// The customer's live endpoint (the newest generation not closed), as far as a probe needs it.
    public struct LiveEndpoint: Sendable, Equatable {
        public var vpcEndpointId: String?
        public var dnsName: String?

        public init(vpcEndpointId: String?, dnsName: String?) {
            self.vpcEndpointId = vpcEndpointId
            self.dnsName = dnsName
        }
    }

    public var customerId: Int64
    public var name: String
    public var port: Int
    public var probeUser: String?
    public var probePasswordFile: String?
    public var probeDatabase: String?
    /// Nil when the customer has no live endpoint.
    public var endpoint: LiveEndpoint?
    /// The customer's newest probe ran out of time (a `…Timeout` failure).
    public var lastTimedOut: Bool

    public init(customerId: Int64, name: String, port: Int, probeUser: String? = nil, probePasswordFile: String? = nil,
                probeDatabase: String? = nil, endpoint: LiveEndpoint?, lastTimedOut: Bool = false) {
        self.customerId = customerId
        self.name = name
        self.port = port
        self.probeUser = probeUser
        self.probePasswordFile = probePasswordFile
        self.probeDatabase = probeDatabase
        self.endpoint = endpoint
        self.lastTimedOut = lastTimedOut
    }

    /// The columns both stores read of a ready customer, in this order.
    static let customerColumns = "id, name, port, probeUser, probePasswordFile, probeDatabase"

    /// The row of `customer` (stored: it has an id) and its live `endpoint`, when one was read whole.
    public init(customer: Customer, endpoint: EndpointRecord?, lastTimedOut: Bool = false) {
        self.init(customerId: customer.id ?? 0, name: customer.name, port: customer.port, probeUser: customer.probeUser,
                  probePasswordFile: customer.probePasswordFile, probeDatabase: customer.probeDatabase,
                  endpoint: endpoint.map { LiveEndpoint(vpcEndpointId: $0.vpcEndpointId, dnsName: $0.dnsName) },
                  lastTimedOut: lastTimedOut)
    }
}

/// What the pass needs to choose which configurations to read: who was ever checked, and who is due.
public struct CheckSchedule: Sendable, Equatable {
    public var checked: Set<Int64> = []
    public var due: [Int64: Date] = [:]
}

extension StateStore {
    public func customers() async throws -> [Customer] {
        try await customers(includeRemoved: false)
    }

    /// The live customer named `name`, or a not-found error that says how to list them.
    public func requireCustomer(named name: String) async throws -> Customer {
        guard let customer = try await customer(named: name) else {
            throw StoreError(.notFound, "no customer named \(name); `customer list` shows the registered ones")
        }
        return customer
    }

    public func transition(_ request: TransitionRequest) async throws -> TransitionOutcome {
        try await transition(request, by: .daemon)
    }

    /// One generation's compare-and-set; whether it applied.
    @discardableResult
    public func changeEndpoint(_ rowId: Int64, _ change: EndpointChange) async throws -> Bool {
        try await changeEndpoints([EndpointWrite(rowId: rowId, change: change)], by: .daemon).first?.changed ?? false
    }

    /// One generation's change and the step it means (see `changeEndpoints`).
    public func changeEndpoint(_ rowId: Int64, _ change: EndpointChange, then request: TransitionRequest,
                               by actor: LifecycleActor = .daemon) async throws -> (changed: Bool, transition: TransitionOutcome?) {
        try await changeEndpoints([EndpointWrite(rowId: rowId, change: change, then: request)], by: actor).first ?? (false, nil)
    }

    /// One invitation record: true when it is new or its decision or reason changed.
    @discardableResult
    public func recordInvitation(_ record: InvitationRecord) async throws -> Bool {
        try await recordInvitations([record]).first ?? false
    }

    /// The accept's ClientToken alone (a reject's, or an accept with no step to take).
    public func acceptToken(for invitationArn: String, proposed: String) async throws -> String {
        try await acceptToken(for: invitationArn, proposed: proposed, then: [], by: .daemon).token
    }

    public func events(customerId: Int64) async throws -> [LifecycleEvent] {
        try await events(customerId: customerId, limit: 20)
    }

    public func events(after cursor: Int64) async throws -> [LifecycleEvent] {
        try await events(after: cursor, limit: 500)
    }

    public func endpointGenerations() async throws -> [EndpointRecord] {
        try await endpointGenerations(customerId: nil)
    }

    public func recordProbes(_ results: [ProbeResultRecord]) async throws {
        try await recordProbes(results, history: 100)
    }

    public func probeHistory(customerId: Int64) async throws -> [ProbeResultRecord] {
        try await probeHistory(customerId: customerId, limit: 20)
    }

    /// Stores one reading of a customer's resource configuration; returns the checks whose verdict changed.
    @discardableResult
    public func recordChecks(customerId: Int64, _ results: [CheckResult]) async throws -> [CheckResult] {
        try await recordChecks([(customerId, results)]).map(\.result)
    }
}

/// How the store orders a customer's checks for display (shared by both backends).
enum CheckOrder {
    static func sorted(_ rows: [StoredCheck]) -> [StoredCheck] {
        rows.sorted { ResourceConfigurationChecks.order($0.name) < ResourceConfigurationChecks.order($1.name) }
    }
}

/// One lifecycle step decided, before either store writes it: the table picks the next state; a change
/// rewrites the customer and adds one event row; the same state only refreshes its detail and hint.
enum TransitionStep {
    case refused(CustomerLifecycle.Refusal)
    /// Nothing differs: nothing to write.
    case unchanged
    /// Same state, new detail, hint or share.
    case refresh(Customer)
    /// A state change and its event.
    case apply(Customer, LifecycleEvent)

    static func plan(_ customer: Customer, from: CustomerState, event: CustomerLifecycle.Event, detail: String?, hint: String?,
                     resourceShareArn: String?, by actor: LifecycleActor, at time: Date) -> TransitionStep {
        let next: CustomerState
        switch CustomerLifecycle.next(from: from, on: event, by: actor.kind) {
        case .success(let state): next = state
        case .failure(let refusal): return .refused(refusal)
        }
        var customer = customer
        if next == from {
            let newShare = resourceShareArn != nil && resourceShareArn != customer.resourceShareArn
            guard customer.stateDetail != detail || customer.hint != hint || newShare else { return .unchanged }
            if let resourceShareArn { customer.resourceShareArn = resourceShareArn }
            customer.stateDetail = detail
            customer.hint = hint
            customer.updatedAt = time
            return .refresh(customer)
        }
        if let resourceShareArn { customer.resourceShareArn = resourceShareArn }
        customer.state = next
        customer.stateActor = actor.description
        customer.stateDetail = detail
        customer.hint = hint
        customer.updatedAt = time
        customer.stateChangedAt = time
        customer.removedAt = next == .removed ? time : nil
        let record = LifecycleEvent(time: time, customerId: customer.id, customerName: customer.name, event: event.rawValue,
                                    fromState: from, toState: next, detail: detail, actor: actor)
        return .apply(customer, record)
    }
}

/// Words and rules both stores share, so that the two backends say and refuse the same things.
enum StoreRules {
    /// `customer add`'s checks that need no database.
    static func validate(_ new: NewCustomer) throws {
        if let problem = CustomerName.problem(with: new.name) {
            throw StoreError(.invalid, "name \(problem)")
        }
        guard (1...65535).contains(new.port) else {
            throw StoreError(.invalid, "port \(new.port) is out of range; use 1-65535 (PostgreSQL's default is 5432)")
        }
    }

    static func duplicateName(_ name: String, registeredArn: String) -> StoreError {
        StoreError(.duplicateName, "a customer named \(name) is already registered (\(registeredArn)); choose another name, or `customer remove \(name)` first")
    }

    static func duplicateArn(_ arn: String, registeredAs name: String) -> StoreError {
        StoreError(.duplicateArn, "\(arn) is already registered as customer \(name); use `customer show \(name)`")
    }

    static func notFound(_ name: String) -> StoreError {
        StoreError(.notFound, "no customer named \(name); `customer list` shows the registered ones")
    }

    static func alreadyRemoving(_ name: String) -> StoreError {
        StoreError(.invalid, "\(name) is already being removed; the daemon deletes its endpoints (`customer show \(name)`)")
    }

    /// The registration event's detail.
    static func registeredDetail(_ new: NewCustomer) -> String {
        "\(new.arn.description) port \(new.port)" + (new.note.map { "; note: \($0)" } ?? "")
    }

    /// The new customer row `customer add` writes.
    static func newCustomer(_ new: NewCustomer, by actor: LifecycleActor, at time: Date) throws -> Customer {
        var customer = Customer(
            id: nil, name: new.name, resourceConfigurationArn: new.arn.description, partition: new.arn.partition,
            region: new.arn.region, accountId: new.arn.accountId, port: new.port, note: new.note,
            state: .awaitingShare, stateDetail: "waiting for the customer's RAM share", hint: nil,
            keepEndpoint: false, resourceShareArn: nil, invitationArn: nil,
            createdAt: time, updatedAt: time, stateChangedAt: time, removedAt: nil,
            endpointFailures: 0, nextEndpointAttemptAt: nil)
        customer.stateActor = actor.description
        guard case .success(let state) = CustomerLifecycle.next(from: nil, on: .registered, by: actor.kind), state == customer.state else {
            throw StoreError(.invalid, "lifecycle: \(actor) may not register customers")
        }
        return customer
    }

    /// Removal: which event, and the words for it, given how many generations are still open.
    static func removal(open: Int, keepEndpoint: Bool) -> (event: CustomerLifecycle.Event, detail: String) {
        let event: CustomerLifecycle.Event = open > 0 ? .removalRequested : .removed
        let detail = switch (open > 0, keepEndpoint) {
        case (false, false): "removed by the CLI; no endpoint to delete"
        case (false, true): "removed by the CLI; endpoint kept (--keep-endpoint)"
        case (true, true): "removal requested; endpoint kept (--keep-endpoint), the daemon deletes \(open) failed generation(s)"
        case (true, false): "removal requested; the daemon deletes \(open) endpoint(s)"
        }
        return (event, detail)
    }

    static func probeLoginEvent(_ customer: Customer, user: String?, passwordFile: String?, by actor: LifecycleActor, at time: Date) -> LifecycleEvent {
        LifecycleEvent(time: time, customerId: customer.id, customerName: customer.name,
                       event: user == nil ? "probe_login_cleared" : "probe_login_set", fromState: nil, toState: nil,
                       detail: user.map { "user \($0), password file \(passwordFile ?? "-")" }, actor: actor)
    }

    /// A pass's reading of an invitation over the stored record: what RAM says now and our decision, the
    /// accept token kept, and whether the decision or its reason changed (what deserves a log line).
    static func merge(_ record: InvitationRecord, into stored: InvitationRecord) -> (InvitationRecord, changed: Bool) {
        var merged = stored
        let changed = stored.decision != record.decision || stored.reason != record.reason
        merged.status = record.status
        merged.lastSeen = record.lastSeen
        merged.decision = record.decision
        merged.reason = record.reason
        merged.resources = record.resources
        merged.acceptClientToken = record.acceptClientToken ?? stored.acceptClientToken
        if changed { merged.decidedAt = record.decidedAt ?? record.lastSeen }
        return (merged, changed)
    }

    /// A check verdict's event (the health log's `kind: check` line).
    static func checkEvent(customerId: Int64, name: String, _ result: CheckResult, at time: Date) -> LifecycleEvent {
        var event = LifecycleEvent(time: time, customerId: customerId, customerName: name, event: "check",
                                   fromState: nil, toState: nil, detail: result.detail, actor: .daemon)
        event.checkName = result.check
        event.verdict = result.verdict
        event.hint = result.hint
        return event
    }
}

/// One endpoint generation's change, and the customer's step it means (`StateStore.changeEndpoints`).
public struct EndpointWrite: Sendable {
    public var rowId: Int64
    public var change: EndpointChange
    public var then: TransitionRequest?

    public init(rowId: Int64, change: EndpointChange, then: TransitionRequest? = nil) {
        self.rowId = rowId
        self.change = change
        self.then = then
    }
}
