import Logging
import Synchronization

/// Failures of background work that does not stop the daemon but must never pass unseen: the first
/// occurrence, and any change of its message, is a warning; repeats of the same message are debug lines;
/// the recovery is a notice. Every occurrence counts in
/// `privatelink_consumer_background_failures_total{failure}`, and
/// `privatelink_consumer_background_failing{failure}` is 1 while it lasts.
public final class BackgroundFailures: Sendable {
    /// What failed (the metric's label).
    public enum Kind: String, Sendable, CaseIterable {
        /// STS GetCallerIdentity: our own account id is unknown.
        case stsIdentity = "sts_identity"
        /// Reading the registry version: the CLI's registrations wait for the next poll.
        case registryVersion = "registry_version"
        /// Reading the state for the customer metrics: they show the last pass that could.
        case metricsRefresh = "metrics_refresh"
        /// A ready customer the prober cannot be given (no id, no live endpoint, no DNS name).
        case probeTarget = "probe_target"
    }

    private let current = Mutex<[Kind: String]>([:])
    private let metrics: DaemonMetrics?
    private let logger: Logger

    public init(metrics: DaemonMetrics?, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// `kind` failed with `message` (which names the consequence and the fix; no secrets).
    public func failed(_ kind: Kind, _ message: String, metadata: Logger.Metadata = [:]) {
        // The gauge is set under the lock, so that it always agrees with what is remembered.
        let changed = current.withLock { current in
            defer { current[kind] = message }
            metrics?.recordBackgroundFailure(kind, failing: true)
            return current[kind] != message
        }
        var metadata = metadata
        metadata["failure"] = "\(kind.rawValue)"
        logger.log(level: changed ? .warning : .debug, "\(message)", metadata: metadata)
    }

    /// `kind` worked: if it was failing, that ends (one notice).
    public func succeeded(_ kind: Kind) {
        let was = current.withLock { current in
            let was = current.removeValue(forKey: kind)
            if was != nil { metrics?.recordBackgroundFailure(kind, failing: false) }
            return was
        }
        guard was != nil else { return }
        logger.notice("recovered", metadata: ["failure": "\(kind.rawValue)"])
    }

    /// This daemon stops doing the work (it stands by): nothing it no longer tries can be failing.
    public func standDown() {
        let cleared = current.withLock { current in
            let kinds = Array(current.keys)
            for kind in kinds { metrics?.recordBackgroundFailure(kind, failing: false) }
            current.removeAll()
            return kinds
        }
        if !cleared.isEmpty {
            logger.info("standing by: background failures no longer tried",
                        metadata: ["failures": "\(cleared.map(\.rawValue).sorted().joined(separator: ","))"])
        }
    }

    /// The message of `kind`'s current failure; nil while it works.
    public func failure(_ kind: Kind) -> String? {
        current.withLock { $0[kind] }
    }
}
