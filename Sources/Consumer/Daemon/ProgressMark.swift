import Synchronization

/// When the daemon last made progress (an action done, a region observed, a pass finished, a wait for
/// the next pass ticking): the watchdog pings systemd only while it is recent, so a pass stuck in a call
/// that never answers gets the daemon restarted instead of pinging on forever.
public final class ProgressMark: Sendable {
    private let last: Mutex<ContinuousClock.Instant>

    public init() {
        last = Mutex(ContinuousClock.now)
    }

    public func mark() {
        last.withLock { $0 = ContinuousClock.now }
    }

    /// Whether progress was made within `window`.
    public func isRecent(within window: Duration) -> Bool {
        ContinuousClock.now - last.withLock { $0 } < window
    }
}
