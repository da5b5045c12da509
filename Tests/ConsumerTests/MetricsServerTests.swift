import ConsumerStore
import Foundation
import Logging
import Metrics
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport
@testable import Consumer

@Suite(.timeLimit(.minutes(1)))
struct MetricsServerTests {
    @Test func metricsPageShowsPassesCustomersProbesAndRefusals() async throws {
        let metrics = DaemonMetrics(registry: .init())
        metrics.recordPass(duration: .milliseconds(1500), at: Date(timeIntervalSince1970: 1_764_108_000))
        metrics.recordCustomer(name: "acme", state: .ready, healthy: true)
        metrics.recordCustomer(name: "globex", state: "ready", healthy: false)
        metrics.recordCustomer(name: "initech", state: .awaitingShare, healthy: nil)
        metrics.recordProbe(stage: "dns", seconds: 0.0008)
        metrics.recordProbe(stage: "connect", seconds: 0.004)
        metrics.recordRefusal(reason: .senderMismatch)
        metrics.recordRefusal(reason: "sender_mismatch")

        try await withServer(metrics) { server in
            let reply = try await LoopbackHTTP.request("GET", "/metrics", port: server.port)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let lines = Set(reply.body.split(separator: "\n").map(String.init))
            for expected in [
                #"privatelink_consumer_customer_healthy{customer="acme"} 1.0"#,
                #"privatelink_consumer_customer_healthy{customer="globex"} 0.0"#,
                #"privatelink_consumer_customer_state{customer="acme",state="ready"} 1.0"#,
                #"privatelink_consumer_customer_state{customer="initech",state="awaiting_share"} 1.0"#,
                "# TYPE privatelink_consumer_probe_latency_seconds histogram",
                #"privatelink_consumer_probe_latency_seconds_bucket{stage="dns",le="0.001"} 1"#,
                #"privatelink_consumer_probe_latency_seconds_bucket{stage="connect",le="0.0025"} 0"#,
                #"privatelink_consumer_probe_latency_seconds_bucket{stage="connect",le="0.005"} 1"#,
                #"privatelink_consumer_probe_latency_seconds_bucket{stage="connect",le="10.0"} 1"#,
                #"privatelink_consumer_probe_latency_seconds_count{stage="connect"} 1"#,
                #"privatelink_consumer_pass_duration_seconds_bucket{le="2.5"} 1"#,
                "privatelink_consumer_pass_duration_seconds_count 1",
                "privatelink_consumer_pass_duration_seconds_sum 1.5",
                "privatelink_consumer_last_pass_timestamp_seconds 1764108000.0",
                #"privatelink_consumer_invitations_refused_total{reason="sender_mismatch"} 2"#,
                #"privatelink_consumer_invitations_refused_total{reason="empty_share"} 0"#,
            ] {
                #expect(lines.contains(expected), "missing \(expected)")
            }
            // Unknown health is no series at all, not a sentinel value.
            #expect(!reply.body.contains(#"customer_healthy{customer="initech"}"#))
        }
    }

    @Test func awsCallCountersReachThePageThroughSwiftMetrics() async throws {
        DaemonMetrics.bootstrapMetricsSystem()
        DaemonMetrics.bootstrapMetricsSystem()  // idempotent: a second MetricsSystem.bootstrap would trap
        let metrics = DaemonMetrics()
        let operation = "Test\(UInt32.random(in: 0 ... .max))"
        // The shape AWSRequestExecutor records.
        Counter(label: "privatelink_consumer_aws_calls_total",
                dimensions: [("service", "ec2"), ("operation", operation), ("outcome", "success")]).increment()

        try await withServer(metrics) { server in
            let reply = try await LoopbackHTTP.request("GET", "/metrics", port: server.port)
            #expect(reply.status == 200)
            #expect(reply.body.contains(
                #"privatelink_consumer_aws_calls_total{service="ec2",operation="\#(operation)",outcome="success"} 1"#))
        }
    }

