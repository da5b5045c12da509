import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// A few connections to the state database, opened on demand, each operation bounded in time.
///
/// Not postgres-nio's `PostgresClient`: its pool retries a failed login forever and a lease has no
/// deadline, so an operation against a database that is down or refuses us would hang instead of
/// failing with a message the daemon can report and retry next pass (BUILD-NOTES.md). Here:
/// - a connect takes at most `connectTimeout`; a statement at most `statementTimeout` (the server
///   enforces it); a whole operation at most its deadline on our side too (a server that vanished
///   without a reset answers nothing): when it passes, the connection is closed under the operation;
/// - the server ends a transaction left idle for half a lease (`idle_in_transaction_session_timeout`)
///   and notices a vanished client within seconds (TCP keepalives, `tcp_user_timeout`), so that a daemon
///   frozen or cut off mid-transaction releases its locks and cannot hold a failover up;
/// - a connection that failed is dropped, never reused; callers waiting for one are served in order.
final class PostgresPool: Sendable {
    let location: String
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let state: State
    /// How long one operation may take, from asking for a connection to its last answer.
    let operationTimeout: Duration

    static let connectTimeout: TimeAmount = .seconds(5)
    static let statementTimeout = "30s"

    /// Where the connections live. An operation's body runs on its connection's loop (decoding rows, encoding a
    /// batch), so the state database has loops of its own: its work never holds up AWS calls, probe timers or
    /// the metrics server on NIO's shared loops, and the lease's claims (`PostgresStore.leasePool`) have a
    /// thread no operation's body runs on.
    let loops: any EventLoopGroup
    static let operationLoops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    static let leaseLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(_ config: PostgresStateConfig, capacity: Int = 4, operationTimeout: Duration = .seconds(40),
         loops: any EventLoopGroup = PostgresPool.operationLoops, logger: Logger) throws {
        self.loops = loops
        self.location = config.description
        self.logger = logger
        self.configuration = try Self.configuration(config)
        self.state = State(capacity: capacity)
        self.operationTimeout = operationTimeout
    }

