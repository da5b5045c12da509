import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// `check-config --aws` as ops run it after installing: the binary, a real STS stand-in verifying signatures.
@Suite struct CheckConfigAWSTests {
    let dir = TemporaryDirectory()
    let binary = ProcessRunner.executable("privatelink-consumer")

    /// A clean environment: nothing inherited that could reach real AWS or IMDS.
    func environment(_ simulator: LatticeSimulator, _ extra: [String: String]) -> [String: String] {
        var environment = ["PATH": "/usr/bin:/bin", "HOME": dir.file("home"), "AWS_REGION": "us-east-1"]
        environment.merge(simulator.endpointEnvironment) { $1 }
        environment.merge(extra) { $1 }
        return environment
    }

    func run(_ simulator: LatticeSimulator, _ extra: [String: String]) async throws -> ProcessOutput {
        let config = try TestConfig(directory: dir.path).write()
        return try await ProcessRunner.run(binary, ["check-config", "--aws", "--config", config],
                                           environment: environment(simulator, extra))
    }

    @Test func environmentCredentialsReachSTSAndPrintTheIdentity() async throws {
        let simulator = try await LatticeSimulator.start()
        let credentials = SimulatorConfiguration.defaultCredentials
        let output = try await run(simulator, ["AWS_ACCESS_KEY_ID": credentials.accessKeyId,
                                               "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("credentials from  environment"))
        #expect(output.stdout.contains("account           999999999999"))
        #expect(output.stdout.contains("identity          arn:aws:sts::999999999999:assumed-role/privatelink-consumer/"))
        #expect(simulator.callCounts["sts:GetCallerIdentity"] == 1)
        #expect(!output.stdout.contains(credentials.secretAccessKey) && !output.stderr.contains(credentials.secretAccessKey))
        try await simulator.shutdown()
    }

    @Test(arguments: [
        (["AWS_SECRET_ACCESS_KEY": "wrong-secret-value-123"], "SignatureDoesNotMatch"),
        (["AWS_SECRET_ACCESS_KEY": SimulatorConfiguration.defaultCredentials.secretAccessKey,
          "AWS_SESSION_TOKEN": "some-session-token-456"], "InvalidClientTokenId"),
    ])
    func awsRefusalsShowTheCodeAndExit1WithoutSecrets(_ credentials: [String: String], _ code: String) async throws {
        let simulator = try await LatticeSimulator.start()
        var extra = credentials
        extra["AWS_ACCESS_KEY_ID"] = SimulatorConfiguration.defaultCredentials.accessKeyId
        extra["LOG_LEVEL"] = "trace"
        let output = try await run(simulator, extra)
        #expect(output.status == 1)
        #expect(output.stderr.contains("sts GetCallerIdentity: \(code)"), "\(output.stderr)")
        #expect(output.stderr.contains("HTTP 403"))
        for secret in credentials.values {
            #expect(!output.stdout.contains(secret) && !output.stderr.contains(secret))
        }
        try await simulator.shutdown()
    }

    @Test func noCredentialsNamesTheSourcesTried() async throws {
        let simulator = try await LatticeSimulator.start()
        let output = try await run(simulator, [:])
        #expect(output.status == 1)
        #expect(output.stderr.contains("no credentials found; tried environment, web-identity, profile default, container, imds"), "\(output.stderr)")
        #expect(simulator.callCounts.isEmpty)
        try await simulator.shutdown()
    }

    @Test func profileCredentialsFromTheSharedFiles() async throws {
        let simulator = try await LatticeSimulator.start()
        let credentials = SimulatorConfiguration.defaultCredentials
        let file = try dir.write("home/.aws/credentials", "[ops]\naws_access_key_id = \(credentials.accessKeyId)\naws_secret_access_key = \(credentials.secretAccessKey)\n")
        let output = try await run(simulator, ["AWS_PROFILE": "ops", "AWS_SHARED_CREDENTIALS_FILE": file])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("credentials from  profile ops"))
        try await simulator.shutdown()
    }

    @Test func webIdentityCredentialsAreExchangedThenUsed() async throws {
        let simulator = try await LatticeSimulator.start(SimulatorConfiguration(webIdentityToken: "eks-oidc-token"))
        let token = try dir.write("token", "eks-oidc-token")
        let output = try await run(simulator, ["AWS_WEB_IDENTITY_TOKEN_FILE": token,
                                               "AWS_ROLE_ARN": "arn:aws:iam::999999999999:role/privatelink-consumer"])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("credentials from  web-identity"))
        #expect(simulator.callCounts["sts:AssumeRoleWithWebIdentity"] == 1)
        #expect(simulator.callCounts["sts:GetCallerIdentity"] == 1)
        try await simulator.shutdown()
    }

    @Test func anUnsafeEndpointOverrideIsRefused() async throws {
        let simulator = try await LatticeSimulator.start()
        let output = try await run(simulator, ["AWS_ENDPOINT_URL_STS": "http://sts.example.com",
                                               "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "x"])
        #expect(output.status == 1)
        #expect(output.stderr.contains("AWS_ENDPOINT_URL_STS=http://sts.example.com uses plain http to a non-loopback host"), "\(output.stderr)")
        try await simulator.shutdown()
    }
}
