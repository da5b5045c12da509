import Foundation
import LatticeSimulator
import Synchronization
import Testing
import TestSupport
@testable import AWSClient

/// Credential sources against real HTTP servers on loopback: a fake IMDSv2, a container endpoint, STS.
@Suite(.calmPool) struct CredentialServerTests {
    let transport = AsyncHTTPClientTransport()

    static func credentialJSON(key: String = "ASIAIMDS", secret: String = "imds/secret", token: String = "imds-token",
                               expiration: String = "2099-01-01T00:00:00Z") -> String {
        "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"\(key)\",\"SecretAccessKey\":\"\(secret)\",\"Token\":\"\(token)\",\"Expiration\":\"\(expiration)\"}"
    }

    /// A fake IMDSv2: token on PUT (with the TTL header), role list and credentials with the token only.
    static func imds(credentials: ServerResponse = .json(200, credentialJSON()), token: ServerResponse? = nil) async throws -> LoopbackHTTPServer {
        try await LoopbackHTTPServer.start { request in
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                if let token { return token }
                guard request.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600" else { return .text(400, "missing ttl") }
                return .text(200, "imds-session-token")
            case ("GET", _) where request.header("x-aws-ec2-metadata-token") != "imds-session-token":
                return .text(401, "unauthorized")
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                return .text(200, "daemon-role\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/daemon-role"):
                return credentials
            case ("GET", "/latest/meta-data/placement/region"):
                return .text(200, "eu-central-1")
            default:
                return .text(404, "not found")
            }
        }
    }

    @Test func imdsV2ProvidesRoleCredentialsAndRegion() async throws {
        let server = try await Self.imds()
        let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL]
        // A generous timeout: the suite runs many servers at once on two cores.
        let credentials = try #require(try await IMDSCredentialSource(environment: environment, transport: transport, timeout: .seconds(10)).load())
        #expect(credentials.accessKeyId == "ASIAIMDS")
        #expect(credentials.sessionToken == "imds-token")
        #expect(credentials.expiration == ISO8601DateFormatter().date(from: "2099-01-01T00:00:00Z"))
        #expect(await RegionResolver.defaultRegion(environment: environment, transport: transport, imdsTimeout: .seconds(10)) == "eu-central-1")
        #expect(await RegionResolver.defaultRegion(environment: environment.merging(["AWS_REGION": "us-west-2"]) { $1 }, transport: transport) == "us-west-2")
        let methods = server.requests.map { "\($0.method) \($0.path)" }
        #expect(methods.prefix(3) == ["PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/",
                                      "GET /latest/meta-data/iam/security-credentials/daemon-role"])
        try await server.shutdown()
    }

    @Test func imdsDisabledMakesNoRequest() async throws {
        let server = try await Self.imds()
        let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL, "AWS_EC2_METADATA_DISABLED": "true"]
        #expect(try await IMDSCredentialSource(environment: environment, transport: transport).load() == nil)
        #expect(server.requests.isEmpty)
        try await server.shutdown()
    }

    @Test func imdsThatDoesNotAnswerIsNotConfiguredAndGivesUpWithinItsTimeout() async throws {
        // The token comes 30 s late; the source's 1 s timeout ends the wait long before (the bound leaves
        // room for a loaded machine, not for a source that waits the answer out).
        let server = try await Self.imds(token: .delayed(.seconds(30), then: .text(200, "late")))
        let start = ContinuousClock.now
        let result = try await IMDSCredentialSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL],
                                                    transport: transport).load()
        #expect(result == nil)
        #expect(ContinuousClock.now - start < .seconds(10))
        try await server.shutdown()
    }

    @Test(arguments: [
        (ServerResponse.json(200, "{\"AccessKeyId\":"), "not a credentials JSON document"),
        (.json(200, "{\"Code\":\"Failure\",\"Message\":\"role has no policy\"}"), "Code Failure: role has no policy"),
        (.json(200, "{\"Code\":\"Success\",\"AccessKeyId\":\"A\"}"), "without AccessKeyId/SecretAccessKey"),
        (.json(200, credentialJSON(expiration: "tomorrow")), "unreadable Expiration"),
        (.text(500, "boom"), "HTTP 500"),
    ])
    func imdsFailuresAreClearErrors(_ response: ServerResponse, _ expected: String) async throws {
        let server = try await Self.imds(credentials: response)
        let error = await #expect(throws: AWSClientError.self) {
            try await IMDSCredentialSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL], transport: transport,
                                           timeout: .seconds(10)).load()
        }
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.message.contains("imds/secret") == false)
        try await server.shutdown()
    }

    @Test func containerCredentialsWithARotatingTokenFile() async throws {
        let dir = TemporaryDirectory()
        let tokenFile = try dir.write("token", "first-token\n")
        let server = try await LoopbackHTTPServer.start { request in
            guard request.path == "/v2/credentials/abc" else { return .text(404, "no") }
            guard let auth = request.header("Authorization"), auth.hasSuffix("-token") else { return .text(403, "forbidden") }
            return .json(200, Self.credentialJSON(key: "ASIACONTAINER", secret: "container/secret"))
        }
        let environment = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/v2/credentials/abc",
                           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile]
        let source = ContainerCredentialSource(environment: environment, transport: transport, timeout: .seconds(10))
        #expect(try await source.load()?.accessKeyId == "ASIACONTAINER")
        try "second-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        #expect(try await source.load()?.accessKeyId == "ASIACONTAINER")
        #expect(server.requests.map { $0.header("Authorization") } == ["first-token", "second-token"])

        let relative = ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
                                                               "AWS_CONTAINER_AUTHORIZATION_TOKEN": "static-token"],
                                                 transport: transport, relativeBase: server.baseURL, timeout: .seconds(10))
        #expect(try await relative.load()?.secretAccessKey == "container/secret")

        let denied = ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/v2/credentials/abc"],
                                               transport: transport, timeout: .seconds(10))
        let error = await #expect(throws: AWSClientError.self) { try await denied.load() }
        #expect(error?.message.contains("HTTP 403") == true)
        try await server.shutdown()
    }

    @Test(arguments: ["http://10.1.2.3/creds", "http://example.com/creds", "not a url"])
    func containerFullURIMustBeSafe(_ uri: String) async {
        let error = await #expect(throws: AWSClientError.self) {
            try await ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri],
                                                transport: AsyncHTTPClientTransport()).load()
        }
        #expect(error?.message.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI") == true)
    }

    @Test func webIdentityAssumesTheRoleAndRereadsTheTokenFile() async throws {
        let simulator = try await LatticeSimulator.start(SimulatorConfiguration(webIdentityToken: "oidc-token-1"))
        let dir = TemporaryDirectory()
        let tokenFile = try dir.write("token", "oidc-token-1")
        let environment = simulator.endpointEnvironment.merging([
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::999999999999:role/privatelink-consumer",
            "AWS_ROLE_SESSION_NAME": "test-session",
        ]) { $1 }
        let executor = AWSRequestExecutor(transport: transport, endpoints: EndpointResolver(environment: environment))
        let source = WebIdentityCredentialSource(environment: environment, executor: executor, region: "us-east-1")
        let first = try #require(try await source.load())
        #expect(first.accessKeyId.hasPrefix("ASIAWEBIDENTITY"))
        #expect(first.sessionToken != nil)
        #expect(first.expiration != nil)
        // The issued credentials sign a real call that the simulator verifies.
        let identity = try await STSClient(executor: executor, credentials: StaticCredentialProvider(first), region: "us-east-1").getCallerIdentity()
        #expect(identity.account == "999999999999")

        try "rotated-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let error = await #expect(throws: AWSClientError.self) { try await source.load() }
        #expect(error?.code == "InvalidIdentityToken")
        #expect(simulator.callCounts["sts:AssumeRoleWithWebIdentity"] == 2)
        try await simulator.shutdown()
    }

    @Test func webIdentityWithoutRoleIsAClearError() async {
        let error = await #expect(throws: AWSClientError.self) {
            try await WebIdentityCredentialSource(environment: ["AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/x"],
                                                  executor: AWSRequestExecutor(endpoints: EndpointResolver(environment: [:])),
                                                  region: "us-east-1").load()
        }
        #expect(error?.message.contains("AWS_ROLE_ARN") == true)
    }
}
