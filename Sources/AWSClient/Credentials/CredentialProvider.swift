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

/// Parses the expiration times credential endpoints return: `2026-11-25T22:00:00Z`, with or without fractions,
/// or with an offset (`+01:00`) instead of `Z`. Read without Foundation's ISO8601DateFormatter, which is ICU: its
/// code and data would join the daemon's resident memory at the first refresh of instance credentials.
enum ExpirationParser {
    static func parse(_ text: String) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        let bytes = Array(text.utf8)
        let count = bytes.count
        guard count > 20, bytes[count - 6] == UInt8(ascii: "+") || bytes[count - 6] == UInt8(ascii: "-"),
              bytes[count - 3] == UInt8(ascii: ":") else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let hours = digits((count - 5)..<(count - 3)), let minutes = digits((count - 2)..<count), hours < 24, minutes < 60,
              let local = Timestamp.parse(String(decoding: bytes[..<(count - 6)], as: UTF8.self) + "Z") else { return nil }
        let offset = TimeInterval(hours * 3600 + minutes * 60)
        return local.addingTimeInterval(bytes[count - 6] == UInt8(ascii: "+") ? -offset : offset)
    }
}
