import Consumer
import NIOCore
import NIOPosix

/// A loopback listener that answers PostgreSQL's SSLRequest with `N` the way PostgreSQL does (one byte,
/// then it waits for the client), at no cost per connection: the probe sweep measured against it is
/// the daemon's own cost, without a PostgreSQL backend process forked per connection.
final class SSLRequestResponder: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    static func start() async throws -> SSLRequestResponder {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Answer()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else { throw CommandFailure.runtime("responder: no local port") }
        return SSLRequestResponder(port: port, channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }

    /// Reads the 8-byte SSLRequest, answers `N` once, and keeps the connection open until the client closes it.
    private final class Answer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var received = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let before = received
            received += unwrapInboundIn(data).readableBytes
            if before < 8 && received >= 8 {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "N")), promise: nil)
            }
        }
    }
}
