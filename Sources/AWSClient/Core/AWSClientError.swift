/// A failed AWS call, with everything on-call needs to act on it: service, operation, HTTP status,
/// AWS's error code and message, and the request id to quote to AWS support.
public struct AWSClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Opaque so that new kinds of failure do not break callers.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        public var description: String { rawValue }
        /// AWS answered with an error (`code` holds AWS's code when the body had one).
        public static let service = Kind(rawValue: "service")
        /// No TCP connection, a reset, or a timeout: AWS's answer, if any, never arrived.
        public static let transport = Kind(rawValue: "transport")
        /// The request timed out.
        public static let timeout = Kind(rawValue: "timeout")
        /// A 2xx answer whose body is malformed, truncated or not the expected shape.
        public static let malformedResponse = Kind(rawValue: "malformed_response")
        /// The answer was larger than the client accepts.
        public static let responseTooLarge = Kind(rawValue: "response_too_large")
        /// No credential source produced credentials.
        public static let noCredentials = Kind(rawValue: "no_credentials")
        /// A credential source is configured but failed.
        public static let credentials = Kind(rawValue: "credentials")
        /// The environment or arguments are wrong (endpoint override, region).
        public static let invalidConfiguration = Kind(rawValue: "invalid_configuration")
        /// The caller's task was cancelled (shutdown) before an answer arrived.
        public static let cancelled = Kind(rawValue: "cancelled")
        /// The retry budget is spent: retries were refused to stop a retry storm.
        public static let retryQuotaExceeded = Kind(rawValue: "retry_quota_exceeded")
    }

    public var kind: Kind
    public var service: String
    public var operation: String?
    public var httpStatus: Int?
    /// AWS's error code, e.g. `ThrottlingException`, `InvalidVpcEndpointId.NotFound`.
    public var code: String?
    public var message: String
    public var requestId: String?
    /// How many attempts were made.
    public var attempts: Int

    public init(_ kind: Kind, service: String, operation: String?, httpStatus: Int? = nil, code: String? = nil,
                message: String, requestId: String? = nil, attempts: Int = 1) {
        self.kind = kind
        self.service = service
        self.operation = operation
        self.httpStatus = httpStatus
        self.code = code
        self.message = message
        self.requestId = requestId
        self.attempts = attempts
    }

    /// One line: `ram AcceptResourceShareInvitation: ThrottlingException: Rate exceeded (HTTP 429, request id …, 3 attempts)`.
    public var description: String {
        var text = service
        if let operation { text += " \(operation)" }
        text += ": "
        if let code { text += "\(code): " }
        text += message
        var details: [String] = []
        if let httpStatus { details.append("HTTP \(httpStatus)") }
        if let requestId { details.append("request id \(requestId)") }
        if attempts > 1 { details.append("\(attempts) attempts") }
        if !details.isEmpty { text += " (\(details.joined(separator: ", ")))" }
        return text
    }

    /// Whether AWS answered with `code`.
    public func isCode(_ code: String) -> Bool { self.code == code }
}
