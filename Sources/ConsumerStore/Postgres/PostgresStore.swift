import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared state in PostgreSQL, for vendors who run the daemon on several hosts.
///
/// The same contract as `SQLiteStore`, kept the same way: the schema's checks, partial unique indexes
/// and lifecycle triggers refuse what the SQLite file refuses, and every write is one transaction that
/// re-reads the rows it decides on (`FOR UPDATE`). Write transactions also take one advisory lock first,
/// so that they run one at a time as SQLite's do: event ids then commit in id order (the health log's
/// outbox cursor can never skip an event that commits late), and our transactions cannot deadlock.
public final class PostgresStore: StateStore {
    public let location: String
    let pool: PostgresPool
    /// The lease's own connection: claims never wait behind the store's other work, and fail fast.
    let leasePool: PostgresPool
    let logger: Logger
    let now: @Sendable () -> Date

    /// The advisory lock every write transaction takes first ("plc-wrte").
    static let writeLock: Int64 = 0x706C_632D_7772_7465

    /// The fence every write checks (set while this process leads; see `LeaseFence`).
    let fence = Mutex<LeaseFence?>(nil)
    /// The database's latest word on this daemon's lease (`LeaseWord`), for `confirmLease`.
    let word = Mutex(LeaseWord())
    /// Whether this process saw the schema at the current version.
    private let migrated = Mutex(false)
    /// The newest schema version this build knows.
    let knownSchema: Int

    /// Connects, and creates or upgrades the schema (once, however many processes start at once).
    public static func open(_ config: PostgresStateConfig, logger: Logger = Logger(label: "state"),
                            now: @escaping @Sendable () -> Date = { Date() }, knownSchema: Int = PostgresSchema.currentVersion) async throws -> PostgresStore {
        let store = try PostgresStore(config, logger: logger, now: now, knownSchema: knownSchema)
        try await store.ensureSchema()
        return store
    }

    /// A store that connects at its first operation (the daemon: it starts, and says so, while the
    /// database is unreachable, instead of exiting into a restart loop). Fails only on a configuration
    /// it cannot use (an unreadable password or CA file).
    /// `knownSchema` is the newest schema version this build knows (the default); a lower one behaves as an
    /// older build would, which is how the upgrade tests run an old binary against a new state.
    public init(_ config: PostgresStateConfig, logger: Logger = Logger(label: "state"),
                now: @escaping @Sendable () -> Date = { Date() }, knownSchema: Int = PostgresSchema.currentVersion) throws {
        precondition((1...PostgresSchema.currentVersion).contains(knownSchema), "knownSchema \(knownSchema) is not a version this build has")
        self.knownSchema = knownSchema
        self.location = config.description
        self.pool = try PostgresPool(config, logger: logger)
        self.leasePool = try PostgresPool(config, capacity: 1, operationTimeout: Self.claimDeadline(leaseSeconds: config.leaseSeconds),
                                          loops: PostgresPool.leaseLoops,
                                          logger: logger)
        self.logger = logger
        self.now = now
    }

    /// How long a claim may take: well inside one claim interval (a third of the lease), at least 1.5 s.
    static func claimDeadline(leaseSeconds: Int) -> Duration {
        max(.milliseconds(1500), .milliseconds(leaseSeconds * 1000 / 5))
    }

    /// Creates or upgrades the schema unless this process already saw it current.
    func ensureSchema() async throws {
        guard !migrated.withLock({ $0 }) else { return }
        try await pool.withConnection { connection in
            try await PostgresSchema.migrate(connection, known: knownSchema, logger: logger)
        }
        migrated.withLock { $0 = true }
    }

    public func schemaVersion() async throws -> Int {
        try await ensureSchema()
        return try await pool.withConnection { connection in try await PostgresSchema.version(connection, logger: logger) }
    }

    public func releaseMemory() async {
        await pool.trim()
    }

    public func close() async {
        await pool.close()
        await leasePool.close()
    }

    // MARK: Transactions

