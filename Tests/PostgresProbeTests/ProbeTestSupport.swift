import Logging
import NIOCore
import PostgresProbe
import TestSupport

/// A resolver that never answers and ignores cancellation, like getaddrinfo stuck on a dead DNS server.
struct HangingResolver: HostResolver {
    func resolve(host: String, port: Int, timeout: Duration) async throws(ResolveError) -> [SocketAddress] {
        // A detached task does not inherit the caller's cancellation.
        await Task.detached { try? await Task.sleep(for: .seconds(120)) }.value
        return []
    }
}

/// A resolver with a fixed answer.
struct StaticResolver: HostResolver {
    let answer: Result<[SocketAddress], ResolveError>

    init(_ addresses: [SocketAddress]) { answer = .success(addresses) }
    init(error: ResolveError) { answer = .failure(error) }

    func resolve(host: String, port: Int, timeout: Duration) async throws(ResolveError) -> [SocketAddress] {
        try answer.get()
    }
}

/// Answers literal IPv4 addresses at once, like getaddrinfo does for them, without a resolver thread:
/// the stage tests time connect, postgres and login, and on a loaded 2-core machine a thread's start-up
/// could eat a 1 s DNS budget. (`SystemResolver` itself is tested on `localhost`.)
struct LiteralResolver: HostResolver {
    func resolve(host: String, port: Int, timeout: Duration) async throws(ResolveError) -> [SocketAddress] {
        guard let address = try? SocketAddress(ipAddress: host, port: port) else {
            throw ResolveError(.noSuchName, "\(host) is not an IP literal")
        }
        return [address]
    }
}

/// A prober with quiet logs unless `logger` is given.
func makeProber(_ timeouts: ProbeTimeouts = ProbeTimeouts(uniform: .seconds(10)),
                resolver: any HostResolver = LiteralResolver(),
                logger: Logger = Logger(label: "probe-test") { _ in SwiftLogNoOpLogHandler() }) -> PostgresProber {
    PostgresProber(timeouts: timeouts, resolver: resolver, logger: logger)
}

/// Runs `body` and returns its value with the wall time it took.
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    let value = try await body()
    return (value, clock.now - start)
}

func loopback(_ port: Int) -> ProbeTarget {
    ProbeTarget(host: "127.0.0.1", port: port)
}
