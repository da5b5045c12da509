import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the health log and its rotated files, oldest first, while the daemon writes it.
public struct HealthLogReader: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Every readable entry, newest last; garbled lines are skipped and missing files read as empty.
    public func entries(customer: String? = nil, since: Date? = nil) throws -> [HealthLogEntry] {
        let filter = HealthLogFilter(customer: customer, since: since)
        // Open everything before reading, so that a rotation meanwhile neither hides nor repeats a file.
        var descriptors: [(path: String, fd: Int32)] = []
        defer { for file in descriptors { close(file.fd) } }
        for file in rotatedFiles() + [path] {
            if let fd = try Self.openForReading(file) { descriptors.append((file, fd)) }
        }
        var entries: [HealthLogEntry] = []
        for file in descriptors {
            var lines = HealthLogLineSplitter()
            try Self.readToEnd(file.fd, path: file.path) { chunk in
                lines.feed(chunk) { filter.collect($0, into: &entries) }
            }
            if let rest = lines.finish() { filter.collect(rest, into: &entries) }
        }
        return entries
    }

    /// Existing entries, then each new one as it is appended, until the consuming task is cancelled.
    ///
    /// The live file is polled by size and inode every `pollInterval`; when the name points at a new file
    /// (rotation), the old one is read to its end before the new one is read from its start.
    public func follow(customer: String? = nil, since: Date? = nil,
                       pollInterval: Duration = .seconds(1)) -> AsyncThrowingStream<HealthLogEntry, Error> {
        let follower = HealthLogFollower(reader: self, filter: HealthLogFilter(customer: customer, since: since),
                                         pollInterval: pollInterval)
        return AsyncThrowingStream(unfolding: { try await follower.next() })
    }

    /// The highest `eventId` among the last event lines the state file `stateId` wrote (the live file's
    /// tail, else the newest rotated file's): where the daemon's outbox left off, even if it died before
    /// moving its cursor. Lines of another state file (a lost or restored one) do not count.
    public func lastEventId(stateId: Int64, tailBytes: Int = 1 << 20) -> Int64? {
        let marker = "\"stateId\":\(stateId)"
        for file in [path] + rotatedFiles().reversed() {
            guard let fd = try? Self.openForReading(file) else { continue }
            defer { close(fd) }
            let size = lseek(fd, 0, SEEK_END)
            guard size > 0 else { continue }
            _ = lseek(fd, max(0, size - off_t(tailBytes)), SEEK_SET)
            var tail: [UInt8] = []
            try? Self.readToEnd(fd, path: file) { tail.append(contentsOf: $0) }
            var best: Int64?
            for line in tail.split(separator: UInt8(ascii: "\n")) {
                let text = String(decoding: line, as: UTF8.self)
                guard text.contains(marker), let written = HealthLogEntry(jsonLine: text)?.eventId,
                      written.stateId == stateId else { continue }
                best = max(best ?? 0, written.id)
            }
            if let best { return best }
        }
        return nil
    }

    /// A `--since` value such as `90s`, `15m`, `1h`, `2d` or `1h30m`, in seconds; nil when malformed.
    public static func parseDuration(_ text: String) -> TimeInterval? {
        let units: [(unit: Character, seconds: Int)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        var total = 0
        var number: Int?
        var nextUnit = 0 // units must come largest first, each at most once
        for character in text.trimmingCharacters(in: .whitespaces) {
            if character.isASCII, let digit = character.wholeNumberValue {
                let (times10, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (value, overflow2) = times10.addingReportingOverflow(digit)
                guard !overflow1, !overflow2 else { return nil }
                number = value
            } else if let index = units.firstIndex(where: { $0.unit == character }) {
                guard let value = number, index >= nextUnit else { return nil }
                let (seconds, overflow1) = value.multipliedReportingOverflow(by: units[index].seconds)
                let (sum, overflow2) = total.addingReportingOverflow(seconds)
                guard !overflow1, !overflow2 else { return nil }
                total = sum
                number = nil
                nextUnit = index + 1
            } else {
                return nil
            }
        }
        guard number == nil, nextUnit > 0 else { return nil }
        return TimeInterval(total)
    }

    /// `<path>.N` files that exist, oldest (highest N) first.
    func rotatedFiles() -> [String] {
        let directory = (path as NSString).deletingLastPathComponent
        let prefix = (path as NSString).lastPathComponent + "."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)
        else { return [] }
        let numbered = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix(prefix), let number = Int(name.dropFirst(prefix.count)), number >= 1,
                  name.dropFirst(prefix.count).allSatisfy(\.isASCII)
            else { return nil }
            return (number, directory.isEmpty ? name : directory + "/" + name)
        }
        return numbered.sorted { $0.0 > $1.0 }.map(\.1)
    }

    /// A read-only descriptor, or nil when the file does not exist (not written yet, or rotated away).
    static func openForReading(_ path: String) throws -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { return fd }
        if errno == ENOENT { return nil }
        throw HealthLogError.system(.cannotRead, "open", path, errno,
                                    fix: "run as the daemon's user, root, or a member of the log's group")
    }

    /// Hands each chunk read from the current offset to the end of the file.
    static func readToEnd(_ fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return }
            if count < 0 {
                if errno == EINTR { continue }
                throw HealthLogError.system(.cannotRead, "read", path, errno, fix: "check the file and its filesystem")
            }
            buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }
}