    /// One write transaction, after every other writer's (the write lock).
    func write<T: Sendable>(timeout: Duration? = nil, _ body: (Session) async throws -> T) async throws -> T {
        try await ensureSchema()
        // The fence of the pass or sweep this write belongs to (decided under that epoch), else the store's.
        let fence = LeaseFence.current ?? fence.withLock { $0 }
        return try await pool.withConnection(timeout: timeout) { connection in
            try await PostgresTransaction.run(on: connection, logger: logger) { connection in
                let session = Session(connection: connection, logger: logger)
                if let fence {
                    let asked = ContinuousClock.now
                    // One round trip: the write lock (the FROM item, taken first), then the lease row, shared until
                    // the commit so that no takeover can complete under this write. The expiry is judged in the select
                    // list, on the row version FOR SHARE locked (the newest), not in WHERE on the statement's snapshot,
                    // which was taken before the wait for the write lock: a renewal meanwhile is seen, not a false fence.
                    // `spare`: whether the lease has the word's reuse time left beyond now (see `LeaseWord`).
                    let reuse = word.withLock { $0.reuseSeconds }
                    let lease = try await session.one("""
                        SELECT lease.held, lease.spare FROM (SELECT pg_advisory_xact_lock(\(Self.writeLock))) AS locked,
                            LATERAL (SELECT CASE WHEN expiresAt > clock_timestamp() THEN epoch END AS held,
                                            expiresAt > clock_timestamp() + make_interval(secs => \(reuse)) AS spare
                                     FROM leader WHERE singleton AND holder = \(fence.holder) AND epoch = \(fence.epoch) FOR SHARE) AS lease
                        """) { row in (held: try row("held", as: Int64?.self), spare: try row("spare", as: Bool?.self) ?? false) }
                    guard let lease, lease.held != nil else {
                        word.withLock { $0.refused(asked: asked) }
                        throw StoreError(.fenced, "state database \(location): this daemon no longer holds the leadership lease (epoch \(fence.epoch)); another daemon is active or the lease ran out, so nothing was written")
                    }
                    word.withLock { $0.heard(fence, asked: asked, spare: lease.spare) }
                } else {
                    try await session.run("SELECT pg_advisory_xact_lock(\(Self.writeLock))")
                }
                return try await body(session)
            }
        }
    }

    /// Reads; `consistent` reads see one snapshot across several statements.
    func read<T: Sendable>(consistent: Bool = false, _ body: (Session) async throws -> T) async throws -> T {
        try await ensureSchema()
        // A read changes nothing: the pool may repeat it on a new connection when an idle one was found dead.
        return try await pool.withConnection(idempotent: true) { connection in
            let session = Session(connection: connection, logger: logger)
            guard consistent else { return try await body(session) }
            return try await PostgresTransaction.run(on: connection, logger: logger) { connection in
                try await session.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return try await body(session)
            }
        }
    }

    /// A connection with the store's logger, and typed helpers for the statements the store runs.
    struct Session {
        let connection: PostgresConnection
        let logger: Logger

        @discardableResult
        func run(_ query: StoreQuery) async throws -> [PostgresRow] {
            try await connection.statement(query, logger: logger)
        }

        func all<T>(_ query: StoreQuery, _ decode: (PostgresRowReader) throws -> T) async throws -> [T] {
            let columns = PostgresColumns()
            return try await run(query).map { try decode(PostgresRowReader($0, columns: columns)) }
        }

        func one<T>(_ query: StoreQuery, _ decode: (PostgresRowReader) throws -> T) async throws -> T? {
            try await run(query).first.map { try decode(PostgresRowReader($0)) }
        }

        func int(_ query: StoreQuery) async throws -> Int64? {
            try await run(query).firstInt()
        }

        func meta(_ key: String) async throws -> Int64 {
            try await int("SELECT value FROM meta WHERE key = \(key)") ?? 0
        }

        func bumpRegistryVersion() async throws {
            try await run("UPDATE meta SET value = value + 1 WHERE key = 'registryVersion'")
        }

        @discardableResult
        func insert(_ event: LifecycleEvent) async throws -> LifecycleEvent {
            var query = StoreQuery.StringInterpolation(literalCapacity: 0, interpolationCount: 11)
            Self.appendInsert(event, to: &query)
            query.appendLiteral(" RETURNING id")
            var event = event
            event.id = try await int(StoreQuery(stringInterpolation: query))
            return event
        }

        /// Writes every column of `customer` that can change after registration.
        func update(_ customer: Customer) async throws {
            var query = StoreQuery.StringInterpolation(literalCapacity: 0, interpolationCount: 16)
            Self.appendUpdate(customer, to: &query)
            try await run(StoreQuery(stringInterpolation: query))
        }

        /// `update(customer)` and `insert(event)` in one statement (one round trip): the UPDATE runs as a
        /// data-modifying WITH, which PostgreSQL executes whether or not the INSERT reads it.
        func update(_ customer: Customer, recording event: LifecycleEvent) async throws -> LifecycleEvent {
            var query = StoreQuery.StringInterpolation(literalCapacity: 0, interpolationCount: 27)
            query.appendLiteral("WITH changed AS (")
            Self.appendUpdate(customer, to: &query)
            query.appendLiteral(") ")
            Self.appendInsert(event, to: &query)
            query.appendLiteral(" RETURNING id")
            var event = event
            event.id = try await int(StoreQuery(stringInterpolation: query))
            return event
        }

