import NIOCore
import PostgresProbe
import Testing
import TestSupport

// Stage budgets not under test are generous, and elapsed-time bounds only catch a probe that ignores its
// budget (which would take minutes or forever): under the full parallel suite on two cores, a probe's
// stage task can wait a second for a thread while the timer, on its own event loop, fires on time.
@Suite("Probe stages against fake servers on 127.0.0.1", .calmPool)
struct ProbeStageTests {
    // The resolver answers NXDOMAIN itself: asking the system resolver about a missing name would send a
    // DNS query off this machine, and tests talk to loopback only.
    @Test("a name that does not exist fails at dns with no such name")
    func noSuchName() async {
        let nxdomain = StaticResolver(error: ResolveError(.noSuchName, "no-such-host.invalid: name does not exist"))
        let result = await makeProber(resolver: nxdomain).probe(ProbeTarget(host: "no-such-host.invalid", port: 5432))
        #expect(!result.ok)
        #expect(result.stage == .dns)
        #expect(result.failure?.kind == .dnsNoSuchName)
        #expect(result.failure?.hint.contains("enableDnsSupport") == true)
        #expect(result.latencyMs[.dns] != nil)
        #expect(result.latencyMs[.connect] == nil)
    }

    @Test("a resolver that hangs is abandoned at the dns budget")
    func hangingResolver() async {
        let timeouts = ProbeTimeouts(dns: .milliseconds(300), connect: .seconds(5), postgres: .seconds(5), login: .seconds(5))
        let (result, elapsed) = await timed {
            await makeProber(timeouts, resolver: HangingResolver()).probe(ProbeTarget(host: "db.example", port: 5432))
        }
        #expect(result.stage == .dns)
        #expect(result.failure?.kind == .dnsTimeout)
        #expect(result.failure?.message.contains("timed out after 300 ms") == true)
        #expect(elapsed < .seconds(2))
    }

    @Test("resolver errors and empty answers map to dns kinds", arguments: [
        (ResolveError(.noAnswer, "no data"), ProbeFailure.Kind.dnsNoAnswer),
        (ResolveError(.noSuchName, "NXDOMAIN"), .dnsNoSuchName),
        (ResolveError(.timeout, "try again"), .dnsTimeout),
        (ResolveError(.failed, "broken"), .dnsFailed),
    ])
    func resolverErrors(error: ResolveError, kind: ProbeFailure.Kind) async {
        let result = await makeProber(resolver: StaticResolver(error: error)).probe(ProbeTarget(host: "db.example", port: 1))
        #expect(result.failure?.kind == kind)
        #expect(result.failure?.message.contains(error.message) == true)
        let empty = await makeProber(resolver: StaticResolver([])).probe(ProbeTarget(host: "db.example", port: 1))
        #expect(empty.failure?.kind == .dnsNoAnswer)
    }

    @Test("the system resolver resolves localhost off the cooperative pool")
    func systemResolverLocalhost() async throws {
        let addresses = try await SystemResolver().resolve(host: "localhost", port: 5432, timeout: .seconds(10))
        #expect(addresses.contains { $0.ipAddress == "127.0.0.1" || $0.ipAddress == "::1" })
        #expect(addresses.allSatisfy { $0.port == 5432 })
    }

    @Test("a closed port is refused at connect")
    func closedPort() async throws {
        let closed = try ClosedPort()
        let result = await makeProber().probe(loopback(closed.port))
        withExtendedLifetime(closed) {}
        #expect(result.stage == .connect)
        #expect(result.failure?.kind == .connectRefused)
        #expect(result.failure?.hint.contains("port") == true)
        #expect(result.addresses == ["127.0.0.1"])
        #expect(result.latencyMs.keys.sorted { $0.rawValue < $1.rawValue } == [.connect, .dns])
    }

