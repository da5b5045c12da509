import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing
import TestSupport
@testable import ConsumerStore
#if canImport(Glibc)
import Glibc
#endif

/// The pool under a server that stops answering (a frozen host, a cut link: no reset, no close), through a
/// loopback proxy that can hold every byte; and what a long-lived connection keeps per statement.
@Suite struct PostgresPoolTests {
    @Test(.timeLimit(.minutes(1))) func aServerThatStopsAnsweringFailsTheOperationAtItsDeadline() async throws {
        let config = try await TestPostgresDatabase.make()
        let proxy = try FreezingProxy(upstreamPort: config.port)
        defer { proxy.stop() }
        var through = config
        through.port = proxy.port
        let pool = try PostgresPool(through, capacity: 1, operationTimeout: .milliseconds(1500), logger: Logger(label: "test"))
        let (answer, onItsLoop) = try await pool.withConnection { connection in
            (try await connection.statement("SELECT 41 + 1", logger: Logger(label: "test")).firstInt(), connection.eventLoop.inEventLoop)
        }
        #expect(answer == 42)
        // The body runs on its connection's event loop (the task executor preference), one of the store's own.
        #expect(onItsLoop)

        proxy.frozen.store(true, ordering: .relaxed)
        let started = ContinuousClock.now
        let error = await #expect(throws: StoreError.self) {
            try await pool.withConnection { connection in
                try await connection.statement("SELECT 1", logger: Logger(label: "test"))
            }
        }
        let waited = ContinuousClock.now - started
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("no answer within") == true, "\(String(describing: error))")
        #expect(waited >= .milliseconds(1400) && waited < .seconds(5), "failed after \(waited)")

        // The slot came back: with the link working again, the next operation runs on a new connection.
        proxy.frozen.store(false, ordering: .relaxed)
        let again = try await pool.withConnection { connection in
            try await connection.statement("SELECT 7", logger: Logger(label: "test")).firstInt()
        }
        #expect(again == 7)
        await pool.close()
    }

    /// A statement's wait for the connection's close is forgotten when its answer comes: a connection that
    /// lives for days runs millions of statements.
    @Test func aLongLivedConnectionKeepsNothingPerStatement() async throws {
        let config = try await TestPostgresDatabase.make()
        let pool = try PostgresPool(config, capacity: 1, logger: Logger(label: "test"))
        let logger = Logger(label: "test")
        let (waiting, sum) = try await pool.withConnection { connection in
            var sum: Int64 = 0
            for n in 1...200 { sum += try await connection.statement("SELECT \(n)::bigint", logger: logger).firstInt() ?? 0 }
            return (ClosingWatch.of(connection).waiting, sum)
        }
        #expect(sum == 20_100)
        #expect(waiting == 0)
        await pool.close()
    }

    /// The watch itself: what waits when the connection closes fails with ConnectionClosed, and nothing more is
    /// taken after the close (postgres-nio may drop a query written as the channel closes, without failing it).
    @Test(.timeLimit(.minutes(1))) func theCloseFailsWhatTheWatchHolds() async throws {
        let config = try await TestPostgresDatabase.make()
        let pool = try PostgresPool(config, capacity: 1, logger: Logger(label: "test"))
        try await pool.withConnection { connection in
            let watch = ClosingWatch.of(connection)
            #expect(ClosingWatch.of(connection) === watch)
            let promise = connection.eventLoop.makePromise(of: [PostgresRow].self)
            #expect(watch.add(promise) != nil)
            try await connection.close()
            await #expect(throws: ConnectionClosed.self) { try await promise.futureResult.get() }
            let late = connection.eventLoop.makePromise(of: [PostgresRow].self)
            #expect(watch.add(late) == nil)
            late.fail(ConnectionClosed())
            #expect(watch.waiting == 0)
        }
        await pool.close()
    }

    /// A statement waiting when its connection closes fails at once, and a closed connection takes none.
    @Test func aClosingConnectionFailsItsWaitingStatement() async throws {
        let config = try await TestPostgresDatabase.make()
        let pool = try PostgresPool(config, capacity: 1, operationTimeout: .seconds(20), logger: Logger(label: "test"))
        let logger = Logger(label: "test")
        let started = ContinuousClock.now
        await #expect(throws: StoreError.self) {
            try await pool.withConnection { connection in
                async let slow = connection.statement("SELECT pg_sleep(10)", logger: logger)
                try await Task.sleep(for: .milliseconds(300))
                try await connection.close()
                _ = try await slow
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        await pool.close()
    }
}

/// A TCP proxy on 127.0.0.1 to a loopback port. While `frozen`, it forwards nothing either way and keeps
/// every connection open: to the client, the server has stopped answering.
final class FreezingProxy: @unchecked Sendable {
    let port: Int
    let frozen = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let listener: Int32
    private let sockets = Mutex<[Int32]>([])

    init(upstreamPort: Int) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listener = listener
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        startAccepting(upstreamPort: upstreamPort)
    }

    private func startAccepting(upstreamPort: Int) {
        Thread.detachNewThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                let client = accept(listener, nil, nil)
                guard client >= 0 else {
                    if errno == EINTR { continue }
                    break
                }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                var upstream = Self.loopback(port: upstreamPort)
                let connected = withUnsafePointer(to: &upstream) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else {
                    close(client)
                    close(server)
                    continue
                }
                sockets.withLock { $0 += [client, server] }
                // The second pump of the pair to end closes both sockets.
                let ended = Atomic<Int>(0)
                let finish: @Sendable () -> Void = { [self] in
                    guard ended.add(1, ordering: .acquiringAndReleasing).newValue == 2 else { return }
                    sockets.withLock { $0.removeAll { $0 == client || $0 == server } }
                    close(client)
                    close(server)
                }
                Thread.detachNewThread { self.pump(from: client, to: server); finish() }
                Thread.detachNewThread { self.pump(from: server, to: client); finish() }
            }
            // The accept thread owns the listener: closed here, once nothing can accept on its number.
            close(listener)
        }
    }

    /// Copies until either side ends; what is read while frozen is held until the proxy thaws or stops.
    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(source, &buffer, buffer.count)
            guard count > 0 else { break }
            while frozen.load(ordering: .relaxed) && !stopped.load(ordering: .relaxed) { usleep(10_000) }
            guard !stopped.load(ordering: .relaxed), write(destination, buffer, count) == count else { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }

    /// Ends every connection (their pumps close them) and the listener (its thread closes it).
    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        for socket in sockets.withLock({ $0 }) { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
