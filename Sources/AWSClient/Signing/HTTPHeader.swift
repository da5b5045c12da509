/// One HTTP header line as sent on the wire; order and duplicates are kept because SigV4 depends on both.
public struct HTTPHeader: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The header name in any case; SigV4 compares names case-insensitively.
    public var name: String
    /// The raw header value; the signer trims and collapses whitespace only for the canonical form.
    public var value: String

    /// Creates a header line.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// `Name: value`, with the session token redacted so logged requests do not leak it.
    public var description: String { "\(name): \(printableValue)" }

    /// Same as `description`: arrays of headers print their elements with `debugDescription`.
    public var debugDescription: String { description }

    /// A redacted mirror, so `dump` of a request does not print the session token.
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "value": printableValue], displayStyle: .struct)
    }

    private var printableValue: String {
        name.lowercased() == "x-amz-security-token" ? "<redacted>" : value
    }
}
