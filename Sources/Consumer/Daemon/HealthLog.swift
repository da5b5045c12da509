import ConsumerCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `write(2)`, named apart from `HealthLogWriter.write(_:)`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// One probe result as the health log records it.
public struct HealthLogProbe: Sendable, Equatable, Codable {
    public var time: Date
    public var customer: String
    public var vpcEndpointId: String?
    public var dnsName: String?
    public var port: Int
    public var ok: Bool
    /// The last stage reached: `dns`, `connect`, `postgres` or `login`.
    public var stage: String
    public var error: String?
    public var hint: String?
    /// Milliseconds spent in each stage that ran, keyed by stage name.
    public var latencyMs: [String: Double]

    public init(time: Date, customer: String, vpcEndpointId: String? = nil, dnsName: String? = nil, port: Int,
                ok: Bool, stage: String, error: String? = nil, hint: String? = nil, latencyMs: [String: Double] = [:]) {
        self.time = time
        self.customer = customer
        self.vpcEndpointId = vpcEndpointId
        self.dnsName = dnsName
        self.port = port
        self.ok = ok
        self.stage = stage
        self.error = error
        self.hint = hint
        self.latencyMs = latencyMs
    }

    enum CodingKeys: String, CodingKey {
        case time, customer, vpcEndpointId, dnsName, port, ok, stage, error, hint, latencyMs
    }

    /// Decodes the health log's shape: `time` as RFC 3339, absent optionals as nil, unknown keys ignored.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .time)
        guard let time = HealthLogTime.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: container,
                                                   debugDescription: "not an RFC 3339 UTC time: \(text)")
        }
        self.time = time
        customer = try container.decode(String.self, forKey: .customer)
        vpcEndpointId = try container.decodeIfPresent(String.self, forKey: .vpcEndpointId)
        dnsName = try container.decodeIfPresent(String.self, forKey: .dnsName)
        port = try container.decode(Int.self, forKey: .port)
        ok = try container.decode(Bool.self, forKey: .ok)
        stage = try container.decode(String.self, forKey: .stage)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        hint = try container.decodeIfPresent(String.self, forKey: .hint)
        latencyMs = try container.decode([String: Double].self, forKey: .latencyMs)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(HealthLogTime.string(time), forKey: .time)
        try container.encode(customer, forKey: .customer)
        try container.encodeIfPresent(vpcEndpointId, forKey: .vpcEndpointId)
        try container.encodeIfPresent(dnsName, forKey: .dnsName)
        try container.encode(port, forKey: .port)
        try container.encode(ok, forKey: .ok)
        try container.encode(stage, forKey: .stage)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encodeIfPresent(hint, forKey: .hint)
        try container.encode(latencyMs, forKey: .latencyMs)
    }
}

/// Where an event line came from: its row in the state's event table (the health log's outbox), who
/// made it, and the states it moved the customer between.
public struct HealthLogEventTrail: Sendable, Equatable, Decodable {
    public var eventId: Int64
    public var actor: String
    public var fromState: String?
    public var toState: String?
    /// The state file the event comes from (`StateStore.stateId`).
    public var stateId: Int64?

    public init(eventId: Int64, actor: String, fromState: String?, toState: String?, stateId: Int64? = nil) {
        self.eventId = eventId
        self.actor = actor
        self.fromState = fromState
        self.toState = toState
        self.stateId = stateId
    }
}

/// A resource configuration check whose verdict changed (`kind: check`), from the event table.
public struct HealthLogCheck: Sendable, Equatable, Decodable {
    public var customer: String
    public var check: String
    public var verdict: String
    public var detail: String?
    public var hint: String?
    public var eventId: Int64?
    public var stateId: Int64?

    public init(customer: String, check: String, verdict: String, detail: String?, hint: String?, eventId: Int64?, stateId: Int64?) {
        self.customer = customer
        self.check = check
        self.verdict = verdict
        self.detail = detail
        self.hint = hint
        self.eventId = eventId
        self.stateId = stateId
    }
}

