/// Why `LoopbackHTTPServer` could not start.
public struct LoopbackHTTPServerError: Error, Hashable, CustomStringConvertible {
    /// The kind of failure; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case nonLoopbackHost
        }

        private let base: Base

        /// The host is not 127.0.0.0/8, ::1 or "localhost".
        public static let nonLoopbackHost = Code(base: .nonLoopbackHost)

        /// The code's name.
        public var description: String {
            switch self.base {
            case .nonLoopbackHost: "nonLoopbackHost"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// The host the caller asked for.
    public var host: String

    /// A message naming the host and the fix.
    public var description: String {
        switch self.code {
        case .nonLoopbackHost:
            "LoopbackHTTPServer refuses to listen on '\(self.host)': use 127.0.0.1 (or another 127.0.0.0/8 address), ::1 or localhost"
        default:
            "LoopbackHTTPServer failed for host '\(self.host)': \(self.code)"
        }
    }
}
