import Synchronization

/// The AWS SDKs' "standard" retry mode as pure decisions: what to retry, how long to wait.
public struct RetryPolicy: Sendable, Equatable {
    /// Total attempts including the first (`AWS_MAX_ATTEMPTS`, default 3).
    public var maxAttempts: Int
    /// Upper bound of one backoff, in seconds.
    public var maxBackoffSeconds: Double

    public init(maxAttempts: Int = 3, maxBackoffSeconds: Double = 20) {
        self.maxAttempts = max(1, maxAttempts)
        self.maxBackoffSeconds = maxBackoffSeconds
    }

    /// Reads `AWS_MAX_ATTEMPTS`; an unusable value is refused rather than silently ignored.
    public static func fromEnvironment(_ environment: [String: String]) throws(AWSClientError) -> RetryPolicy {
        guard let text = environment["AWS_MAX_ATTEMPTS"], !text.isEmpty else { return RetryPolicy() }
        guard let attempts = Int(text), (1...20).contains(attempts) else {
            throw AWSClientError(.invalidConfiguration, service: "aws", operation: nil,
                                 message: "AWS_MAX_ATTEMPTS=\(text) is not a whole number from 1 to 20")
        }
        return RetryPolicy(maxAttempts: attempts)
    }

    /// How a failed attempt is treated.
    public enum Classification: Sendable, Equatable {
        /// AWS asked us to slow down.
        case throttling
        /// A server-side or transient fault worth another try.
        case transient
        /// No answer in time; costs more retry budget.
        case timeout
        /// Retrying cannot help (the request itself is wrong, or access is denied).
        case fatal
    }

    /// Throttling codes across services (botocore's standard retry mode list).
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    ]

    /// Transient codes that are retried whatever the status.
    public static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "InternalError", "InternalFailure",
        "ServiceUnavailable", "ServiceUnavailableException", "ServerInternalException", "Unavailable",
    ]

    public static let transientStatuses: Set<Int> = [500, 502, 503, 504]

    /// Classifies an AWS error answer.
    public static func classify(status: Int, code: String?) -> Classification {
        if let code, throttlingCodes.contains(code) { return .throttling }
        if status == 429 { return .throttling }
        if let code, transientCodes.contains(code) { return .transient }
        if transientStatuses.contains(status) { return .transient }
        return .fatal
    }

    /// Classifies a transport failure: no answer arrived.
    public static func classify(_ error: TransportError) -> Classification {
        switch error.kind {
        case .timeout: .timeout
        case .connect, .connectionLost: .transient
        case .responseTooLarge, .invalidRequest: .fatal
        }
    }

    /// Full-jitter exponential backoff before attempt `attempt + 1` (attempt counts from 1):
    /// `random × min(2^(attempt-1), maxBackoff)` seconds, `random` in [0, 1).
    public func backoff(afterAttempt attempt: Int, random: Double) -> Duration {
        let ceiling = min(pow2(attempt - 1), maxBackoffSeconds)
        return .milliseconds(Int64((random * ceiling * 1000).rounded()))
    }

    private func pow2(_ exponent: Int) -> Double {
        exponent >= 62 ? .greatestFiniteMagnitude : Double(1 << max(0, exponent))
    }
}

/// The retry quota shared by all calls of one client: retries spend tokens, successes return them,
/// so that a failing service is not hit with a storm of retries.
public final class RetryTokenBucket: Sendable {
    public static let capacity = 500
    public static let retryCost = 5
    public static let timeoutCost = 10
    static let successIncrement = 1

    private let tokens: Mutex<Int>

    public init(tokens: Int = RetryTokenBucket.capacity) {
        self.tokens = Mutex(tokens)
    }

    /// The tokens left.
    public var available: Int { tokens.withLock { $0 } }

    /// Takes the cost of one retry, or returns nil when the quota is spent.
    public func acquire(for classification: RetryPolicy.Classification) -> Int? {
        let cost = classification == .timeout ? Self.timeoutCost : Self.retryCost
        return tokens.withLock { value in
            guard value >= cost else { return nil }
            value -= cost
            return cost
        }
    }

    /// Returns the cost of a retry that succeeded, or a small increment for a first-try success.
    public func release(retryCost: Int?) {
        tokens.withLock { value in
            value = min(Self.capacity, value + (retryCost ?? Self.successIncrement))
        }
    }
}

extension AWSClientError {
    /// AWS answered and refused the request itself (a 4xx that is neither throttling nor transient):
    /// asking again cannot help. Throttling, 5xx and lost answers are not refusals.
    public var isRefusal: Bool {
        kind == .service && RetryPolicy.classify(status: httpStatus ?? 500, code: code) == .fatal
    }

    /// The codes with which AWS refuses who is asking rather than what is asked: a missing permission,
    /// expired or unknown credentials, a bad signature or a skewed clock (botocore's models and the
    /// common errors of every service).
    public static let authorizationCodes: Set<String> = [
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
        "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch",
        "IncompleteSignature", "MissingAuthenticationToken", "AuthFailure", "RequestExpired",
        "InvalidSignatureException",
    ]

    /// AWS refused the caller (permission, credentials, signature): on-call's alert, not the customer's.
    public var isAuthorizationRefusal: Bool {
        kind == .service && code.map(Self.authorizationCodes.contains) == true
    }
}
