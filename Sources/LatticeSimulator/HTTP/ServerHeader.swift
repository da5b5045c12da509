/// One HTTP header field as sent or received by `LoopbackHTTPServer`, in wire order.
public struct ServerHeader: Sendable, Hashable {
    /// The field name as it appeared on the wire (compare case-insensitively).
    public var name: String
    /// The field value.
    public var value: String

    /// Creates a header field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// Creates a header field from a name and a value.
    public init(_ name: String, _ value: String) {
        self.init(name: name, value: value)
    }
}
