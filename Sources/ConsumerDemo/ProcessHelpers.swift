import Foundation
import Synchronization

/// Runs blocking `body` on a new thread, outside Swift's cooperative pool.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ThrowawayPostgresError("no socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw ThrowawayPostgresError("cannot bind 127.0.0.1:0") }
    return Int(UInt16(bigEndian: address.sin_port))
}


/// CPU seconds (user + system) process `pid` has used, from /proc/PID/stat; with `reapedChildren`, also
/// its children's that it has waited for (PostgreSQL's postmaster reaps one backend per connection).
/// Nil where /proc is unreadable.
public func processCPUSeconds(pid: Int32, reapedChildren: Bool = false) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    // After the parenthesised command name: utime, stime, cutime, cstime are fields 14–17 of the line.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 14 else { return nil }
    let ticks = fields[11...(reapedChildren ? 14 : 12)].compactMap { Double($0) }.reduce(0, +)
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Runs `process` to completion and collects what it wrote. `stdin` (else nothing) is its standard input.
/// `start` launches it once the pipes are attached (default `run()`). Both pipes are read at once, on threads
/// of their own: a chatty child never blocks on a full pipe, and Swift's cooperative pool, which serves
/// in-process servers the child may be talking to, is never blocked. The exit is learned from the
/// termination handler (Foundation's `waitUntilExit` spins a core on Linux).
public func runToCompletion(_ process: Process, stdin: String? = nil,
                            start: (Process) throws -> Void = { try $0.run() }) async throws -> ProcessOutput {
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    let exited = AsyncStream<Void> { continuation in
        process.terminationHandler = { _ in
            continuation.yield()
            continuation.finish()
        }
    }
    try start(process)
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    }
    async let stdoutData = onThread { out.fileHandleForReading.readDataToEndOfFile() }
    async let stderrData = onThread { err.fileHandleForReading.readDataToEndOfFile() }
    let (o, e) = await (stdoutData, stderrData)
    for await _ in exited {}
    return ProcessOutput(status: process.terminationStatus,
                         stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
}

/// What a finished child process left behind.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// A TCP listener on 127.0.0.1 that accepts connections and never answers: a hung database. Accepted
/// connections stay open, unread, until `close()`.
public final class SilentListener: Sendable {
    public let port: Int
    private let socketFD: Int32
    private let accepted = Accepted()

    private final class Accepted: Sendable {
        let sockets = Mutex<[Int32]>([])
    }

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ThrowawayPostgresError("silent listener: socket() failed, errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            Glibc.close(fd)
            throw ThrowawayPostgresError("silent listener: bind/listen failed, errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        socketFD = fd
        let accepted = self.accepted
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client >= 0 {
                    accepted.sockets.withLock { $0.append(client) }
                } else if errno != EINTR && errno != ECONNABORTED {
                    break
                }
            }
        }
    }

    /// Stops listening and closes every accepted connection.
    public func close() {
        shutdown(socketFD, Int32(SHUT_RDWR))
        Glibc.close(socketFD)
        for client in accepted.sockets.withLock({ clients in defer { clients = [] }; return clients }) { Glibc.close(client) }
    }
}
