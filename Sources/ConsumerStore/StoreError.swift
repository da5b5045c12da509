/// A failure of the state store, with a message that names the thing and the fix.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Opaque so that new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        public var description: String { rawValue }
        public static let cannotOpen = Code(rawValue: "cannot_open")
        public static let newerSchema = Code(rawValue: "newer_schema")
        public static let duplicateName = Code(rawValue: "duplicate_name")
        public static let duplicateArn = Code(rawValue: "duplicate_arn")
        public static let notFound = Code(rawValue: "not_found")
        public static let invalid = Code(rawValue: "invalid")
        public static let busy = Code(rawValue: "busy")
        /// The state database cannot be reached (PostgreSQL down, restarting, or refusing us); retry later.
        public static let unavailable = Code(rawValue: "unavailable")
        /// A write of a daemon that no longer holds the leadership lease: refused, nothing written.
        public static let fenced = Code(rawValue: "fenced")
        /// The state database answered something this build cannot read.
        public static let corrupt = Code(rawValue: "corrupt")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Whether the fault lies in what the user asked for (exit 64) rather than the machine (exit 1).
    public var isUsageError: Bool {
        [.duplicateName, .duplicateArn, .notFound, .invalid].contains(code)
    }

    static func newerSchema(found: Int, known: Int) -> StoreError {
        StoreError(.newerSchema, "state database has schema version \(found), newer than this build's \(known): it was written by a newer privatelink-consumer; upgrade this host to the release the other hosts run (`privatelink-consumer --version` there; Deploy/README.md, \"Upgrades\"); nothing was modified")
    }
}
