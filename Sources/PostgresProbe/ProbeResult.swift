import NIOCore

/// The outcome of one probe.
public struct ProbeResult: Sendable, Hashable {
    /// Whether every attempted stage passed.
    public var ok: Bool
    /// The last stage attempted: where it failed, or the last one that passed.
    public var stage: ProbeStage
    /// Why the probe stopped; `nil` when `ok`.
    public var failure: ProbeFailure?
    /// Milliseconds spent in each stage attempted, including the one that failed.
    public var latencyMs: [ProbeStage: Double]
    /// The addresses the name resolved to, in the resolver's order (e.g. "10.0.1.7"). Written as text only when
    /// read: a sweep never reads them, and formatting them was a few percent of a probe's own cost.
    public var addresses: [String] { resolved.map { $0.ipAddress ?? "\($0)" } }
    /// The addresses as the resolver gave them.
    var resolved: [SocketAddress]
    /// Whether PostgreSQL offered TLS (answered `S`); `nil` before it answered.
    public var sslOffered: Bool?
    /// `server_version` as reported after login; `nil` without a login.
    public var serverVersion: String?

    /// A result with the given fields; the prober builds these.
    public init(ok: Bool, stage: ProbeStage, failure: ProbeFailure? = nil, latencyMs: [ProbeStage: Double] = [:],
                sslOffered: Bool? = nil, serverVersion: String? = nil) {
        self.ok = ok
        self.stage = stage
        self.failure = failure
        self.latencyMs = latencyMs
        resolved = []
        self.sslOffered = sslOffered
        self.serverVersion = serverVersion
    }

    /// `latencyMs` keyed by `ProbeStage.rawValue`, the shape the store and the health log keep.
    public var latencyMsByStageName: [String: Double] {
        Dictionary(uniqueKeysWithValues: latencyMs.map { ($0.key.rawValue, $0.value) })
    }
}
