import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// Probes a customer's PostgreSQL through one of our endpoints: DNS → TCP → SSLRequest (→ login and
/// `SELECT 1`), timing each stage and mapping each failure to the customer-side cause.
///
/// Every stage runs under its own budget from ``ProbeTimeouts`` and is abandoned, not awaited, when the
/// budget runs out, so a probe never takes longer than ``ProbeTimeouts/total`` and a hung target holds up
/// nothing but its own probe. Cancelling the calling task ends the probe at once with
/// ``ProbeFailure/Kind/cancelled``. Nothing blocks a cooperative thread: DNS, the connection and the
/// SSLRequest run as one blocking job on a probe thread (``ProbeThreads``, ``BlockingExchange``), each wait a
/// `poll` within its stage's budget; the login on SwiftNIO's event loops (PostgresNIO). Concurrency limits are
/// the caller's.
public struct PostgresProber: Sendable {
    /// The per-stage budgets.
    public let timeouts: ProbeTimeouts
    let resolver: any HostResolver
    public let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    /// TLS for the login stage.
    ///
    /// `.prefer` with certificate verification off: TLS whenever the server offers it (RDS with
    /// `rds.force_ssl` requires it), without checking the certificate chain or name. That is acceptable
    /// only because the host is always our own endpoint's DNS name and the path (our VPC endpoint → VPC
    /// Lattice → the customer's Resource Gateway → RDS) is AWS-internal; RDS's certificate names the RDS
    /// hostname, never our endpoint's, so verification would reject every healthy database anyway.
    var loginTLS: PostgresConnection.Configuration.TLS { loginTLSContext.value }
    /// Made on the first login, not up front: most customers have no login stage, and a TLS context
    /// costs BoringSSL's initialisation and memory for the daemon's lifetime.
    private let loginTLSContext: LoginTLSContext

    /// - Parameters:
    ///   - timeouts: the budget of each stage.
    ///   - resolver: DNS resolution; the production default is getaddrinfo on a thread of its own.
    ///   - eventLoopGroup: where connections run.
    ///   - logger: receives one event per probe, and PostgresNIO's events during login.
    public init(timeouts: ProbeTimeouts, resolver: any HostResolver = SystemResolver(),
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.timeouts = timeouts
        self.resolver = resolver
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        loginTLSContext = LoginTLSContext(logger: logger)
    }

    /// Runs the stages in order until one fails; the result names the last stage attempted.
    public func probe(_ target: ProbeTarget) async -> ProbeResult {
        // dns, connect and postgres: one job on a probe thread with the production resolver; an injected
        // resolver resolves first (under the stage's deadline), then the job connects.
        let staged: Staged
        if let system = resolver as? SystemResolver {
            staged = await resolveConnectAndExchange(system, target)
        } else {
            let started = NIODeadline.now()
            let resolved = await resolve(target, on: eventLoopGroup.next())
            let dnsMilliseconds = Self.milliseconds(from: started)
            switch resolved {
            case .failure(let failure):
                staged = .dnsFailed(failure, milliseconds: dnsMilliseconds)
            case .success(let addresses):
                staged = await connectAndExchange(addresses, target: target)
                    .map { .exchanged(addresses: addresses, dnsMilliseconds: dnsMilliseconds, $0) } ?? .cancelled
            }
        }
        switch settle(staged, target) {
        case .done(let result): return result
        case .login(let result, let address, let credentials): return await loginStage(result, at: address, credentials: credentials, target)
        }
    }

    /// Where a probe stands after the `postgres` stage.
    enum Settled: Sendable {
        /// Its result: a stage failed, or there is no login.
        case done(ProbeResult)
        /// The login is next, at the address that accepted.
        case login(ProbeResult, SocketAddress, ProbeCredentials)

        /// The result so far.
        var result: ProbeResult {
            switch self {
            case .done(let result), .login(let result, _, _): result
            }
        }
    }