    @Test func stateChangeReplacesTheOldSeriesAndForgettingRemovesAll() async throws {
        let metrics = DaemonMetrics(registry: .init())
        metrics.recordCustomer(name: "acme", state: .endpointPending, healthy: nil)
        metrics.recordCustomer(name: "acme", state: .ready, healthy: true)
        metrics.recordCustomer(name: "other", state: .ready, healthy: true)

        try await withServer(metrics) { server in
            var page = try await LoopbackHTTP.request("GET", "/metrics", port: server.port).body
            #expect(page.contains(#"privatelink_consumer_customer_state{customer="acme",state="ready"} 1.0"#))
            #expect(!page.contains("endpoint_pending"))

            metrics.recordCustomer(name: "acme", state: .endpointMissing, healthy: nil)
            page = try await LoopbackHTTP.request("GET", "/metrics", port: server.port).body
            #expect(page.contains(#"privatelink_consumer_customer_state{customer="acme",state="endpoint_missing"} 1.0"#))
            #expect(!page.contains(#"customer="acme",state="ready""#))
            #expect(!page.contains(#"customer_healthy{customer="acme"}"#))

            metrics.forgetCustomer(name: "acme")
            page = try await LoopbackHTTP.request("GET", "/metrics", port: server.port).body
            #expect(!page.contains(#"customer="acme""#))
            #expect(page.contains(#"privatelink_consumer_customer_healthy{customer="other"} 1.0"#))
        }
    }

    @Test func healthzIsStartingThenOkThenStale() async throws {
        let metrics = DaemonMetrics(registry: .init())
        let start = Date(timeIntervalSince1970: 1_764_108_000)
        let clock = WallClock(start)
        let staleAfter = MetricsServer.staleAfter(pollInterval: .seconds(60))
        #expect(staleAfter == .seconds(240))

        try await withServer(metrics, staleAfter: staleAfter, now: clock.now) { server in
            var reply = try await LoopbackHTTP.request("GET", "/healthz", port: server.port)
            #expect(reply.status == 503)
            #expect(reply.headers["content-type"] == "application/json")
            #expect(reply.body == #"{"status":"starting","staleAfterSeconds":240}"# + "\n")

            metrics.recordPass(duration: .seconds(2), at: start)
            clock.set(start + 10)
            reply = try await LoopbackHTTP.request("GET", "/healthz", port: server.port)
            #expect(reply.status == 200)
            #expect(reply.body == #"{"status":"ok","lastPassAgeSeconds":10,"staleAfterSeconds":240}"# + "\n")

            clock.set(start + 241)
            reply = try await LoopbackHTTP.request("GET", "/healthz", port: server.port)
            #expect(reply.status == 503)
            #expect(reply.body == #"{"status":"stale","lastPassAgeSeconds":241,"staleAfterSeconds":240}"# + "\n")

            metrics.recordPass(duration: .seconds(2), at: start + 241)
            reply = try await LoopbackHTTP.request("GET", "/healthz", port: server.port)
            #expect(reply.status == 200)
        }
    }

    @Test(arguments: [(0.0, "ok"), (240.0, "ok"), (240.5, "stale")])
    func healthBoundary(age: Double, status: String) {
        let response = MetricsServer.health(lastPassAge: age, staleAfter: .seconds(240))
        #expect(String(decoding: response.body, as: UTF8.self).contains(#""status":"\#(status)""#))
        #expect(response.status == (status == "ok" ? .ok : .serviceUnavailable))
    }

    @Test func lastPassAgeNeverGoesNegativeWhenTheClockStepsBack() {
        let metrics = DaemonMetrics(registry: .init())
        let finished = Date(timeIntervalSince1970: 1_764_108_000)
        #expect(metrics.lastPassAge(now: finished) == nil)
        metrics.recordPass(duration: .seconds(1), at: finished)
        #expect(metrics.lastPassFinished == finished)
        #expect(metrics.lastPassAge(now: finished - 5) == 0)
        #expect(metrics.lastPassAge(now: finished + 7.5) == 7.5)
    }

    @Test func unknownPathsAre404AndOtherMethods405() async throws {
        try await withServer(DaemonMetrics(registry: .init())) { server in
            let missing = try await LoopbackHTTP.request("GET", "/", port: server.port)
            #expect(missing.status == 404)
            let post = try await LoopbackHTTP.request("POST", "/metrics", port: server.port)
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET")
            let delete = try await LoopbackHTTP.request("DELETE", "/healthz", port: server.port)
            #expect(delete.status == 405)
            let query = try await LoopbackHTTP.request("GET", "/metrics?name[]=x", port: server.port)
            #expect(query.status == 200)
        }
    }

