/// A complete HTTP request received by `LoopbackHTTPServer`.
public struct ServerRequest: Sendable, Hashable {
    /// The request method, e.g. "GET", "PUT", "POST".
    public var method: String
    /// The request target exactly as on the request line, e.g. "/latest/api/token?x=1".
    public var uri: String
    /// The part of `uri` before the first "?".
    public var path: String
    /// The part of `uri` after the first "?", or "" when there is none.
    public var query: String
    /// The header fields in arrival order.
    public var headers: [ServerHeader]
    /// The request body (empty when there was none).
    public var body: [UInt8]

    /// Creates a request, splitting `uri` into `path` and `query`.
    public init(method: String, uri: String, headers: [ServerHeader] = [], body: [UInt8] = []) {
        self.method = method
        self.uri = uri
        if let mark = uri.firstIndex(of: "?") {
            self.path = String(uri[..<mark])
            self.query = String(uri[uri.index(after: mark)...])
        } else {
            self.path = uri
            self.query = ""
        }
        self.headers = headers
        self.body = body
    }

    /// The first value of the header called `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return self.headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String {
        String(decoding: self.body, as: UTF8.self)
    }
}
