import Foundation
import LatticeSimulator
import Logging
import Synchronization
import Testing
import TestSupport
@testable import AWSClient

/// The executor against a real local server that misbehaves on purpose.
@Suite(.calmPool) struct RequestExecutorTests {
    static let credentials = AWSCredentials(accessKeyId: "AKIDEXECUTOR", secretAccessKey: "executor-secret-DO-NOT-LOG",
                                            sessionToken: "executor-token-DO-NOT-LOG")

    /// A server that answers the n-th request (1-based) with `script(n)`.
    static func server(_ script: @escaping @Sendable (Int) -> ServerResponse) async throws -> LoopbackHTTPServer {
        let count = Mutex(0)
        return try await LoopbackHTTPServer.start { _ in
            let n = count.withLock { value in
                value += 1
                return value
            }
            return script(n)
        }
    }

    /// Records the backoff delays instead of sleeping them.
    final class SleepRecorder: Sendable {
        let delays = Mutex<[Duration]>([])
        func sleep(_ duration: Duration) async throws { delays.withLock { $0.append(duration) } }
    }

    func executor(_ server: LoopbackHTTPServer, sleeper: SleepRecorder = SleepRecorder(), maxAttempts: Int = 3,
                  maxResponseBytes: Int = 1 << 20, timeout: Duration = .seconds(5), logger: Logger? = nil,
                  bucket: RetryTokenBucket = RetryTokenBucket()) -> AWSRequestExecutor {
        AWSRequestExecutor(endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": server.baseURL]),
                           retryPolicy: RetryPolicy(maxAttempts: maxAttempts), retryBucket: bucket, timeout: timeout,
                           maxResponseBytes: maxResponseBytes, sleep: { try await sleeper.sleep($0) },
                           random: { 0.5 }, logger: logger ?? Logger(label: "test"))
    }

    static let ramRequest = AWSRequest(service: .ram, operation: "GetResourceShareInvitations", region: "us-east-1",
                                       path: "/getresourceshareinvitations",
                                       headers: [HTTPHeader(name: "Content-Type", value: "application/json")],
                                       body: Array("{}".utf8))

    static let throttled = ServerResponse.respond(status: 429, headers: [ServerHeader("x-amzn-ErrorType", "ThrottlingException:http://internal"),
                                                                         ServerHeader("x-amzn-RequestId", "req-throttled")],
                                                  body: Array("{\"message\":\"Rate exceeded\"}".utf8))

    @Test func throttlingIsRetriedWithBackoffThenSucceeds() async throws {
        let server = try await Self.server { n in n <= 2 ? Self.throttled : .json(200, "{\"resourceShareInvitations\":[]}") }
        let sleeper = SleepRecorder()
        let response = try await executor(server, sleeper: sleeper).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        #expect(response.status == 200)
        #expect(server.requests.count == 3)
        #expect(sleeper.delays.withLock { $0 } == [.milliseconds(500), .seconds(1)])
        // Each attempt is signed afresh and carries the token.
        #expect(server.requests.allSatisfy { $0.header("Authorization")?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXECUTOR/") == true })
        #expect(server.requests.allSatisfy { $0.header("X-Amz-Security-Token") == Self.credentials.sessionToken })
        try await server.shutdown()
    }

