/// Why the metrics server could not serve.
public struct MetricsServerError: Error, CustomStringConvertible {
    /// What went wrong, extensible without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        /// The configured `metrics.listen` address could not be bound (in use, not local, not permitted).
        public static let bindFailed = Code(name: "bindFailed")
        public var description: String { name }
    }

    public var code: Code
    /// `host:port` as configured (`metrics.listen`).
    public var address: String
    /// The system's reason.
    public var underlying: any Error

    public var description: String {
        switch code {
        case .bindFailed:
            "metrics.listen: cannot listen on \(address): \(underlying); "
                + "choose a free local address and port, or stop the process using it"
        default:
            "metrics server \(address): \(code): \(underlying)"
        }
    }
}
