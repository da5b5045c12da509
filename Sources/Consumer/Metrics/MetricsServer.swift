import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The `metrics.listen` HTTP endpoint: `GET /metrics` (Prometheus text) and `GET /healthz` (whether
/// reconcile passes are still finishing). Serves until graceful shutdown, then closes the listener and
/// every open connection.
///
/// The port may be reachable by more than Prometheus: `MetricsServerLimits` bound what a peer can hold
/// (request, response and idle timeouts, head size, connections at once, the oldest connection still
/// sending a request making room for a newcomer), and every connection closed that way is counted by reason.
public struct MetricsServer: Service {
    public let host: String
    public let port: Int
    public let metrics: DaemonMetrics
    /// `/healthz` reports stale once the last pass finished longer ago than this.
    public let staleAfter: Duration
    /// What one peer may hold: timeouts, head size, connections at once.
    public let limits: MetricsServerLimits
    let eventLoopGroup: any EventLoopGroup
    let now: @Sendable () -> Date
    let logger: Logger
    let onBound: @Sendable (Int) -> Void

    /// - Parameters:
    ///   - port: 0 picks a free port, reported through `onBound`.
    ///   - staleAfter: e.g. ``staleAfter(pollInterval:)``.
    ///   - now: the wall clock `/healthz` measures the last pass's age with.
    ///   - onBound: called once with the port actually bound, before the first connection is accepted.
    public init(host: String, port: Int, metrics: DaemonMetrics, staleAfter: Duration,
                limits: MetricsServerLimits = .standard,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger,
                onBound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.metrics = metrics
        self.staleAfter = staleAfter
        self.limits = limits
        self.eventLoopGroup = eventLoopGroup
        self.now = now
        self.logger = logger
        self.onBound = onBound
    }

    /// Listens where the config's `metrics.listen` says.
    public init(config: MetricsConfig, metrics: DaemonMetrics, staleAfter: Duration, logger: Logger) {
        self.init(host: config.host, port: config.port, metrics: metrics, staleAfter: staleAfter, logger: logger)
    }

    /// Three missed polls plus a minute of slack for a slow pass.
    public static func staleAfter(pollInterval: Duration) -> Duration {
        pollInterval * 3 + .seconds(60)
    }

    /// `host:port`, bracketing IPv6 literals.
    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public func run() async throws {
        let listener: NIOAsyncChannel<Connection, Never>
        let connections = MetricsConnections(limit: limits.maxConnections) { [metrics] in metrics.recordMetricsConnectionsOpen($0) }
        let (limits, metrics) = (limits, metrics)
        do {
            listener = try await ServerBootstrap(group: eventLoopGroup)
                // Room for a burst of connections while the oldest are closed to make way.
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    // TCP_NODELAY is a nicety (a response is one write): a sandbox that refuses the setsockopt
                    // (seen under the unit's hardening in a container: EACCES) must not end the accept loop, as a
                    // failing child channel option does.
                    channel.setOption(.socketOption(.tcp_nodelay), value: 1).whenFailure { _ in }
                    return channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        let admission = connections.admit(channel)
                        if let evicted = admission.evicted {
                            metrics.recordMetricsConnectionClosed(.evicted)
                            evicted.close(promise: nil)
                        }
                        if let id = admission.id {
                            let connectionGuard = MetricsConnectionGuard(limits: limits, connections: connections, id: id) {
                                metrics.recordMetricsConnectionClosed($0)
                            }
                            try connectionGuard.install(on: operations)
                        } else {
                            metrics.recordMetricsConnectionClosed(.refused)
                            try operations.addHandler(CloseWhenActive())
                            try operations.configureHTTPServerPipeline(withErrorHandling: true)
                        }
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MetricsServerError(code: .bindFailed, address: address, underlying: error)
        }
        let boundPort = listener.channel.localAddress?.port ?? port
        logger.notice("metrics server listening", metadata: ["metrics.host": "\(host)", "metrics.port": "\(boundPort)"])
        onBound(boundPort)
        do {
            try await cancelWhenGracefulShutdown {
                try await listener.executeThenClose { inbound in
                    // Cancellation (graceful shutdown) ends the accept loop and every connection's read
                    // loop; each connection closes as its task ends, the listener after them.
                    await withDiscardingTaskGroup { group in
                        do {
                            for try await connection in inbound {
                                group.addTask { await serve(connection) }
                            }
                        } catch {
                            if !Task.isCancelled {
                                logger.error("metrics server stopped accepting", metadata: ["error": "\(error)"])
                            }
                        }
                    }
                }
            }
        } catch is CancellationError {
            // Graceful shutdown.
        }
        logger.notice("metrics server stopped", metadata: ["metrics.port": "\(boundPort)"])
    }

    /// Answers requests on one connection until the client closes it, asks to, or shutdown begins.
    private func serve(_ connection: Connection) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                    case .body:
                        continue
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let response = respond(to: request)
                        try await write(response, for: request, to: outbound)
                        if !request.isKeepAlive { return }
                    }
                }
            }
        } catch {
            // Malformed requests (answered 400 by NIO), resets and shutdown end up here.
            logger.debug("metrics connection closed", metadata: ["error": "\(error)"])
        }
    }

    private func respond(to request: HTTPRequestHead) -> Response {
        Self.route(method: request.method, uri: request.uri, metrics: metrics, staleAfter: staleAfter, now: now())
    }

    private func write(_ response: Response, for request: HTTPRequestHead,
                       to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in response.extraHeaders { headers.add(name: name, value: value) }
        if !request.isKeepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        try await outbound.write(contentsOf: [
            .head(head),
            .body(.byteBuffer(ByteBuffer(bytes: response.body))),
            .end(nil),
        ])
    }
}

/// Closes a refused connection as soon as it is open (the accept loop still sees it, and finds it closed).
private final class CloseWhenActive: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