    @Test func persistentServerErrorsGiveUpAfterMaxAttemptsWithTheLastError() async throws {
        let server = try await Self.server { _ in
            .respond(status: 503, headers: [ServerHeader("x-amzn-RequestId", "req-503")],
                     body: Array("{\"__type\":\"com.amazonaws.ram#ServiceUnavailableException\",\"message\":\"try later\"}".utf8))
        }
        let error = await #expect(throws: AWSClientError.self) {
            try await executor(server, maxAttempts: 4).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        }
        #expect(server.requests.count == 4)
        #expect(error?.code == "ServiceUnavailableException")
        #expect(error?.httpStatus == 503)
        #expect(error?.requestId == "req-503")
        #expect(error?.attempts == 4)
        #expect(error?.description == "ram GetResourceShareInvitations: ServiceUnavailableException: try later (HTTP 503, request id req-503, 4 attempts)")
        try await server.shutdown()
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let server = try await Self.server { _ in
            .respond(status: 403, headers: [ServerHeader("x-amzn-ErrorType", "AccessDeniedException")],
                     body: Array("{\"message\":\"not authorized to perform ram:GetResourceShareInvitations\"}".utf8))
        }
        let error = await #expect(throws: AWSClientError.self) {
            try await executor(server).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        }
        #expect(server.requests.count == 1)
        #expect(error?.code == "AccessDeniedException")
        #expect(error?.kind == .service)
        try await server.shutdown()
    }

    @Test func ec2ErrorEnvelopeAndThrottlingCode() async throws {
        let xml = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>ec2-req</RequestID></Response>"
        let server = try await Self.server { n in n == 1 ? .text(503, xml, contentType: "text/xml") : .text(200, "<ok/>", contentType: "text/xml") }
        let request = AWSRequest(service: .ec2, operation: "DescribeVpcEndpoints", region: "us-east-1",
                                 body: Array("Action=DescribeVpcEndpoints&Version=2016-11-15".utf8))
        let response = try await executor(server).send(request, credentials: StaticCredentialProvider(Self.credentials))
        #expect(response.body == Array("<ok/>".utf8))
        #expect(server.requests.count == 2)
        try await server.shutdown()
    }

    @Test func truncatedBodiesAreRetriedAsTransportFailures() async throws {
        let body = Array("{\"resourceShareInvitations\":[{\"status\":\"PENDING\"}]}".utf8)
        let server = try await Self.server { n in
            n == 1 ? .truncated(status: 200, headers: [], body: body, sentBytes: 10) : .respond(status: 200, headers: [], body: body)
        }
        let response = try await executor(server).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        #expect(response.body == body)
        #expect(server.requests.count == 2)
        try await server.shutdown()
    }

    @Test func persistentlyTruncatedBodiesFailClearly() async throws {
        let server = try await Self.server { _ in .truncated(status: 200, headers: [], body: Array(repeating: 65, count: 1000), sentBytes: 3) }
        let error = await #expect(throws: AWSClientError.self) {
            try await executor(server).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        }
        #expect(error?.kind == .transport)
        #expect(error?.attempts == 3)
        try await server.shutdown()
    }

    @Test func oversizedAnswersAreRefusedWithoutRetry() async throws {
        let server = try await Self.server { _ in .respond(status: 200, headers: [], body: Array(repeating: 32, count: 200_000)) }
        let error = await #expect(throws: AWSClientError.self) {
            try await executor(server, maxResponseBytes: 100_000).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        }
        #expect(error?.kind == .responseTooLarge)
        #expect(server.requests.count == 1)
        try await server.shutdown()
    }

    @Test func timeoutsAreRetriedAndReported() async throws {
        let server = try await Self.server { _ in .delayed(.seconds(3), then: .json(200, "{}")) }
        let error = await #expect(throws: AWSClientError.self) {
            try await executor(server, maxAttempts: 2, timeout: .milliseconds(300))
                .send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.attempts == 2)
        try await server.shutdown()
    }

    @Test func anHTMLErrorPageIsAClearErrorNotACrash() async throws {
        let server = try await Self.server { _ in
            .text(500, "<!doctype html><html lang=en><title>500 Internal Server Error</title><h1>Internal Server Error</h1>", contentType: "text/html")
        }
        let error = await #expect(throws: AWSClientError.self) {
            try await executor(server, maxAttempts: 1).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        }
        #expect(error?.code == nil)
        #expect(error?.httpStatus == 500)
        #expect(error?.message.contains("500 Internal Server Error") == true)
        try await server.shutdown()
    }

    @Test func theRetryQuotaStopsRetryStorms() async throws {
        let server = try await Self.server { _ in Self.throttled }
        let bucket = RetryTokenBucket(tokens: 7)
        let error = await #expect(throws: AWSClientError.self) {
            try await executor(server, bucket: bucket).send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        }
        #expect(error?.kind == .retryQuotaExceeded)
        #expect(error?.code == "ThrottlingException")
        #expect(server.requests.count == 2)
        try await server.shutdown()
    }

    @Test func expiredTokenAnswersFetchNewCredentialsOnce() async throws {
        let server = try await Self.server { n in
            n == 1 ? .respond(status: 400, headers: [ServerHeader("x-amzn-ErrorType", "ExpiredTokenException")],
                              body: Array("{\"message\":\"The security token included in the request is expired\"}".utf8))
                   : .json(200, "{}")
        }
        let clock = TestClock()
        let source = CountingSource(clock: clock, lifetime: 3600)
        let chain = CredentialChain(sources: [source], now: { clock.now })
        _ = try await executor(server).send(Self.ramRequest, credentials: chain)
        #expect(source.loads.withLock { $0 } == 2)
        #expect(server.requests.map { $0.header("X-Amz-Security-Token") } == ["token1", "token2"])
        try await server.shutdown()
    }

    @Test func cancellationInterruptsABackoffSleepAtOnce() async throws {
        let server = try await Self.server { _ in Self.throttled }
        let executor = AWSRequestExecutor(endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": server.baseURL]),
                                          retryPolicy: RetryPolicy(maxAttempts: 10), random: { 0.999 })
        let task = Task { try await executor.send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials)) }
        while server.requests.count < 3 { try await Task.sleep(for: .milliseconds(20)) }
        // Now in a backoff of about 4 s (then 8, …): cancel it. Waited out, it would take 4 s; the bound
        // leaves room for a loaded machine.
        let start = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - start < .seconds(2))
        guard case .failure(let error as AWSClientError) = result else {
            Issue.record("expected a cancellation error, got \(result)")
            return
        }
        #expect(error.kind == .cancelled)
        try await server.shutdown()
    }

    @Test func noSecretReachesAnyLogLineOrError() async throws {
        let collector = LogCollector()
        let server = try await Self.server { n in
            switch n {
            case 1: Self.throttled
            case 2: .text(500, "boom")
            case 3: .respond(status: 403, headers: [ServerHeader("x-amzn-ErrorType", "UnrecognizedClientException")],
                             body: Array("{\"message\":\"The security token included in the request is invalid\"}".utf8))
            default: .json(200, "{}")
            }
        }
        let executor = executor(server, logger: collector.logger(level: .trace))
        var errors: [String] = []
        do {
            _ = try await executor.send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        } catch {
            errors.append("\(error)")
            errors.append(String(reflecting: error))
        }
        _ = try await executor.send(Self.ramRequest, credentials: StaticCredentialProvider(Self.credentials))
        #expect(!collector.all.isEmpty)
        #expect(errors.count == 2)
        for line in collector.all + errors + ["\(Self.credentials)", String(reflecting: Self.credentials)] {
            #expect(!line.contains(Self.credentials.secretAccessKey), "\(line)")
            #expect(!line.contains(Self.credentials.sessionToken!), "\(line)")
        }
        try await server.shutdown()
    }
}


/// The `outcome` label of `privatelink_consumer_aws_calls_total`: the alert on AWS refusals counts
/// `auth_refused`, which must be the caller's problems only.
@Suite struct CallOutcomeLabelTests {
    @Test(arguments: [
        (403, "AccessDenied", "auth_refused"), (400, "UnauthorizedOperation", "auth_refused"),
        (403, "SignatureDoesNotMatch", "auth_refused"), (403, "InvalidClientTokenId", "auth_refused"),
        (400, "ExpiredToken", "auth_refused"), (403, "AccessDeniedException", "auth_refused"),
        (400, "InvalidParameterValue", "client_error"), (400, "InvalidVpcEndpointId.NotFound", "client_error"),
        (400, "Throttling", "throttled"), (503, "ServiceUnavailable", "server_error"),
    ] as [(Int, String, String)])
    func outcome(status: Int, code: String, expected: String) {
        let error = AWSClientError(.service, service: "ec2", operation: "CreateVpcEndpoint", httpStatus: status, code: code, message: "m")
        #expect(AWSRequestExecutor.outcomeLabel(error, RetryPolicy.classify(status: status, code: code)) == expected)
    }
}
