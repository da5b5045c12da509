import Foundation
import Synchronization

/// Paces CreateVpcEndpoint/DeleteVpcEndpoints calls to EC2's token bucket for them (capacity 4,
/// refill 0.3 per second), so that onboarding many customers never trips RequestLimitExceeded.
public final class MutationPacer: Sendable {
    public let capacity: Double
    public let refillPerSecond: Double
    let now: @Sendable () -> Date
    private let state: Mutex<(tokens: Double, updated: Date)>

    /// `refillPerSecond: .infinity` switches pacing off (the benchmark's onboarding run).
    public init(capacity: Double = 4, refillPerSecond: Double = 0.3, now: @escaping @Sendable () -> Date = { Date() }) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.now = now
        state = Mutex((capacity, now()))
    }

    public static let unpaced = MutationPacer(capacity: .infinity, refillPerSecond: .infinity)

    /// Takes a token, or says how long until one is available.
    public func tryAcquire() -> Duration? {
        guard refillPerSecond.isFinite else { return nil }
        let time = now()
        return state.withLock { state -> Duration? in
            state.tokens = min(capacity, state.tokens + time.timeIntervalSince(state.updated) * refillPerSecond)
            state.updated = time
            if state.tokens >= 1 {
                state.tokens -= 1
                return nil
            }
            return .milliseconds(Int64(((1 - state.tokens) / refillPerSecond * 1000).rounded(.up)))
        }
    }

    /// Waits for a token when one comes within `maxWait`; false when it would take longer.
    public func acquire(maxWait: Duration) async throws -> Bool {
        while let wait = tryAcquire() {
            guard wait <= maxWait else { return false }
            try await Task.sleep(for: wait)
        }
        return true
    }
}
