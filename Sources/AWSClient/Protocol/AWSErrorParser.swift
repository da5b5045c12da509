import Foundation

/// The wire protocol of an AWS service, as named in botocore's `metadata.protocol`.
public enum AWSProtocol: String, Sendable {
    /// RAM, VPC Lattice: JSON bodies, error code in `x-amzn-ErrorType` or the body.
    case restJSON = "rest-json"
    /// EC2: form-encoded requests, `<Response><Errors><Error>` error bodies.
    case ec2
    /// STS: form-encoded requests, `<ErrorResponse><Error>` error bodies.
    case query
    /// Service Quotas (awsJson1_1): `POST /` with `X-Amz-Target`, JSON bodies; errors as rest-json's
    /// (`x-amzn-ErrorType` or the body's `__type`).
    case json
}

/// The code, message and request id of an AWS error response, extracted the way botocore does.
public struct AWSErrorDetails: Sendable, Equatable {
    /// The AWS error code (`ThrottlingException`, `InvalidVpcID.NotFound`); `nil` when the body is not an AWS error.
    public var code: String?
    /// The service's message or, for an unrecognisable body, a description of what came back.
    public var message: String?
    /// The request id, for support cases.
    public var requestId: String?

    /// Creates error details.
    public init(code: String? = nil, message: String? = nil, requestId: String? = nil) {
        self.code = code
        self.message = message
        self.requestId = requestId
    }

    /// Extracts the error of a non-2xx response. Never throws: a body that is not an AWS error envelope
    /// (a proxy's HTML page, a truncated body) yields `code == nil` and a message quoting its first bytes.
    public static func parse(protocol: AWSProtocol, status: Int, headers: [HTTPHeader], body: [UInt8]) -> AWSErrorDetails {
        var details: AWSErrorDetails
        switch `protocol` {
        case .restJSON, .json:
            details = parseRestJSON(headers: headers, body: body)
        case .ec2, .query:
            // botocore's QueryParser and EC2QueryParser both accept `Errors/Error` and a bare `Error`
            // under the root, and EC2 spells the request id `RequestID`.
            details = parseXML(body: body)
            if details.requestId == nil {
                details.requestId = header("x-amzn-RequestId", in: headers) ?? header("x-amz-request-id", in: headers)
            }
        }
        if details.code == nil, details.message == nil {
            details.message = describeUnrecognizedBody(status: status, headers: headers, body: body)
        }
        return details
    }

    // MARK: rest-json

    private static func parseRestJSON(headers: [HTTPHeader], body: [UInt8]) -> AWSErrorDetails {
        var details = AWSErrorDetails()
        details.requestId = header("x-amzn-RequestId", in: headers) ?? header("x-amz-request-id", in: headers)
        if let errorType = header("x-amzn-ErrorType", in: headers) {
            details.code = normalizedCode(errorType)
        }
        guard let object = jsonObject(body) else { return details }
        if details.code == nil {
            for key in ["code", "Code", "__type"] {
                if let value = object[key] as? String, let code = normalizedCode(value) {
                    details.code = code
                    break
                }
            }
        }
        for key in ["message", "Message", "errorMessage"] {
            if let value = object[key] as? String {
                details.message = value
                break
            }
        }
        return details
    }

    /// `ns#Name:http://…` → `Name`, as botocore does for both the header and the body.
    private static func normalizedCode(_ raw: String) -> String? {
        var code = Substring(raw)
        if let colon = code.firstIndex(of: ":") { code = code[..<colon] }
        if let hash = code.lastIndex(of: "#") { code = code[code.index(after: hash)...] }
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The body as a JSON object, or `nil` for anything else (empty, truncated, an array, HTML).
    private static func jsonObject(_ body: [UInt8]) -> [String: Any]? {
        // Only an object can be an error envelope; checking first keeps arbitrary bodies away from the JSON parser.
        guard let first = body.first(where: { !isASCIIWhitespace($0) }), first == UInt8(ascii: "{") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    // MARK: ec2 and query

    private static func parseXML(body: [UInt8]) -> AWSErrorDetails {
        // Error envelopes are shallow and small; tight limits cost nothing.
        guard let root = try? XMLDocumentParser.parse(body, maxDepth: 16, maxElements: 10_000),
            let error = root.path("Errors", "Error") ?? root.child("Error")
        else { return AWSErrorDetails() }
        return AWSErrorDetails(
            code: nonEmpty(error.childText("Code")),
            message: error.childText("Message"),
            requestId: nonEmpty(root.childText("RequestID") ?? root.childText("RequestId"))
        )
    }

    // MARK: Helpers

    private static func header(_ name: String, in headers: [HTTPHeader]) -> String? {
        let wanted = name.lowercased()
        guard let value = headers.first(where: { $0.name.lowercased() == wanted })?.value else { return nil }
        return nonEmpty(value.trimmingCharacters(in: .whitespaces))
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    private static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// At most this many characters of an unrecognised body go into the message.
    static let excerptLimit = 80

    /// `HTTP 500 with an unparsable text/html body (first bytes: "<html>…")`.
    static func describeUnrecognizedBody(status: Int, headers: [HTTPHeader], body: [UInt8]) -> String {
        guard body.contains(where: { !isASCIIWhitespace($0) }) else {
            return "HTTP \(status) with an empty body"
        }
        var kind = "unparsable"
        if let contentType = header("Content-Type", in: headers) {
            let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? contentType
            kind += " " + sanitizedExcerpt(Array(mediaType.utf8), limit: 60)
        }
        let trimmed = body.drop(while: isASCIIWhitespace)
        return "HTTP \(status) with an \(kind) body (first bytes: \"\(sanitizedExcerpt(Array(trimmed), limit: excerptLimit))\")"
    }

    /// Up to `limit` characters of `bytes`, lossily decoded, with control characters replaced and
    /// whitespace runs collapsed, so a log line stays one short line whatever the server sent.
    static func sanitizedExcerpt(_ bytes: [UInt8], limit: Int) -> String {
        // Decode only a bounded prefix (4 bytes per character at most), ending on a scalar boundary.
        var end = min(bytes.count, limit * 4 + 4)
        if end < bytes.count {
            while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        }
        let decoded = String(decoding: bytes[..<end], as: UTF8.self)
        var result = ""
        var count = 0
        var lastWasSpace = false
        var truncated = end < bytes.count
        for scalar in decoded.unicodeScalars {
            let piece: String
            switch scalar.properties.generalCategory {
            case .spaceSeparator, .lineSeparator, .paragraphSeparator:
                piece = " "
            case .control where scalar == "\t" || scalar == "\n" || scalar == "\r":
                piece = " "
            case .control, .format, .surrogate, .privateUse, .unassigned:
                piece = "\u{FFFD}"
            default:
                piece = scalar == "\"" ? "\\\"" : String(scalar)
            }
            if piece == " ", lastWasSpace { continue }
            if count == limit {
                truncated = true
                break
            }
            result += piece
            count += 1
            lastWasSpace = piece == " "
        }
        if result.hasSuffix(" ") { result.removeLast() }
        return truncated ? result + "…" : result
    }
}
