import Foundation

/// The SDKs' default chain: the first source that is configured provides credentials from then on.
/// Temporary credentials are cached and refreshed ahead of expiry, with jitter, one refresh at a time:
/// concurrent callers at expiry share a single fetch.
public actor CredentialChain: CredentialProvider {
    let sources: [any CredentialSource]
    let now: @Sendable () -> Date
    let random: @Sendable () -> Double

    private var chosen: (any CredentialSource)?
    private var cached: AWSCredentials?
    private var refreshAt: Date?
    private var inFlight: Task<Result<AWSCredentials, AWSClientError>, Never>?
    /// How many times a source was asked for credentials (for tests and diagnostics).
    public private(set) var fetchCount = 0

    /// Refresh this long before expiry at most (the SDKs' advisory window).
    static let advisoryWindow: TimeInterval = 15 * 60
    /// After a failed refresh, keep using the old credentials only while this much validity is left.
    static let mandatoryWindow: TimeInterval = 10

    public init(sources: [any CredentialSource], now: @escaping @Sendable () -> Date = { Date() },
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.sources = sources
        self.now = now
        self.random = random
    }

    /// The standard order: environment, web identity, shared profile files, container, IMDSv2.
    public static func standard(environment: [String: String], executor: AWSRequestExecutor, stsRegion: String) -> CredentialChain {
        CredentialChain(sources: [
            EnvironmentCredentialSource(environment: environment),
            WebIdentityCredentialSource(environment: environment, executor: executor, region: stsRegion),
            ProfileCredentialSource(environment: environment),
            ContainerCredentialSource(environment: environment, transport: executor.transport),
            IMDSCredentialSource(environment: environment, transport: executor.transport),
        ])
    }

    /// The name of the source in use, once one has provided credentials.
    public var sourceName: String? { chosen?.name }

    public func credentials() async throws(AWSClientError) -> AWSCredentials {
        if let cached, let refreshAt, now() < refreshAt { return cached }
        if let cached, refreshAt == nil { return cached }
        let task: Task<Result<AWSCredentials, AWSClientError>, Never>
        if let inFlight {
            task = inFlight
        } else {
            task = Task { await self.fetch() }
            inFlight = task
        }
        let result = await task.value
        if inFlight == task { inFlight = nil }
        switch result {
        case .success(let credentials):
            return credentials
        case .failure(let error):
            // A failed early refresh may keep using credentials that are still valid for a while.
            if let cached, let expiration = cached.expiration,
               expiration.timeIntervalSince(now()) > Self.mandatoryWindow {
                return cached
            }
            throw error
        }
    }

    public func invalidate() async {
        cached = nil
        refreshAt = nil
    }

    private func fetch() async -> Result<AWSCredentials, AWSClientError> {
        fetchCount += 1
        let fetchedAt = now()
        do throws(AWSClientError) {
            let credentials = try await loadFromSources()
            if let expiration = credentials.expiration, expiration <= fetchedAt {
                throw .credentialFailure(chosen?.name ?? "chain", "the credentials provided expired at \(expiration); the source returned stale credentials")
            }
            cached = credentials
            refreshAt = credentials.expiration.map { expiration in
                let lifetime = expiration.timeIntervalSince(fetchedAt)
                let window = min(Self.advisoryWindow, lifetime / 2)
                // Up to 10 % earlier, so that a fleet does not refresh in lock step.
                return expiration.addingTimeInterval(-window * (1 + 0.1 * random()))
            }
            return .success(credentials)
        } catch {
            return .failure(error)
        }
    }

    private func loadFromSources() async throws(AWSClientError) -> AWSCredentials {
        if let chosen {
            guard let credentials = try await chosen.load() else {
                throw .credentialFailure(chosen.name, "the \(chosen.name) credential source no longer provides credentials")
            }
            return credentials
        }
        for source in sources {
            if let credentials = try await source.load() {
                chosen = source
                return credentials
            }
        }
        throw AWSClientError(.noCredentials, service: "credentials", operation: nil,
                             message: "no credentials found; tried \(sources.map(\.name).joined(separator: ", ")) (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or attach an instance role)")
    }
}
