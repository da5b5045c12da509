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
    /// The addresses the name resolved to, in the resolver's order (e.g. "10.0.1.7").
    public var addresses: [String]
    /// Whether PostgreSQL offered TLS (answered `S`); `nil` before it answered.
    public var sslOffered: Bool?
    /// `server_version` as reported after login; `nil` without a login.
    public var serverVersion: String?

    /// A result with the given fields; the prober builds these.
    public init(ok: Bool, stage: ProbeStage, failure: ProbeFailure? = nil, latencyMs: [ProbeStage: Double] = [:],
                addresses: [String] = [], sslOffered: Bool? = nil, serverVersion: String? = nil) {
        self.ok = ok
        self.stage = stage
        self.failure = failure
        self.latencyMs = latencyMs
        self.addresses = addresses
        self.sslOffered = sslOffered
        self.serverVersion = serverVersion
    }

    /// `latencyMs` keyed by `ProbeStage.rawValue`, the shape the store and the health log keep.
    public var latencyMsByStageName: [String: Double] {
        Dictionary(uniqueKeysWithValues: latencyMs.map { ($0.key.rawValue, $0.value) })
    }
}
