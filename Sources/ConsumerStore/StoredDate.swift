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

    /// Years whose dates are counted here. Foundation's Gregorian calendar is Julian before 15 October 1582: such
    /// dates (which the daemon never writes) are left to GRDB, as are years of more than four digits.
    static let gregorianYears = 1583...9999

    /// The stored text of `date`; GRDB's (the same text) outside `gregorianYears`.
    static func text(_ date: Date) -> String {
        // As Foundation hands a date to ICU (milliseconds since 1970, a Double, plus half a millisecond), and as
        // ICU then drops what is left below the millisecond.
        let milliseconds = ((date.timeIntervalSinceReferenceDate + referenceFrom1970) * 1000 + 0.5).rounded(.down)
        guard milliseconds.isFinite, abs(milliseconds) < 9e15 else { return fallbackText(date) }
        let fields = Timestamp.fields(milliseconds: Int64(milliseconds))
        guard gregorianYears.contains(fields.year) else { return fallbackText(date) }
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
            let total = Timestamp.milliseconds(Timestamp.Fields(year: year, month: month, day: day, hour: hour, minute: minute,
                                                                 second: second, millisecond: millisecond))
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
