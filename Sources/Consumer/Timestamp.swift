import Foundation

/// RFC 3339 timestamps in UTC with milliseconds (`2026-11-25T22:00:00.123Z`), as the contracts use.
public enum Timestamp {
    /// Formats without a shared formatter: safe from any thread and cheap enough for 10,000 rows.
    /// The health log writes the same format; one implementation serves both.
    public static func string(_ date: Date) -> String {
        HealthLogTime.string(date)
    }
}
