import ConsumerCore
import Foundation

/// The product's JSON writer: every JSON text we write by hand goes through it (the health log's lines, and
/// `status --json`). Written straight into bytes, for the one document too large for `JSONEncoder`'s pace:
/// `status --json` at 10,000 customers and their checks (JSONEncoder's boxing, key sorting and custom date
/// strategy took most of the command's second). The output is byte for byte what `JSONOutput.encode`
/// writes for the same `Encodable` value (`JSONWriterTests` holds them equal): no whitespace, keys in
/// sorted order (each writer lists its keys sorted; debug builds check it), slashes unescaped, dates as
/// `Timestamp.string`.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Writes `value` as a JSON document.
    static func write(_ value: some JSONWritable, capacity: Int = 1 << 16) -> String {
        var writer = JSONWriter(capacity: capacity)
        value.write(to: &writer)
        return writer.string
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func null() { raw("null") }

    mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    mutating func integer(_ value: some BinaryInteger) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// As `JSONEncoder` writes a finite `Double`: its shortest round-trip form, without a trailing `.0`.
    mutating func double(_ value: Double) {
        precondition(value.isFinite, "JSON has no \(value)")
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    mutating func date(_ value: Date) { string(Timestamp.string(value)) }

    /// A string, escaped as `JSONEncoder` escapes it with `.withoutEscapingSlashes`.
    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = value
        text.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x08: raw("\\b")
                case 0x0C: raw("\\f")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                default:
                    raw("\\u00")
                    bytes.append(Self.hex[Int(byte >> 4)])
                    bytes.append(Self.hex[Int(byte & 0x0F)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Whether the object being written has no member yet, and its last key (to check the order).
    private var firstMember = true
    private var lastKey: StaticString?

    /// An object whose members `body` writes with ``field(_:_:)``, keys in sorted order.
    mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        let outer = (firstMember, lastKey)
        (firstMember, lastKey) = (true, nil)
        body(&self)
        (firstMember, lastKey) = outer
        bytes.append(UInt8(ascii: "}"))
    }

    /// One member of the object being written; keys must come in sorted order, as `.sortedKeys` puts them.
    mutating func field(_ key: StaticString, _ value: some JSONWritable) {
        assert(lastKey.map { "\($0)" < "\(key)" } ?? true, "JSON keys out of order: \(key) after \(lastKey!)")
        if !firstMember { bytes.append(UInt8(ascii: ",")) }
        firstMember = false
        lastKey = key
        bytes.append(UInt8(ascii: "\""))
        raw(key)
        raw("\":")
        value.write(to: &self)
    }

    /// An object whose members come in the order they are written, for a line format whose key order is
    /// part of its contract (the health log: `time` and `kind` first), written with ``member(_:_:)``.
    mutating func orderedObject(_ body: (inout JSONWriter) -> Void) {
        object(body)
    }

    /// One member of an ordered object, any key; a nil value leaves the member out.
    mutating func member<Value: JSONWritable>(_ key: String, _ value: Value?) {
        guard let value else { return }
        memberKey(key)
        value.write(to: &self)
    }

    /// One member of an ordered object whose value is already JSON text (a number as the format writes it).
    mutating func member(_ key: String, json text: String) {
        memberKey(key)
        bytes.append(contentsOf: text.utf8)
    }

    /// One member of an ordered object whose value is an ordered object.
    mutating func member(_ key: String, object body: (inout JSONWriter) -> Void) {
        memberKey(key)
        orderedObject(body)
    }

    private mutating func memberKey(_ key: String) {
        if !firstMember { bytes.append(UInt8(ascii: ",")) }
        firstMember = false
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func array<Element: JSONWritable>(_ elements: [Element]) {
        bytes.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            element.write(to: &self)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

/// A value that writes itself as JSON.
protocol JSONWritable {
    func write(to writer: inout JSONWriter)
}

extension String: JSONWritable {
    func write(to writer: inout JSONWriter) { writer.string(self) }
}

extension Int: JSONWritable {
    func write(to writer: inout JSONWriter) { writer.integer(self) }
}

extension Int64: JSONWritable {
    func write(to writer: inout JSONWriter) { writer.integer(self) }
}

extension Bool: JSONWritable {
    func write(to writer: inout JSONWriter) { writer.bool(self) }
}

extension Double: JSONWritable {
    func write(to writer: inout JSONWriter) { writer.double(self) }
}

extension Date: JSONWritable {
    func write(to writer: inout JSONWriter) { writer.date(self) }
}

extension Optional: JSONWritable where Wrapped: JSONWritable {
    func write(to writer: inout JSONWriter) {
        switch self {
        case .none: writer.null()
        case .some(let value): value.write(to: &writer)
        }
    }
}

extension Array: JSONWritable where Element: JSONWritable {
    func write(to writer: inout JSONWriter) { writer.array(self) }
}
