import Foundation
import Synchronization
import Testing
import TestSupport
@testable import AWSClient

/// A source that counts its loads and hands out credentials that expire `lifetime` after "now".
final class CountingSource: CredentialSource, Sendable {
    let name: String
    let loads = Mutex(0)
    let clock: TestClock
    let lifetime: TimeInterval?
    let failing: Mutex<Bool>
    let delay: Duration

    init(name: String = "counting", clock: TestClock, lifetime: TimeInterval?, failing: Bool = false, delay: Duration = .zero) {
        self.name = name
        self.clock = clock
        self.lifetime = lifetime
        self.failing = Mutex(failing)
        self.delay = delay
    }

    func load() async throws(AWSClientError) -> AWSCredentials? {
        let n = loads.withLock { value in
            value += 1
            return value
        }
        if delay > .zero { try? await Task.sleep(for: delay) }
        if failing.withLock({ $0 }) { throw .credentialFailure(name, "refresh failed") }
        return AWSCredentials(accessKeyId: "AKID\(n)", secretAccessKey: "secret\(n)", sessionToken: "token\(n)",
                              expiration: lifetime.map { clock.now.addingTimeInterval($0) })
    }
}

/// A settable clock for tests: time moves only when the test says so.
final class TestClock: Sendable {
    private let value: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { value = Mutex(start) }
    var now: Date { value.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { value.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

@Suite struct CredentialChainTests {
    @Test func firstConfiguredSourceWinsAndIsKept() async throws {
        let clock = TestClock()
        let unconfigured = EnvironmentCredentialSource(environment: [:])
        let source = CountingSource(clock: clock, lifetime: nil)
        let chain = CredentialChain(sources: [unconfigured, source], now: { clock.now })
        #expect(try await chain.credentials().accessKeyId == "AKID1")
        #expect(try await chain.credentials().accessKeyId == "AKID1")
        #expect(await chain.sourceName == "counting")
        #expect(source.loads.withLock { $0 } == 1)
    }

    @Test func noSourceConfiguredNamesEverySourceTried() async {
        let chain = CredentialChain(sources: [EnvironmentCredentialSource(environment: [:]),
                                              ProfileCredentialSource(environment: ["HOME": "/nonexistent"]),
                                              IMDSCredentialSource(environment: ["AWS_EC2_METADATA_DISABLED": "true"],
                                                                   transport: AsyncHTTPClientTransport())])
        let error = await #expect(throws: AWSClientError.self) { try await chain.credentials() }
        #expect(error?.kind == .noCredentials)
        #expect(error?.message.contains("no credentials found; tried environment, profile default, imds") == true)
    }

    @Test func oneHundredConcurrentCallersAtExpiryCauseExactlyOneRefresh() async throws {
        let clock = TestClock()
        let source = CountingSource(clock: clock, lifetime: 3600, delay: .milliseconds(50))
        let chain = CredentialChain(sources: [source], now: { clock.now }, random: { 0.5 })
        _ = try await chain.credentials()
        clock.advance(3600 - 60)  // inside the refresh window
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 { group.addTask { try await chain.credentials().accessKeyId } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(source.loads.withLock { $0 } == 2)
        #expect(keys == ["AKID2"])
        #expect(await chain.fetchCount == 2)
    }

    @Test func refreshesAheadOfExpiryWithinTheAdvisoryWindow() async throws {
        let clock = TestClock()
        let source = CountingSource(clock: clock, lifetime: 3600)
        let chain = CredentialChain(sources: [source], now: { clock.now }, random: { 0.99 })
        _ = try await chain.credentials()
        clock.advance(3600 - 17 * 60)  // 17 min left: the 15 min window plus up to 10 % jitter = 16.5 min
        #expect(try await chain.credentials().accessKeyId == "AKID1")
        clock.advance(60)  // 16 min left
        #expect(try await chain.credentials().accessKeyId == "AKID2")
    }

    @Test func shortLivedCredentialsRefreshAtHalfTheirLifetime() async throws {
        let clock = TestClock()
        let source = CountingSource(clock: clock, lifetime: 600)
        let chain = CredentialChain(sources: [source], now: { clock.now }, random: { 0 })
        _ = try await chain.credentials()
        clock.advance(290)
        #expect(try await chain.credentials().accessKeyId == "AKID1")
        clock.advance(20)
        #expect(try await chain.credentials().accessKeyId == "AKID2")
    }

    @Test func aFailedEarlyRefreshKeepsValidCredentialsButNeverExpiredOnes() async throws {
        let clock = TestClock()
        let source = CountingSource(clock: clock, lifetime: 3600)
        let chain = CredentialChain(sources: [source], now: { clock.now }, random: { 0 })
        _ = try await chain.credentials()
        source.failing.withLock { $0 = true }
        clock.advance(3600 - 300)
        #expect(try await chain.credentials().accessKeyId == "AKID1")
        clock.advance(300)  // expired now
        await #expect(throws: AWSClientError.self) { try await chain.credentials() }
        source.failing.withLock { $0 = false }
        #expect(try await chain.credentials().accessKeyId.hasPrefix("AKID"))
    }

    @Test func invalidateForcesANewFetch() async throws {
        let clock = TestClock()
        let source = CountingSource(clock: clock, lifetime: nil)
        let chain = CredentialChain(sources: [source], now: { clock.now })
        _ = try await chain.credentials()
        await chain.invalidate()
        #expect(try await chain.credentials().accessKeyId == "AKID2")
    }
}

@Suite struct StaticSourceTests {
    @Test func environmentSource() async throws {
        let full = try await EnvironmentCredentialSource(environment: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
                                                                      "AWS_SESSION_TOKEN": "tok"]).load()
        #expect(full == AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s3cr3t", sessionToken: "tok"))
        #expect(try await EnvironmentCredentialSource(environment: [:]).load() == nil)
        let half = await #expect(throws: AWSClientError.self) {
            try await EnvironmentCredentialSource(environment: ["AWS_ACCESS_KEY_ID": "AKID"]).load()
        }
        #expect(half?.message.contains("AWS_SECRET_ACCESS_KEY is not") == true)
    }

    @Test func profileFilesWithProfileSectionsAndPrecedence() async throws {
        let dir = TemporaryDirectory()
        let credentials = try dir.write("credentials", """
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = defaultsecret

            # a comment
            [ops]
            aws_access_key_id=AKIDOPS
            aws_secret_access_key=opssecret
            aws_session_token = opstoken
            """)
        let config = try dir.write("config", """
            [default]
            region = eu-west-1
            [profile ops]
            region = us-west-2
            aws_access_key_id = IGNORED
            s3 =
              max_concurrent_requests = 10
            [profile cfgonly]
            aws_access_key_id = AKIDCFG
            aws_secret_access_key = cfgsecret
            [profile role]
            role_arn = arn:aws:iam::111122223333:role/x
            source_profile = default
            """)
        let base = ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config, "HOME": dir.path]
        #expect(try await ProfileCredentialSource(environment: base).load()?.accessKeyId == "AKIDDEFAULT")
        let ops = try await ProfileCredentialSource(environment: base.merging(["AWS_PROFILE": "ops"]) { $1 }).load()
        #expect(ops == AWSCredentials(accessKeyId: "AKIDOPS", secretAccessKey: "opssecret", sessionToken: "opstoken"))
        #expect(SharedConfigFiles(environment: base.merging(["AWS_PROFILE": "ops"]) { $1 }).settings["region"] == "us-west-2")
        #expect(SharedConfigFiles(environment: base).settings["region"] == "eu-west-1")
        #expect(try await ProfileCredentialSource(environment: base.merging(["AWS_PROFILE": "cfgonly"]) { $1 }).load()?.accessKeyId == "AKIDCFG")
        let missing = await #expect(throws: AWSClientError.self) {
            try await ProfileCredentialSource(environment: base.merging(["AWS_PROFILE": "nope"]) { $1 }).load()
        }
        #expect(missing?.message.contains("AWS_PROFILE=nope is not in") == true)
        let role = await #expect(throws: AWSClientError.self) {
            try await ProfileCredentialSource(environment: base.merging(["AWS_PROFILE": "role"]) { $1 }).load()
        }
        #expect(role?.message.contains("not supported") == true)
        #expect(try await ProfileCredentialSource(environment: ["HOME": dir.file("empty")]).load() == nil)
    }
}
