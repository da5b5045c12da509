import ConsumerStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Whether this daemon may act (reconcile, probe, call AWS) now.
///
/// With SQLite it always may (one daemon per file, held by `StateLock`). With PostgreSQL it may only while
/// it holds the lease: from a successful claim until `leaseSeconds` after that claim was sent, by this
/// process's monotonic clock, less a second's margin. The database fences its writes independently
/// (`LeaseFence`); this local bound also stops AWS calls that no write precedes, such as a delete of a
/// generation already marked for deletion.
public final class Leadership: Sendable {
    public enum Role: Sendable, Equatable {
        /// The only daemon (SQLite).
        case solo
        case standby
        case leading(epoch: Int64)
    }

    private struct State {
        var role: Role
        /// When the last successful claim was sent (leading only).
        var claimedAt: ContinuousClock.Instant?
    }

    public let leaseSeconds: Int
    /// This daemon's identity in the lease (empty when solo).
    public let holder: String
    private let state: Mutex<State>

    private init(role: Role, leaseSeconds: Int, holder: String) {
        self.leaseSeconds = leaseSeconds
        self.holder = holder
        state = Mutex(State(role: role, claimedAt: nil))
    }

    /// A daemon alone on its state (SQLite).
    public static var solo: Leadership { Leadership(role: .solo, leaseSeconds: 0, holder: "") }

    /// A daemon that starts as a standby and claims the lease (PostgreSQL).
    public static func standby(leaseSeconds: Int, holder: String) -> Leadership {
        Leadership(role: .standby, leaseSeconds: leaseSeconds, holder: holder)
    }

    /// The fence a pass or sweep starting now carries (nil when solo or standing by): its writes are
    /// refused once this epoch is over, even if this daemon leads again under a newer one.
    public var fence: LeaseFence? {
        heldEpoch.map { LeaseFence(holder: holder, epoch: $0) }
    }

    /// How long this daemon may still act: nil when solo (no limit), zero or less when it may not.
    public var remaining: Duration? {
        state.withLock { state in
            switch state.role {
            case .solo: return nil
            case .standby: return .zero
            case .leading(let epoch):
                if let current = LeaseFence.current, current.epoch != epoch { return .zero }
                guard let claimedAt = state.claimedAt else { return .zero }
                return claimedAt + .seconds(leaseSeconds) - .seconds(1) - ContinuousClock.now
            }
        }
    }

    public var role: Role { state.withLock { $0.role } }

    /// The epoch this daemon believes it leads, if it does.
    public var heldEpoch: Int64? {
        if case .leading(let epoch) = role { return epoch }
        return nil
    }

    /// Whether this daemon may act now (for the work of the current task's fence, when it carries one).
    public var mayAct: Bool {
        guard let remaining else { return true }
        return remaining > .zero
    }

    /// A claim sent at `sentAt` made or kept this daemon the leader of `epoch`. Returns whether it just became leader.
    @discardableResult
    func lead(epoch: Int64, claimSentAt sentAt: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            let was = state.role
            state.role = .leading(epoch: epoch)
            state.claimedAt = sentAt
            return was != .leading(epoch: epoch)
        }
    }

    /// Another daemon leads, or the lease ran out. Returns whether this daemon was leading until now.
    @discardableResult
    func standBy() -> Bool {
        state.withLock { state in
            defer { state.role = .standby; state.claimedAt = nil }
            if case .leading = state.role { return true }
            return false
        }
    }

    /// The lease could not be renewed (the database did not answer): stand down once it has run out.
    /// Returns whether this daemon stood down now.
    func standDownIfLapsed() -> Bool {
        guard heldEpoch != nil, !mayAct else { return false }
        return standBy()
    }
}

/// Claims and renews the lease every third of its length (a standby takes over within the lease plus that),
/// reports what changed (one log line per change, the health log, metrics), and gives the lease up at
/// shutdown so that a standby takes over at once.
struct LeadershipService: Service {
    let store: PostgresStore
    let leadership: Leadership
    let candidate: LeaseCandidate
    let metrics: DaemonMetrics?
    let logger: Logger

    var interval: Duration { .milliseconds(max(500, leadership.leaseSeconds * 1000 / 3)) }

    func run() async throws {
        metrics?.recordLeader(false)
        do {
            try await cancelWhenGracefulShutdown {
                var databaseUp: Bool?
                while !Task.isCancelled {
                    // Claims keep their rhythm however long one takes; a failed one is tried again soon.
                    let sentAt = ContinuousClock.now
                    let result = try await claim(databaseWasUp: databaseUp)
                    databaseUp = result != .unavailable
                    try await Task.sleep(until: result == .answered ? sentAt + interval
                                                                    : min(sentAt + interval, ContinuousClock.now + .milliseconds(500)))
                }
            }
        } catch is CancellationError {}
        await release()
    }

    /// Gives the lease up (shutdown, or the end of `run --once`) so that a standby takes over at once.
    func release() async {
        guard let epoch = leadership.heldEpoch else { return }
        leadership.standBy()
        do {
            try await store.releaseLeadership(LeaseFence(holder: candidate.holder, epoch: epoch))
            logger.notice("leadership released at shutdown", metadata: ["epoch": "\(epoch)"])
        } catch {
            logger.warning("could not release the leadership lease at shutdown; a standby takes over when it runs out",
                           metadata: ["error": "\(error)"])
        }
    }

