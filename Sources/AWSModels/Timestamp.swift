import Foundation

/// RFC 3339 timestamps in UTC with milliseconds (`2026-11-25T22:00:00.123Z`), as the contracts and the
/// health log use. Formats without a shared formatter: safe from any thread and cheap enough for 10,000 rows.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        let parts = fields(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded()))
        if (0...9999).contains(parts.year) {
            return text(parts, separator: UInt8(ascii: "T"), zone: UInt8(ascii: "Z"))
        }
        return pad(parts.year, 4) + "-" + pad(parts.month, 2) + "-" + pad(parts.day, 2)
            + "T" + pad(parts.hour, 2) + ":" + pad(parts.minute, 2) + ":" + pad(parts.second, 2)
            + "." + pad(parts.millisecond, 3) + "Z"
    }

    /// The UTC day and time of `milliseconds` since 1970 (`gmtime_r`: the proleptic Gregorian calendar).
    public static func fields(milliseconds total: Int64) -> Fields {
        var seconds = time_t(total.floorDivided(by: 1000))
        let millisecond = Int(total - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return Fields(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday), hour: Int(parts.tm_hour),
                      minute: Int(parts.tm_min), second: Int(parts.tm_sec), millisecond: millisecond)
    }

    /// Milliseconds since 1970 of a UTC day and time (`timegm`: a day past its month's end rolls over, so the
    /// caller checks the fields first).
    public static func milliseconds(_ fields: Fields) -> Int64 {
        var parts = tm()
        parts.tm_year = Int32(fields.year - 1900)
        parts.tm_mon = Int32(fields.month - 1)
        parts.tm_mday = Int32(fields.day)
        parts.tm_hour = Int32(fields.hour)
        parts.tm_min = Int32(fields.minute)
        parts.tm_sec = Int32(fields.second)
        return Int64(timegm(&parts)) * 1000 + Int64(fields.millisecond)
    }

    /// A time of day on a day of the Gregorian calendar, to the millisecond.
    public struct Fields: Equatable, Sendable {
        public var year, month, day, hour, minute, second, millisecond: Int
        public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int) {
            (self.year, self.month, self.day) = (year, month, day)
            (self.hour, self.minute, self.second, self.millisecond) = (hour, minute, second, millisecond)
        }
    }

    /// `yyyy-MM-dd`, `separator`, `HH:mm:ss.SSS`, then `zone` when there is one, written straight into the string's
    /// bytes (`status --json` writes tens of thousands of these). `fields.year` is within 0...9999.
    public static func text(_ fields: Fields, separator: UInt8, zone: UInt8?) -> String {
        precondition((0...9999).contains(fields.year) && (0...999).contains(fields.millisecond), "Timestamp.text: \(fields) is out of range")
        return String(unsafeUninitializedCapacity: zone == nil ? 23 : 24) { buffer in
            func put(_ value: Int, width: Int, at offset: Int) {
                var rest = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
            }
            put(fields.year, width: 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(fields.month, width: 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(fields.day, width: 2, at: 8)
            buffer[10] = separator
            put(fields.hour, width: 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(fields.minute, width: 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(fields.second, width: 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(fields.millisecond, width: 3, at: 20)
            guard let zone else { return 23 }
            buffer[23] = zone
            return 24
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }

        var fraction = 0
        var digits = 0
        if bytes.count > 20 {
            digits = bytes.count - 21
            guard bytes[19] == UInt8(ascii: "."), (1...9).contains(digits), let value = number(20..<(bytes.count - 1))
            else { return nil }
            fraction = value
        } else {
            guard bytes[19] == UInt8(ascii: "Z") else { return nil }
        }

        let seconds = milliseconds(Fields(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                                          millisecond: 0)) / 1000
        if digits <= 3 {
            // Whole milliseconds divided once, so that a parsed time equals the one that was written.
            var millis = fraction
            for _ in digits..<3 { millis *= 10 }
            return Date(timeIntervalSince1970: Double(seconds * 1000 + Int64(millis)) / 1000)
        }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return Date(timeIntervalSince1970: Double(seconds) + Double(fraction) / scale)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
