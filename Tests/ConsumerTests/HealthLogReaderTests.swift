import Foundation
import Testing
@testable import Consumer

@Suite struct HealthLogReaderTests {
    let directory = DaemonScratchDirectory()
    var path: String { directory.file("health.jsonl") }
    static let start = Date(timeIntervalSince1970: 1_795_644_000)

    static func event(_ index: Int, customer: String? = nil) -> HealthLogEntry {
        .event(time: start.addingTimeInterval(Double(index)), customer: customer ?? (index % 2 == 0 ? "acme" : "globex"),
               event: "tick", detail: String(index))
    }

    static func index(_ entry: HealthLogEntry) -> Int? {
        guard case .event(_, _, _, let detail, _) = entry, let detail else { return nil }
        return Int(detail)
    }

    @Test func readsRotatedFilesOldestFirstAndFilters() throws {
        let writer = try HealthLogWriter(path: path, maxBytes: 1024, files: 50)
        for index in 0..<100 { try writer.append(Self.event(index)) }
        #expect(FileManager.default.fileExists(atPath: path + ".5"))
        #expect(!FileManager.default.fileExists(atPath: path + ".49"))

        let reader = HealthLogReader(path: path)
        #expect(try reader.entries().map(Self.index) == Array(0..<100))
        #expect(try reader.entries(customer: "globex").map(Self.index) == Array(stride(from: 1, to: 100, by: 2)))
        #expect(try reader.entries(since: Self.start.addingTimeInterval(90)).map(Self.index) == Array(90..<100))
        #expect(try reader.entries(customer: "acme", since: Self.start.addingTimeInterval(95)).map(Self.index)
                    == [96, 98])
        #expect(try reader.entries(customer: "nobody").isEmpty)
    }

    @Test func skipsGarbledAndTruncatedLines() throws {
        let line = { (index: Int) in Self.event(index).jsonLine() }
        try (line(0) + "\nnot json\n" + String(line(1).prefix(30)) + "\n").write(toFile: path + ".1", atomically: false,
                                                                                    encoding: .utf8)
        try ("\n" + line(2) + "\n{\"time\":\"2026\"}\n\u{0}\u{1}\n" + line(3) + "\n" + String(line(4).dropLast(5)))
            .write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try HealthLogReader(path: path).entries().map(Self.index) == [0, 2, 3])
    }

    @Test func aLogNotWrittenYetIsEmpty() throws {
        #expect(try HealthLogReader(path: directory.file("missing/health.jsonl")).entries().isEmpty)
    }

    @Test func followYieldsExistingThenAppendedEntriesAcrossRotation() async throws {
        let path = path
        try await DaemonTest.withTimeout(30) {
            let writer = try HealthLogWriter(path: path, maxBytes: 1024, files: 5)
            for index in 0..<3 { try writer.append(Self.event(index)) }

            var iterator = HealthLogReader(path: path).follow(pollInterval: .milliseconds(10)).makeAsyncIterator()
            var seen: [Int?] = []
            for _ in 0..<3 { seen.append(try await iterator.next().flatMap(Self.index)) }
            #expect(seen == [0, 1, 2])

            // Batches of three, each read before the next is written: a batch may straddle a rotation.
            seen = []
            for batch in 0..<15 {
                for index in (3 + batch * 3)..<(6 + batch * 3) { try writer.append(Self.event(index)) }
                for _ in 0..<3 { seen.append(try await iterator.next().flatMap(Self.index)) }
            }
            #expect(seen == Array(3..<48))
            #expect(FileManager.default.fileExists(atPath: path + ".4"))
        }
    }

    @Test func followFiltersAndWaitsForTheFile() async throws {
        let path = directory.file("later/health.jsonl")
        try await DaemonTest.withTimeout(30) {
            let stream = HealthLogReader(path: path)
                .follow(customer: "acme", since: Self.start.addingTimeInterval(2), pollInterval: .milliseconds(10))
            var iterator = stream.makeAsyncIterator()
            let writer = try HealthLogWriter(path: path, maxBytes: 1 << 20, files: 2)
            for index in 0..<8 { try writer.append(Self.event(index)) }
            var seen: [Int?] = []
            for _ in 0..<3 { seen.append(try await iterator.next().flatMap(Self.index)) }
            #expect(seen == [2, 4, 6])
        }
    }

    @Test func followEndsWhenTheConsumerIsCancelled() async throws {
        let writer = try HealthLogWriter(path: path)
        try writer.append(Self.event(0))
        let stream = HealthLogReader(path: path).follow(pollInterval: .milliseconds(10))
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let consumer = Task {
            var count = 0
            for try await _ in stream {
                count += 1
                signal.yield()
            }
            return count
        }
        var iterator = started.makeAsyncIterator()
        await iterator.next()
        consumer.cancel()
        let count = try await DaemonTest.withTimeout(5) { try await consumer.value }
        #expect(count == 1)
    }

    @Test func parsesSinceDurations() {
        let table: [(String, TimeInterval?)] = [
            ("90s", 90), ("15m", 900), ("1h", 3_600), ("2d", 172_800), ("1h30m", 5_400), ("1d2h3m4s", 93_784),
            ("0s", 0), (" 10m ", 600),
            ("", nil), ("h", nil), ("10", nil), ("1x", nil), ("-1h", nil), ("1.5h", nil), ("30m1h", nil),
            ("1h1h", nil), ("1H", nil), ("1h 30m", nil), ("99999999999999999999s", nil), ("9223372036854775807d", nil),
        ]
        for (text, expected) in table {
            #expect(HealthLogReader.parseDuration(text) == expected, "\(text)")
        }
    }
}
