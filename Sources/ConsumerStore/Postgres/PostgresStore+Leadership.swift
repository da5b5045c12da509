import Foundation
import PostgresNIO

/// The fence a leading daemon's writes carry: the store refuses any write unless this holder still holds
/// a live lease of this epoch (checked inside the write's own transaction, the lease row locked for share,
/// so a takeover waits for writes in flight and every write after it is refused).
public struct LeaseFence: Sendable, Equatable {
    public var holder: String
    public var epoch: Int64

    /// The fence of the work the current task does (a pass, a sweep): its writes carry the epoch they were
    /// decided under, not the store's latest, so that work begun under an epoch this daemon lost writes
    /// nothing even after it leads again with a newer one.
    @TaskLocal public static var current: LeaseFence?

    public init(holder: String, epoch: Int64) {
        self.holder = holder
        self.epoch = epoch
    }
}

/// The answer to a claim on the lease.
public enum LeaseClaim: Sendable, Equatable {
    /// The candidate leads; `previous` is the holder it took over from (nil on a renewal or a free lease).
    case leading(LeaderInfo, tookOver: Bool, previous: LeaderInfo?)
    /// Another daemon leads.
    case standby(LeaderInfo)
}

extension PostgresStore {
    /// Sets (leading) or changes the fence every later write must pass. A daemon that lost the lease keeps
    /// its old fence: its writes keep being refused.
    public func setFence(_ fence: LeaseFence?) {
        self.fence.withLock { $0 = fence }
        word.withLock { $0.forget() }
    }

    /// Renews the candidate's lease, or takes a free or lapsed one with the next epoch, or reports who leads.
    /// One transaction on the database's clock (`clock_timestamp()`), the lease row locked for update.
    public func claimLeadership(_ candidate: LeaseCandidate, held: Int64?, leaseSeconds: Int) async throws -> LeaseClaim {
        try await ensureSchema()
        let lease = Double(leaseSeconds)
        return try await leasePool.withConnection { connection in
            try await PostgresTransaction.run(on: connection, logger: logger) { connection in
                let session = Session(connection: connection, logger: logger)
                // A write in flight holds the row for share; a frozen one is ended by the server within half a lease.
                // Half the claim's deadline: a claim blocked on the row says "busy", not "unavailable".
                let lockTimeout = Self.claimDeadline(leaseSeconds: leaseSeconds) / 2
                try await session.run(StoreQuery(unsafeSQL: "SET LOCAL lock_timeout = '\(Int(lockTimeout / .milliseconds(1)))ms'"))
                guard let row = try await session.one("""
                    SELECT epoch, holder, host, pid, since, expiresAt, clock_timestamp() AS now FROM leader WHERE singleton FOR UPDATE
                    """, { row in (epoch: try row("epoch", as: Int64.self), info: try LeaderInfo(postgresLease: row),
                                   now: try row("now", as: Date.self)) }) else {
                    throw StoreError(.corrupt, "state database \(location): the leader row is missing")
                }
                switch LeaseDecision.decide(current: row.info, storedEpoch: row.epoch, candidate: candidate, held: held, now: row.now) {
                case .standby(let leader):
                    return .standby(leader)
                case .renew(let epoch):
                    let renewed = try await session.one("""
                        UPDATE leader SET renewedAt = clock_timestamp(), expiresAt = clock_timestamp() + make_interval(secs => \(lease))
                        WHERE singleton AND epoch = \(epoch) RETURNING *
                        """, LeaderInfo.init(postgresLease:))
                    guard let renewed = renewed ?? nil else { throw StoreError(.corrupt, "state database \(location): the lease did not renew") }
                    return .leading(renewed, tookOver: false, previous: nil)
                case .takeOver(let epoch):
                    let taken = try await session.one("""
                        UPDATE leader SET epoch = \(epoch), holder = \(candidate.holder), host = \(candidate.host), pid = \(candidate.pid),
                            since = clock_timestamp(), renewedAt = clock_timestamp(), expiresAt = clock_timestamp() + make_interval(secs => \(lease))
                        WHERE singleton RETURNING *
                        """, LeaderInfo.init(postgresLease:))
                    guard let taken = taken ?? nil else { throw StoreError(.corrupt, "state database \(location): the lease was not taken") }
                    return .leading(taken, tookOver: true, previous: row.info)
                }
            }
        }
    }