    /// Why `run --once` did nothing: the lease could not be had.
    enum OnceRefusal: Error {
        case busy
        case unavailable
        case anotherLeader(LeaderInfo?)
    }

    /// `run --once` as the active daemon, through the same claims as the service: claims the lease (never
    /// beside a running daemon), renews it on the service's rhythm while `work` runs under its fence, and
    /// gives it up afterwards (after any claim in flight, which would otherwise take it back).
    func holding<T: Sendable>(_ work: @Sendable (LeaseFence) async throws -> T) async throws -> T {
        switch try await claim(databaseWasUp: nil) {
        case .answered: break
        case .busy: throw OnceRefusal.busy
        case .unavailable: throw OnceRefusal.unavailable
        }
        guard let epoch = leadership.heldEpoch else { throw OnceRefusal.anotherLeader(try? await store.leader()) }
        let fence = LeaseFence(holder: candidate.holder, epoch: epoch)
        let renewal = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                _ = try? await claim(databaseWasUp: true)
            }
        }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await LeaseFence.$current.withValue(fence) { try await work(fence) })
        } catch {
            outcome = .failure(error)
        }
        renewal.cancel()
        await renewal.value
        await release()
        return try outcome.get()
    }

    enum ClaimResult: Equatable {
        /// The database answered: this daemon leads or stands by, as it said.
        case answered
        /// The lease row was held by a write in flight: nothing decided, try again soon.
        case busy
        /// The database did not answer.
        case unavailable
    }

    /// One claim. Throws only for a state this build cannot use (written by a newer build, or damaged):
    /// retrying would not help.
    func claim(databaseWasUp: Bool?) async throws -> ClaimResult {
        let sentAt = ContinuousClock.now
        do {
            let claim = try await store.claimLeadership(candidate, held: leadership.heldEpoch, leaseSeconds: leadership.leaseSeconds)
            if databaseWasUp == false {
                logger.notice("state database answers again", metadata: ["state": "\(store.location)"])
            }
            metrics?.recordStateDatabase(up: true)
            switch claim {
            case .leading(let info, let tookOver, let previous):
                store.setFence(LeaseFence(holder: candidate.holder, epoch: info.epoch))
                if leadership.lead(epoch: info.epoch, claimSentAt: sentAt) {
                    await becameLeader(info, tookOver: tookOver, previous: previous)
                }
            case .standby(let leader):
                if leadership.standBy() {
                    logger.warning("stood down: another daemon holds the leadership lease", metadata: [
                        "leader.host": "\(leader.host)", "leader.pid": "\(leader.pid)", "epoch": "\(leader.epoch)"])
                    metrics?.recordLeader(false)
                    metrics?.recordLeadershipChange()
                }
                metrics?.recordStandbyCheck(at: Date())
            }
            return .answered
        } catch let error as StoreError where error.code == .newerSchema || error.code == .corrupt {
            // Not a database that is away: one this build cannot work with. Say so and stop.
            throw error
        } catch let error as StoreError where error.code == .busy {
            // The database answers; the lease row is locked by a write in flight (the active daemon's, or a
            // frozen one's, which the server ends within half a lease). Try again at the next claim.
            logger.debug("lease row busy; claiming again shortly", metadata: ["error": "\(error)"])
            if leadership.standDownIfLapsed() {
                logger.warning("stood down: the leadership lease ran out without renewal", metadata: ["state": "\(store.location)"])
                metrics?.recordLeader(false)
                metrics?.recordLeadershipChange()
            }
            return .busy
        } catch {
            if databaseWasUp != false {
                logger.error("state database unavailable; standing by and retrying", metadata: [
                    "state": "\(store.location)", "error": "\(error)"])
            } else {
                logger.debug("state database still unavailable", metadata: ["error": "\(error)"])
            }
            metrics?.recordStateDatabase(up: false)
            if leadership.standDownIfLapsed() {
                logger.warning("stood down: the leadership lease ran out without renewal", metadata: ["state": "\(store.location)"])
                metrics?.recordLeader(false)
                metrics?.recordLeadershipChange()
            }
            return .unavailable
        }
    }

    private func becameLeader(_ info: LeaderInfo, tookOver: Bool, previous: LeaderInfo?) async {
        var metadata: Logger.Metadata = ["epoch": "\(info.epoch)", "lease_s": "\(leadership.leaseSeconds)"]
        var detail = "\(info.host) pid \(info.pid) is the active daemon (epoch \(info.epoch))"
        if let previous, previous.holder == candidate.holder {
            detail += "; this daemon's own lease (epoch \(previous.epoch)) had run out: a new epoch, nothing of the old one is written"
        } else if let previous {
            metadata["previous.host"] = "\(previous.host)"
            metadata["previous.pid"] = "\(previous.pid)"
            detail += "; took over from \(previous.host) pid \(previous.pid) (epoch \(previous.epoch)), whose lease ran out"
        }
        logger.notice("leading: this daemon holds the leadership lease", metadata: metadata)
        metrics?.recordLeader(true)
        metrics?.recordLeadershipChange()
        // Written beside the claims, never in their way (a busy store must not delay the next renewal).
        Task { [store, logger] in
            do {
                try await store.noteLeadership("leader_acquired", detail: detail)
            } catch {
                logger.warning("could not record the leadership change in the state", metadata: ["error": "\(error)"])
            }
        }
    }
}