    @Test("a listener that drops SYNs times out at connect within its budget")
    func connectTimeout() async throws {
        let blackhole = try BlackholeListener()
        let timeouts = ProbeTimeouts(dns: .seconds(5), connect: .milliseconds(400), postgres: .seconds(5), login: .seconds(5))
        let (result, elapsed) = await timed { await makeProber(timeouts).probe(loopback(blackhole.port)) }
        #expect(result.stage == .connect)
        #expect(result.failure?.kind == .connectTimeout)
        #expect(result.failure?.hint.contains("step 3") == true)
        #expect(result.failure?.hint.contains("step 1") == true)
        #expect(result.failure?.message.contains("timed out after 400 ms") == true, "\(result.failure?.message ?? "-")")
        #expect((result.latencyMs[.connect] ?? .infinity) < 3000, "\(result.latencyMs)")
        #expect(elapsed < .seconds(8))
        withExtendedLifetime(blackhole) {}
    }

    @Test("the next address is tried when the first refuses")
    func nextAddress() async throws {
        try await FakeServer.with([.send("N")]) { port in
            let closed = try ClosedPort()
            defer { withExtendedLifetime(closed) {} }
            let refused = try SocketAddress(ipAddress: "127.0.0.1", port: closed.port)
            let open = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            let result = await makeProber(resolver: StaticResolver([refused, open])).probe(ProbeTarget(host: "db.example", port: port))
            #expect(result.ok)
            #expect(result.stage == .postgres)
            #expect(result.sslOffered == false)
        }
    }

    @Test("an S answer is PostgreSQL offering TLS")
    func sAnswer() async throws {
        try await FakeServer.with([.send("S")]) { port in
            let result = await makeProber().probe(loopback(port))
            #expect(result.ok)
            #expect(result.stage == .postgres)
            #expect(result.failure == nil)
            #expect(result.sslOffered == true)
            #expect(Set(result.latencyMs.keys) == [.dns, .connect, .postgres])
        }
    }

    @Test("a listener that never answers times out at the postgres stage within its budget")
    func silentListener() async throws {
        let timeouts = ProbeTimeouts(dns: .seconds(5), connect: .seconds(5), postgres: .milliseconds(500), login: .seconds(5))
        try await FakeServer.with([]) { port in
            let (result, elapsed) = await timed { await makeProber(timeouts).probe(loopback(port)) }
            #expect(result.stage == .postgres)
            #expect(result.failure?.kind == .postgresTimeout)
            #expect(result.failure?.message.contains("500 ms") == true)
            #expect((result.latencyMs[.postgres] ?? 0) >= 450)
            #expect(elapsed < .seconds(8))
        }
    }

    @Test("an HTTP server is not PostgreSQL")
    func httpServer() async throws {
        let reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        try await FakeServer.with([.send(reply), .close]) { port in
            let result = await makeProber().probe(loopback(port))
            #expect(result.stage == .postgres)
            #expect(result.failure?.kind == .notPostgres)
            #expect(result.failure?.message.contains("HTTP/1.1 400") == true)
            #expect(result.failure?.hint.contains("DNS resource") == true)
        }
    }

    @Test("a banner sent on accept is not PostgreSQL")
    func banner() async throws {
        try await FakeServer.with([.send("SSH-2.0-OpenSSH_9.6\r\n")], on: .onAccept) { port in
            let result = await makeProber().probe(loopback(port))
            #expect(result.failure?.kind == .notPostgres)
            #expect(result.failure?.message.contains("SSH-2.0") == true)
        }
    }

    @Test("a server that closes right after the SSLRequest is an early close")
    func earlyClose() async throws {
        try await FakeServer.with([.close]) { port in
            let result = await makeProber().probe(loopback(port))
            #expect(result.stage == .postgres)
            #expect(result.failure?.kind == .earlyClose)
            #expect(result.failure?.hint.contains("step 3") == true)
        }
    }

    @Test("a server that resets after the SSLRequest is an early close")
    func reset() async throws {
        try await FakeServer.with([.reset]) { port in
            let result = await makeProber().probe(loopback(port))
            #expect(result.failure?.kind == .earlyClose)
        }
    }

    @Test("a slow first byte that is not S or N is not PostgreSQL, timed to its arrival")
    func slowGarbage() async throws {
        // A 10 s stage budget: timed to the byte (300 ms) means far below it, however loaded the machine.
        try await FakeServer.with([.wait(.milliseconds(300)), .send("X")]) { port in
            let result = await makeProber(ProbeTimeouts(uniform: .seconds(10))).probe(loopback(port))
            #expect(result.failure?.kind == .notPostgres)
            #expect(result.failure?.message.contains("\"X\"") == true)
            #expect((result.latencyMs[.postgres] ?? 0) >= 250)
            #expect((result.latencyMs[.postgres] ?? .infinity) < 5000)
        }
    }