    @Test func keepAliveConnectionServesSeveralRequests() async throws {
        try await withServer(DaemonMetrics(registry: .init())) { server in
            let channel = try await LoopbackHTTP.connect(port: server.port)
            try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                for path in ["/healthz", "/metrics", "/nope"] {
                    try await outbound.write(LoopbackHTTP.requestBytes("GET", path, close: false))
                    let reply = try await LoopbackHTTP.readReply(&iterator)
                    #expect(reply.status == [ "/healthz": 503, "/metrics": 200, "/nope": 404 ][path])
                    #expect(reply.headers["connection"] == nil)
                }
            }
        }
    }

    @Test func gracefulShutdownClosesOpenConnectionsAndTheListener() async throws {
        try await withServer(DaemonMetrics(registry: .init())) { server in
            let channel = try await LoopbackHTTP.connect(port: server.port)
            try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                try await outbound.write(LoopbackHTTP.requestBytes("GET", "/healthz", close: false))
                #expect(try await LoopbackHTTP.readReply(&iterator).status == 503)

                // An idle keep-alive connection must not hold shutdown up: the server closes it.
                await server.group.triggerGracefulShutdown()
                var trailing = 0
                while let chunk = try await iterator.next() { trailing += chunk.readableBytes }
                #expect(trailing == 0)
            }
            try await server.running.value
            let refused = await #expect(throws: (any Error).self) {
                _ = try await LoopbackHTTP.connect(port: server.port)
            }
            #expect("\(refused.map { "\($0)" } ?? "")".contains("Connection refused"))
        }
    }

    @Test func bindConflictNamesTheConfigKeyAndAddress() async throws {
        try await withServer(DaemonMetrics(registry: .init())) { server in
            let second = MetricsServer(host: "127.0.0.1", port: server.port, metrics: DaemonMetrics(registry: .init()),
                                       staleAfter: .seconds(240), logger: LogCollector().logger())
            let error = await #expect(throws: MetricsServerError.self) { try await second.run() }
            #expect(error?.code == .bindFailed)
            let message = error.map { "\($0)" } ?? ""
            #expect(message.hasPrefix("metrics.listen: cannot listen on 127.0.0.1:\(server.port): "))
            #expect(message.contains("in use"))
        }
    }
}

// MARK: - A hostile peer

