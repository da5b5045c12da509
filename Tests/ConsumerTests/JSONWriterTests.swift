import ConsumerCore
import Foundation
import Testing
import TestSupport
@testable import Consumer

/// `status --json` is written by `JSONWriter` for speed; its bytes must be exactly what `JSONEncoder`
/// writes for the same rows (sorted keys, escapes, numbers, dates, nulls). Random rows from a seed
/// (`JSON_SEED=<n>` replays one) with the awkward characters JSON has to escape.
@Suite struct JSONWriterTests {
    /// Characters that each take a different path through an escaper.
    static let alphabet: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{00}",
                                     "\u{1F}", "\u{7F}", "é", "€", "𝄞", "\u{2028}", "👩‍💻", "<", "&", ":"]

    static func text(_ random: inout SeededRandom) -> String {
        String((0..<random.next(12)).map { _ in alphabet[random.next(alphabet.count)] }.joined())
    }

    static func optionalText(_ random: inout SeededRandom) -> String? {
        random.next(3) == 0 ? nil : text(&random)
    }

    static func date(_ random: inout SeededRandom) -> Date {
        // Milliseconds from 1900 to 2100, including before 1970.
        Date(timeIntervalSince1970: Double(random.next(6_311_433_600_000)) / 1000 - 2_208_988_800)
    }

    static func number(_ random: inout SeededRandom) -> Double {
        let choices: [Double] = [0, 1, 1.5, 100, 0.1 + 0.2, 1e-7, 1e21, 123456.789, -0.0, 9_007_199_254_740_993]
        return random.next(2) == 0 ? choices[random.next(choices.count)] : Double(random.next(10_000_000)) / 1000
    }

    static func row(_ random: inout SeededRandom) -> StatusCommand.CustomerRow {
        let probe = random.next(3) == 0 ? nil : StatusCommand.ProbeView(
            time: date(&random), ok: random.next(2) == 0, stage: text(&random), latencyMs: number(&random),
            error: optionalText(&random), hint: optionalText(&random))
        let checks = (0..<random.next(4)).map { _ in
            StatusCommand.CheckView(check: text(&random), verdict: text(&random), detail: text(&random),
                                    hint: optionalText(&random), checkedAt: date(&random))
        }
        return StatusCommand.CustomerRow(
            name: text(&random), resourceConfigurationArn: text(&random), region: text(&random), accountId: text(&random),
            port: random.next(65_536) - (random.next(5) == 0 ? 70_000 : 0), state: text(&random),
            stateDetail: optionalText(&random), hint: optionalText(&random), resourceShareArn: optionalText(&random),
            vpcEndpointId: optionalText(&random), vpcId: optionalText(&random), dnsName: optionalText(&random), health: text(&random),
            lastProbe: probe, checks: checks)
    }

    static func invitation(_ random: inout SeededRandom) -> StatusCommand.InvitationRow {
        StatusCommand.InvitationRow(
            invitationArn: text(&random), resourceShareArn: text(&random), senderAccountId: text(&random),
            resources: (0..<random.next(3)).map { _ in text(&random) }, decision: text(&random),
            reason: optionalText(&random), firstSeen: date(&random))
    }

    static func capacity(_ random: inout SeededRandom) -> StatusCommand.CapacityRow {
        StatusCommand.CapacityRow(region: text(&random), vpcId: text(&random), endpoints: random.next(10_000), limit: random.next(10_000),
                                  limitSource: text(&random), fullBecause: optionalText(&random))
    }

    static func expectSame(_ value: some Encodable & JSONWritable, seed: UInt64) {
        let expected = JSONOutput.encode(value)
        let written = JSONWriter.write(value)
        #expect(written == expected, "JSON_SEED=\(seed) replays this case")
    }

    @Test func writesWhatJSONEncoderWrites() {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64] = environment["JSON_SEED"].flatMap(UInt64.init).map { [$0] } ?? Array(1...200)
        for seed in seeds {
            var random = SeededRandom(seed: seed)
            Self.expectSame(Self.row(&random), seed: seed)
            Self.expectSame(Self.invitation(&random), seed: seed)
            Self.expectSame(Self.capacity(&random), seed: seed)
            Self.expectSame([Self.row(&random), Self.row(&random)], seed: seed)
            let leader = StatusCommand.LeaderView(host: Self.text(&random), pid: random.next(1 << 22),
                                                  since: Self.date(&random), epoch: Int64(random.next(1 << 40)))
            Self.expectSame(leader, seed: seed)
        }
    }

    @Test(arguments: [0, 1, 2]) func theWholeStatusDocumentMatches(leaderCase: Int) {
        // The document `render` writes: no leader key (SQLite), `"leader": null`, or the lease's holder.
        var random = SeededRandom(seed: 7)
        let rows = (0..<50).map { _ in Self.row(&random) }
        let invitations = (0..<5).map { _ in Self.invitation(&random) }
        let leader: StatusCommand.LeaderView?? = switch leaderCase {
        case 0: .none
        case 1: .some(nil)
        default: StatusCommand.LeaderView(host: "ip-10-0-0-1", pid: 4242, since: Self.date(&random), epoch: 7)
        }
        let capacity = (0..<3).map { _ in Self.capacity(&random) }
        let document = StatusCommand.Document(capacity: capacity, customers: rows, invitations: invitations, leader: leader)
        Self.expectSame(document, seed: 7)
        let text = JSONWriter.write(document)
        #expect(text.contains(#""leader":"#) == (leaderCase != 0))
        #expect(text.contains(#""leader":null"#) == (leaderCase == 1))
        Self.expectSame(StatusCommand.Document(capacity: [], customers: [], invitations: [], leader: nil), seed: 0)
    }
}

@Suite struct TimestampTests {
    /// The reference: the same fields through the C library's formatter.
    static func reference(_ date: Date) -> String {
        let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t((Double(total) / 1000).rounded(.down))
        let millis = Int(total - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let head = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return head + "." + String(String(millis + 1000).dropFirst()) + "Z"
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (-0.001, "1969-12-31T23:59:59.999Z"),
        (1_800_000_000.123, "2027-01-15T08:00:00.123Z"),
        (1_800_000_000.9996, "2027-01-15T08:00:01.000Z"),
        (253_402_300_799.999, "9999-12-31T23:59:59.999Z"),
        (-2_208_988_800, "1900-01-01T00:00:00.000Z"),
    ])
    func writesMillisecondsInUTC(seconds: Double, expected: String) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(Timestamp.string(date) == expected)
        #expect(Timestamp.parse(expected).map(Timestamp.string) == expected)
    }

    @Test func agreesWithStrftimeAndRoundTrips() {
        var random = SeededRandom(seed: 42)
        for _ in 0..<5_000 {
            // Whole milliseconds from 1653 to 2286.
            let date = Date(timeIntervalSince1970: Double(random.next(20_000_000_000_000) - 10_000_000_000_000) / 1000)
            let text = Timestamp.string(date)
            #expect(text == Self.reference(date), "at \(date.timeIntervalSince1970)")
            #expect(Timestamp.parse(text) == date, "at \(date.timeIntervalSince1970)")
        }
    }
}
