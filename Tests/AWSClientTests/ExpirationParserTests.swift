import Foundation
import Testing
@testable import AWSClient

/// Credential expirations are read as Foundation's ISO8601DateFormatter read them (the parser it replaced, which
/// brought ICU into the daemon), without it.
struct ExpirationParserTests {
    /// What the replaced parser gave: internet date-time, then with fractional seconds.
    static func formatter(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    @Test(arguments: ["2026-11-25T22:00:00Z", "2026-11-25T22:00:00.123Z", "2026-11-25T22:00:00.5Z", "2026-11-25T23:00:00+01:00",
                      "2026-11-25T21:30:00-00:30", "2026-11-25T22:00:00.250+00:00", "2024-02-29T23:59:59Z", "2026-12-31T23:30:00-01:00"])
    func readAsTheFormatterReadThem(_ text: String) throws {
        let parsed = try #require(ExpirationParser.parse(text))
        let expected = try #require(Self.formatter(text))
        #expect(abs(parsed.timeIntervalSince(expected)) < 0.000_001, "\(text): \(parsed) against \(expected)")
    }

    @Test(arguments: ["tomorrow", "", "2026-11-25 22:00:00Z", "2026-11-25T22:00:00", "2026-11-25T22:00:00+1:00",
                      "2026-11-25T22:00:00+25:00", "2026-11-25T22:00:00+01:60", "2026-13-25T22:00:00Z", "2026-11-25T22:00:00+01:0a"])
    func whatIsNoTimeIsRefused(_ text: String) {
        #expect(ExpirationParser.parse(text) == nil)
    }
}
