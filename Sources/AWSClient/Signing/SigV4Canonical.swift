/// The pieces of a SigV4 canonical request for non-S3 services, shared by the signer and the verifier.
package enum SigV4Canonical {
    /// Headers left out of the signature because proxies and HTTP clients add or rewrite them after signing.
    package static let unsignedHeaderNames: Set<String> = [
        "authorization", "user-agent", "content-length", "expect", "x-amzn-trace-id", "connection", "transfer-encoding",
    ]

    /// The canonical request for `request`, covering exactly `signedHeaders` (lower-case, in the given order).
    package static func request(_ request: SignableRequest, signedHeaders: [String]) -> String {
        [
            request.method,
            uri(request.path),
            query(request.query),
            headers(request.headers, signedHeaders: signedHeaders),
            signedHeaders.joined(separator: ";"),
            SigV4Crypto.sha256Hex(request.body),
        ].joined(separator: "\n")
    }

    /// The lower-case names of the headers a signer covers: every header present except `unsignedHeaderNames`, sorted.
    package static func signedHeaderNames(in headers: [HTTPHeader]) -> [String] {
        Set(headers.map { $0.name.lowercased() })
            .subtracting(unsignedHeaderNames)
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The wire path with dot segments and repeated slashes removed, then URI-encoded once more.
    ///
    /// Non-S3 services sign the already-encoded path encoded again, so `%3A` on the wire becomes `%253A` here.
    package static func uri(_ path: String) -> String {
        let slash = UInt8(ascii: "/")
        let bytes = Array(path.utf8)
        var segments: [ArraySlice<UInt8>] = []
        var lastWasDotSegment = false
        for segment in bytes.split(separator: slash, omittingEmptySubsequences: true) {
            lastWasDotSegment = true
            if segment.elementsEqual(".".utf8) {
                continue
            } else if segment.elementsEqual("..".utf8) {
                _ = segments.popLast()
            } else {
                segments.append(segment)
                lastWasDotSegment = false
            }
        }
        // RFC 3986 remove_dot_segments keeps the directory form: "/a/b/.." is "/a/", as is "/a/b/".
        let trailingSlash = !segments.isEmpty && (bytes.last == slash || lastWasDotSegment)
        var normalized: [UInt8] = [slash]
        normalized.append(contentsOf: segments.joined(separator: [slash]))
        if trailingSlash {
            normalized.append(slash)
        }
        return encode(normalized, keepingSlash: true)
    }

    /// The query parameters decoded, re-encoded strictly and sorted by name then value; `key` alone means an empty value.
    ///
    /// `+` is taken literally (RFC 3986), not as a space: callers encode spaces as `%20`.
    package static func query(_ query: String) -> String {
        let equals = UInt8(ascii: "=")
        let parameters = Array(query.utf8)
            .split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true)
            .map { component -> (name: String, value: String) in
                guard let separator = component.firstIndex(of: equals) else {
                    return (encode(decode(component), keepingSlash: false), "")
                }
                return (
                    encode(decode(component[..<separator]), keepingSlash: false),
                    encode(decode(component[component.index(after: separator)...]), keepingSlash: false)
                )
            }
            .sorted { lhs, rhs in
                lhs.name == rhs.name
                    ? lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
                    : lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
            }
        return parameters.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// One `name:value\n` line per signed header; repeated headers are joined with `,` in wire order.
    package static func headers(_ headers: [HTTPHeader], signedHeaders: [String]) -> String {
        var values: [String: [String]] = [:]
        for header in headers {
            values[header.name.lowercased(), default: []].append(headerValue(header.value))
        }
        return signedHeaders.map { "\($0):\(values[$0]?.joined(separator: ",") ?? "")\n" }.joined()
    }

    /// The value trimmed, with every run of whitespace (including folded continuation lines) collapsed to one space.
    package static func headerValue(_ value: String) -> String {
        let words = Array(value.utf8).split(omittingEmptySubsequences: true) { byte in
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
        }
        return String(decoding: Array(words.joined(separator: [UInt8(ascii: " ")])), as: UTF8.self)
    }

    /// RFC 3986 encoding: unreserved bytes (and `/` when asked) stay, every other byte becomes upper-case `%XX`.
    package static func encode(_ bytes: some Sequence<UInt8>, keepingSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepingSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Percent-decodes `bytes`; a `%` not followed by two hex digits is kept as a literal `%`.
    package static func decode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }
}
