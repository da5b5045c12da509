import Foundation
import Logging
import Metrics

/// Sends AWS API calls: resolves the endpoint, signs, sends, reads AWS's error envelope, and retries
/// the way the SDKs' standard mode does. Sleeping, time and randomness are injected.
public final class AWSRequestExecutor: Sendable {
    public let transport: any HTTPTransport
    public let endpoints: EndpointResolver
    public let retryPolicy: RetryPolicy
    public let retryBucket: RetryTokenBucket
    /// Per-attempt deadline for the whole answer.
    public let timeout: Duration
    /// Larger answers are refused (a DescribeVpcEndpoints page of 1,000 is about 2.5 MB).
    public let maxResponseBytes: Int
    let sleep: @Sendable (Duration) async throws -> Void
    let now: @Sendable () -> Date
    let random: @Sendable () -> Double
    let logger: Logger
    let userAgent: String

    public init(transport: any HTTPTransport = AsyncHTTPClientTransport(),
                endpoints: EndpointResolver,
                retryPolicy: RetryPolicy = RetryPolicy(),
                retryBucket: RetryTokenBucket = RetryTokenBucket(),
                timeout: Duration = .seconds(30),
                maxResponseBytes: Int = 16 << 20,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                now: @escaping @Sendable () -> Date = { Date() },
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
                logger: Logger = Logger(label: "aws"),
                userAgent: String = "privatelink-consumer") {
        self.transport = transport
        self.endpoints = endpoints
        self.retryPolicy = retryPolicy
        self.retryBucket = retryBucket
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.sleep = sleep
        self.now = now
        self.random = random
        self.logger = logger
        self.userAgent = userAgent
    }

    /// A condition checked immediately before each attempt of a call is written to the socket (retries
    /// included): nil lets it go; a reason stops it with a `cancelled` error and nothing is sent. The
    /// reconciler sets it around calls that change something, so that a daemon whose leadership lease ran
    /// out between its check and the send never sends.
    public struct SendGuard: Sendable {
        public let refusal: @Sendable () -> String?
        public init(_ refusal: @escaping @Sendable () -> String?) { self.refusal = refusal }
    }

    /// The guard of the calls made in the current task (and its children).
    @TaskLocal public static var sendGuard: SendGuard?

    /// Sends `request`, signed with `credentials` (unsigned when nil, as STS AssumeRoleWithWebIdentity is),
    /// and returns the 2xx answer or throws the last failure.
    public func send(_ request: AWSRequest, credentials: (any CredentialProvider)?) async throws(AWSClientError) -> TransportResponse {
        let endpoint = try endpoints.endpoint(for: request.service, region: request.region)
        var logger = logger
        logger[metadataKey: "aws.service"] = "\(request.service.name)"
        logger[metadataKey: "aws.operation"] = "\(request.operation)"
        logger[metadataKey: "aws.region"] = "\(request.region)"
        var attempt = 0
        var lastRetryCost: Int?
        var refreshedExpiredToken = false
        while true {
            attempt += 1
            if Task.isCancelled { throw cancelled(request, attempt: attempt) }
            let outcome: AttemptOutcome
            do {
                outcome = try await attemptOnce(request, endpoint: endpoint, credentials: credentials)
            } catch {
                var failure = error
                failure.attempts = attempt
                throw failure
            }
            let failure: AWSClientError
            let classification: RetryPolicy.Classification
            switch outcome {
            case .success(let response, let requestId):
                retryBucket.release(retryCost: lastRetryCost)
                record(request, outcome: "success")
                logger.debug("aws call succeeded", metadata: ["aws.request_id": "\(requestId ?? "-")", "aws.attempt": "\(attempt)"])
                return response
            case .failure(let error, let kind):
                failure = error
                classification = kind
            }
            var final = failure
            final.attempts = attempt
            if Task.isCancelled { throw cancelled(request, attempt: attempt) }
            // Expired temporary credentials: fetch new ones once and try again at no retry cost.
            if let code = failure.code, Self.expiredTokenCodes.contains(code), let credentials, !refreshedExpiredToken {
                refreshedExpiredToken = true
                await credentials.invalidate()
                attempt -= 1
                continue
            }
            record(request, outcome: Self.outcomeLabel(failure, classification))
            guard classification != .fatal, attempt < retryPolicy.maxAttempts else { throw final }
            guard let cost = retryBucket.acquire(for: classification) else {
                final.kind = .retryQuotaExceeded
                final.message += " (not retried: the client's retry quota is spent after many failures)"
                throw final
            }
            lastRetryCost = cost
            let delay = retryPolicy.backoff(afterAttempt: attempt, random: random())
            logger.info("aws call will be retried", metadata: [
                "aws.attempt": "\(attempt)", "aws.error": "\(failure.code ?? failure.kind.description)",
                "aws.http_status": "\(failure.httpStatus.map(String.init) ?? "-")",
                "aws.request_id": "\(failure.requestId ?? "-")", "aws.backoff_ms": "\(Int(delay / .milliseconds(1)))",
            ])
            do {
                try await sleep(delay)
            } catch {
                throw cancelled(request, attempt: attempt)
            }
        }
    }

