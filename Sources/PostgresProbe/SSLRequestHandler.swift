import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Watches the reply to PostgreSQL's SSLRequest (the prober writes the request itself).
///
/// PostgreSQL answers exactly one byte, `S` or `N`, and then waits for the client. Anything else, or more
/// than one byte within `settle` of the first, is not PostgreSQL; the settle window catches servers whose
/// reply merely starts with `S` or `N`. Bytes that arrive before the request (a banner) count too.
final class SSLRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// The reply, as a value for the prober to judge.
    enum Answer: Sendable, Hashable {
        /// One byte, `S` (TLS offered) or `N`, and nothing more within the settle window.
        case answered(offersTLS: Bool, at: NIODeadline)
        /// Something other than a lone `S` or `N`; the first bytes seen.
        case garbage([UInt8], at: NIODeadline)
        /// The peer closed the connection; the bytes seen before (none, or a lone `S`/`N`).
        case closed(after: [UInt8])
        /// The peer reset the connection.
        case reset
        /// Any other channel error.
        case failed(String)
    }

    /// The 8-byte SSLRequest: length 8, request code 80877103.
    static let request: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]

    private static let keep = 32

    private let promise: EventLoopPromise<Answer>
    private let settle: TimeAmount
    private let deadline: NIODeadline
    private var received: [UInt8] = []
    private var firstByteAt: NIODeadline?
    private var settleTimer: Scheduled<Void>?
    private var done = false

    /// - Parameters:
    ///   - settle: how long a lone `S`/`N` must stay alone.
    ///   - deadline: the end of the postgres stage; the settle window never reaches past it.
    init(promise: EventLoopPromise<Answer>, settle: TimeAmount, deadline: NIODeadline) {
        self.promise = promise
        self.settle = settle
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !done else { return }
        let now = NIODeadline.now()
        if firstByteAt == nil, buffer.readableBytes > 0 { firstByteAt = now }
        if received.count < Self.keep, let bytes = buffer.readBytes(length: min(buffer.readableBytes, Self.keep - received.count)) {
            received += bytes
        }
        guard let first = received.first else { return }
        guard received.count == 1, first == UInt8(ascii: "S") || first == UInt8(ascii: "N") else {
            finish(.garbage(received, at: firstByteAt ?? now))
            return
        }
        guard settleTimer == nil else { return }
        // Leave a little of the stage budget so the verdict lands before the prober's own deadline.
        let window = min(settle, deadline - now - .milliseconds(5))
        guard window > .zero else {
            finish(.answered(offersTLS: first == UInt8(ascii: "S"), at: now))
            return
        }
        settleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: window) { [self] in
            finish(.answered(offersTLS: first == UInt8(ascii: "S"), at: firstByteAt ?? now))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.closed(after: received))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, error.errnoCode == ECONNRESET {
            finish(.reset)
        } else {
            finish(.failed("\(error)"))
        }
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failed("the probe's channel handler was removed"))
    }

    private func finish(_ answer: Answer) {
        guard !done else { return }
        done = true
        settleTimer?.cancel()
        settleTimer = nil
        promise.succeed(answer)
    }
}