/// One line of the health log: a probe result, a lifecycle event, or a check's new verdict, of one customer.
public enum HealthLogEntry: Sendable, Equatable {
    case event(time: Date, customer: String, event: String, detail: String?, trail: HealthLogEventTrail? = nil)
    case probe(HealthLogProbe)
    case check(time: Date, HealthLogCheck)

    public var time: Date {
        switch self {
        case .event(let time, _, _, _, _): time
        case .probe(let probe): probe.time
        case .check(let time, _): time
        }
    }

    public var customer: String {
        switch self {
        case .event(_, let customer, _, _, _): customer
        case .probe(let probe): probe.customer
        case .check(_, let check): check.customer
        }
    }

    /// The line's `kind`: `event`, `probe` or `check`.
    public var kind: String {
        switch self {
        case .event: "event"
        case .probe: "probe"
        case .check: "check"
        }
    }

    /// The event table row the line was written from (event and check lines), for the outbox's restart.
    public var eventId: (id: Int64, stateId: Int64?)? {
        switch self {
        case .event(_, _, _, _, let trail?): (trail.eventId, trail.stateId)
        case .check(_, let check): check.eventId.map { ($0, check.stateId) }
        default: nil
        }
    }

    /// The entry as one JSON object without a newline: `time` and `kind` first, nulls omitted.
    public func jsonLine() -> String {
        // Built by hand because JSONEncoder and JSONSerialization do not promise key order.
        var line = HealthLogJSONObject()
        line.add("time", string: HealthLogTime.string(time))
        line.add("kind", string: kind)
        line.add("customer", string: customer)
        switch self {
        case .event(_, _, let event, let detail, let trail):
            line.add("event", string: event)
            if let trail {
                line.add("fromState", string: trail.fromState)
                line.add("toState", string: trail.toState)
                line.add("actor", string: trail.actor)
            }
            line.add("detail", string: detail)
            if let trail {
                line.add("eventId", raw: String(trail.eventId))
                if let stateId = trail.stateId { line.add("stateId", raw: String(stateId)) }
            }
        case .check(_, let check):
            line.add("check", string: check.check)
            line.add("verdict", string: check.verdict)
            line.add("detail", string: check.detail)
            line.add("hint", string: check.hint)
            if let eventId = check.eventId { line.add("eventId", raw: String(eventId)) }
            if let stateId = check.stateId { line.add("stateId", raw: String(stateId)) }
        case .probe(let probe):
            line.add("vpcEndpointId", string: probe.vpcEndpointId)
            line.add("dnsName", string: probe.dnsName)
            line.add("port", raw: String(probe.port))
            line.add("ok", raw: probe.ok ? "true" : "false")
            line.add("stage", string: probe.stage)
            line.add("error", string: probe.error)
            line.add("hint", string: probe.hint)
            var latencies = HealthLogJSONObject()
            for stage in probe.latencyMs.keys.sorted(by: Self.stageOrder) {
                if let value = probe.latencyMs[stage], value.isFinite {
                    latencies.add(stage, raw: "\(value)")
                }
            }
            line.add("latencyMs", raw: latencies.text)
        }
        return line.text
    }

    /// Parses one line written by `jsonLine()`; nil for anything garbled, truncated or missing a required key.
    public init?(jsonLine: some StringProtocol) {
        let data = Data(jsonLine.utf8)
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(Header.self, from: data),
              let time = HealthLogTime.parse(header.time)
        else { return nil }
        switch header.kind {
        case "probe":
            guard let probe = try? decoder.decode(HealthLogProbe.self, from: data) else { return nil }
            self = .probe(probe)
        case "check":
            guard let check = try? decoder.decode(HealthLogCheck.self, from: data) else { return nil }
            self = .check(time: time, check)
        case "event":
            guard let fields = try? decoder.decode(EventFields.self, from: data) else { return nil }
            let trail = try? decoder.decode(HealthLogEventTrail.self, from: data)
            self = .event(time: time, customer: header.customer, event: fields.event, detail: fields.detail, trail: trail)
        default:
            return nil
        }
    }

