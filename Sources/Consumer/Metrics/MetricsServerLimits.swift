/// What one peer of the metrics listener may hold: the port may be reachable by more than Prometheus, and
/// the daemon's file limit is shared with every probe and AWS call.
public struct MetricsServerLimits: Sendable, Equatable {
    /// A connection that has not sent a complete request this long after it opened, or after the first
    /// byte of its next request, is closed. Bytes trickling in do not extend it. A response not taken by
    /// the peer within as long is given up too (the peer stopped reading).
    public var requestTimeout: Duration
    /// A keep-alive connection with no request in progress is closed after this long.
    public var idleTimeout: Duration
    /// A request head (request line and headers) longer than this is answered 431 and closed.
    public var maxHeadBytes: Int
    /// Connections open at once. One more makes room by closing the oldest that has not completed the
    /// request it is reading (else the oldest idle one; else the newcomer is refused).
    public var maxConnections: Int

    public static let standard = MetricsServerLimits(requestTimeout: .seconds(10), idleTimeout: .seconds(60),
                                                     maxHeadBytes: 16 * 1024, maxConnections: 128)

    public init(requestTimeout: Duration, idleTimeout: Duration, maxHeadBytes: Int, maxConnections: Int) {
        precondition(maxConnections > 0 && maxHeadBytes > 0, "metrics server limits must be positive")
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.maxHeadBytes = maxHeadBytes
        self.maxConnections = maxConnections
    }
}

/// Why the metrics listener closed a connection on its own (the label of
/// `privatelink_consumer_metrics_connections_closed_total`).
public enum MetricsConnectionClose: String, Sendable, CaseIterable {
    /// Closed to make room for a newer connection.
    case evicted
    /// No complete request within the request timeout.
    case requestTimeout = "request_timeout"
    /// The peer did not take its response within the request timeout.
    case responseTimeout = "response_timeout"
    /// Kept alive without a request for the idle timeout.
    case idleTimeout = "idle_timeout"
    /// A request head over the limit: answered 431.
    case headTooLarge = "head_too_large"
    /// Refused on arrival: every open connection was busy answering.
    case refused
}
