import NIOCore

extension PostgresProber {
    /// The `postgres` stage's verdict on the reply to the SSLRequest (nil: none within the budget): whether TLS
    /// was offered, or why this is not PostgreSQL.
    static func judge(_ answer: SSLRequestReply.Answer?, peer: String, target: ProbeTarget, budget: Duration) -> StageOutcome<Bool> {
        func failure(_ kind: ProbeFailure.Kind, _ message: String) -> StageOutcome<Bool> {
            .failure(ProbeFailure(kind, "\(peer): \(message)", target: target))
        }
        switch answer {
        case .answered(let offersTLS, _):
            return .success(offersTLS)
        case .garbage(let bytes, _):
            let text = Self.render(bytes)
            if bytes.count > 1, bytes[0] == UInt8(ascii: "S") || bytes[0] == UInt8(ascii: "N") {
                return failure(.notPostgres, "answered \(text): more than PostgreSQL's single 'S' or 'N'")
            }
            return failure(.notPostgres, "answered \(text) instead of 'S' or 'N'")
        case .closed(let bytes) where bytes.isEmpty:
            return failure(.earlyClose, "closed the connection without answering the SSLRequest")
        case .closed(let bytes):
            return failure(.notPostgres, "answered \(Self.render(bytes)) and closed the connection; PostgreSQL waits for the client")
        case .reset:
            return failure(.earlyClose, "reset the connection without answering the SSLRequest")
        case .failed(let message):
            return failure(.earlyClose, "connection failed before an answer: \(message)")
        case nil:
            return failure(.postgresTimeout, "no answer to the SSLRequest after \(budget.probeText)")
        }
    }

    /// When the reply's first byte came (the stage's latency ends there, not after the settle window).
    static func firstByte(_ answer: SSLRequestReply.Answer?) -> NIODeadline? {
        switch answer {
        case .answered(_, let at), .garbage(_, let at): at
        default: nil
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