        /// `UPDATE customer SET` every column that can change after registration `WHERE id =` its id.
        static func appendUpdate(_ customer: Customer, to query: inout StoreQuery.StringInterpolation) {
            func set<Value: PostgresNonThrowingEncodable>(_ column: String, _ value: Value?) {
                query.appendLiteral(column)
                query.appendInterpolation(value)
            }
            set("UPDATE customer SET state = ", customer.state.rawValue)
            set(", stateActor = ", customer.stateActor)
            set(", stateDetail = ", customer.stateDetail)
            set(", hint = ", customer.hint)
            set(", keepEndpoint = ", customer.keepEndpoint)
            set(", resourceShareArn = ", customer.resourceShareArn)
            set(", invitationArn = ", customer.invitationArn)
            set(", updatedAt = ", customer.updatedAt)
            set(", stateChangedAt = ", customer.stateChangedAt)
            set(", removedAt = ", customer.removedAt)
            set(", endpointFailures = ", customer.endpointFailures)
            set(", nextEndpointAttemptAt = ", customer.nextEndpointAttemptAt)
            set(", probeUser = ", customer.probeUser)
            set(", probePasswordFile = ", customer.probePasswordFile)
            set(", probeDatabase = ", customer.probeDatabase)
            set(" WHERE id = ", customer.id)
        }

        /// The start of every event row's INSERT, its values to follow in this order.
        static let insertEvent = "INSERT INTO event (time, customerId, customerName, event, fromState, toState, detail, actor, checkName, verdict, hint) VALUES ("

        /// `INSERT INTO event (…) VALUES (…)` for `event`.
        static func appendInsert(_ event: LifecycleEvent, to query: inout StoreQuery.StringInterpolation) {
            query.appendLiteral(Self.insertEvent)
            func value<Value: PostgresNonThrowingEncodable>(_ value: Value?, last: Bool = false) {
                query.appendInterpolation(value)
                query.appendLiteral(last ? ")" : ", ")
            }
            value(event.time)
            value(event.customerId)
            value(event.customerName)
            value(event.event)
            value(event.fromState?.rawValue)
            value(event.toState?.rawValue)
            value(event.detail)
            value(event.actor)
            value(event.checkName)
            value(event.verdict?.rawValue)
            value(event.hint, last: true)
        }

        /// The lifecycle step inside the caller's transaction (see `TransitionStep`); the schema's trigger
        /// refuses any edge the table lacks.
        func applyTransition(_ customer: inout Customer, from: CustomerState, event: CustomerLifecycle.Event, detail: String?,
                             hint: String?, resourceShareArn: String? = nil, by actor: LifecycleActor, at time: Date) async throws -> TransitionOutcome {
            switch TransitionStep.plan(customer, from: from, event: event, detail: detail, hint: hint,
                                       resourceShareArn: resourceShareArn, by: actor, at: time) {
            case .refused(let refusal):
                return .refused(refusal)
            case .unchanged:
                return .refreshed
            case .refresh(let updated):
                customer = updated
                try await update(customer)
                return .refreshed
            case .apply(let updated, let record):
                customer = updated
                return .applied(try await update(customer, recording: record))
            }
        }

        /// A lifecycle step planned from `request.from`: the customer locked, its compare-and-set, then the step.
        /// Stale when the customer is gone or has moved since the plan.
        func step(_ request: TransitionRequest, by actor: LifecycleActor, at time: Date) async throws -> TransitionOutcome {
            guard var customer = try await customer(id: request.customerId, lock: true) else { return .stale(current: nil) }
            return try await step(request, on: &customer, by: actor, at: time)
        }

        /// `step` on a customer the caller has locked and read.
        func step(_ request: TransitionRequest, on customer: inout Customer, by actor: LifecycleActor, at time: Date) async throws -> TransitionOutcome {
            guard customer.state == request.from else { return .stale(current: customer.state) }
            return try await applyTransition(&customer, from: request.from, event: request.event, detail: request.detail,
                                             hint: request.hint, resourceShareArn: request.resourceShareArn, by: actor, at: time)
        }