    /// Gives the lease up (a daemon stopping): a standby takes over at its next attempt instead of after
    /// the lease runs out. Only the holder of `epoch` can.
    public func releaseLeadership(_ fence: LeaseFence) async throws {
        // Forgotten before and after: a write in flight during the release may have heard the lease still held.
        word.withLock { $0.forget() }
        defer { word.withLock { $0.forget() } }
        try await ensureSchema()
        try await leasePool.withConnection { connection in
            try await connection.statement("""
                UPDATE leader SET holder = NULL, host = NULL, pid = NULL, since = NULL, renewedAt = NULL, expiresAt = NULL
                WHERE singleton AND holder = \(fence.holder) AND epoch = \(fence.epoch)
                """, logger: logger)
        }
    }

    /// Confirms, right before an AWS call that changes something, that the fence still holds in the database
    /// (its clock, not ours, decides when a lease runs out). Throws `fenced` when it does not.
    ///
    /// The database's word from the last 100 ms (`LeaseWord.reuse`) is taken as it is when it said the lease
    /// had at least that long left (so it still holds now, by the database's own rule: no takeover before the
    /// lease runs out): the write that precedes every such call (the accept's ClientToken, the new generation)
    /// asked it in its first statement, a millisecond before. Otherwise the database is asked again.
    public func confirmLease() async throws {
        guard let fence = LeaseFence.current ?? fence.withLock({ $0 }) else { return }
        let asked = ContinuousClock.now
        if word.withLock({ $0.holds(fence, at: asked) }) { return }
        let reuse = word.withLock { $0.reuseSeconds }
        let lease = try await read { session in
            try await session.one("""
                SELECT expiresAt > clock_timestamp() + make_interval(secs => \(reuse)) AS spare FROM leader
                WHERE singleton AND holder = \(fence.holder) AND epoch = \(fence.epoch) AND expiresAt > clock_timestamp()
                """) { row in try row("spare", as: Bool?.self) ?? false }
        }
        guard let spare = lease else {
            word.withLock { $0.refused(asked: asked) }
            throw StoreError(.fenced, "state database \(location): this daemon no longer holds the leadership lease (epoch \(fence.epoch)); nothing was done")
        }
        word.withLock { $0.heard(fence, asked: asked, spare: spare) }
    }

    /// A leadership change for the health log (written by the new leader, fenced like any of its writes).
    public func noteLeadership(_ event: String, detail: String) async throws {
        let time = now().storedPrecision
        try await write { session in
            try await session.insert(LifecycleEvent(time: time, customerId: nil, customerName: nil, event: event,
                                                    fromState: nil, toState: nil, detail: detail, actor: .daemon))
        }
    }

    public func leader() async throws -> LeaderInfo? {
        try await read { session in
            let info = try await session.one("""
                SELECT * FROM leader WHERE singleton AND holder IS NOT NULL AND expiresAt > clock_timestamp()
                """, LeaderInfo.init(postgresLease:))
            return info ?? nil
        }
    }
}

extension LeaderInfo {
    /// nil when nobody holds the lease.
    init?(postgresLease row: PostgresRowReader) throws {
        guard let holder: String = try row("holder") else { return nil }
        self.init(holder: holder, host: try row("host", as: String?.self) ?? "?", pid: Int(try row("pid", as: Int32?.self) ?? 0),
                  since: try row("since", as: Date?.self) ?? .distantPast, epoch: try row("epoch"),
                  expiresAt: try row("expiresAt", as: Date?.self) ?? .distantPast)
    }
}

/// The database's latest word on this daemon's lease, for `confirmLease`: a "yes" asked at an instant, kept only
/// when the lease had `reuse` left then (so it still holds for that long), never older than a "no" (an answer
/// that arrives after a refusal asked later is dropped), and forgotten when the fence changes or the lease is
/// given up.
struct LeaseWord {
    /// How old the word may be for `confirmLease` to take it instead of asking again, and how long the lease must
    /// have had left for the word to be kept: far below any lease (seconds), about one write's time.
    let reuse: Duration
    private var fence: LeaseFence?
    private var asked: ContinuousClock.Instant?
    private var refusedAt: ContinuousClock.Instant?

    init(reuse: Duration = .milliseconds(100)) {
        self.reuse = reuse
    }

    var reuseSeconds: Double { reuse / .seconds(1) }

    mutating func heard(_ fence: LeaseFence, asked: ContinuousClock.Instant, spare: Bool) {
        guard spare, refusedAt.map({ asked > $0 }) ?? true, self.asked.map({ asked > $0 }) ?? true else { return }
        self.fence = fence
        self.asked = asked
    }

    mutating func refused(asked: ContinuousClock.Instant) {
        fence = nil
        self.asked = nil
        refusedAt = max(refusedAt ?? asked, asked)
    }

    mutating func forget() {
        self = LeaseWord(reuse: reuse)
    }

    func holds(_ fence: LeaseFence, at now: ContinuousClock.Instant) -> Bool {
        guard self.fence == fence, let asked else { return false }
        return now - asked < reuse
    }
}