    private struct Header: Decodable {
        var time: String
        var kind: String
        var customer: String
    }

    private struct EventFields: Decodable {
        var event: String
        var detail: String?
    }

    /// Stages in the order the probe runs them, then any others by name.
    static func stageOrder(_ a: String, _ b: String) -> Bool {
        let order = ["dns", "connect", "postgres", "login"]
        switch (order.firstIndex(of: a), order.firstIndex(of: b)) {
        case let (x?, y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }
}

/// A JSON object written key by key, in order.
private struct HealthLogJSONObject {
    private var body = ""

    var text: String { "{" + body + "}" }

    mutating func add(_ key: String, string value: String?) {
        guard let value else { return }
        add(key, raw: Self.quote(value))
    }

    mutating func add(_ key: String, raw value: String) {
        if !body.isEmpty { body += "," }
        body += Self.quote(key) + ":" + value
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The health log's timestamps are the contracts' (`Timestamp`).
typealias HealthLogTime = Timestamp

/// Why the health log could not be opened, written, rotated or read.
public struct HealthLogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Opaque so that new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        public var description: String { rawValue }
        public static let invalid = Code(rawValue: "invalid")
        public static let cannotOpen = Code(rawValue: "cannot_open")
        public static let cannotWrite = Code(rawValue: "cannot_write")
        public static let cannotRotate = Code(rawValue: "cannot_rotate")
        public static let cannotRead = Code(rawValue: "cannot_read")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func system(_ code: Code, _ what: String, _ path: String, _ number: Int32, fix: String) -> HealthLogError {
        HealthLogError(code, "health log \(path): cannot \(what): \(String(cString: strerror(number))); \(fix)")
    }
}

/// The identity of an open file, to notice that the name now points at another one (rotation).
struct HealthLogFileID: Equatable {
    var device: UInt64
    var inode: UInt64

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }

    static func of(path: String) -> HealthLogFileID? {
        var status = stat()
        return stat(path, &status) == 0 ? HealthLogFileID(status) : nil
    }

    static func of(fd: Int32) -> HealthLogFileID? {
        var status = stat()
        return fstat(fd, &status) == 0 ? HealthLogFileID(status) : nil
    }
}

/// Appends entries to the health log, one `write(2)` per line on an `O_APPEND` descriptor, rotating by size.
///
/// Several writers (threads or processes) may share a path: each line lands whole, a writer follows the
/// name after another one rotated the file, and rotation itself is serialized with `flock` on the live file.
public final class HealthLogWriter: Sendable {
    public let path: String
    /// The size past which the live file is rotated before a line is added.
    public let maxBytes: Int
    /// How many files are kept in all: the live one and `files - 1` rotated ones.
    public let files: Int

    private struct OpenFile {
        var fd: Int32
        var id: HealthLogFileID
    }

    private let state: Mutex<OpenFile?>

    private static let accessFix = "check that the daemon's user may write to the directory of healthLog"

    public init(path: String, maxBytes: Int = 10 << 20, files: Int = 5) throws {
        guard maxBytes > 0, files >= 1 else {
            throw HealthLogError(.invalid, "health log \(path): maxBytes must be positive and files at least 1")
        }
        self.path = path
        self.maxBytes = maxBytes
        self.files = files
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o750])
            } catch {
                throw HealthLogError(.cannotOpen, "health log \(path): cannot create directory \(directory): "
                                         + "\(error.localizedDescription); \(Self.accessFix)")
            }
        }
        state = Mutex(try Self.openLive(path))
    }

    deinit {
        state.withLock { file in
            if let file { close(file.fd) }
        }
    }

    /// Writes the entry as one line, on a blocking-work thread: `write(2)` and rotation's `flock` may wait
    /// (a full disk, another writer rotating), which must not hold a cooperative thread.
    public func write(_ entry: HealthLogEntry) async throws {
        try await BlockingIO.run { try self.append(entry) }
    }

    /// Writes the entries, in order, one line each, on a blocking-work thread. A line that cannot be
    /// written does not stop the others; the first failure is thrown after all were tried.
    public func write(_ entries: [HealthLogEntry]) async throws {
        try await BlockingIO.run {
            var firstFailure: (any Error)?
            for entry in entries {
                do { try self.append(entry) } catch { firstFailure = firstFailure ?? error }
            }
            if let firstFailure { throw firstFailure }
        }
    }

    /// Writes the entry as one line, blocking the calling thread: from async code, use ``write(_:)``.
    public func append(_ entry: HealthLogEntry) throws {
        let line = Array((entry.jsonLine() + "\n").utf8)
        try state.withLock { file in
            let fd = try prepare(&file, adding: line.count)
            var written: Int
            repeat {
                written = line.withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
            } while written < 0 && errno == EINTR
            if written < 0 {
                throw HealthLogError.system(.cannotWrite, "write", path, errno, fix: "check free space on its filesystem")
            }
            if written != line.count {
                throw HealthLogError(.cannotWrite, "health log \(path): short write (\(written) of \(line.count) bytes); "
                                         + "check free space on its filesystem")
            }
        }
    }

    /// The descriptor to write `count` more bytes to: the file the name points at now, rotated if it is full.
    private func prepare(_ current: inout OpenFile?, adding count: Int) throws -> Int32 {
        // A few rounds: each either follows a rotation made elsewhere or makes one.
        for _ in 0..<4 {
            let file = try current ?? Self.openLive(path)
            current = file
            guard HealthLogFileID.of(path: path) == file.id else {
                reopen(&current)
                continue
            }
            let size = Self.size(file.fd)
            if size == 0 || size + count <= maxBytes { return file.fd }

            _ = flock(file.fd, LOCK_EX)
            defer {
                _ = flock(file.fd, LOCK_UN)
                reopen(&current)
            }
            // Another writer may have rotated while this one waited for the lock.
            if HealthLogFileID.of(path: path) == file.id, Self.size(file.fd) + count > maxBytes {
                try rotate()
            }
        }
        let file = try current ?? Self.openLive(path)
        current = file
        return file.fd
    }

    private func reopen(_ current: inout OpenFile?) {
        if let file = current { close(file.fd) }
        current = nil
    }

    /// `health.jsonl` → `.1` → … → `.<files-1>`; the oldest is deleted.
    private func rotate() throws {
        let fix = "check that the daemon's user may rename files in the directory of healthLog"
        if files == 1 {
            guard unlink(path) == 0 || errno == ENOENT else {
                throw HealthLogError.system(.cannotRotate, "remove it", path, errno, fix: fix)
            }
            return
        }
        let oldest = "\(path).\(files - 1)"
        guard unlink(oldest) == 0 || errno == ENOENT else {
            throw HealthLogError.system(.cannotRotate, "remove \(oldest)", path, errno, fix: fix)
        }
        for index in stride(from: files - 2, through: 1, by: -1) {
            guard rename("\(path).\(index)", "\(path).\(index + 1)") == 0 || errno == ENOENT else {
                throw HealthLogError.system(.cannotRotate, "rename \(path).\(index)", path, errno, fix: fix)
            }
        }
        guard rename(path, "\(path).1") == 0 || errno == ENOENT else {
            throw HealthLogError.system(.cannotRotate, "rename it to \(path).1", path, errno, fix: fix)
        }
    }

    private static func openLive(_ path: String) throws -> OpenFile {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw HealthLogError.system(.cannotOpen, "open", path, errno, fix: accessFix) }
        guard let id = HealthLogFileID.of(fd: fd) else {
            let code = errno
            close(fd)
            throw HealthLogError.system(.cannotOpen, "stat", path, code, fix: accessFix)
        }
        return OpenFile(fd: fd, id: id)
    }

    private static func size(_ fd: Int32) -> Int {
        var status = stat()
        return fstat(fd, &status) == 0 ? Int(status.st_size) : 0
    }
}