    /// Runs `body` on a connection of its own, within `operationTimeout`. A connection that fails is closed
    /// and forgotten; the error is translated into a `StoreError` naming the database and the cause, never
    /// the password.
    /// - Parameter idempotent: `body` changes nothing (a read): when it fails because the idle connection it was
    ///   given turned out dead (the server restarted; the pool had not seen the close yet), the pool drops its
    ///   other idle connections, which died with it, and runs `body` once more on a new one.
    func withConnection<T: Sendable>(timeout: Duration? = nil, idempotent: Bool = false,
                                     _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let operationTimeout = timeout ?? operationTimeout
        let deadline = ContinuousClock.now + operationTimeout
        let (connection, reused) = try await lease(until: deadline)
        // The server's statement_timeout cannot help when the server is gone: close the connection under
        // the operation when its deadline passes, which fails whatever it waits for. The watchdog is a timer
        // on the connection's event loop (no task of its own).
        // nil: running; true: the watchdog fired (the connection is being closed); false: the operation
        // finished first, and the watchdog must leave the connection alone (it may serve another one next).
        let fired = Race()
        let watchdog = connection.eventLoop.scheduleTask(in: TimeAmount(max(.zero, deadline - ContinuousClock.now))) {
            let fire = fired.state.withLock { state -> Bool in
                guard state == nil else { return false }
                state = true
                return true
            }
            if fire { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
        }
        /// Ends the race with the watchdog before the connection goes back; true when the watchdog won.
        func finish() -> Bool {
            watchdog.cancel()
            return fired.state.withLock { state in
                if state == nil { state = false }
                return state == true
            }
        }
        do {
            // The body runs on the connection's event loop: each statement's answer resumes it there, with
            // no hand-over to another thread and back per statement.
            let value = try await withTaskExecutorPreference(EventLoopTaskExecutor(connection.eventLoop)) {
                try await body(connection)
            }
            let expired = finish()
            await state.giveBack(connection, broken: expired || connection.isClosed)
            return value
        } catch {
            let expired = finish()
            let lost = PostgresErrors.isConnectionFailure(error)
            let broken = expired || connection.isClosed || lost
            await state.giveBack(connection, broken: broken)
            if idempotent, reused, lost, !expired {
                await state.dropIdle()
                return try await withConnection(timeout: timeout, idempotent: false, body)
            }
            // A read whose connection was closed under it for what the connection kept (`NamedStatement`): once
            // more, on a connection that prepares afresh.
            if idempotent, !lost, !expired, connection.isClosed {
                return try await withConnection(timeout: timeout, idempotent: false, body)
            }
            if expired {
                throw StoreError(.unavailable, "state database \(location): no answer within \(operationTimeout); the connection was closed")
            }
            throw PostgresErrors.translate(error, location: location)
        }
    }

    /// Closes idle connections beyond one.
    func trim() async {
        for connection in await state.takeIdle(keeping: 1) { try? await connection.close() }
    }

    /// Closes every connection; later operations open new ones.
    func close() async {
        for connection in await state.takeIdle(keeping: 0) { try? await connection.close() }
    }

    /// A connection, and whether it was an idle one (which the server may have closed meanwhile).
    private func lease(until deadline: ContinuousClock.Instant) async throws -> (PostgresConnection, reused: Bool) {
        let lease: State.Lease
        do {
            lease = try await state.acquire(until: deadline)
        } catch {
            throw StoreError(.unavailable, "state database \(location): every connection stayed busy until the operation's deadline")
        }
        switch lease {
        case .reuse(let connection):
            return (connection, true)
        case .connect(let id):
            do {
                return (try await PostgresConnection.connect(on: loops.next(), configuration: configuration, id: id, logger: logger), false)
            } catch {
                await state.connectFailed()
                throw PostgresErrors.translate(error, location: location)
            }
        }
    }

    /// Builds the connection settings: TLS as `tls` says, the password from its file (read now, kept only
    /// in the configuration postgres-nio holds), a statement timeout and our application name.
    static func configuration(_ config: PostgresStateConfig) throws -> PostgresConnection.Configuration {
        let password = try config.passwordFile.map(readPassword)
        let tls: PostgresConnection.Configuration.TLS
        switch config.tls {
        case .disable:
            tls = .disable
        case .require, .verifyFull:
            var settings = TLSConfiguration.makeClientConfiguration()
            if let caFile = config.caFile {
                guard FileManager.default.isReadableFile(atPath: caFile) else {
                    throw StoreError(.cannotOpen, "state.postgres.caFile \(caFile) does not exist or is not readable; give the PEM file of the database's CA")
                }
                settings.trustRoots = .file(caFile)
            }
            switch config.tls {
            case .verifyFull: settings.certificateVerification = .fullVerification
            default: settings.certificateVerification = config.caFile == nil ? .none : .noHostnameVerification
            }
            do {
                tls = .require(try NIOSSLContext(configuration: settings))
            } catch {
                throw StoreError(.cannotOpen, "state.postgres.caFile \(config.caFile ?? "-"): not a usable PEM certificate file (\(error))")
            }
        }
        var configuration = PostgresConnection.Configuration(host: config.host, port: config.port, username: config.user,
                                                             password: password, database: config.database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        configuration.options.additionalStartupParameters = [
            ("application_name", "privatelink-consumer"),
            ("statement_timeout", statementTimeout),
            // A frozen or vanished daemon's open transaction (and its locks) ends within half a lease.
            ("idle_in_transaction_session_timeout", "\(max(1000, config.leaseSeconds * 500))ms"),
            ("tcp_keepalives_idle", "5"),
            ("tcp_keepalives_interval", "2"),
            ("tcp_keepalives_count", "3"),
            ("tcp_user_timeout", "10000"),
        ]
        return configuration
    }

    /// The password file's first line. Its contents never appear in a message.
    static func readPassword(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError(.cannotOpen, "state.postgres.passwordFile \(path) does not exist or is not readable by this user")
        }
        let text = String(decoding: data, as: UTF8.self)
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !password.isEmpty else {
            throw StoreError(.cannotOpen, "state.postgres.passwordFile \(path) is empty; put the database user's password on its first line")
        }
        return password
    }

    /// The outcome of an operation's race with its deadline.
    private final class Race: Sendable {
        let state = Mutex<Bool?>(nil)
    }

    /// Who holds which connection; waiting callers queue here.
    private actor State {
        enum Lease {
            case reuse(PostgresConnection)
            case connect(id: Int)
        }

        let capacity: Int
        var idle: [PostgresConnection] = []
        var leased = 0
        /// Callers waiting for a connection, in order; a returned connection's slot goes to the first.
        var waiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextId = 1
        var nextWaiter = 1

        init(capacity: Int) {
            self.capacity = capacity
        }

        /// A store dropped without `close()` closes its idle connections; each stays referenced until its
        /// channel is closed (postgres-nio asserts that a connection is closed before it goes away).
        deinit {
            for connection in idle {
                connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
            }
        }

        /// A slot, at once or handed over by a caller that finishes; throws when `deadline` passes first.
        func acquire(until deadline: ContinuousClock.Instant) async throws -> Lease {
            if leased < capacity {
                leased += 1
            } else {
                let id = nextWaiter
                nextWaiter += 1
                let timer = Task { [weak self] in
                    try await Task.sleep(until: deadline)
                    await self?.expire(waiter: id)
                }
                defer { timer.cancel() }
                // Resumed with the slot already counted for us (`handOver`), or with an error at the deadline.
                try await withCheckedThrowingContinuation { waiters.append((id, $0)) }
            }
            while let connection = idle.popLast() {
                if !connection.isClosed { return .reuse(connection) }
                Task { try? await connection.close() }
            }
            defer { nextId += 1 }
            return .connect(id: nextId)
        }

        func connectFailed() {
            handOver()
        }

        /// Closes every idle connection (one of them was found dead: the server restarted).
        func dropIdle() {
            let dropped = idle
            idle = []
            for connection in dropped { Task { try? await connection.close() } }
        }

        func giveBack(_ connection: PostgresConnection, broken: Bool) {
            if broken {
                Task { try? await connection.close() }
            } else {
                idle.append(connection)
            }
            handOver()
        }

        private func expire(waiter id: Int) {
            guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
            waiters.remove(at: index).continuation.resume(throwing: CancellationError())
        }

        func takeIdle(keeping count: Int) -> [PostgresConnection] {
            guard idle.count > count else { return [] }
            let taken = Array(idle.dropLast(count))
            idle = Array(idle.suffix(count))
            return taken
        }

        /// A slot is free: the first waiter gets it (still counted in `leased`), else it is released.
        private func handOver() {
            if waiters.isEmpty {
                leased -= 1
            } else {
                waiters.removeFirst().continuation.resume()
            }
        }
    }
}

/// What a PostgreSQL failure means to the store, and the words for it.
enum PostgresErrors {
    /// The connection is unusable (closed, reset, the server shutting down): drop it, try another later.
    static func isConnectionFailure(_ error: any Error) -> Bool {
        if error is IOError || error is ChannelError || error is ConnectionClosed { return true }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
        case .queryCancelled:
            return false
        default:
            return true
        }
    }