/// Which entries a reader keeps.
struct HealthLogFilter: Sendable {
    var customer: String?
    var since: Date?

    /// Parses one line and appends it when it is well-formed and wanted.
    func collect(_ line: [UInt8], into entries: inout [HealthLogEntry]) {
        guard !line.isEmpty, let entry = HealthLogEntry(jsonLine: String(decoding: line, as: UTF8.self)) else { return }
        if let customer, entry.customer != customer { return }
        if let since, entry.time < since { return }
        entries.append(entry)
    }
}

/// Cuts a byte stream into lines, keeping an unfinished last line for the next chunk.
struct HealthLogLineSplitter {
    private var pending: [UInt8] = []

    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ line: ([UInt8]) -> Void) {
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if pending.isEmpty {
                line(Array(chunk[start..<newline]))
            } else {
                pending.append(contentsOf: chunk[start..<newline])
                line(pending)
                pending.removeAll(keepingCapacity: true)
            }
            start = newline + 1
        }
        pending.append(contentsOf: chunk[start...])
    }

    /// The unfinished line, if any, once no more will come (a crash mid-line, or a file rotated away).
    mutating func finish() -> [UInt8]? {
        defer { pending.removeAll() }
        return pending.isEmpty ? nil : pending
    }

    mutating func reset() {
        pending.removeAll()
    }
}

/// The state behind `HealthLogReader.follow`: the live file's descriptor and what is read but not yet taken.
final class HealthLogFollower: Sendable {
    private struct Live {
        var fd: Int32
        var id: HealthLogFileID
        var lines = HealthLogLineSplitter()
    }

    private struct State {
        var started = false
        var live: Live?
        var ready: [HealthLogEntry] = []
        var next = 0
    }

    private let reader: HealthLogReader
    private let filter: HealthLogFilter
    private let pollInterval: Duration
    private let state = Mutex(State())

    init(reader: HealthLogReader, filter: HealthLogFilter, pollInterval: Duration) {
        self.reader = reader
        self.filter = filter
        self.pollInterval = pollInterval
    }

    deinit {
        state.withLock { state in
            if let live = state.live { close(live.fd) }
        }
    }

    /// The next entry, waiting for one to be appended; nil once the calling task is cancelled.
    func next() async throws -> HealthLogEntry? {
        while !Task.isCancelled {
            if let entry = state.withLock({ Self.take(&$0) }) { return entry }
            // Polling reads files (the whole log at the start): on a blocking-work thread.
            let entry = try await BlockingIO.run { [self] in
                try state.withLock { state throws -> HealthLogEntry? in
                    state.ready.removeAll(keepingCapacity: true)
                    state.next = 0
                    try poll(&state)
                    return Self.take(&state)
                }
            }
            if let entry { return entry }
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                return nil
            }
        }
        return nil
    }

    /// The next entry already read, if any.
    private static func take(_ state: inout State) -> HealthLogEntry? {
        guard state.next < state.ready.count else { return nil }
        defer { state.next += 1 }
        return state.ready[state.next]
    }

    private func poll(_ state: inout State) throws {
        guard state.started else {
            state.started = true
            // The live file is opened first, so that if it is rotated during the initial read it is
            // recognized among the rotated files by its inode and read once.
            state.live = try open(reader.path)
            for file in reader.rotatedFiles() {
                guard let fd = try HealthLogReader.openForReading(file) else { continue }
                defer { close(fd) }
                if let live = state.live, HealthLogFileID.of(fd: fd) == live.id { continue }
                var lines = HealthLogLineSplitter()
                try HealthLogReader.readToEnd(fd, path: file) { chunk in
                    lines.feed(chunk) { filter.collect($0, into: &state.ready) }
                }
                if let rest = lines.finish() { filter.collect(rest, into: &state.ready) }
            }
            try drain(&state)
            return
        }

        try drain(&state)
        let onDisk = HealthLogFileID.of(path: reader.path)
        guard let onDisk, onDisk != state.live?.id else { return }
        // Lines a writer added to the old file before it noticed the rotation, then whatever is left unfinished.
        try drain(&state)
        if var live = state.live {
            if let rest = live.lines.finish() { filter.collect(rest, into: &state.ready) }
            close(live.fd)
            state.live = nil
        }
        state.live = try open(reader.path)
        try drain(&state)
    }

    private func open(_ path: String) throws -> Live? {
        guard let fd = try HealthLogReader.openForReading(path) else { return nil }
        guard let id = HealthLogFileID.of(fd: fd) else {
            close(fd)
            return nil
        }
        return Live(fd: fd, id: id)
    }

    /// Reads the live file from where it was left to its end.
    private func drain(_ state: inout State) throws {
        guard var live = state.live else { return }
        defer { state.live = live }
        // Truncated in place (copytruncate): start over.
        var status = stat()
        if fstat(live.fd, &status) == 0, Int64(status.st_size) < Int64(lseek(live.fd, 0, SEEK_CUR)) {
            lseek(live.fd, 0, SEEK_SET)
            live.lines.reset()
        }
        try HealthLogReader.readToEnd(live.fd, path: reader.path) { chunk in
            live.lines.feed(chunk) { filter.collect($0, into: &state.ready) }
        }
    }
}
