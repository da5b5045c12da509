/// An HTTP request as it will go on the wire, before or after signing.
public struct SignableRequest: Sendable, Equatable {
    /// The HTTP method, e.g. `GET` or `POST`.
    public var method: String
    /// The path exactly as sent on the wire, already percent-encoded (e.g. `/resourceconfigurations/arn%3Aaws%3A…`).
    public var path: String
    /// The raw query string without `?`; empty when there is none.
    public var query: String
    /// The header lines in wire order; `Host` is required for signing.
    public var headers: [HTTPHeader]
    /// The exact body bytes; their SHA-256 is part of the signature.
    public var body: [UInt8]

    /// Creates a request.
    public init(method: String, path: String, query: String = "", headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

extension SignableRequest {
    /// The values of every header called `name` (case-insensitive), in wire order.
    package func headerValues(named name: String) -> [String] {
        let lowered = name.lowercased()
        return headers.filter { $0.name.lowercased() == lowered }.map(\.value)
    }

    /// Replaces the first header called `name` in place (keeping wire order) and drops any others, or appends it.
    mutating func setHeader(_ name: String, to value: String) {
        let lowered = name.lowercased()
        guard let first = headers.firstIndex(where: { $0.name.lowercased() == lowered }) else {
            headers.append(HTTPHeader(name: name, value: value))
            return
        }
        headers[first].value = value
        var index = headers.index(after: first)
        while index < headers.endIndex {
            if headers[index].name.lowercased() == lowered {
                headers.remove(at: index)
            } else {
                index = headers.index(after: index)
            }
        }
    }

    /// Removes every header called `name` (case-insensitive).
    mutating func removeHeaders(named name: String) {
        let lowered = name.lowercased()
        headers.removeAll { $0.name.lowercased() == lowered }
    }
}