        /// A happening that is not a state change (an endpoint created or deleted), for the health log; the
        /// customer's name is read by the same statement.
        func note(_ event: String, customerId: Int64, detail: String, at time: Date) async throws {
            var query = StoreQuery.StringInterpolation(literalCapacity: 0, interpolationCount: 6)
            Self.appendNote(event, customerId: customerId, detail: detail, at: time, to: &query)
            try await run(StoreQuery(stringInterpolation: query))
        }

        /// The INSERT of a daemon's note about a customer (its name read in the statement).
        static func appendNote(_ event: String, customerId: Int64, detail: String, at time: Date,
                               to query: inout StoreQuery.StringInterpolation) {
            query.appendLiteral(Self.insertEvent)
            query.appendInterpolation(time)
            query.appendLiteral(", ")
            query.appendInterpolation(customerId)
            query.appendLiteral(", (SELECT name FROM customer WHERE id = ")
            query.appendInterpolation(customerId)
            query.appendLiteral("), ")
            query.appendInterpolation(event)
            query.appendLiteral(", NULL, NULL, ")
            query.appendInterpolation(detail)
            query.appendLiteral(", ")
            query.appendInterpolation(LifecycleActor.daemon.description)
            query.appendLiteral(", NULL, NULL, NULL)")
        }

        func customer(id: Int64, lock: Bool) async throws -> Customer? {
            let query: StoreQuery = lock ? "SELECT * FROM customer WHERE id = \(id) FOR UPDATE" : "SELECT * FROM customer WHERE id = \(id)"
            return try await one(query, Customer.init(postgres:))
        }

        /// The registered (not removing, not removed) customer named `name`.
        func registeredCustomer(_ name: String, lock: Bool) async throws -> Customer? {
            let query: StoreQuery = lock
                ? "SELECT * FROM customer WHERE name = \(name) AND state NOT IN ('removing', 'removed') FOR UPDATE"
                : "SELECT * FROM customer WHERE name = \(name) AND state NOT IN ('removing', 'removed')"
            return try await one(query, Customer.init(postgres:))
        }

        /// The live customer named `name`: the registered one, else one still being removed (the newest).
        func liveCustomer(_ name: String) async throws -> Customer? {
            try await one("""
                SELECT * FROM customer WHERE name = \(name) AND state <> 'removed' ORDER BY state = 'removing', id DESC LIMIT 1
                """, Customer.init(postgres:))
        }

        /// The customer (its row locked) and its next endpoint generation, in one round trip.
        func customerAndNextGeneration(_ id: Int64) async throws -> (customer: Customer, generation: Int)? {
            try await one("""
                SELECT *, (SELECT coalesce(max(generation), 0)::bigint FROM endpoint WHERE customerId = \(id)) AS nextgeneration
                FROM customer WHERE id = \(id) FOR UPDATE
                """) { (try Customer(postgres: $0), Int(try $0("nextgeneration", as: Int64.self)) + 1) }
        }

        func insert(_ record: EndpointRecord) async throws -> EndpointRecord {
            guard let inserted = try await one("""
                INSERT INTO endpoint (customerId, region, clientToken, generation, vpcEndpointId, vpcId, state, awsState, dnsName, lastError,
                                      createRequest, createAnsweredAt, lastSeenAt, deleteRequestedAt, createdAt, updatedAt)
                VALUES (\(record.customerId), \(record.region), \(record.clientToken), \(record.generation), \(record.vpcEndpointId),
                        \(record.vpcId), \(record.state.rawValue), \(record.awsState), \(record.dnsName), \(record.lastError), \(record.createRequest),
                        \(record.createAnsweredAt), \(record.lastSeenAt), \(record.deleteRequestedAt), \(record.createdAt), \(record.updatedAt))
                RETURNING *
                """, EndpointRecord.init(postgres:)) else { throw StoreError(.corrupt, "state database: an insert returned no row") }
            return inserted
        }

        /// Each live customer's endpoint to show: the newest generation not closed.
        func liveEndpoints() async throws -> [Int64: EndpointRecord] {
            let endpoints = try await all("""
                SELECT \(unescaped: EndpointRecord.columnsForPasses) FROM endpoint WHERE state NOT IN ('deleted', 'released')
                  AND customerId IN (SELECT id FROM customer WHERE state <> 'removed') ORDER BY generation
                """, EndpointRecord.init(postgres:))
            return Dictionary(endpoints.map { ($0.customerId, $0) }, uniquingKeysWith: { _, newer in newer })
        }

        func checks() async throws -> [Int64: [StoredCheck]] {
            Dictionary(grouping: try await all("SELECT * FROM customer_check ORDER BY customerId", StoredCheck.init(postgres:)),
                       by: \.customerId).mapValues(CheckOrder.sorted)
        }
    }
}

