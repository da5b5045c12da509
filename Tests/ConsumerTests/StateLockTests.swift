import Foundation
import Testing
@testable import Consumer
#if canImport(Glibc)
import Glibc
#endif

/// Another process holding `flock` on a lock file, as a second daemon would.
private struct LockHolder {
    static let script = """
        import fcntl, os, sys, time
        p = sys.argv[1]
        f = open(p, "a+")
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0); f.truncate(); f.write(str(os.getpid())); f.flush()
        print("locked", flush=True)
        time.sleep(30)
        """

    let process: Process

    /// Starts the holder and returns once it holds the lock.
    static func start(lockPath: String) async throws -> LockHolder {
        let process = Process()
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script, lockPath]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, lockPath]
        }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let holder = LockHolder(process: process)
        let reader = output.fileHandleForReading
        let line = await DaemonTest.onThread { () -> String in
            var bytes: [UInt8] = []
            while !bytes.contains(UInt8(ascii: "\n")) {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                bytes += chunk
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard line == "locked\n" else {
            holder.sigkill()
            await holder.waitForExit()
            throw HolderFailed(output: line)
        }
        return holder
    }

    struct HolderFailed: Error { var output: String }

    var pid: pid_t { process.processIdentifier }

    /// SIGKILL: no chance to unlock, as with a crashed daemon. Safe to call more than once.
    func sigkill() {
        if process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
    }

    func waitForExit() async {
        let process = process
        await DaemonTest.onThread { process.waitUntilExit() }
    }
}

@Suite struct StateLockTests {
    let directory = DaemonScratchDirectory()
    var statePath: String { directory.file("state.sqlite3") }

    @Test func secondAcquireInTheSameProcessIsRefused() throws {
        let lock = try StateLock.acquire(statePath: statePath)
        defer { lock.release() }
        #expect(lock.lockPath == statePath + ".lock")

        let attributes = try FileManager.default.attributesOfItem(atPath: lock.lockPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try String(contentsOfFile: lock.lockPath, encoding: .utf8) == "\(getpid())\n")

        // flock belongs to the open file description, so a second open in this process conflicts too.
        let error = #expect(throws: StateLockError.self) { try StateLock.acquire(statePath: statePath) }
        #expect(error?.code == .heldElsewhere)
        #expect(error?.holderPID == getpid())
        #expect(error?.message == "another privatelink-consumer daemon (pid \(getpid())) is already running on "
                    + "\(statePath); stop it first (systemctl stop privatelink-consumer)")
    }

    @Test func releaseLetsTheNextOneIn() throws {
        let first = try StateLock.acquire(statePath: statePath)
        first.release()
        first.release() // twice is harmless
        let second = try StateLock.acquire(statePath: statePath)
        second.release()
    }

    @Test func droppingTheLockReleasesIt() throws {
        do {
            _ = try StateLock.acquire(statePath: statePath)
        }
        let again = try StateLock.acquire(statePath: statePath)
        again.release()
    }

    @Test func aStaleLockFileDoesNotBlock() throws {
        try "999999\n".write(toFile: statePath + ".lock", atomically: false, encoding: .utf8)
        let lock = try StateLock.acquire(statePath: statePath)
        defer { lock.release() }
        #expect(try String(contentsOfFile: lock.lockPath, encoding: .utf8) == "\(getpid())\n")
    }

    @Test func createsTheStateDirectory() throws {
        let nested = directory.file("var/lib/plc/state.sqlite3")
        let lock = try StateLock.acquire(statePath: nested)
        lock.release()
        #expect(FileManager.default.fileExists(atPath: nested + ".lock"))
    }

    @Test func aPathThatCannotHoldTheLockNamesTheFile() throws {
        try "".write(toFile: directory.file("file"), atomically: false, encoding: .utf8)
        let path = directory.file("file/state.sqlite3")
        let error = #expect(throws: StateLockError.self) { try StateLock.acquire(statePath: path) }
        #expect(error?.code == .cannotLock)
        #expect(error?.message.contains(path + ".lock") == true)
    }

    @Test func aLockHeldByAnotherProcessNamesItsPidUntilItDies() async throws {
        let lockPath = statePath + ".lock"
        let holder = try await LockHolder.start(lockPath: lockPath)
        defer { holder.sigkill() }

        let error = #expect(throws: StateLockError.self) { try StateLock.acquire(statePath: statePath) }
        #expect(error?.holderPID == holder.pid)
        #expect(error?.description.contains("(pid \(holder.pid))") == true)
        #expect(error?.description.contains(statePath) == true)
        #expect(error?.description.contains("systemctl stop privatelink-consumer") == true)

        // A crashed daemon: the kernel drops its lock; the lock file with its pid stays behind.
        holder.sigkill()
        await holder.waitForExit()
        #expect(try String(contentsOfFile: lockPath, encoding: .utf8) == "\(holder.pid)")
        let lock = try StateLock.acquire(statePath: statePath)
        defer { lock.release() }
        #expect(try String(contentsOfFile: lockPath, encoding: .utf8) == "\(getpid())\n")
    }
}
