import Foundation

/// One `name=value` pair of a form-encoded body.
public struct QueryField: Sendable, Equatable {
    /// The decoded parameter name (`Filter.1.Value.1`).
    public var name: String
    /// The decoded value.
    public var value: String

    /// Creates a field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Reads an `application/x-www-form-urlencoded` body, as a test server receives EC2 and STS requests.
public enum FormDecoder {
    /// Splits on `&` and the first `=` of each pair, decoding `%XX` and `+` (a space); order and duplicates are
    /// kept, empty pairs skipped, a pair without `=` has an empty value, and a malformed `%` escape stays literal.
    public static func decode(_ body: String) -> [QueryField] {
        body.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { pair in
            if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                return QueryField(
                    name: percentDecode(pair[..<equals]),
                    value: percentDecode(pair[pair.index(after: equals)...])
                )
            }
            return QueryField(name: percentDecode(pair), value: "")
        }
    }

    private static func percentDecode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "+") {
                output.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < input.count, let high = hexValue(input[index + 1]),
                let low = hexValue(input[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
                continue
            } else {
                output.append(byte)
            }
            index += 1
        }
        // Invalid UTF-8 after decoding becomes U+FFFD rather than an error: this reads test traffic.
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
