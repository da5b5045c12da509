import NIOCore
import NIOPosix
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP server that plays a script on every connection: the misbehaving "databases" the
/// probe must classify. Listens on 127.0.0.1 only.
final class FakeServer: Sendable {
    /// One scripted action.
    enum Step: Sendable {
        case wait(Duration)
        case send(String)
        case close
        /// Close with SO_LINGER 0, so the peer sees a reset.
        case reset
    }

    /// When the script starts.
    enum Trigger: Sendable {
        /// As soon as the connection is accepted (a banner).
        case onAccept
        /// Once the 8-byte SSLRequest has arrived.
        case afterRequest
    }

    let port: Int
    private let listener: any Channel
    private let connections: Registry

    private init(port: Int, listener: any Channel, connections: Registry) {
        self.port = port
        self.listener = listener
        self.connections = connections
    }

    /// Runs `body` with a server playing `steps` (an empty script never answers), then stops it.
    static func with<T>(_ steps: [Step], on trigger: Trigger = .afterRequest,
                        _ body: (_ port: Int) async throws -> T) async throws -> T {
        let server = try await start(trigger, steps)
        do {
            let value = try await body(server.port)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    static func start(_ trigger: Trigger, _ steps: [Step]) async throws -> FakeServer {
        let registry = Registry()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                registry.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(trigger: trigger, steps: steps))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return FakeServer(port: listener.localAddress!.port!, listener: listener, connections: registry)
    }

    /// Stops listening and closes every connection still open.
    func stop() async {
        try? await listener.close()
        for channel in connections.channels.withLock({ $0 }) { try? await channel.close() }
    }

    private final class Registry: Sendable {
        let channels = Mutex<[any Channel]>([])
        func add(_ channel: any Channel) { channels.withLock { $0.append(channel) } }
    }

    private final class ScriptHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let trigger: Trigger
        let steps: [Step]
        var received = 0
        var started = false

        init(trigger: Trigger, steps: [Step]) {
            self.trigger = trigger
            self.steps = steps
        }

        func channelActive(context: ChannelHandlerContext) {
            if trigger == .onAccept { begin(context) }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += unwrapInboundIn(data).readableBytes
            if trigger == .afterRequest, received >= 8 { begin(context) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private func begin(_ context: ChannelHandlerContext) {
            guard !started else { return }
            started = true
            play(context, steps[...])
        }

        private func play(_ context: ChannelHandlerContext, _ steps: ArraySlice<Step>) {
            guard let step = steps.first, context.channel.isActive else { return }
            let rest = steps.dropFirst()
            switch step {
            case .wait(let duration):
                context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) { [self] in
                    play(context, rest)
                }
            case .send(let text):
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
                play(context, rest)
            case .close:
                context.close(promise: nil)
            case .reset:
                let channel = context.channel
                if let options = channel as? any SocketOptionProvider {
                    options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                } else {
                    channel.close(promise: nil)
                }
            }
        }
    }
}

extension FakeServer.Trigger: Equatable {}

/// A port on 127.0.0.1 that refuses connections.
/// A port on 127.0.0.1 that refuses connections: a socket bound to it but not listening, held for as
/// long as this object lives, so that no other test's server can take the port meanwhile.
struct ClosedPortError: Error {}

final class ClosedPort: Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, ok else { throw ClosedPortError() }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

/// A listening socket on 127.0.0.1 whose accept queue is full and never drained: the kernel drops further
/// SYNs, so connecting to it times out — a stand-in for a security group that drops packets.
final class BlackholeListener: Sendable {
    let port: Int
    private let descriptors: [Int32]

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 && listen(listener, 0) == 0
            }
        }
        guard ok else { throw BlackholeError() }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var descriptors = [listener]
        // Fill the queue (a backlog of 0 admits one) with connections nobody accepts.
        for _ in 0..<2 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var peer = address
            _ = withUnsafePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            descriptors.append(fd)
        }
        usleep(50_000)
        self.port = port
        self.descriptors = descriptors
    }

    deinit {
        for fd in descriptors { close(fd) }
    }

    struct BlackholeError: Error {}
}
