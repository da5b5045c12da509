import Foundation

/// What signs requests: credentials on demand, cached and refreshed ahead of expiry.
public protocol CredentialProvider: Sendable {
    /// Valid (never expired) credentials.
    func credentials() async throws(AWSClientError) -> AWSCredentials
    /// Forgets cached credentials, so that the next call fetches new ones (after an ExpiredToken answer).
    func invalidate() async
}

/// One place credentials can come from (environment, profile files, IMDS, …).
public protocol CredentialSource: Sendable {
    /// Short name for messages: `environment`, `web-identity`, `profile default`, `container`, `imds`.
    var name: String { get }
    /// Credentials from this source; nil when the source is not configured here (the chain moves on);
    /// throws when it is configured but fails.
    func load() async throws(AWSClientError) -> AWSCredentials?
}

extension AWSClientError {
    static func credentialFailure(_ source: String, _ message: String) -> AWSClientError {
        AWSClientError(.credentials, service: "credentials", operation: source, message: message)
    }
}

/// Parses the expiration times credential endpoints return (`2026-11-25T22:00:00Z`, with or without fractions).
enum ExpirationParser {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