    /// The `dns`, `connect` and `postgres` stages' result from what the blocking work found.
    func settle(_ staged: Staged, _ target: ProbeTarget) -> Settled {
        var result = ProbeResult(ok: false, stage: .dns)
        let (addresses, exchanged): ([SocketAddress], BlockingExchange.Outcome)
        switch staged {
        case .dnsFailed(let failure, let milliseconds):
            result.latencyMs[.dns] = milliseconds
            return .done(finish(result, failure, target))
        case .cancelled:
            return .done(finish(result, ProbeFailure(.cancelled, "cancelled", target: target), target))
        case .exchanged(let resolved, let milliseconds, let outcome):
            result.latencyMs[.dns] = milliseconds
            (addresses, exchanged) = (resolved, outcome)
        }
        result.resolved = addresses

        result.stage = .connect
        result.latencyMs[.connect] = exchanged.connectMs
        guard case .success(let address) = exchanged.connect else { return .done(finish(result, exchanged.connect.failure, target)) }

        result.stage = .postgres
        let answer = Self.judge(exchanged.answer, peer: address.probeText, target: target, budget: timeouts.postgres)
        if let asked = exchanged.answerStarted, let ended = exchanged.answerEnded {
            result.latencyMs[.postgres] = Self.milliseconds(from: asked, to: Self.firstByte(exchanged.answer) ?? ended)
        }
        guard case .success(let offersTLS) = answer else { return .done(finish(result, answer.failure, target)) }
        result.sslOffered = offersTLS

        guard let credentials = target.credentials else {
            result.ok = true
            return .done(finish(result, nil, target))
        }
        return .login(result, address, credentials)
    }

    /// The `login` stage, after the others passed.
    func loginStage(_ result: ProbeResult, at address: SocketAddress, credentials: ProbeCredentials, _ target: ProbeTarget) async -> ProbeResult {
        var result = result
        result.stage = .login
        // PostgresNIO's events during the login name the target.
        var logger = self.logger
        logger[metadataKey: "probe.host"] = "\(target.host)"
        logger[metadataKey: "probe.port"] = "\(target.port)"
        let started = NIODeadline.now()
        let loggedIn = await login(at: address, credentials: credentials, target: target, on: eventLoopGroup.next(), logger: logger)
        result.latencyMs[.login] = Self.milliseconds(from: started)
        guard case .success(let version) = loggedIn else { return finish(result, loggedIn.failure, target) }
        result.serverVersion = version
        result.ok = true
        return finish(result, nil, target)
    }

    /// The result with its failure; one debug event, built only when debug events are logged (a probe's own
    /// cost is a few tens of microseconds: formatting an event nobody reads was a tenth of it).
    private func finish(_ result: ProbeResult, _ failure: ProbeFailure?, _ target: ProbeTarget) -> ProbeResult {
        var result = result
        result.failure = failure
        guard logger.logLevel <= .debug else { return result }
        let latency = ProbeStage.allCases.compactMap { stage in
            result.latencyMs[stage].map { "\(stage.rawValue)=\(($0 * 10).rounded() / 10)" }
        }.joined(separator: " ")
        var metadata: Logger.Metadata = [
            "probe.host": "\(target.host)",
            "probe.port": "\(target.port)",
            "probe.ok": "\(result.ok)",
            "probe.stage": "\(result.stage.rawValue)",
            "probe.latencyMs": "\(latency)",
        ]
        if let failure {
            metadata["probe.failure"] = "\(failure.kind)"
            metadata["probe.error"] = "\(failure.message)"
            if let sqlState = failure.sqlState { metadata["probe.sqlState"] = "\(sqlState)" }
        }
        logger.debug("probe finished", metadata: metadata)
        return result
    }

    static func milliseconds(from start: NIODeadline, to end: NIODeadline = .now()) -> Double {
        Double((end - start).nanoseconds) / 1_000_000
    }
}

/// The login stage's TLS setting, made once, on first use.
final class LoginTLSContext: Sendable {
    private let made = Mutex<PostgresConnection.Configuration.TLS?>(nil)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    var value: PostgresConnection.Configuration.TLS {
        made.withLock { made in
            if let made { return made }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            // Nothing is verified, so no trust store is read from disk or held in memory.
            tls.trustRoots = .certificates([])
            let value: PostgresConnection.Configuration.TLS
            if let context = try? NIOSSLContext(configuration: tls) {
                value = .prefer(context)
            } else {
                logger.warning("TLS unavailable; logins will not use TLS", metadata: ["probe.tls": "disabled"])
                value = .disable
            }
            made = value
            return value
        }
    }
}

/// A stage's outcome: what the next stage needs, or why the probe stops.
enum StageOutcome<Value: Sendable>: Sendable {
    case success(Value)
    case failure(ProbeFailure)

    var failure: ProbeFailure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

extension SocketAddress {
    /// "10.0.1.7:5432" or "[fd00::7]:5432".
    var probeText: String {
        guard let ip = ipAddress else { return "\(self)" }
        let port = self.port.map(String.init) ?? "?"
        return self.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
