import Testing
@testable import AWSClient

@Suite struct RetryPolicyTests {
    @Test(arguments: [
        (400, "ThrottlingException", RetryPolicy.Classification.throttling),
        (503, "RequestLimitExceeded", .throttling),
        (429, nil, .throttling),
        (400, "Throttling", .throttling),
        (400, "EC2ThrottledException", .throttling),
        (500, "InternalError", .transient),
        (500, nil, .transient),
        (502, nil, .transient),
        (503, "ServiceUnavailableException", .transient),
        (504, nil, .transient),
        (400, "RequestTimeout", .transient),
        (403, "AccessDeniedException", .fatal),
        (403, "SignatureDoesNotMatch", .fatal),
        (400, "IdempotentParameterMismatch", .fatal),
        (400, "InvalidParameterValue", .fatal),
        (404, "ResourceShareInvitationArnNotFoundException", .fatal),
        (400, "ResourceShareInvitationAlreadyAcceptedException", .fatal),
        (501, nil, .fatal),
    ] as [(Int, String?, RetryPolicy.Classification)])
    func classifiesServiceAnswers(_ status: Int, _ code: String?, _ expected: RetryPolicy.Classification) {
        #expect(RetryPolicy.classify(status: status, code: code) == expected)
    }

    @Test(arguments: [
        (TransportError.Kind.timeout, RetryPolicy.Classification.timeout),
        (.connect, .transient),
        (.connectionLost, .transient),
        (.responseTooLarge, .fatal),
        (.invalidRequest, .fatal),
    ])
    func classifiesTransportFailures(_ kind: TransportError.Kind, _ expected: RetryPolicy.Classification) {
        #expect(RetryPolicy.classify(TransportError(kind, "x")) == expected)
    }

    @Test func backoffIsFullJitterCappedAtTwentySeconds() {
        let policy = RetryPolicy()
        #expect(policy.backoff(afterAttempt: 1, random: 0.5) == .milliseconds(500))
        #expect(policy.backoff(afterAttempt: 2, random: 0.5) == .seconds(1))
        #expect(policy.backoff(afterAttempt: 3, random: 0.999) == .milliseconds(3996))
        #expect(policy.backoff(afterAttempt: 6, random: 1) == .seconds(20))
        #expect(policy.backoff(afterAttempt: 60, random: 1) == .seconds(20))
        #expect(policy.backoff(afterAttempt: 100, random: 0) == .zero)
    }

    @Test(arguments: [(nil, 3), ("", 3), ("1", 1), ("5", 5)] as [(String?, Int)])
    func maxAttemptsFromEnvironment(_ value: String?, _ expected: Int) throws {
        let environment = value.map { ["AWS_MAX_ATTEMPTS": $0] } ?? [:]
        #expect(try RetryPolicy.fromEnvironment(environment).maxAttempts == expected)
    }

    @Test(arguments: ["0", "-1", "three", "100"])
    func invalidMaxAttemptsIsRefused(_ value: String) {
        #expect(throws: AWSClientError.self) { try RetryPolicy.fromEnvironment(["AWS_MAX_ATTEMPTS": value]) }
    }

    @Test func tokenBucketStopsARetryStormAndRefills() {
        let bucket = RetryTokenBucket(tokens: 12)
        #expect(bucket.acquire(for: .timeout) == 10)
        #expect(bucket.acquire(for: .transient) == nil)
        bucket.release(retryCost: nil)
        bucket.release(retryCost: nil)
        bucket.release(retryCost: nil)
        #expect(bucket.available == 5)
        #expect(bucket.acquire(for: .throttling) == 5)
        #expect(bucket.available == 0)
        bucket.release(retryCost: 5)
        #expect(bucket.available == 5)
        let full = RetryTokenBucket()
        full.release(retryCost: 5)
        #expect(full.available == RetryTokenBucket.capacity)
    }
}

@Suite struct EndpointResolverTests {
    @Test func defaultsToRegionalHTTPSEndpoints() throws {
        let resolver = EndpointResolver(environment: [:])
        #expect(try resolver.endpoint(for: .ram, region: "us-east-1").description == "https://ram.us-east-1.amazonaws.com/")
        #expect(try resolver.endpoint(for: .vpcLattice, region: "eu-west-1").hostHeader == "vpc-lattice.eu-west-1.amazonaws.com")
        #expect(try resolver.endpoint(for: .ec2, region: "cn-north-1").host == "ec2.cn-north-1.amazonaws.com.cn")
    }

    @Test func serviceOverrideWinsOverGlobalOverride() throws {
        let resolver = EndpointResolver(environment: ["AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL": "http://localhost:9000/base/"])
        let ec2 = try resolver.endpoint(for: .ec2, region: "us-east-1")
        #expect(ec2.url(path: "/") == "http://127.0.0.1:4566/")
        #expect(ec2.hostHeader == "127.0.0.1:4566")
        let ram = try resolver.endpoint(for: .ram, region: "us-east-1")
        #expect(ram.url(path: "/listresources") == "http://localhost:9000/base/listresources")
        let lattice = try EndpointResolver(environment: ["AWS_ENDPOINT_URL_VPC_LATTICE": "https://[::1]:8443"]).endpoint(for: .vpcLattice, region: "us-east-1")
        #expect(lattice.hostHeader == "[::1]:8443")
    }

    @Test(arguments: ["http://10.0.0.5:80", "http://example.com", "ftp://127.0.0.1", "127.0.0.1:80", "http://127.0.0.1:0", "http://[::1"])
    func refusesUnsafeOrMalformedOverrides(_ value: String) {
        let error = #expect(throws: AWSClientError.self) {
            try EndpointResolver(environment: ["AWS_ENDPOINT_URL_RAM": value]).endpoint(for: .ram, region: "us-east-1")
        }
        #expect(error?.message.contains("AWS_ENDPOINT_URL_RAM") == true)
        #expect(error?.kind == .invalidConfiguration)
    }
}
