import Foundation
import Testing
@testable import Consumer

@Suite struct HealthLogTests {
    let directory = DaemonScratchDirectory()
    /// 2026-11-25T22:00:00.123Z
    static let time = Date(timeIntervalSince1970: 1_795_644_000.123)

    static let failedProbe = HealthLogEntry.probe(HealthLogProbe(
        time: time, customer: "acme", vpcEndpointId: "vpce-0123456789abcdef0",
        dnsName: "vpce-0123456789abcdef0-abcd.rcfg-0123.vpc-lattice-rsc.us-east-1.on.aws", port: 5432, ok: false,
        stage: "connect", error: "timed out after 5 s",
        hint: "check that the RDS security group admits the resource gateway (step 3)",
        latencyMs: ["connect": 5000.0, "dns": 0.4]))

    @Test func probeLineHasTheDocumentedShape() {
        #expect(Self.failedProbe.jsonLine() == #"""
            {"time":"2026-11-25T22:00:00.123Z","kind":"probe","customer":"acme","vpcEndpointId":"vpce-0123456789abcdef0","dnsName":"vpce-0123456789abcdef0-abcd.rcfg-0123.vpc-lattice-rsc.us-east-1.on.aws","port":5432,"ok":false,"stage":"connect","error":"timed out after 5 s","hint":"check that the RDS security group admits the resource gateway (step 3)","latencyMs":{"dns":0.4,"connect":5000.0}}
            """#)
    }

    @Test func nullsAreOmitted() {
        let probe = HealthLogEntry.probe(HealthLogProbe(time: Self.time, customer: "acme", port: 5432, ok: true,
                                                        stage: "postgres", latencyMs: [:]))
        #expect(probe.jsonLine() == #"""
            {"time":"2026-11-25T22:00:00.123Z","kind":"probe","customer":"acme","port":5432,"ok":true,"stage":"postgres","latencyMs":{}}
            """#)
        let event = HealthLogEntry.event(time: Self.time.addingTimeInterval(0.879), customer: "acme",
                                         event: "share_accepted", detail: nil)
        #expect(event.jsonLine() == #"""
            {"time":"2026-11-25T22:00:01.002Z","kind":"event","customer":"acme","event":"share_accepted"}
            """#)
        let detailed = HealthLogEntry.event(time: Self.time, customer: "acme", event: "endpoint_failed",
                                            detail: "CreateVpcEndpoint: UnauthorizedOperation")
        #expect(detailed.jsonLine() == #"""
            {"time":"2026-11-25T22:00:00.123Z","kind":"event","customer":"acme","event":"endpoint_failed","detail":"CreateVpcEndpoint: UnauthorizedOperation"}
            """#)
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_795_644_000.0, "2026-11-25T22:00:00.000Z"),
        (1_795_644_000.9996, "2026-11-25T22:00:01.000Z"),
        (1_795_644_059.999, "2026-11-25T22:00:59.999Z"),
        (951_782_400.5, "2000-02-29T00:00:00.500Z"),
        (-0.25, "1969-12-31T23:59:59.750Z"),
    ])
    func timesAreUTCWithMilliseconds(seconds: Double, text: String) {
        #expect(HealthLogTime.string(Date(timeIntervalSince1970: seconds)) == text)
        let parsed = HealthLogTime.parse(text)
        #expect(parsed.map { HealthLogTime.string($0) } == text)
    }

    @Test func awkwardTextStaysOnOneLineAndRoundTrips() throws {
        let detail = "quote \" backslash \\ newline \n tab \t bell \u{7} unicode é ✓ 🚀"
        let entry = HealthLogEntry.event(time: Self.time, customer: "acme", event: "endpoint_failed", detail: detail)
        let line = entry.jsonLine()
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["detail"] as? String == detail)
        #expect(HealthLogEntry(jsonLine: line) == entry)
    }

    @Test func entriesRoundTrip() {
        let entries: [HealthLogEntry] = [
            Self.failedProbe,
            .probe(HealthLogProbe(time: Self.time, customer: "globex", dnsName: "localhost", port: 6543, ok: true,
                                  stage: "login", latencyMs: ["dns": 0.1, "connect": 0.25, "postgres": 1.5,
                                                              "login": 12.0, "tls": 3.0])),
            .event(time: Self.time, customer: "acme", event: "share_accepted", detail: "rs-123"),
            .event(time: Self.time, customer: "initech", event: "ready", detail: nil),
            .check(time: Self.time, HealthLogCheck(customer: "acme", check: "definition", verdict: "fail", detail: "an IP resource (10.0.0.5)",
                                                   hint: "recreate it as a DNS resource (setup step 4)", eventId: 7, stateId: 42)),
        ]
        for entry in entries {
            #expect(HealthLogEntry(jsonLine: entry.jsonLine()) == entry)
        }
    }

    @Test func aCheckLineHasItsShapeAndCountsForTheOutboxRestart() throws {
        let entry = HealthLogEntry.check(time: Self.time, HealthLogCheck(customer: "acme", check: "port", verdict: "fail", detail: "3306",
                                                                        hint: nil, eventId: 9, stateId: 42))
        #expect(entry.jsonLine() == #"{"time":"2026-11-25T22:00:00.123Z","kind":"check","customer":"acme","check":"port","verdict":"fail","detail":"3306","eventId":9,"stateId":42}"#)
        let path = directory.file("checks.jsonl")
        let writer = try HealthLogWriter(path: path)
        try writer.append(.event(time: Self.time, customer: "acme", event: "ready", detail: nil,
                                 trail: HealthLogEventTrail(eventId: 8, actor: "daemon", fromState: nil, toState: "ready", stateId: 42)))
        try writer.append(entry)
        #expect(HealthLogReader(path: path).lastEventId(stateId: 42) == 9)
        #expect(HealthLogReader(path: path).lastEventId(stateId: 41) == nil)
    }

    @Test func probeStagesPrintInTheOrderTheyRun() {
        let line = HealthCommand.format(.probe(HealthLogProbe(time: Self.time, customer: "acme", port: 5432, ok: true, stage: "postgres",
                                                              latencyMs: ["postgres": 3, "connect": 2, "dns": 1])), json: false)
        #expect(line.contains("dns 1.0 ms, connect 2.0 ms, postgres 3.0 ms"), "\(line)")
    }

    @Test(arguments: [
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"event","customer":"acme","event":"ready","extra":[1,{"a":null}]}"#,
        #"{"kind":"event","event":"ready","customer":"acme","time":"2026-11-25T22:00:00Z","detail":null}"#,
        #"  {"time":"2026-11-25T22:00:00.1Z","kind":"probe","customer":"a","port":1,"ok":true,"stage":"dns","latencyMs":{},"future":true}"#,
    ])
    func parsingIsLenientAboutUnknownKeys(line: String) {
        #expect(HealthLogEntry(jsonLine: line) != nil)
    }

    @Test(arguments: [
        "",
        "garbage",
        "{}",
        "[1,2]",
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"event","customer":"acme","event":"rea"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"event","customer":"acme"}"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"event","event":"ready"}"#,
        #"{"kind":"event","customer":"acme","event":"ready"}"#,
        #"{"time":"yesterday","kind":"event","customer":"acme","event":"ready"}"#,
        #"{"time":"2026-13-25T22:00:00.123Z","kind":"event","customer":"acme","event":"ready"}"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"alarm","customer":"acme","event":"ready"}"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"probe","customer":"a","ok":true,"stage":"dns","latencyMs":{}}"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"probe","customer":"a","port":1,"ok":"yes","stage":"dns","latencyMs":{}}"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"probe","customer":"a","port":1,"ok":true,"stage":"dns"}"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"probe","customer":"a","port":1,"ok":true,"stage":"dns","latencyMs":{"dns":"x"}}"#,
        #"{"time":"2026-11-25T22:00:00.123Z","kind":"event","customer":"acme","event":"ready"} trailing"#,
    ])
    func parsingIsStrictAboutRequiredKeys(line: String) {
        #expect(HealthLogEntry(jsonLine: line) == nil)
    }

    @Test func probeCodableUsesTheLogShape() throws {
        guard case .probe(let probe) = Self.failedProbe else { Issue.record("not a probe"); return }
        let data = try JSONEncoder().encode(probe)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["time"] as? String == "2026-11-25T22:00:00.123Z")
        #expect(try JSONDecoder().decode(HealthLogProbe.self, from: data) == probe)
    }

    @Test func appendWritesOneLinePerEntryAndCreatesTheFile() throws {
        let path = directory.file("log/privatelink-consumer/health.jsonl")
        let writer = try HealthLogWriter(path: path)
        let entries: [HealthLogEntry] = [
            Self.failedProbe,
            .event(time: Self.time, customer: "acme", event: "share_accepted", detail: "line\nbreak"),
            .event(time: Self.time, customer: "globex", event: "ready", detail: nil),
        ]
        for entry in entries { try writer.append(entry) }

        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == entries.map { $0.jsonLine() + "\n" }.joined())
        let file = try FileManager.default.attributesOfItem(atPath: path)
        #expect((file[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        let folder = try FileManager.default.attributesOfItem(atPath: directory.file("log/privatelink-consumer"))
        #expect((folder[.posixPermissions] as? NSNumber)?.intValue == 0o750)
    }

    @Test func rotationKeepsTheLogBounded() throws {
        let path = directory.file("health.jsonl")
        let writer = try HealthLogWriter(path: path, maxBytes: 4096, files: 3)
        var longest = 0
        for index in 0..<10_000 {
            let entry = HealthLogEntry.event(time: Self.time.addingTimeInterval(Double(index)), customer: "acme",
                                             event: "probe_scheduled", detail: String(index))
            longest = max(longest, entry.jsonLine().utf8.count + 1)
            try writer.append(entry)
        }

        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["health.jsonl", "health.jsonl.1", "health.jsonl.2"])
        var total = 0
        for name in names {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: directory.file(name))[.size] as? NSNumber)
            #expect(size.intValue <= 4096 + longest)
            total += size.intValue
        }
        #expect(total <= 3 * (4096 + longest))

        // Nothing lost inside what is kept: the newest lines, consecutive, the last one last.
        let details = try HealthLogReader(path: path).entries().map { entry -> Int in
            guard case .event(_, _, _, let detail, _) = entry, let detail, let index = Int(detail) else { return -1 }
            return index
        }
        #expect(details.last == 9_999)
        #expect(details.count >= 2 * (4096 / longest)) // at least two full rotated files
        #expect(details == Array((10_000 - details.count)..<10_000))
    }

    @Test func aSingleFileLogStartsOverWhenFull() throws {
        let path = directory.file("health.jsonl")
        let writer = try HealthLogWriter(path: path, maxBytes: 1000, files: 1)
        for index in 0..<100 {
            try writer.append(.event(time: Self.time, customer: "acme", event: "tick", detail: String(index)))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["health.jsonl"])
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)
        #expect(size.intValue <= 1000)
    }

    @Test func refusesImpossibleLimits() {
        #expect(throws: HealthLogError.self) { try HealthLogWriter(path: directory.file("h.jsonl"), maxBytes: 0) }
        #expect(throws: HealthLogError.self) { try HealthLogWriter(path: directory.file("h.jsonl"), files: 0) }
    }

    /// Separate writer instances on one path, as separate processes would be.
    static func writeConcurrently(path: String, maxBytes: Int, files: Int, writers: Int, lines: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writerIndex in 0..<writers {
                let writer = try HealthLogWriter(path: path, maxBytes: maxBytes, files: files)
                group.addTask {
                    let failure: (any Error)? = await DaemonTest.onThread {
                        do {
                            for line in 0..<lines {
                                try writer.append(.probe(HealthLogProbe(
                                    time: Date(), customer: "writer-\(writerIndex)", dnsName: "localhost", port: 5432,
                                    ok: line % 3 != 0, stage: "postgres", error: line % 3 == 0 ? "refused" : nil,
                                    latencyMs: ["dns": 0.5, "connect": Double(line)])))
                            }
                            return nil
                        } catch {
                            return error
                        }
                    }
                    if let failure { throw failure }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func concurrentWritersNeverInterleaveLines() async throws {
        let path = directory.file("health.jsonl")
        try await Self.writeConcurrently(path: path, maxBytes: 10 << 20, files: 5, writers: 4, lines: 500)

        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        #expect(lines.last?.isEmpty == true)
        let entries = lines.dropLast().compactMap { HealthLogEntry(jsonLine: String(decoding: $0, as: UTF8.self)) }
        #expect(lines.count - 1 == 2000)
        #expect(entries.count == 2000)
        for writer in 0..<4 {
            let ports = entries.filter { $0.customer == "writer-\(writer)" }.compactMap { entry -> Double? in
                guard case .probe(let probe) = entry else { return nil }
                return probe.latencyMs["connect"]
            }
            #expect(ports == (0..<500).map(Double.init))
        }
    }

    @Test func concurrentWritersRotateWithoutLosingLines() async throws {
        let path = directory.file("health.jsonl")
        try await Self.writeConcurrently(path: path, maxBytes: 16 << 10, files: 100, writers: 4, lines: 500)

        let rotated = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0 != "health.jsonl" }
        #expect(rotated.count > 5)
        let entries = try HealthLogReader(path: path).entries()
        #expect(entries.count == 2000)
        for writer in 0..<4 {
            #expect(entries.filter { $0.customer == "writer-\(writer)" }.count == 500)
        }
    }
}
