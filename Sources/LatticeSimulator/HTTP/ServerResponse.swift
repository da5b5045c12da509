/// What `LoopbackHTTPServer` does in answer to one request, including deliberate misbehaviour.
public enum ServerResponse: Sendable, Hashable {
    /// A normal response; Content-Length is set from the body.
    case respond(status: Int, headers: [ServerHeader], body: [UInt8])
    /// Sleep, then do `then` (for timeouts and slow responses). Must not block other connections.
    indirect case delayed(Duration, then: ServerResponse)
    /// Close the TCP connection without answering (a lost response).
    case dropConnection
    /// Send the status line, headers with Content-Length = full body size, only the first `sentBytes` of the body, then close (a truncated body).
    case truncated(status: Int, headers: [ServerHeader], body: [UInt8], sentBytes: Int)
    /// Send the body slowly: `chunkSize` bytes every `interval` (a trickling server).
    case trickle(status: Int, headers: [ServerHeader], body: [UInt8], chunkSize: Int, interval: Duration)
}

extension ServerResponse {
    /// A response with a JSON body and `Content-Type: application/json`.
    public static func json(_ status: Int = 200, _ text: String, headers: [ServerHeader] = []) -> ServerResponse {
        .text(status, text, contentType: "application/json", headers: headers)
    }

    /// A response with a text body and the given `Content-Type`.
    public static func text(
        _ status: Int = 200,
        _ text: String,
        contentType: String = "text/plain",
        headers: [ServerHeader] = []
    ) -> ServerResponse {
        .respond(
            status: status,
            headers: [ServerHeader(name: "Content-Type", value: contentType)] + headers,
            body: Array(text.utf8)
        )
    }

    // Swift cannot skip a defaulted leading unlabelled parameter, so `.json("{}")` needs its own overload.

    /// A 200 response with a JSON body and `Content-Type: application/json`.
    public static func json(_ text: String, headers: [ServerHeader] = []) -> ServerResponse {
        .json(200, text, headers: headers)
    }

    /// A 200 response with a text body and the given `Content-Type`.
    public static func text(
        _ text: String,
        contentType: String = "text/plain",
        headers: [ServerHeader] = []
    ) -> ServerResponse {
        .text(200, text, contentType: contentType, headers: headers)
    }
}
