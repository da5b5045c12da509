import Foundation
import GRDB

/// A date as the SQLite state stores it: `yyyy-MM-dd HH:mm:ss.SSS` in UTC, to the nearest millisecond — exactly the
/// text GRDB writes for a `Date`, so files written before and after read the same and sort the same.
///
/// Written and read here rather than by GRDB's own conversion, which formats every date with a Foundation
/// `DateFormatter` and reads one through a `Calendar` with a POSIX locale: both are ICU, whose code and data
/// were about 3 MiB of the daemon's resident memory, and a formatter call costs microseconds. Text in any other
/// form (edited by hand, written by another tool) and numbers are read by GRDB's parser, as before.
enum StoredDate {
    /// Seconds from 1970 to 2001, Foundation's reference date.
    private static let referenceFrom1970 = 978_307_200.0
    private static let millisecondsPerDay: Int64 = 86_400_000

    /// Years whose dates are counted here. Foundation's Gregorian calendar is Julian before 15 October 1582: such
    /// dates (which the daemon never writes) are left to GRDB, as are years of more than four digits.
    static let gregorianYears = 1583...9999

    /// The stored text of `date`; GRDB's (the same text) outside `gregorianYears`.
    static func text(_ date: Date) -> String {
        // As Foundation hands a date to ICU (milliseconds since 1970, a Double, plus half a millisecond), and as
        // ICU then drops what is left below the millisecond.
        let milliseconds = ((date.timeIntervalSinceReferenceDate + referenceFrom1970) * 1000 + 0.5).rounded(.down)
        guard milliseconds.isFinite, abs(milliseconds) < 9e15 else { return fallbackText(date) }
        let total = Int64(milliseconds)
        let days = total.floorDivided(by: millisecondsPerDay)
        var rest = total - days * millisecondsPerDay
        let (year, month, day) = civil(fromDays: days)
        guard gregorianYears.contains(year) else { return fallbackText(date) }
        let millisecond = Int(rest % 1000); rest /= 1000
        let second = Int(rest % 60); rest /= 60
        let fields = Timestamp.Fields(year: year, month: month, day: day, hour: Int(rest / 60), minute: Int(rest % 60), second: second,
                                      millisecond: millisecond)
        return Timestamp.text(fields, separator: UInt8(ascii: " "), zone: nil)
    }

    /// The date of a stored value: the text above read here, anything else as GRDB reads it; nil for NULL or
    /// what is no date.
    static func date(_ value: DatabaseValue) -> Date? {
        if case .string(let text) = value.storage, let date = date(canonical: text) { return date }
        return Date.fromDatabaseValue(value)
    }

    /// `yyyy-MM-dd HH:mm:ss.SSS`, nothing more or less, with a valid day and time of `gregorianYears`; nil otherwise.
    static func date(canonical text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            guard bytes.count == 23, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: " "),
                  bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: ".") else { return nil }
            func number(_ offset: Int, _ width: Int) -> Int? {
                var value = 0
                for index in offset..<(offset + width) {
                    let digit = bytes[index] &- UInt8(ascii: "0")
                    guard digit < 10 else { return nil }
                    value = value * 10 + Int(digit)
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
                  let minute = number(14, 2), let second = number(17, 2), let millisecond = number(20, 3),
                  gregorianYears.contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
                  hour < 24, minute < 60, second < 60 else { return nil }
            let days = Self.days(fromCivil: year, month, day)
            let total = days * millisecondsPerDay + Int64(((hour * 60 + minute) * 60 + second) * 1000 + millisecond)
            // From 2001, as Foundation counts: the instant GRDB's reading gives, as the nearest Double (GRDB's
            // calendar adds the parts in another order, and its Double can differ in the last bits).
            return Date(timeIntervalSinceReferenceDate: Double(total - Int64(referenceFrom1970) * 1000) / 1000)
        }
    }

    private static func fallbackText(_ date: Date) -> String {
        if case .string(let text) = date.databaseValue.storage { return text }
        return ""
    }

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a day of the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`).
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * Int64(month > 2 ? month - 3 : month + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The day `days` after 1970-01-01 (`civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}

private extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// A date as a statement argument, in the stored text.
struct StoredDateArgument: DatabaseValueConvertible {
    let date: Date
    init(_ date: Date) { self.date = date }
    var databaseValue: DatabaseValue { StoredDate.text(date).databaseValue }
    static func fromDatabaseValue(_ dbValue: DatabaseValue) -> StoredDateArgument? { StoredDate.date(dbValue).map(Self.init) }
}

/// Records whose dates are written and read by `StoredDate`, not by GRDB's ICU formatter and calendar.
public protocol StoredDates: EncodableRecord, FetchableRecord {}

extension StoredDates {
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .custom { StoredDate.text($0) }
    }

    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .custom { StoredDate.date($0) }
    }
}

extension Row {
    /// A date column (NOT NULL) read by `StoredDate`.
    func decodeDate(forColumn column: String) throws -> Date {
        guard let date = try decodeDateIfPresent(forColumn: column) else {
            throw StoreError(.corrupt, "state database: column \(column) holds no date; restore the state from a backup")
        }
        return date
    }

    /// A nullable date column read by `StoredDate`; a value that is no date throws.
    func decodeDateIfPresent(forColumn column: String) throws -> Date? {
        let stored: DatabaseValue? = self[column]
        guard let value = stored, !value.isNull else { return nil }
        guard let date = StoredDate.date(value) else {
            throw StoreError(.corrupt, "state database: column \(column) holds \(String(String(describing: value).prefix(40))), which is no date; "
                             + "restore the state from a backup")
        }
        return date
    }
}
