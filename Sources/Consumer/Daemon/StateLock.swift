import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the daemon could not take the state file's lock, with a message that names the file and the fix.
public struct StateLockError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Opaque so that new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        public var description: String { rawValue }
        /// Another process holds the lock: a second daemon on the same state file.
        public static let heldElsewhere = Code(rawValue: "held_elsewhere")
        /// The lock file could not be created, opened, locked or written.
        public static let cannotLock = Code(rawValue: "cannot_lock")
    }

    public let code: Code
    /// The state database the lock protects.
    public let statePath: String
    /// The pid recorded by the holder, when `code` is `heldElsewhere` and the holder had written it.
    public let holderPID: pid_t?
    public let message: String

    public var description: String { message }
}

/// One daemon per state file: an exclusive `flock` on `<statePath>.lock`, held for the life of the object.
///
/// The kernel drops a `flock` when its holder dies, so a lock file left by a crashed or SIGKILLed daemon
/// never blocks the next start; the pid inside is only for the message.
public final class StateLock: Sendable {
    /// The state database this lock protects.
    public let statePath: String
    /// `<statePath>.lock`.
    public let lockPath: String
    private let descriptor: Mutex<Int32?>

    private init(statePath: String, lockPath: String, descriptor: Int32) {
        self.statePath = statePath
        self.lockPath = lockPath
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the lock without waiting, or throws naming the daemon that holds it.
    public static func acquire(statePath: String) throws(StateLockError) -> StateLock {
        let lockPath = statePath + ".lock"
        func failure(_ what: String, _ reason: String) -> StateLockError {
            StateLockError(code: .cannotLock, statePath: statePath, holderPID: nil,
                           message: "cannot \(what) lock file \(lockPath): \(reason); "
                               + "the daemon's user needs write access to the directory of stateDatabase")
        }
        func failure(_ what: String, _ code: Int32) -> StateLockError {
            failure(what, String(cString: strerror(code)))
        }

        let directory = (lockPath as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            // Same as the store would do, so that the lock can be taken before the store is opened.
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o750])
            } catch {
                throw failure("create the directory of the", "\(error.localizedDescription)")
            }
        }

        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("open", errno) }

        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        if result != 0 {
            let code = errno
            let holder = code == EWOULDBLOCK ? readPID(fd) : nil
            close(fd)
            guard code == EWOULDBLOCK else { throw failure("lock", code) }
            let who = holder.map { "another privatelink-consumer daemon (pid \($0))" }
                ?? "another privatelink-consumer daemon"
            throw StateLockError(code: .heldElsewhere, statePath: statePath, holderPID: holder,
                                 message: "\(who) is already running on \(statePath); "
                                     + "stop it first (systemctl stop privatelink-consumer)")
        }

        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0,
              pid.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == pid.count
        else {
            let code = errno
            close(fd) // closing drops the lock too
            throw failure("write", code)
        }
        return StateLock(statePath: statePath, lockPath: lockPath, descriptor: fd)
    }

    /// Gives the lock up; later calls do nothing.
    public func release() {
        guard let fd = descriptor.withLock({ fd in defer { fd = nil }; return fd }) else { return }
        Self.unlock(fd)
    }

    deinit {
        if let fd = descriptor.withLock({ $0 }) { Self.unlock(fd) }
    }

    private static func unlock(_ fd: Int32) {
        // An empty file says nobody holds it; the file itself stays so that no other process
        // can end up locking a different inode under the same name.
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
    }

    /// The pid the holder wrote, if any.
    private static func readPID(_ fd: Int32) -> pid_t? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return pid_t(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