    @Test("a slow N followed by more bytes is not PostgreSQL")
    func slowNThenGarbage() async throws {
        // A settle window far wider than the server's 20 ms gap (a loaded machine may stretch it): the
        // bytes after the N end it early.
        var timeouts = ProbeTimeouts(uniform: .seconds(10))
        timeouts.answerSettle = .seconds(3)
        try await FakeServer.with([.wait(.milliseconds(200)), .send("N"), .wait(.milliseconds(20)), .send("OTICE: hello")]) { port in
            let result = await makeProber(timeouts).probe(loopback(port))
            #expect(result.failure?.kind == .notPostgres)
            #expect(result.failure?.message.contains("more than") == true)
        }
    }

    @Test("N and then a close is not PostgreSQL, which waits for the client")
    func nThenClose() async throws {
        // The close must land inside the settle window: a wide one, as the server's thread may be
        // preempted between its write and its close.
        var timeouts = ProbeTimeouts(uniform: .seconds(10))
        timeouts.answerSettle = .seconds(3)
        try await FakeServer.with([.send("N"), .close]) { port in
            let result = await makeProber(timeouts).probe(loopback(port))
            #expect(result.failure?.kind == .notPostgres)
        }
    }

    @Test("a slow lone N is PostgreSQL without TLS")
    func slowN() async throws {
        try await FakeServer.with([.wait(.milliseconds(300)), .send("N")]) { port in
            let result = await makeProber().probe(loopback(port))
            #expect(result.ok)
            #expect(result.stage == .postgres)
            #expect(result.failure == nil)
            #expect(result.sslOffered == false)
            #expect((result.latencyMs[.postgres] ?? 0) >= 250)
            #expect(Set(result.latencyMs.keys) == [.dns, .connect, .postgres])
        }
    }

    @Test("a login that hangs after the answer times out at the login budget")
    func loginHangs() async throws {
        let dir = TemporaryDirectory()
        let passwordFile = try dir.write("password", "hunter2\n")
        let timeouts = ProbeTimeouts(dns: .seconds(5), connect: .seconds(5), postgres: .seconds(5), login: .milliseconds(600))
        try await FakeServer.with([.send("N")]) { port in
            let target = ProbeTarget(host: "127.0.0.1", port: port,
                                     credentials: ProbeCredentials(user: "probe", passwordFile: passwordFile))
            let (result, elapsed) = await timed { await makeProber(timeouts).probe(target) }
            #expect(result.stage == .login)
            #expect(result.failure?.kind == .loginTimeout)
            #expect(result.failure?.message.contains("600 ms") == true, "\(result.failure?.message ?? "-")")
            #expect((result.latencyMs[.login] ?? .infinity) < 3000, "\(result.latencyMs)")
            #expect(elapsed < .seconds(8))
        }
    }

    @Test("50 concurrent probes of a silent listener finish together, not one after another")
    func concurrentSilentProbes() async throws {
        let timeouts = ProbeTimeouts(dns: .seconds(5), connect: .seconds(5), postgres: .seconds(1), login: .seconds(5))
        let prober = makeProber(timeouts)
        try await FakeServer.with([]) { port in
            let (results, elapsed) = await timed {
                await withTaskGroup(of: ProbeResult.self) { group in
                    for _ in 0..<50 { group.addTask { await prober.probe(loopback(port)) } }
                    return await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(results.count == 50)
            #expect(results.allSatisfy { $0.failure?.kind == .postgresTimeout })
            #expect(elapsed < .seconds(12))
        }
    }

    @Test("cancelling the probing task ends the probe at once")
    func cancellation() async throws {
        let timeouts = ProbeTimeouts(uniform: .seconds(10))
        try await FakeServer.with([]) { port in
            let probe = Task { await makeProber(timeouts).probe(loopback(port)) }
            try await Task.sleep(for: .milliseconds(200))
            let (result, elapsed) = await timed {
                probe.cancel()
                return await probe.value
            }
            #expect(result.failure?.kind == .cancelled)
            #expect(!result.ok)
            #expect(elapsed < .seconds(2))
        }
    }
}