    /// A `StoreError` naming the database and the cause. Built from the server's message and SQLSTATE
    /// only: never the query, its values or the password.
    static func translate(_ error: any Error, location: String) -> any Error {
        if error is StoreError { return error }
        if error is IOError || error is ChannelError {
            return StoreError(.unavailable, "state database \(location): connection lost (\(Self.describe(error)))")
        }
        if error is ConnectionClosed {
            return StoreError(.unavailable, "state database \(location): the server closed the connection (it restarted, or ended a transaction left idle); nothing of that transaction was kept")
        }
        // Errors of the caller's own (a test's, a cancellation) pass through unchanged.
        guard let error = error as? PSQLError else { return error }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?"
            let message = (error.serverInfo?[.message] ?? "error").split(separator: "\n").first.map(String.init) ?? ""
            switch state {
            case "28P01", "28000":
                return StoreError(.unavailable, "state database \(location): login refused (\(message)); check state.postgres.user, passwordFile and the server's pg_hba.conf")
            case "3D000":
                return StoreError(.unavailable, "state database \(location): \(message); create it (Deploy/README.md, \"Two hosts\")")
            case "23505":
                return StoreError(.invalid, "state database \(location) refused a duplicate: \(message)")
            case "23514", "23503", "23502", "22P02":
                return StoreError(.invalid, "state database \(location) refused the change: \(message)")
            case "57014":
                return StoreError(.unavailable, "state database \(location): a statement took longer than \(PostgresPool.statementTimeout); the database is overloaded or locked")
            case "55P03":
                return StoreError(.busy, "state database \(location): a lock is held by a transaction in flight (\(message)); trying again")
            case "40001", "40P01":
                return StoreError(.busy, "state database \(location): \(message)")
            default:
                if state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300" {
                    return StoreError(.unavailable, "state database \(location): \(message)")
                }
                return StoreError(.invalid, "state database \(location): \(message) (SQLSTATE \(state))")
            }
        case .sslUnsupported:
            return StoreError(.unavailable, "state database \(location): the server does not offer TLS; set state.postgres.tls to \"disable\" only if the network is private")
        case .failedToAddSSLHandler:
            return StoreError(.unavailable, "state database \(location): TLS could not be set up")
        default:
            if let underlying = error.underlying {
                return StoreError(.unavailable, "state database \(location): cannot connect (\(Self.describe(underlying)))")
            }
            return StoreError(.unavailable, "state database \(location): connection failed (\(error.code))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? NIOSSLError { return "TLS: \(error)" }
        if let error = error as? BoringSSLError { return "TLS: \(error)" }
        return String(String(describing: error).prefix(200))
    }
}

/// Runs a task's jobs on one event loop (SE-0417's task executor preference). A store operation's body
/// prefers its connection's loop, where postgres-nio completes each answer: awaiting the answer then costs
/// no wake-up of another thread.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
