import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server on a loopback address that answers every request with an async handler.
///
/// Tests use it as a fake IMDSv2, ECS credentials or STS endpoint; the handler's `ServerResponse` can
/// also misbehave on purpose (delay, drop, truncate, trickle). Runs on `MultiThreadedEventLoopGroup.singleton`.
public final class LoopbackHTTPServer: Sendable {
    /// The TCP port the server listens on.
    public let port: Int
    /// The server's base URL, e.g. "http://127.0.0.1:8080".
    public let baseURL: String

    private let listener: any Channel
    private let registry: Registry
    private let acceptLoop: Task<Void, Never>

    private init(port: Int, baseURL: String, listener: any Channel, registry: Registry, acceptLoop: Task<Void, Never>) {
        self.port = port
        self.baseURL = baseURL
        self.listener = listener
        self.registry = registry
        self.acceptLoop = acceptLoop
    }

    deinit {
        // A server dropped without `shutdown()` still releases its socket and connections.
        self.listener.close(promise: nil)
        for connection in self.registry.beginShutdown() {
            connection.close(promise: nil)
        }
    }

    /// Starts listening on 127.0.0.1 (port 0 = an ephemeral port) and serves each request with `handler`. Requests on one keep-alive connection are handled in order; connections in parallel.
    public static func start(
        host: String = "127.0.0.1",
        port: Int = 0,
        maxBodyBytes: Int = 16 << 20,
        handler: @escaping @Sendable (ServerRequest) async -> ServerResponse
    ) async throws -> LoopbackHTTPServer {
        let address = try Self.loopbackAddress(host: host, port: port)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, Never>(wrappingChannelSynchronously: channel)
                }
            }

        let registry = Registry()
        let acceptLoop = Task {
            await withDiscardingTaskGroup { group in
                // Accepting ends when the listener closes; an accept error ends it the same way.
                _ = try? await listener.executeThenClose { connections in
                    for try await connection in connections {
                        guard registry.admit(connection.channel) else {
                            connection.channel.close(promise: nil)
                            continue
                        }
                        group.addTask {
                            await LoopbackHTTPConnection(
                                connection: connection,
                                maxBodyBytes: maxBodyBytes,
                                handler: handler,
                                record: registry.record
                            ).run()
                            registry.remove(connection.channel)
                        }
                    }
                }
            }
        }

        let boundPort = listener.channel.localAddress?.port ?? port
        let urlHost = address.protocol == .inet6 ? "[\(address.ipAddress ?? "::1")]" : (address.ipAddress ?? host)
        return LoopbackHTTPServer(
            port: boundPort,
            baseURL: "http://\(urlHost):\(boundPort)",
            listener: listener.channel,
            registry: registry,
            acceptLoop: acceptLoop
        )
    }

    /// Stops accepting, closes open connections, and waits until everything is shut down. Idempotent.
    ///
    /// Closing a connection cancels its handler, so a handler that ignores cancellation delays this.
    public func shutdown() async throws {
        let open = self.registry.beginShutdown()
        self.listener.close(promise: nil)
        for connection in open {
            connection.close(promise: nil)
        }
        await self.acceptLoop.value
    }

    /// Every request received so far, in arrival order (for assertions).
    public var requests: [ServerRequest] {
        self.registry.requests
    }

    /// The address for `host`, which must be 127.0.0.0/8, ::1 or "localhost".
    static func loopbackAddress(host: String, port: Int) throws -> SocketAddress {
        let refusal = LoopbackHTTPServerError(code: .nonLoopbackHost, host: host)
        var literal = host.lowercased()
        if literal == "localhost" {
            literal = "127.0.0.1"
        } else if literal.hasPrefix("[") && literal.hasSuffix("]") {
            literal = String(literal.dropFirst().dropLast())
        }
        guard (0...65535).contains(port), let address = try? SocketAddress(ipAddress: literal, port: port) else {
            throw refusal
        }
        switch address.protocol {
        case .inet where address.ipAddress?.hasPrefix("127.") == true:
            return address
        case .inet6 where address.ipAddress == "::1":
            return address
        default:
            throw refusal
        }
    }
}

extension LoopbackHTTPServer {
    /// The recorded requests and the open connections, shared by the server and its accept loop.
    private final class Registry: Sendable {
        private struct State {
            var requests: [ServerRequest] = []
            var connections: [ObjectIdentifier: any Channel] = [:]
            var isShuttingDown = false
        }

        private let state = Mutex(State())

        var requests: [ServerRequest] {
            self.state.withLock { $0.requests }
        }

        @Sendable func record(_ request: ServerRequest) {
            self.state.withLock { $0.requests.append(request) }
        }

        /// Tracks `channel` for shutdown, or returns false once shutdown has begun.
        func admit(_ channel: any Channel) -> Bool {
            self.state.withLock { state in
                guard !state.isShuttingDown else { return false }
                state.connections[ObjectIdentifier(channel)] = channel
                return true
            }
        }

        func remove(_ channel: any Channel) {
            _ = self.state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
        }

        /// Refuses further connections and returns the open ones.
        func beginShutdown() -> [any Channel] {
            self.state.withLock { state in
                state.isShuttingDown = true
                return Array(state.connections.values)
            }
        }
    }
}