    static let expiredTokenCodes: Set<String> = ["ExpiredToken", "ExpiredTokenException", "RequestExpired"]

    enum AttemptOutcome {
        case success(TransportResponse, requestId: String?)
        case failure(AWSClientError, RetryPolicy.Classification)
    }

    /// One signed exchange. Throws only for failures no retry can fix (credentials, configuration).
    private func attemptOnce(_ request: AWSRequest, endpoint: AWSEndpoint,
                             credentials provider: (any CredentialProvider)?) async throws(AWSClientError) -> AttemptOutcome {
        var signable = SignableRequest(method: request.method, path: endpoint.basePath + request.path, query: request.query,
                                       headers: [HTTPHeader(name: "Host", value: endpoint.hostHeader)] + request.headers,
                                       body: request.body)
        if let provider {
            let credentials = try await provider.credentials()
            let signer = SigV4Signer(credentials: credentials, region: request.region, service: request.service.signingName)
            do {
                signable = try signer.sign(signable, date: now())
            } catch {
                throw AWSClientError(.invalidConfiguration, service: request.service.name, operation: request.operation,
                                     message: error.message)
            }
        }
        signable.headers.append(HTTPHeader(name: "User-Agent", value: userAgent))
        // The Host header is implied by the URL; async-http-client sets it from there.
        let headers = signable.headers.filter { $0.name.lowercased() != "host" }
        let wire = TransportRequest(method: signable.method, url: endpoint.url(path: signable.path, query: signable.query),
                                    headers: headers, body: signable.body)
        if let refusal = Self.sendGuard?.refusal() {
            throw AWSClientError(.cancelled, service: request.service.name, operation: request.operation, message: "not sent: \(refusal)")
        }
        let response: TransportResponse
        do {
            response = try await transport.send(wire, timeout: timeout, maxResponseBytes: maxResponseBytes)
        } catch {
            let kind: AWSClientError.Kind = switch error.kind {
            case .timeout: .timeout
            case .responseTooLarge: .responseTooLarge
            case .invalidRequest: .invalidConfiguration
            case .connect, .connectionLost: .transport
            }
            return .failure(AWSClientError(kind, service: request.service.name, operation: request.operation, message: error.message),
                            RetryPolicy.classify(error))
        }
        let requestId = response.header("x-amzn-RequestId") ?? response.header("x-amz-request-id")
        if (200..<300).contains(response.status) {
            return .success(response, requestId: requestId)
        }
        let details = AWSErrorDetails.parse(protocol: request.service.wireProtocol, status: response.status,
                                           headers: response.headers, body: response.body)
        let error = AWSClientError(.service, service: request.service.name, operation: request.operation,
                                   httpStatus: response.status, code: details.code,
                                   message: details.message ?? "HTTP \(response.status) with no message",
                                   requestId: details.requestId ?? requestId)
        return .failure(error, RetryPolicy.classify(status: response.status, code: details.code))
    }

    private func cancelled(_ request: AWSRequest, attempt: Int) -> AWSClientError {
        AWSClientError(.cancelled, service: request.service.name, operation: request.operation,
                       message: "cancelled (shutting down)", attempts: attempt)
    }

    static func outcomeLabel(_ error: AWSClientError, _ classification: RetryPolicy.Classification) -> String {
        switch classification {
        case .throttling: "throttled"
        case .timeout: "timeout"
        case .transient: error.kind == .service ? "server_error" : "transport_error"
        case .fatal: error.isAuthorizationRefusal ? "auth_refused" : error.kind == .service ? "client_error" : error.kind.description
        }
    }

    private func record(_ request: AWSRequest, outcome: String) {
        Counter(label: "privatelink_consumer_aws_calls_total",
                dimensions: [("service", request.service.name), ("operation", request.operation), ("outcome", outcome)])
            .increment()
    }
}
