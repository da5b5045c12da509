import Foundation

/// Encoding and decoding for the rest-json services (RAM, VPC Lattice).
enum RestJSON {
    static let contentType = HTTPHeader(name: "Content-Type", value: "application/json")

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Our own request structs always encode.
        return Array(try! encoder.encode(value))
    }

    /// Decodes a 2xx body, turning any mismatch into a clear malformed-response error.
    static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], service: String, operation: String) throws(AWSClientError) -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do {
            return try decoder.decode(type, from: Data(body))
        } catch {
            throw AWSClientError(.malformedResponse, service: service, operation: operation,
                                 message: "the response body is not the expected JSON (\(describe(error))); \(body.count) bytes")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \(path(context.codingPath + [key]))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \(path(context.codingPath))"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(path(context.codingPath))"
        default:
            return "undecodable"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}

/// Reading EC2-protocol XML bodies.
enum EC2XML {
    static func parse(_ body: [UInt8], operation: String,
                      handOver: XMLDocumentParser.HandOver? = nil) throws(AWSClientError) -> XMLElement {
        do {
            return try XMLDocumentParser.parse(body, handOver: handOver)
        } catch {
            throw AWSClientError(.malformedResponse, service: "ec2", operation: operation,
                                 message: "the response is not well-formed XML: \(error); \(body.count) bytes")
        }
    }

    static func missing(_ what: String, operation: String) -> AWSClientError {
        AWSClientError(.malformedResponse, service: "ec2", operation: operation, message: "the response has no \(what)")
    }
}
