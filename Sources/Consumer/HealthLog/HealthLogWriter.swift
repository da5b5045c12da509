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
