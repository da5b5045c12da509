/// Strings the daemon already holds (its registry's ARNs, names and endpoint ids), handed out in place of the
/// equal strings an AWS listing decodes: the listing's copy is freed as soon as it is read, and the pass holds
/// one storage for each instead of one per source. At 10,000 customers, RAM's resource ARNs and share ARNs and
/// EC2's endpoint ids, resource ARNs and customer tags are about 5 MB.
///
/// Strings of up to 15 bytes are stored inline: there is nothing to share, and they are left out.
public struct KnownStrings: Sendable {
    private var strings: Set<String>

    /// Nothing known: every string is kept as decoded.
    public static let none = KnownStrings()

    /// Room for `minimumCapacity` strings without growing.
    public init(minimumCapacity: Int = 0) {
        strings = Set(minimumCapacity: minimumCapacity)
    }

    public init(_ values: some Sequence<String>) {
        self.init(minimumCapacity: values.underestimatedCount)
        for value in values { insert(value) }
    }

    public mutating func insert(_ value: String) {
        if value.utf8.count > 15 { strings.insert(value) }
    }

    /// The known string equal to `value`, or `value` itself.
    public func shared(_ value: String) -> String {
        guard value.utf8.count > 15, let index = strings.firstIndex(of: value) else { return value }
        return strings[index]
    }

    public var count: Int { strings.count }
}
