import Foundation
import GRDB
import Testing
import TestSupport
@testable import ConsumerStore

/// The SQLite state's dates are written and read by `StoredDate`, to exactly the text and the instants GRDB's own
/// conversion (a Foundation DateFormatter, a Calendar) gives: files written before and after are the same.
struct StoredDateTests {
    static func grdbText(_ date: Date) -> String? {
        if case .string(let text) = date.databaseValue.storage { text } else { nil }
    }

    static let edges: [Date] = [
        Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.0005), Date(timeIntervalSince1970: 0.9999),
        Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: 951_868_799.999),  // 2000-02-29
        Date(timeIntervalSince1970: 1_709_164_800.5), Date(timeIntervalSince1970: 4_107_542_399.999),  // 2024-02-29, 2100-02-28
        Date(timeIntervalSince1970: 253_402_300_799.999), Date(timeIntervalSince1970: -62_135_596_800),  // 9999-12-31, 0001-01-01
        Date(timeIntervalSince1970: -12_219_292_800), Date(timeIntervalSince1970: -12_219_292_800.001),  // the Gregorian calendar's first day
        Date(timeIntervalSince1970: -11_676_096_000), Date(timeIntervalSince1970: 253_402_300_800),  // 1583-01-01, 10000-01-01
        Date(timeIntervalSinceReferenceDate: 0), Date(timeIntervalSinceReferenceDate: 818_000_000.123456),
        Date(timeIntervalSinceReferenceDate: -1e-7), Date(timeIntervalSince1970: 1_780_000_000.0004999),
    ]

    /// The same text as GRDB for seeded random dates (sub-millisecond parts, before 1970 too) and the edges, and
    /// the same date read back from it.
    @Test func writesAndReadsWhatGRDBWritesAndReads() throws {
        let seed = ProcessInfo.processInfo.environment["STORED_DATE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        var random = SeededRandom(seed: seed)
        var dates = Self.edges
        // Every year the stored dates are counted in (1583 to 9999), by the millisecond from 1970.
        func newYear(_ year: Int) -> Int64 {
            Timestamp.milliseconds(Timestamp.Fields(year: year, month: 1, day: 1, hour: 0, minute: 0, second: 0, millisecond: 0))
        }
        let first = newYear(1583), last = newYear(10_000)
        for _ in 0..<20_000 {
            // Any instant, and a whole millisecond, within ±95 years of 2001 (the daemon's own), then of any year.
            let milliseconds = random.next(6_000_000_000_000) - 3_000_000_000_000
            dates.append(Date(timeIntervalSinceReferenceDate: Double(milliseconds) / 1000 + Double(random.next(1_000_000)) / 1e9))
            dates.append(Date(timeIntervalSinceReferenceDate: Double(milliseconds) / 1000))
            let anyYear = first + Int64(random.next(Int(last - first)))
            dates.append(Date(timeIntervalSince1970: Double(anyYear) / 1000))
        }
        for date in dates {
            let text = StoredDate.text(date)
            try #require(text == Self.grdbText(date), "seed \(seed) (STORED_DATE_SEED): \(date.timeIntervalSinceReferenceDate)")
            let read = StoredDate.date(text.databaseValue)
            let grdb = Date.fromDatabaseValue(text.databaseValue)
            // The same instant (Foundation's calendar adds the parts in another order: the Double's last bits may
            // differ), written again as the same text. Year 10000 is more than either reads.
            let same = read.flatMap { read in grdb.map { abs(read.timeIntervalSince($0)) < 1e-6 && StoredDate.text(read) == text } }
            try #require(same == true || (read == nil && grdb == nil && text.utf8.count > 23),
                         "seed \(seed) (STORED_DATE_SEED): \(text): \(String(describing: read?.timeIntervalSinceReferenceDate)) against GRDB's \(String(describing: grdb?.timeIntervalSinceReferenceDate))")
            // Read here within the Gregorian years, left to GRDB outside them.
            let counted = text.utf8.count == 23 && StoredDate.gregorianYears.contains(Int(text.prefix(4)) ?? 0)
            #expect(StoredDate.date(canonical: text) == (counted ? read : nil), "\(text)")
        }
    }

    /// Anything but the stored form is read as GRDB reads it (other forms, numbers), or not at all.
    @Test(arguments: ["2026-12-07T10:00:00Z", "2026-12-07 10:00:00", "2026-12-07", "2026-12-07 10:00:00.1234",
                      "2026-02-30 00:00:00.000", "2026-13-01 00:00:00.000", "2026-12-07 24:00:00.000", "２０２６-12-07 10:00:00.000",
                      "not a date", ""])
    func otherTextIsReadAsGRDBReadsIt(_ text: String) {
        // None of them is the stored form: never read here, always as GRDB reads it.
        #expect(StoredDate.date(canonical: text) == nil)
        #expect(StoredDate.date(text.databaseValue) == Date.fromDatabaseValue(text.databaseValue))
    }

    @Test func numbersAndNullAreReadAsGRDBReadsThem() {
        #expect(StoredDate.date(1_780_000_000.databaseValue) == Date(timeIntervalSince1970: 1_780_000_000))
        #expect(StoredDate.date(1_780_000_000.25.databaseValue) == Date(timeIntervalSince1970: 1_780_000_000.25))
        #expect(StoredDate.date(.null) == nil)
    }

    @Test func invalidDaysAndTimesAreNotTheStoredForm() {
        for text in ["2026-02-29 00:00:00.000", "2026-04-31 00:00:00.000", "2026-00-10 00:00:00.000", "2026-12-07 10:60:00.000",
                     "2026-12-07 10:00:60.000", "2026-12-07 10:00:00,000", "2026/12/07 10:00:00.000", "2026-12-07 1a:00:00.000"] {
            #expect(StoredDate.date(canonical: text) == nil, "\(text)")
        }
        #expect(StoredDate.date(canonical: "2024-02-29 23:59:59.999") != nil)
    }

    /// What GRDB asks a record type for when it encodes and decodes it: the strategies as its protocols see them.
    static func strategies<T: EncodableRecord & FetchableRecord>(_ type: T.Type) -> (DatabaseDateEncodingStrategy, DatabaseDateDecodingStrategy) {
        (T.databaseDateEncodingStrategy(for: "time"), T.databaseDateDecodingStrategy(for: "time"))
    }

    /// Every record type the SQLite state writes takes its dates from `StoredDate`, not from GRDB's formatter:
    /// asked as GRDB asks (through `EncodableRecord` and `FetchableRecord`, not through `StoredDates`).
    @Test func everyStoredRecordUsesTheStoredDates() {
        let types = [("Customer", Self.strategies(Customer.self)), ("EndpointRecord", Self.strategies(EndpointRecord.self)),
                     ("LifecycleEvent", Self.strategies(LifecycleEvent.self)), ("ProbeResultRecord", Self.strategies(ProbeResultRecord.self)),
                     ("CapacityRecord", Self.strategies(CapacityRecord.self)), ("InvitationRecord", Self.strategies(InvitationRecord.self)),
                     ("StoredCheck", Self.strategies(StoredCheck.self))]
        for (type, strategies) in types {
            guard case .custom(let encode) = strategies.0, case .custom(let decode) = strategies.1 else {
                Issue.record("\(type) converts dates with GRDB's formatter or calendar")
                continue
            }
            let date = Date(timeIntervalSince1970: 1_780_000_000.123)
            #expect(encode(date)?.databaseValue == StoredDate.text(date).databaseValue, "\(type)")
            #expect(decode("2026-12-07 10:00:00.000".databaseValue) == Date(timeIntervalSince1970: 1_796_637_600), "\(type)")
        }
    }

    /// A customer row whose date is no date is refused with the column named; a NULL optional date is nil.
    @Test func aCustomerRowWithNoDateIsRefused() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let added = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()),
                                                by: StoreFixtures.actor)
        #expect(added.removedAt == nil)
        #expect(try await store.customers() == [added])
        try await store.database.write { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: "UPDATE customer SET stateChangedAt = 'soon'")
        }
        let error = await #expect(throws: StoreError.self) { try await store.customers() }
        #expect(error?.code == .corrupt && error?.message.contains("column stateChangedAt holds \"soon\"") == true, "\(String(describing: error))")
    }
}
