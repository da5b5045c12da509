import NIOCore

/// Resolves a DNS name to socket addresses. Injected so that tests can stand in a resolver that hangs or
/// fails; production uses ``SystemResolver``.
public protocol HostResolver: Sendable {
    /// The addresses of `host`, each with `port` set. Implementations should give up after `timeout`;
    /// the prober enforces it regardless, so a resolver that ignores it cannot delay a probe.
    func resolve(host: String, port: Int, timeout: Duration) async throws(ResolveError) -> [SocketAddress]
}

/// Why a name did not resolve.
public struct ResolveError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The failure class.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        /// The stable name, e.g. `noSuchName`.
        public var description: String { name }

        /// The name does not exist (NXDOMAIN).
        public static let noSuchName = Self("noSuchName")
        /// The name exists but has no usable address records.
        public static let noAnswer = Self("noAnswer")
        /// The resolver did not answer in time, or reported a temporary failure.
        public static let timeout = Self("timeout")
        /// Anything else.
        public static let failed = Self("failed")
    }

    /// The failure class.
    public var code: Code
    /// What the resolver said, e.g. "Name or service not known".
    public var message: String

    /// A failure of class `code`, described by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// "ResolveError(code: message)".
    public var description: String { "ResolveError(\(code): \(message))" }
}
