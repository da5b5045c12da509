/// Builds the small XML documents the simulator answers with, escaping every value.
struct XMLWriter {
    private(set) var text = ""

    init(root: String, namespace: String) {
        text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(root) xmlns=\"\(namespace)\">"
        stack = [root]
    }

    private var stack: [String]

    mutating func open(_ name: String) {
        text += "<\(name)>"
        stack.append(name)
    }

    mutating func close() {
        text += "</\(stack.removeLast())>"
    }

    /// `<name>value</name>`; nothing when `value` is nil.
    mutating func element(_ name: String, _ value: String?) {
        guard let value else { return }
        text += "<\(name)>\(Self.escape(value))</\(name)>"
    }

    mutating func element(_ name: String, _ body: (inout XMLWriter) -> Void) {
        open(name)
        body(&self)
        close()
    }

    /// Closes every open element and returns the document.
    mutating func finish() -> String {
        while !stack.isEmpty { close() }
        return text
    }

    static func escape(_ value: String) -> String {
        // Most values (ids, ARNs, states) have nothing to escape: one byte scan, no copy.
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">")
                                          || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") }) else { return value }
        var out = ""
        out.reserveCapacity(value.utf8.count)
        // By scalar, not by Character: "<" followed by a combining mark is one Character but must still be escaped.
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