// MARK: - Rows

extension Customer {
    init(postgres row: PostgresRowReader) throws {
        self.init(id: try row("id", as: Int64.self), name: try row("name"), resourceConfigurationArn: try row("resourceConfigurationArn"),
                  partition: try row("partition"), region: try row("region"), accountId: try row("accountId"), port: try row("port"),
                  note: try row("note"), state: try row.value("state"), stateDetail: try row("stateDetail"), hint: try row("hint"),
                  keepEndpoint: try row("keepEndpoint"), resourceShareArn: try row("resourceShareArn"),
                  invitationArn: try row("invitationArn"), createdAt: try row("createdAt"), updatedAt: try row("updatedAt"),
                  stateChangedAt: try row("stateChangedAt"), removedAt: try row("removedAt"),
                  endpointFailures: try row("endpointFailures"), nextEndpointAttemptAt: try row("nextEndpointAttemptAt"))
        probeUser = try row("probeUser")
        probePasswordFile = try row("probePasswordFile")
        probeDatabase = try row("probeDatabase")
        stateActor = try row("stateActor")
    }
}

extension EndpointRecord {
    init(postgres row: PostgresRowReader) throws {
        self.init(id: try row("id", as: Int64.self), customerId: try row("customerId"), region: try row("region"),
                  clientToken: try row("clientToken"), generation: try row("generation"), vpcEndpointId: try row("vpcEndpointId"),
                  state: try row.value("state"), awsState: try row("awsState"), dnsName: try row("dnsName"),
                  lastError: try row("lastError"), createRequest: try row("createRequest"),
                  createAnsweredAt: try row("createAnsweredAt"), lastSeenAt: try row("lastSeenAt"),
                  deleteRequestedAt: try row("deleteRequestedAt"), vpcId: try row("vpcId"),
                  createdAt: try row("createdAt"), updatedAt: try row("updatedAt"))
    }
}

extension CapacityRecord {
    init(postgres row: PostgresRowReader) throws {
        self.init(region: try row("region"), vpcId: try row("vpcId"), position: try row("position"), endpoints: try row("endpoints"),
                  endpointLimit: try row("endpointLimit"), limitSource: try row("limitSource"), fullBecause: try row("fullBecause"),
                  changedAt: try row("changedAt"))
    }
}

extension InvitationRecord {
    init(postgres row: PostgresRowReader) throws {
        self.init(invitationArn: try row("invitationArn"), region: try row("region"), resourceShareArn: try row("resourceShareArn"),
                  resourceShareName: try row("resourceShareName"), senderAccountId: try row("senderAccountId"),
                  status: try row("status"), resources: try row.json("resources"), decision: try row.value("decision"),
                  reason: try row.optionalValue("reason"), acceptClientToken: try row("acceptClientToken"),
                  firstSeen: try row("firstSeen"), lastSeen: try row("lastSeen"), decidedAt: try row("decidedAt"))
    }

    /// The resources as the JSON text both stores keep.
    var resourcesJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(resources)) ?? Data("[]".utf8), as: UTF8.self)
    }
}

extension LifecycleEvent {
    init(postgres row: PostgresRowReader) throws {
        self.init(id: try row("id", as: Int64.self), time: try row("time"), customerId: try row("customerId"),
                  customerName: try row("customerName"), event: try row("event"), fromState: try row.optionalValue("fromState"),
                  toState: try row.optionalValue("toState"), detail: try row("detail"), actor: .daemon)
        actor = try row("actor")
        checkName = try row("checkName")
        verdict = try row.optionalValue("verdict")
        hint = try row("hint")
    }
}

extension ProbeResultRecord {
    init(postgres row: PostgresRowReader) throws {
        self.init(id: try row("id", as: Int64.self), customerId: try row("customerId"), time: try row("time"), ok: try row("ok"),
                  stage: try row.value("stage"), errorKind: try row("errorKind"), error: try row("error"), hint: try row("hint"),
                  latencyMs: try row.json("latencyMs"), vpcEndpointId: try row("vpcEndpointId"), dnsName: try row("dnsName"),
                  port: try row("port"))
    }
}

extension StoredCheck {
    init(postgres row: PostgresRowReader) throws {
        self.init(customerId: try row("customerId"), name: try row("name"), verdict: try row.value("verdict"),
                  detail: try row("detail"), hint: try row("hint"), checkedAt: try row("checkedAt"), changedAt: try row("changedAt"))
    }
}
