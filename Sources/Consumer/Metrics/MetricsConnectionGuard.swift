import NIOCore
import NIOHTTP1

/// Holds one metrics connection to `MetricsServerLimits`: first in the pipeline, it sees the raw bytes
/// (so it can count a request head's bytes before NIO's decoder holds them, and answer 431 without the
/// HTTP machinery); its `Observer`, after the HTTP codec, tells it where requests and responses begin and end.
///
/// Timers: the request timer runs from the connection's opening (and from the first byte after an idle
/// spell) until a request is complete; bytes arriving do not extend it, so a peer trickling a header a
/// byte at a time is closed like one that sends nothing. The response timer (as long) runs from a
/// request's end to its response's end: a peer that stops reading cannot hold a connection that is never
/// chosen to make room. The idle timer runs from a response's end to the next request's first byte.
/// Everything happens on the channel's event loop.
final class MetricsConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Reading a request (or waiting for the first one).
        case reading
        /// A complete request is being answered.
        case answering
        /// Kept alive between requests.
        case idle
        /// Closing on our own: nothing more is read or answered.
        case closing
    }

    private let limits: MetricsServerLimits
    private let connections: MetricsConnections
    private let id: Int
    private let closed: (MetricsConnectionClose) -> Void
    private var phase = Phase.reading
    /// Bytes of the current request's head so far, until its end is seen.
    private var headBytes = 0
    private var headComplete = false
    /// Whether the head's current line is empty so far (its end is an empty line after a non-empty one).
    private var atLineStart = true
    private var sawContent = false
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    /// - Parameters:
    ///   - id: the connection's id in `connections`.
    ///   - closed: counts a connection this guard closed, by reason (called on the event loop).
    init(limits: MetricsServerLimits, connections: MetricsConnections, id: Int,
         closed: @escaping (MetricsConnectionClose) -> Void) {
        self.limits = limits
        self.connections = connections
        self.id = id
        self.closed = closed
    }

    /// The half after the HTTP codec: reports request heads, request ends and response ends.
    var observer: Observer { Observer(guard: self) }

    /// Puts the guard, NIO's HTTP/1 server pipeline and the observer on a new connection's pipeline.
    ///
    /// Two counts hold the head limit. The guard counts the raw bytes of a head read while the connection
    /// is reading (every byte, the request line and separators too), so it refuses such a head first. A
    /// head pipelined behind one being answered passes the guard uncounted (NIO holds it until the answer
    /// is written); NIO's decoder bounds its URL, names and values at the same limit (and its fields at one
    /// per 4 bytes of it), and the observer answers that overflow with the same 431. Other malformed
    /// requests get NIO's 400, from its error handler after the observer.
    func install(on operations: ChannelPipeline.SynchronousOperations) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = limits.maxHeadBytes
        decoderLimits.maxHeaderListSize = limits.maxHeadBytes
        // A field is at least 4 bytes on the wire ("a:\r\n"): many empty fields cannot make a head far
        // longer than the limit either.
        decoderLimits.maxHeaderFieldCount = max(1, limits.maxHeadBytes / 4)
        try operations.addHandler(self)
        try operations.configureHTTPServerPipeline(withErrorHandling: false, withEncoderConfiguration: .init(),
                                                   withDecoderLimitConfiguration: decoderLimits)
        try operations.addHandler(observer)
        try operations.addHandler(HTTPServerProtocolErrorHandler())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm(limits.requestTimeout, .requestTimeout) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        connections.remove(id)
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if timer == nil && phase == .reading { arm(limits.requestTimeout, .requestTimeout) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        connections.remove(id)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        var wasIdle = false
        switch phase {
        case .closing:
            return
        case .idle:
            // The next request's first byte: it has the request timeout from now.
            phase = .reading
            wasIdle = true
            arm(limits.requestTimeout, .requestTimeout)
        case .reading, .answering:
            break
        }
        if phase == .reading && !headComplete && !scanHead(bytes) {
            refuseHead()
            return
        }
        context.fireChannelRead(data)
        // A whole request in one read (Prometheus's) was decoded just now and is being answered; only a
        // request still incomplete makes the connection one that may be closed to make room.
        if wasIdle && phase == .reading { connections.update(id, to: .reading) }
    }

    /// Counts the bytes of the request head up to its blank line (CRLF CRLF, or bare LFs as lenient
    /// parsers take them); false once the count passes the limit without the head ending. Bytes after a
    /// head in the same read (a pipelined request) are not counted: NIO's decoder bounds those (`install`).
    private func scanHead(_ bytes: ByteBuffer) -> Bool {
        bytes.withUnsafeReadableBytes { buffer in
            for byte in buffer {
                headBytes += 1
                if headBytes > limits.maxHeadBytes { return false }
                switch byte {
                case UInt8(ascii: "\n"):
                    // Empty lines before the request line are tolerated by parsers; they end nothing.
                    if atLineStart && sawContent {
                        headComplete = true
                        return true
                    }
                    atLineStart = true
                case UInt8(ascii: "\r"):
                    break
                default:
                    atLineStart = false
                    sawContent = true
                }
            }
            return true
        }
    }

    /// A request is complete: it is answered, and the peer has the request timeout to take the answer (a
    /// peer that stops reading holds the response's write, and the connection, no longer).
    fileprivate func requestEnded() -> Bool {
        guard phase != .closing else { return false }
        phase = .answering
        connections.update(id, to: .answering)
        arm(limits.requestTimeout, .responseTimeout)
        return true
    }

    /// A response was written to its end: the connection idles until the next request.
    fileprivate func responseEnded() {
        guard phase == .answering else { return }
        phase = .idle
        headBytes = 0
        headComplete = false
        atLineStart = true
        sawContent = false
        connections.update(id, to: .idle)
        arm(limits.idleTimeout, .idleTimeout)
    }

    fileprivate var isClosing: Bool { phase == .closing }

    // MARK: - Closing on our own

    private func arm(_ delay: Duration, _ reason: MetricsConnectionClose) {
        timer?.cancel()
        guard let context else { return }
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
            timer = nil
            close(reason)
        }
    }

    private func close(_ reason: MetricsConnectionClose) {
        guard phase != .closing, let context else { return }
        phase = .closing
        timer?.cancel()
        timer = nil
        connections.remove(id)
        closed(reason)
        context.close(promise: nil)
    }

    /// Answers 431 straight onto the socket (bypassing the HTTP encoder: no response is in progress while
    /// a head is read) and closes once it is written.
    ///
    /// The peer may still be sending its head: closing at once would reset the connection and many clients
    /// drop a response they have not read yet. So the output side is shut after the answer, input is
    /// dropped, and the connection is closed a second later (or when the peer closes first).
    ///
    /// The close is scheduled now, not once the answer is written: a peer that reads nothing (responses
    /// still queued ahead of the 431) would otherwise hold the socket forever. Until it is closed the
    /// connection keeps its place, as one reading a request: the first to go when room is needed.
    fileprivate func refuseHead() {
        guard phase != .closing, let context else { return }
        phase = .closing
        connections.update(id, to: .reading)
        closed(.headTooLarge)
        let channel = context.channel
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        let body = "request head too large: at most \(limits.maxHeadBytes) bytes\n"
        let response = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(string: response)))
            .whenSuccess { channel.close(mode: .output, promise: nil) }
    }

    /// The guard's eyes after the HTTP codec. Parts of a request the guard has refused are dropped.
    final class Observer: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart
        typealias OutboundIn = HTTPServerResponsePart
        typealias OutboundOut = HTTPServerResponsePart

        private let connectionGuard: MetricsConnectionGuard

        fileprivate init(guard connectionGuard: MetricsConnectionGuard) {
            self.connectionGuard = connectionGuard
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let forward: Bool
            switch unwrapInboundIn(data) {
            case .head, .body: forward = !connectionGuard.isClosing
            case .end: forward = connectionGuard.requestEnded()
            }
            if forward { context.fireChannelRead(data) }
        }

        /// A head NIO's decoder found over the limit (one pipelined behind another, which the guard does not
        /// count) is refused as the guard refuses one: 431 and closed. NIO's pipelining handler holds the
        /// error back until the answer before it is written, so the 431 follows that answer.
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            switch error {
            case HTTPParserError.headerOverflow:
                connectionGuard.refuseHead()
            case ByteToMessageDecoderError.dataReceivedInErrorState(let first, _) where first is HTTPParserError:
                // More bytes after a parse error, while the error itself waits in NIO's pipelining handler
                // for the answer before it: that error decides the answer (431 or 400), not this one, which
                // would close the connection before the answer is read.
                break
            default:
                context.fireErrorCaught(error)
            }
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            // Idle before the end is passed on: NIO's pipelining handler may hand over a request it held back
            // while this write is on its way, and that request must find the connection answering, not idle.
            if case .end = unwrapOutboundIn(data) { connectionGuard.responseEnded() }
            context.write(data, promise: promise)
        }
    }
}
