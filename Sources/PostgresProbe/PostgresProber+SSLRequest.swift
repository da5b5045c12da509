import NIOCore

extension PostgresProber {
    /// The `postgres` stage: send the SSLRequest and judge the reply. Returns whether TLS was offered, and
    /// when the first byte arrived (the stage's latency ends there, not after the settle window).
    func exchangeSSLRequest(on channel: any Channel, target: ProbeTarget,
                            started: NIODeadline) async -> (StageOutcome<Bool>, answeredAt: NIODeadline?) {
        let budget = timeouts.postgres
        let deadline = started + TimeAmount(budget)
        let settle = TimeAmount(timeouts.answerSettle)
        let reply: EventLoopFuture<SSLRequestHandler.Answer> = channel.eventLoop.flatSubmit {
            let promise = channel.eventLoop.makePromise(of: SSLRequestHandler.Answer.self)
            do {
                try channel.pipeline.syncOperations.addHandler(
                    SSLRequestHandler(promise: promise, settle: settle, deadline: deadline))
                channel.writeAndFlush(ByteBuffer(bytes: SSLRequestHandler.request), promise: nil)
                try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            } catch {
                promise.succeed(.failed("\(error)"))
            }
            return promise.futureResult
        }
        let outcome = await withDeadline(budget, on: channel.eventLoop) {
            (try? await reply.get()) ?? .failed("no reply")
        }

        let peer = channel.remoteAddress?.probeText ?? target.host
        func failure(_ kind: ProbeFailure.Kind, _ message: String) -> StageOutcome<Bool> {
            .failure(ProbeFailure(kind, "\(peer): \(message)", target: target))
        }
        switch outcome {
        case .finished(.answered(let offersTLS, let at)):
            return (.success(offersTLS), at)
        case .finished(.garbage(let bytes, let at)):
            let text = Self.render(bytes)
            if bytes.count > 1, bytes[0] == UInt8(ascii: "S") || bytes[0] == UInt8(ascii: "N") {
                return (failure(.notPostgres, "answered \(text): more than PostgreSQL's single 'S' or 'N'"), at)
            }
            return (failure(.notPostgres, "answered \(text) instead of 'S' or 'N'"), at)
        case .finished(.closed(let bytes)) where bytes.isEmpty:
            return (failure(.earlyClose, "closed the connection without answering the SSLRequest"), nil)
        case .finished(.closed(let bytes)):
            return (failure(.notPostgres, "answered \(Self.render(bytes)) and closed the connection; PostgreSQL waits for the client"), nil)
        case .finished(.reset):
            return (failure(.earlyClose, "reset the connection without answering the SSLRequest"), nil)
        case .finished(.failed(let message)):
            return (failure(.earlyClose, "connection failed before an answer: \(message)"), nil)
        case .timedOut:
            return (failure(.postgresTimeout, "no answer to the SSLRequest after \(budget.probeText)"), nil)
        case .cancelled:
            return (.failure(ProbeFailure(.cancelled, "cancelled while waiting for PostgreSQL", target: target)), nil)
        }
    }

    /// The first bytes of a reply, quoted when printable ("HTTP/1.1 400 B…"), else in hex.
    static func render(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(16)
        let more = bytes.count > shown.count ? "…" : ""
        if shown.allSatisfy({ (0x20..<0x7F).contains($0) || $0 == 0x0A || $0 == 0x0D }) {
            let text = shown.map { byte in
                switch byte {
                case 0x0A: "\\n"
                case 0x0D: "\\r"
                default: String(UnicodeScalar(byte))
                }
            }.joined()
            return "\"\(text)\(more)\""
        }
        return "0x" + shown.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined() + more
    }
}
