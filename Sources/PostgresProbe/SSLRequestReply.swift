import NIOCore

/// PostgreSQL's SSLRequest and the ways a reply to it can go (``BlockingExchange`` reads it; the prober
/// judges it).
///
/// PostgreSQL answers exactly one byte, `S` or `N`, and then waits for the client. Anything else, or more
/// than one byte within the settle window of the first, is not PostgreSQL; the settle window catches
/// servers whose reply merely starts with `S` or `N`. Bytes that arrive before the request (a banner) count too.
enum SSLRequestReply {
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
        /// Any other socket error.
        case failed(String)
    }

    /// The 8-byte SSLRequest: length 8, request code 80877103.
    static let request: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]

    /// The most bytes of a reply kept (to quote in the failure).
    static let keep = 32
}
