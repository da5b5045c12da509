import ConsumerStore
import Foundation
import Logging
import Metrics
import NIOCore
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
                        now: @escaping @Sendable () -> Date = { Date() },
                        _ body: (RunningServer) async throws -> Void) async throws {
    let logger = LogCollector().logger(level: .debug)
    let (ports, bound) = AsyncStream.makeStream(of: Int.self)
    let server = MetricsServer(host: "127.0.0.1", port: 0, metrics: metrics, staleAfter: staleAfter, now: now,
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
