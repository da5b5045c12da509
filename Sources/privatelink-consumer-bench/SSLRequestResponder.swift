import Consumer
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback listener that answers PostgreSQL's SSLRequest with `N` the way PostgreSQL does (one byte,
/// then it waits for the client), at next to no cost per connection: the probe figures measured against it
/// are the daemon's own cost, without a PostgreSQL backend process forked per connection, nor an event
/// loop's channel machinery (a single thread polls the listener and its connections: accept, read the 8
/// bytes, write `N`, close when the client does).
final class SSLRequestResponder: Sendable {
    let port: Int
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
    private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let finished = Atomic<Bool>(false)

    private init(port: Int, listener: Int32) {
        self.port = port
        self.listener = listener
    }

    static func start() async throws -> SSLRequestResponder {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure.runtime("responder: socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            close(fd)
            throw CommandFailure.runtime("responder: bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let responder = SSLRequestResponder(port: Int(UInt16(bigEndian: address.sin_port)), listener: fd)
        let thread = Thread { responder.serve() }
        thread.name = "ssl-responder"
        thread.start()
        return responder
    }

    func stop() async {
        stopping.store(true, ordering: .releasing)
        await withCheckedContinuation { continuation in
            let done = stopped.withLock { waiter -> Bool in
                if finished.load(ordering: .acquiring) { return true }
                waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// The poll loop: the listener and every open connection with what it has read so far.
    private func serve() {
        var connections: [Int32: Int] = [:]
        var buffer = [UInt8](repeating: 0, count: 64)
        while !stopping.load(ordering: .acquiring) {
            var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for fd in connections.keys { entries.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            // A tenth of a second at most, to notice `stop`.
            guard poll(&entries, nfds_t(entries.count), 100) > 0 else { continue }
            for entry in entries where entry.revents != 0 {
                if entry.fd == listener {
                    while true {
                        let client = accept(listener, nil, nil)
                        guard client >= 0 else { break }
                        _ = fcntl(client, F_SETFL, O_NONBLOCK)
                        connections[client] = 0
                    }
                    continue
                }
                let count = buffer.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 {
                    if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        close(entry.fd)
                        connections[entry.fd] = nil
                    }
                    continue
                }
                let before = connections[entry.fd] ?? 0
                connections[entry.fd] = before + count
                if before < 8 && before + count >= 8 {
                    _ = send(entry.fd, "N", 1, Int32(MSG_NOSIGNAL))
                }
            }
        }
        for fd in connections.keys { close(fd) }
        close(listener)
        let waiter = stopped.withLock { waiter -> CheckedContinuation<Void, Never>? in
            finished.store(true, ordering: .releasing)
            defer { waiter = nil }
            return waiter
        }
        waiter?.resume()
    }
}
