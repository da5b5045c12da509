import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

extension PostgresProber {
    /// The `login` stage: read the password, open a fresh connection to the address that answered,
    /// authenticate with `PostgresConnection` (one attempt; `PostgresClient` would retry a wrong password
    /// forever) and run `SELECT 1`. Returns `server_version`.
    func login(at address: SocketAddress, credentials: ProbeCredentials, target: ProbeTarget,
               on loop: any EventLoop, logger: Logger) async -> StageOutcome<String?> {
        let budget = timeouts.login
        let deadline = NIODeadline.now() + TimeAmount(budget)
        let password: String
        switch PasswordFile.load(credentials.passwordFile) {
        case .success(let read): password = read
        case .failure(let error):
            return .failure(ProbeFailure(.passwordFileUnreadable, "cannot read the password file: \(error)", target: target))
        }

        let tls = loginTLS
        let slot = ChannelSlot()
        let outcome = await withDeadline(budget, on: loop) { () async -> StageOutcome<String?> in
            do {
                let channel = try await ClientBootstrap(group: loop)
                    .connectTimeout(deadline - .now())
                    .connect(to: address)
                    .get()
                guard slot.hold(channel) else { return .failure(ProbeFailure(.cancelled, "cancelled", target: target)) }
                var configuration = PostgresConnection.Configuration(
                    establishedChannel: channel, tls: tls, username: credentials.user,
                    password: password, database: credentials.database)
                // PostgresNIO enforces this over the TLS handshake and authentication.
                configuration.options.connectTimeout = deadline - .now()
                let connection = try await PostgresConnection.connect(
                    on: channel.eventLoop, configuration: configuration, id: Self.nextConnectionID(), logger: logger)
                do {
                    let rows = try await connection.query("SELECT 1, current_setting('server_version')", logger: logger)
                    var version: String?
                    for try await (_, serverVersion) in rows.decode((Int, String).self) { version = serverVersion }
                    try? await connection.close()
                    return .success(version)
                } catch {
                    try? await connection.close()
                    throw error
                }
            } catch {
                return .failure(Self.loginFailure(error, target: target, budget: budget))
            }
        }
        slot.close()
        switch outcome {
        case .finished(let loggedIn):
            return loggedIn
        case .timedOut:
            return .failure(ProbeFailure(.loginTimeout, "login and SELECT 1 did not finish within \(budget.probeText)", target: target))
        case .cancelled:
            return .failure(ProbeFailure(.cancelled, "cancelled while logging in", target: target))
        }
    }

    /// Maps what PostgresNIO threw to a failure kind. Messages come from the server's error fields or the
    /// transport, never from the configuration, so the password cannot leak into them.
    static func loginFailure(_ error: any Error, target: ProbeTarget, budget: Duration) -> ProbeFailure {
        let user = target.credentials?.user ?? "?"
        guard let error = error as? PSQLError else {
            if let channelError = error as? ChannelError, case .connectTimeout = channelError {
                return ProbeFailure(.loginTimeout, "login connection timed out after \(budget.probeText)", target: target)
            }
            return ProbeFailure(.loginFailed, "login connection failed: \(error)", target: target)
        }
        switch error.code {
        case .server:
            let sqlState = error.serverInfo?[.sqlState]
            let message = error.serverInfo?[.message] ?? "the server refused the login of \"\(user)\""
            let kind: ProbeFailure.Kind = switch sqlState {
            case "3D000": .databaseMissing
            case let state? where state.hasPrefix("28"): .loginRejected
            default: .loginFailed
            }
            return ProbeFailure(kind, message, target: target, sqlState: sqlState)
        case .connectionError:
            if let channelError = error.underlying as? ChannelError, case .connectTimeout = channelError {
                return ProbeFailure(.loginTimeout, "login did not finish within \(budget.probeText)", target: target)
            }
            let underlying = error.underlying.map { "\($0)" } ?? "unknown error"
            if error.underlying is NIOSSLError {
                return ProbeFailure(.loginFailed, "TLS handshake failed: \(underlying)", target: target)
            }
            return ProbeFailure(.loginFailed, "login connection failed: \(underlying)", target: target)
        case .serverClosedConnection:
            return ProbeFailure(.loginFailed, "the server closed the connection during login", target: target)
        case .unsupportedAuthMechanism:
            return ProbeFailure(.loginFailed, "the server asks for an authentication method the probe does not "
                                + "support (it speaks password, md5 and SCRAM-SHA-256)", target: target)
        case .saslError:
            return ProbeFailure(.loginFailed, "SCRAM authentication failed", target: target)
        default:
            return ProbeFailure(.loginFailed, "login failed: \(error.code)", target: target)
        }
    }

    private static let connectionIDs = Atomic<Int>(0)

    static func nextConnectionID() -> Int {
        connectionIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }
}

/// The login connection's channel, so that a timed-out or cancelled login closes it instead of leaving it
/// to a task nobody waits for.
final class ChannelSlot: Sendable {
    private let state = Mutex<(channel: (any Channel)?, closed: Bool)>((nil, false))

    /// Keeps `channel` for `close()`; closes it at once and returns false if `close()` came first.
    func hold(_ channel: any Channel) -> Bool {
        let accepted = state.withLock { state in
            guard !state.closed else { return false }
            state.channel = channel
            return true
        }
        if !accepted { channel.close(promise: nil) }
        return accepted
    }

    /// Closes the held channel, if any, and any channel offered later.
    func close() {
        let channel = state.withLock { state in
            state.closed = true
            defer { state.channel = nil }
            return state.channel
        }
        channel?.close(promise: nil)
    }
}
