import Foundation

/// Who holds the leadership lease in the shared state (PostgreSQL only): the daemon that reconciles and
/// probes. `epoch` grows by one at every change of holder (and when a holder whose lease lapsed claims it
/// again): writes are fenced by it.
public struct LeaderInfo: Sendable, Equatable {
    /// The holder's identity: `host:pid:nonce`, new at every daemon start.
    public var holder: String
    public var host: String
    public var pid: Int
    /// When this epoch began.
    public var since: Date
    public var epoch: Int64
    /// When the lease runs out unless renewed (the database's clock).
    public var expiresAt: Date

    public init(holder: String, host: String, pid: Int, since: Date, epoch: Int64, expiresAt: Date) {
        self.holder = holder
        self.host = host
        self.pid = pid
        self.since = since
        self.epoch = epoch
        self.expiresAt = expiresAt
    }
}

/// A daemon that wants the lease.
public struct LeaseCandidate: Sendable, Equatable {
    public var holder: String
    public var host: String
    public var pid: Int

    public init(holder: String, host: String, pid: Int) {
        self.holder = holder
        self.host = host
        self.pid = pid
    }

    /// This process, with a nonce so that a restarted daemon (same host, a reused pid) is a new holder.
    public static func thisProcess(host: String = ProcessInfo.processInfo.hostName) -> LeaseCandidate {
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        let nonce = String(UInt32.random(in: .min ... .max), radix: 16)
        return LeaseCandidate(holder: "\(host):\(pid):\(nonce)", host: host, pid: pid)
    }
}

/// What a claim on the lease does, decided from the stored lease and the database's clock (pure: the
/// store reads the row under a lock, asks, and writes the answer in the same transaction).
public enum LeaseDecision: Sendable, Equatable {
    /// The candidate holds it (same epoch, not expired): extend it.
    case renew(epoch: Int64)
    /// Nobody holds it, or the holder's lease ran out: the candidate takes it with the next epoch.
    case takeOver(epoch: Int64)
    /// Someone else holds a live lease: stay standby.
    case standby(LeaderInfo)

    /// - Parameters:
    ///   - current: the stored lease (nil: never held); `epoch` is the stored epoch even when nil holder.
    ///   - storedEpoch: the epoch in the row (0 before anyone held it).
    ///   - held: the epoch the candidate believes it holds, if it believes it leads.
    public static func decide(current: LeaderInfo?, storedEpoch: Int64, candidate: LeaseCandidate, held: Int64?, now: Date) -> LeaseDecision {
        guard let current, current.expiresAt > now else { return .takeOver(epoch: storedEpoch + 1) }
        if current.holder == candidate.holder {
            // Ours and alive; the epoch we act under must be the stored one, or our beliefs are of another
            // epoch: start a new one, so that nothing decided under the old one is written.
            return held == current.epoch ? .renew(epoch: current.epoch) : .takeOver(epoch: storedEpoch + 1)
        }
        return .standby(current)
    }
}
