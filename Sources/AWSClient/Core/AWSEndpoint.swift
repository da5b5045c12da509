/// Where requests for one service in one region go.
public struct AWSEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int?
    /// A path prefix from an endpoint override (`http://127.0.0.1:4566/aws` → `/aws`), "" normally.
    public var basePath: String

    public var description: String { url(path: "/") }

    /// The `Host` header value: the host, with the port when it is not the scheme's default.
    public var hostHeader: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        guard let port, port != (scheme == "https" ? 443 : 80) else { return bracketed }
        return "\(bracketed):\(port)"
    }

    /// The full URL of `path` (already percent-encoded) and `query` at this endpoint.
    public func url(path: String, query: String = "") -> String {
        "\(scheme)://\(hostHeader)\(basePath)\(path)\(query.isEmpty ? "" : "?" + query)"
    }

    /// Whether the host is a loopback address, the only place plain HTTP is allowed.
    public var isLoopback: Bool { Self.isLoopback(host: host) }

    static func isLoopback(host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

/// Finds each service's endpoint the way the AWS SDKs do: `AWS_ENDPOINT_URL_<SERVICE>`, then
/// `AWS_ENDPOINT_URL`, then `https://<prefix>.<region>.<partition DNS suffix>`.
public struct EndpointResolver: Sendable {
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func endpoint(for service: AWSService, region: String) throws(AWSClientError) -> AWSEndpoint {
        for variable in ["AWS_ENDPOINT_URL_\(service.environmentSuffix)", "AWS_ENDPOINT_URL"] {
            guard let value = environment[variable], !value.isEmpty else { continue }
            return try Self.parse(value, variable: variable, service: service)
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return AWSEndpoint(scheme: "https", host: "\(service.endpointPrefix).\(region).\(suffix)", port: nil, basePath: "")
    }

    /// Parses an override URL; plain HTTP is allowed only to loopback, so credentials never cross a network in clear.
    static func parse(_ text: String, variable: String, service: AWSService) throws(AWSClientError) -> AWSEndpoint {
        func refuse(_ why: String) -> AWSClientError {
            AWSClientError(.invalidConfiguration, service: service.name, operation: nil,
                           message: "\(variable)=\(text) \(why)")
        }
        guard let schemeEnd = text.range(of: "://") else { throw refuse("is not a URL (expected https://host[:port])") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else { throw refuse("has scheme \(scheme); use https (or http to loopback)") }
        var rest = text[schemeEnd.upperBound...]
        var basePath = ""
        if let slash = rest.firstIndex(of: "/") {
            basePath = String(rest[slash...])
            rest = rest[..<slash]
            while basePath.hasSuffix("/") { basePath.removeLast() }
        }
        var host: Substring
        var port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw refuse("has an unterminated IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) ?? -1 } else if !after.isEmpty { throw refuse("is malformed") }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            port = Int(rest[rest.index(after: colon)...]) ?? -1
        } else {
            host = rest
        }
        if let port, !(1...65535).contains(port) { throw refuse("has an invalid port") }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:".contains($0)) }) else {
            throw refuse("has an invalid host")
        }
        let endpoint = AWSEndpoint(scheme: scheme, host: host.lowercased(), port: port, basePath: basePath)
        if scheme == "http" && !endpoint.isLoopback {
            throw refuse("uses plain http to a non-loopback host; use https")
        }
        return endpoint
    }
}