/// The listener's limits (issue 14), over real sockets: half-open, trickling, idle and oversized
/// connections are closed and counted; a full listener makes room by closing the oldest connection that
/// never completed a request; a flood of half-open connections does not lock Prometheus out.
@Suite(.timeLimit(.minutes(2)))
struct MetricsServerLimitTests {
    static func closedCount(_ metrics: DaemonMetrics, _ reason: MetricsConnectionClose) -> Int? {
        let prefix = #"privatelink_consumer_metrics_connections_closed_total{reason="\#(reason.rawValue)"} "#
        return metrics.render().split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) }
    }

    static func limits(request: Duration = .seconds(10), idle: Duration = .seconds(60), head: Int = 16 * 1024,
                       connections: Int = 128) -> MetricsServerLimits {
        MetricsServerLimits(requestTimeout: request, idleTimeout: idle, maxHeadBytes: head, maxConnections: connections)
    }

    @Test func halfOpenAndTricklingConnectionsCloseAtTheRequestTimeout() async throws {
        let metrics = DaemonMetrics(registry: .init())
        #expect(Self.closedCount(metrics, .requestTimeout) == 0)
        try await withServer(metrics, limits: Self.limits(request: .seconds(1))) { server in
            let start = ContinuousClock.now
            let silent = try await RawPeer.connect(port: server.port)
            // On a loaded machine the timeout may already have closed it: what is sent does not matter.
            try? await silent.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")
            // A byte every 50 ms: bytes arriving do not buy more time.
            let trickling = try await RawPeer.connect(port: server.port)
            let trickle = Task {
                try? await trickling.send("GET /metrics HTTP/1.1\r\n")
                while !trickling.isClosed {
                    try await Task.sleep(for: .milliseconds(50))
                    try? await trickling.send("X")
                }
            }
            try await silent.waitClosed()
            try await trickling.waitClosed()
            trickle.cancel()
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .seconds(1), "closed before the timeout: \(elapsed)")
            #expect(!silent.received.contains("HTTP/1.1 200"))
            #expect(Self.closedCount(metrics, .requestTimeout) == 2)
            // The listener still serves.
            #expect(try await LoopbackHTTP.request("GET", "/metrics", port: server.port).status == 200)
        }
    }

    @Test func anIdleKeepAliveConnectionClosesAfterTheIdleTimeoutOnly() async throws {
        let metrics = DaemonMetrics(registry: .init())
        try await withServer(metrics, limits: Self.limits(idle: .seconds(3))) { server in
            let peer = try await RawPeer.connect(port: server.port)
            // Requests 300 ms apart for longer than the idle timeout: each one restarts it.
            for _ in 0..<12 {
                try await peer.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try await peer.waitFor("staleAfterSeconds")
                peer.clear()
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(!peer.isClosed)
            #expect(Self.closedCount(metrics, .idleTimeout) == 0)
            try await peer.waitClosed()
            #expect(Self.closedCount(metrics, .idleTimeout) == 1)
        }
    }

    /// A head of exactly `bytes` bytes (request line, a padding header, the blank line).
    static func head(bytes: Int) -> [UInt8] {
        let fixed = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n".utf8.count
        return Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "a", count: bytes - fixed))\r\n\r\n".utf8)
    }

    /// `bytes`: one over the limit (refused on the last byte), or 64 KiB (the peer is still sending when it
    /// is refused: the 431 must reach it all the same).
    @Test(arguments: [(16 * 1024 + 1, 1_024), (16 * 1024 + 1, 65_536), (64 * 1024, 1_024)])
    func aHeadOverTheLimitIsAnswered431AndClosed(bytes: Int, piece: Int) async throws {
        let metrics = DaemonMetrics(registry: .init())
        // Only the head's size is in play, however slowly a busy machine sends it.
        try await withServer(metrics, limits: Self.limits(request: .seconds(100))) { server in
            // Exactly the limit: answered.
            let atLimit = try await RawPeer.connect(port: server.port)
            #expect(Self.head(bytes: 16 * 1024).count == 16 * 1024)
            try await atLimit.send(bytes: Self.head(bytes: 16 * 1024))
            try await atLimit.waitFor("staleAfterSeconds")
            #expect(atLimit.received.hasPrefix("HTTP/1.1 503"))
            atLimit.close()

            // Over, sent in pieces of `piece` bytes (the last ones may find the connection closed).
            let over = try await RawPeer.connect(port: server.port)
            let head = Self.head(bytes: bytes)
            for start in stride(from: 0, to: head.count, by: piece) where !over.isClosed {
                try? await over.send(bytes: Array(head[start ..< min(head.count, start + piece)]))
            }
            try await over.waitClosed()
            #expect(over.received.hasPrefix("HTTP/1.1 431 "), "got \(over.received.prefix(40))")
            #expect(Self.closedCount(metrics, .headTooLarge) == 1)
        }
    }

    /// A head pipelined behind another is held by the same limit: at the limit it is answered, over it 431
    /// and closed, after the first one's answer. `split`: nil, both in one packet; else the first request and
    /// `split` bytes of the second in one packet, the rest once the first is answered (the guard then counts
    /// only the rest, under the limit: only the decoder's limit can refuse it).
    @Test(arguments: [nil, 8 * 1024])
    func aPipelinedHeadIsHeldToTheLimitToo(split: Int?) async throws {
        let metrics = DaemonMetrics(registry: .init())
        try await withServer(metrics, limits: Self.limits(request: .seconds(100))) { server in
            let first = Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            /// Sends both and returns the first reply's status.
            func pipeline(_ second: [UInt8], on peer: RawPeer) async throws -> Int {
                guard let split else {
                    try await peer.send(bytes: first + second)
                    return try await peer.nextReply().status
                }
                try await peer.send(bytes: first + second.prefix(split))
                let status = try await peer.nextReply().status
                try? await peer.send(bytes: Array(second.dropFirst(split)))
                return status
            }
            let atLimit = try await RawPeer.connect(port: server.port)
            #expect(try await pipeline(Self.head(bytes: 16 * 1024), on: atLimit) == 503)
            #expect(try await atLimit.nextReply().status == 503)
            atLimit.close()

            let over = try await RawPeer.connect(port: server.port)
            #expect(try await pipeline(Self.head(bytes: 16 * 1024 + 64), on: over) == 503)
            try await over.waitClosed()
            #expect(over.received.hasPrefix("HTTP/1.1 431 "), "got \(over.received.prefix(40))")
            #expect(Self.closedCount(metrics, .headTooLarge) == 1)
        }
    }

    /// A request NIO cannot parse is answered 400 and closed, alone or pipelined behind a good one.
    @Test(.timeLimit(.minutes(1)))
    func aMalformedRequestIsAnswered400AndClosed() async throws {
        let metrics = DaemonMetrics(registry: .init())
        try await withServer(metrics, limits: Self.limits(request: .seconds(100))) { server in
            let alone = try await RawPeer.connect(port: server.port)
            try await alone.send("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            #expect(try await alone.nextReply().status == 400)
            try await alone.waitClosed()

            let behind = try await RawPeer.connect(port: server.port)
            try await behind.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            #expect(try await behind.nextReply().status == 503)
            #expect(try await behind.nextReply().status == 400)
            try await behind.waitClosed()
            #expect(Self.closedCount(metrics, .headTooLarge) == 0)
        }
    }

    @Test func connectionsReadingALaterRequestMakeRoomToo() async throws {
        // Every connection completed a request and then sent a byte of the next: all are reading, none is
        // protected by its past, and a scrape still gets in.
        let metrics = DaemonMetrics(registry: .init())
        try await withServer(metrics, limits: Self.limits(connections: 4)) { server in
            var peers: [RawPeer] = []
            for _ in 0..<4 {
                let peer = try await RawPeer.connect(port: server.port)
                try await peer.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try await peer.waitFor("staleAfterSeconds")
                try await peer.send("G")
                peers.append(peer)
            }
            #expect(try await LoopbackHTTP.request("GET", "/metrics", port: server.port).status == 200)
            try await peers[0].waitClosed()
            #expect(Self.closedCount(metrics, .evicted) == 1)
            #expect(Self.closedCount(metrics, .refused) == 0)
            for peer in peers { peer.close() }
        }
    }

    @Test func aPeerThatStopsReadingItsResponsesIsClosedAtTheRequestTimeout() async throws {
        // A /metrics page of a few hundred kilobytes, asked for forty times in one go by a peer that reads
        // nothing: the responses fill the socket buffers, the write of one never ends, and the connection
        // is given up instead of being held (and never chosen to make room) forever.
        let metrics = DaemonMetrics(registry: .init())
        for index in 0..<2_000 { metrics.recordCustomer(name: "customer-\(index)", state: .ready, healthy: true) }
        // 3 s: long enough that a loaded machine reads the requests in time, so only the response can time out.
        try await withServer(metrics, limits: Self.limits(request: .seconds(3))) { server in
            // A 4 KiB receive buffer, so that the kernel cannot take the pages in for the peer.
            let peer = try await RawPeer.connect(port: server.port, reading: false, receiveBuffer: 4096)
            try await peer.send(String(repeating: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", count: 40))
            let deadline = ContinuousClock.now + .seconds(60)
            while Self.closedCount(metrics, .responseTimeout) != 1 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            let counts = MetricsConnectionClose.allCases.map { "\($0.rawValue)=\(Self.closedCount(metrics, $0) ?? -1)" }
            #expect(Self.closedCount(metrics, .responseTimeout) == 1, "\(counts)")
            #expect(Self.closedCount(metrics, .requestTimeout) == 0, "\(counts)")
            peer.close()
        }
    }

    @Test func aFullListenerClosesTheOldestConnectionThatNeverCompletedARequest() async throws {
        let metrics = DaemonMetrics(registry: .init())
        try await withServer(metrics, limits: Self.limits(connections: 4)) { server in
            // The oldest connection, idle after a request: kept while newer half-open ones exist.
            let served = try await RawPeer.connect(port: server.port)
            try await served.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try await served.waitFor("staleAfterSeconds")
            served.clear()
            var halfOpen: [RawPeer] = []
            for _ in 0..<3 {
                let peer = try await RawPeer.connect(port: server.port)
                try await peer.send("GET /metrics HTTP/1.1\r\n")
                halfOpen.append(peer)
                try await RawPeer.waitOpen(metrics, 1 + halfOpen.count)
            }
            // Full: each newcomer closes the oldest half-open connection, not the idle one.
            for evicted in 0..<3 {
                let newcomer = try await RawPeer.connect(port: server.port)
                try await halfOpen[evicted].waitClosed()
                try await RawPeer.waitOpen(metrics, 4)
                #expect(halfOpen.dropFirst(evicted + 1).allSatisfy { !$0.isClosed })
                #expect(!served.isClosed)
                halfOpen.append(newcomer)
            }
            #expect(Self.closedCount(metrics, .evicted) == 3)
            try await served.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try await served.waitFor("staleAfterSeconds")
            for peer in halfOpen { peer.close() }
        }
    }

    /// What the cap sees of one connection, driven byte by byte on an EmbeddedChannel: a request split
    /// over reads makes it one that may be closed; a whole request in one read (Prometheus's) goes straight
    /// to being answered; the response's end makes it idle; a kept-alive connection starting a new request
    /// goes to the back of the line.
    @Test func theCapSeesWhatEachConnectionIsDoing() throws {
        let connections = MetricsConnections(limit: 4)
        let older = EmbeddedChannel()
        let olderId = try #require(connections.admit(older).id)
        let channel = EmbeddedChannel()
        let id = try #require(connections.admit(channel).id)
        var closed: [MetricsConnectionClose] = []
        let connectionGuard = MetricsConnectionGuard(limits: .standard, connections: connections, id: id) { closed.append($0) }
        try connectionGuard.install(on: channel.pipeline.syncOperations)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        func respond() throws {
            try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok,
                                                                                   headers: ["Content-Length": "0"])))
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
            while try channel.readOutbound(as: ByteBuffer.self) != nil {}
        }

        #expect(connections.phase(of: id) == .reading)
        try channel.writeInbound(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(connections.phase(of: id) == .answering)
        try respond()
        #expect(connections.phase(of: id) == .idle)
        connections.update(olderId, to: .idle)

        // Half a request: reading, and now younger than `older`.
        try channel.writeInbound(ByteBuffer(string: "GET /hea"))
        #expect(connections.phase(of: id) == .reading)
        try channel.writeInbound(ByteBuffer(string: "lthz HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(connections.phase(of: id) == .answering)
        try respond()
        #expect(connections.phase(of: id) == .idle)

        // A whole request in one read from idle: answered at once.
        try channel.writeInbound(ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(connections.phase(of: id) == .answering)
        try respond()
        #expect(closed.isEmpty)

        // Over the head limit: 431, then the output is shut (an EmbeddedChannel closes whole at that; over a
        // socket the peer still reads the answer, `aHeadOverTheLimitIsAnswered431AndClosed`), and the
        // connection's place is given back only as it closes.
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 17 * 1024)))
        #expect(closed == [.headTooLarge])
        var answer = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { answer.writeBuffer(&part) }
        #expect(String(buffer: answer).hasPrefix("HTTP/1.1 431 "))
        #expect(!channel.isActive)
        #expect(connections.phase(of: id) == nil)
        #expect(connections.phase(of: olderId) == .idle)
        _ = try? older.finish()
    }

    /// The cap's line: the oldest connection reading a request goes first, and a kept-alive connection
    /// starting a request joins the line at the back (its years of scraping do not put it first).
    @Test func theCapClosesTheConnectionWhoseRequestStartedFirst() throws {
        let connections = MetricsConnections(limit: 2)
        let (first, second, third) = (EmbeddedChannel(), EmbeddedChannel(), EmbeddedChannel())
        let firstId = try #require(connections.admit(first).id)
        let secondId = try #require(connections.admit(second).id)
        connections.update(firstId, to: .idle)
        connections.update(secondId, to: .idle)
        connections.update(secondId, to: .reading)
        connections.update(firstId, to: .reading)
        let admission = connections.admit(third)
        #expect(admission.id != nil)
        #expect(admission.evicted === second)
        #expect(connections.phase(of: firstId) == .reading && connections.phase(of: secondId) == nil)

        // Both answering: the newcomer is refused, nobody is closed.
        connections.update(firstId, to: .answering)
        connections.update(try #require(admission.id), to: .answering)
        let refused = connections.admit(EmbeddedChannel())
        #expect(refused.id == nil && refused.evicted == nil)
    }

    @Test func aFloodOfHalfOpenConnectionsCannotLockPrometheusOut() async throws {
        let hostile = 2_000
        try RawPeer.raiseFileLimit(to: hostile * 2 + 512)
        let metrics = DaemonMetrics(registry: .init())
        metrics.recordPass(duration: .seconds(1), at: Date())
        try await withServer(metrics) { server in
            let floodDone = Mutex(false)
            let flood = Task {
                defer { floodDone.withLock { $0 = true } }
                return try await withThrowingTaskGroup(of: RawPeer?.self) { group in
                    var peers: [RawPeer] = []
                    for index in 0..<hostile {
                        if index >= 64, let peer = try await group.next() { peer.map { peers.append($0) } }
                        group.addTask {
                            // A SYN the kernel dropped while the backlog was full, on a loaded machine, can
                            // outlast the client's connect timeout: that is the client's luck, so it tries again.
                            for _ in 0..<3 {
                                guard let peer = try? await RawPeer.connect(port: server.port) else { continue }
                                try? await peer.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")
                                return peer
                            }
                            return nil
                        }
                    }
                    for try await peer in group { peer.map { peers.append($0) } }
                    return peers
                }
            }
            // Prometheus scrapes throughout the flood, over one kept-alive connection as it does (opening a
            // new one if the listener closed it): every scrape is answered.
            var latencies: [Duration] = []
            var scraper = try await RawPeer.connect(port: server.port)
            var reconnects = 0
            while !floodDone.withLock({ $0 }) || latencies.count < 10 {
                for path in ["/metrics", "/healthz"] {
                    let start = ContinuousClock.now
                    let reply: HTTPReply
                    do {
                        try await scraper.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                        reply = try await scraper.nextReply()
                    } catch {
                        scraper.close()
                        scraper = try await RawPeer.connect(port: server.port)
                        reconnects += 1
                        try await scraper.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                        reply = try await scraper.nextReply()
                    }
                    latencies.append(ContinuousClock.now - start)
                    #expect(reply.status == 200, "\(path) answered \(reply.status)")
                }
            }
            scraper.close()
            let peers = try await flood.value
            // The last connections may still wait in the backlog: every one past the cap goes once accepted
            // (or, on a slow day, at its request timeout).
            func gone() -> Int { (Self.closedCount(metrics, .evicted) ?? 0) + (Self.closedCount(metrics, .requestTimeout) ?? 0) }
            while gone() < hostile - 128 || peers.filter({ !$0.isClosed }).count > 128 {
                try await Task.sleep(for: .milliseconds(10))
            }
            let evicted = Self.closedCount(metrics, .evicted) ?? 0
            let sorted = latencies.sorted()
            print("metrics flood: \(peers.count) hostile connections, \(evicted) evicted, \(latencies.count) scrapes "
                  + "(\(reconnects) reconnections), median \(sorted[sorted.count / 2]), slowest \(sorted.last!)")
            #expect(peers.count == hostile)
            #expect(Self.closedCount(metrics, .refused) == 0)
            // Prometheus's connection sends each request whole and is never the one closed to make room.
            #expect(reconnects == 0)
            for peer in peers { peer.close() }
        }
    }
}

/// One client TCP connection the test drives byte by byte, recording what the server sent.
private final class RawPeer: Sendable {
    let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// - Parameters:
    ///   - reading: false: the peer never reads what the server sends.
    ///   - receiveBuffer: SO_RCVBUF, set before connecting (it bounds the window the server may fill).
    static func connect(port: Int, reading: Bool = true, receiveBuffer: Int? = nil) async throws -> RawPeer {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).channelOption(.autoRead, value: reading)
        if let receiveBuffer { bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: receiveBuffer) }
        let channel = try await bootstrap
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        return RawPeer(channel: channel, collector: collector)
    }

    var received: String { collector.text.withLock { $0 } }
    var isClosed: Bool { !channel.isActive }
    func clear() { collector.text.withLock { $0 = "" } }

    func send(_ text: String) async throws { try await send(bytes: Array(text.utf8)) }
    func send(bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get() }
    func close() { channel.close(promise: nil) }

    /// Until the server closes the connection.
    func waitClosed() async throws { try await channel.closeFuture.get() }

    /// Until `text` has arrived (or the connection closed without it).
    func waitFor(_ text: String) async throws {
        while !received.contains(text) {
            guard !isClosed else { throw ClosedEarly(received: received) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Until the server holds `open` connections: the kernel completes a handshake before the server
    /// accepts it, and the cap's order is the order of acceptance.
    static func waitOpen(_ metrics: DaemonMetrics, _ open: Int) async throws {
        let line = "privatelink_consumer_metrics_connections_open \(Double(open))"
        while !metrics.render().split(separator: "\n").contains(Substring(line)) {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The next complete response (sized by Content-Length), removed from what was received.
    func nextReply() async throws -> HTTPReply {
        while true {
            let parsed = collector.text.withLock { text -> HTTPReply? in
                guard let (reply, used) = LoopbackHTTP.parse(Array(text.utf8)) else { return nil }
                text = String(decoding: Array(text.utf8).dropFirst(used), as: UTF8.self)
                return reply
            }
            if let parsed { return parsed }
            guard !isClosed else { throw ClosedEarly(received: received) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    struct ClosedEarly: Error { var received: String }

    /// Raises the soft file limit for the flood (the hard limit permitting), else fails naming it.
    static func raiseFileLimit(to wanted: Int) throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        guard limit.rlim_cur < rlim_t(wanted) else { return }
        guard limit.rlim_max >= rlim_t(wanted) else {
            Issue.record("the flood needs \(wanted) open files; the hard limit is \(limit.rlim_max)")
            return
        }
        limit.rlim_cur = rlim_t(wanted)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let text = Mutex("")
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            text.withLock { $0 += String(decoding: bytes.readableBytesView, as: UTF8.self) }
        }
    }
}

// MARK: - Helpers

/// A wall clock the test moves by hand.
private final class WallClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date) { current = Mutex(start) }
    func set(_ date: Date) { current.withLock { $0 = date } }
    var now: @Sendable () -> Date { { self.current.withLock { $0 } } }
}

/// A metrics server running in a `ServiceGroup` on a loopback port.
private struct RunningServer {
    let port: Int
    let group: ServiceGroup
    let running: Task<Void, any Error>
}

/// Runs `body` against a server on 127.0.0.1 (a free port), then shuts it down gracefully.
private func withServer(_ metrics: DaemonMetrics, staleAfter: Duration = .seconds(240),
                        limits: MetricsServerLimits = .standard,
                        now: @escaping @Sendable () -> Date = { Date() },
                        _ body: (RunningServer) async throws -> Void) async throws {
    let logger = LogCollector().logger(level: .debug)
    let (ports, bound) = AsyncStream.makeStream(of: Int.self)
    let server = MetricsServer(host: "127.0.0.1", port: 0, metrics: metrics, staleAfter: staleAfter, limits: limits, now: now,
                               logger: logger, onBound: { bound.yield($0) })
    let group = ServiceGroup(services: [server], logger: logger)
    let running = Task {
        defer { bound.finish() }
        try await group.run()
    }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else {
        try await running.value
        Issue.record("the server stopped before binding")
        return
    }
    do {
        try await body(RunningServer(port: port, group: group, running: running))
    } catch {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        throw error
    }
    await group.triggerGracefulShutdown()
    try await running.value
}

/// A parsed HTTP/1.1 response.
private struct HTTPReply {
    var status: Int
    /// Lower-cased names.
    var headers: [String: String]
    var body: String
}

/// A raw HTTP/1.1 client over one loopback TCP connection, so tests control every byte sent.
private enum LoopbackHTTP {
    typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func connect(port: Int) async throws -> Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try Channel(wrappingChannelSynchronously: channel) }
            }
    }

    static func requestBytes(_ method: String, _ path: String, close: Bool) -> ByteBuffer {
        ByteBuffer(string: "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + (close ? "Connection: close\r\n" : "") + "Content-Length: 0\r\n\r\n")
    }

    /// One request on a fresh connection with `Connection: close`; reads until the server closes.
    static func request(_ method: String, _ path: String, port: Int) async throws -> HTTPReply {
        try await connect(port: port).executeThenClose { inbound, outbound in
            try await outbound.write(requestBytes(method, path, close: true))
            var received = ByteBuffer()
            for try await chunk in inbound { received.writeImmutableBuffer(chunk) }
            return try #require(parse(Array(received.readableBytesView))?.reply)
        }
    }

    /// Reads exactly one response (sized by Content-Length) from a kept-alive connection.
    static func readReply(_ iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) async throws -> HTTPReply {
        var received: [UInt8] = []
        while true {
            if let (reply, used) = parse(received) {
                #expect(used == received.count, "bytes after the response")
                return reply
            }
            let chunk = try #require(try await iterator.next(), "connection closed mid-response")
            received += chunk.readableBytesView
        }
    }

    /// The first complete response in `bytes` and how many bytes it used; nil if incomplete.
    static func parse(_ bytes: [UInt8]) -> (reply: HTTPReply, used: Int)? {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
              let status = Int(statusLine.split(separator: " ")[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = end + separator.count
        guard bytes.count >= bodyStart + length else { return nil }
        let body = String(decoding: bytes[bodyStart ..< bodyStart + length], as: UTF8.self)
        return (HTTPReply(status: status, headers: headers, body: body), bodyStart + length)
    }
}
