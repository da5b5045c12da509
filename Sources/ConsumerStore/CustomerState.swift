/// A customer's place in the onboarding lifecycle (DESIGN.md, "Customer lifecycle").
///
/// The raw values are stored in the database, where a CHECK constraint admits only these.
public enum CustomerState: String, Codable, Sendable, CaseIterable, Comparable {
    case awaitingShare = "awaiting_share"
    case accepting
    case shareAccepted = "share_accepted"
    case endpointPending = "endpoint_pending"
    case ready
    case shareExpired = "share_expired"
    case shareRejected = "share_rejected"
    case shareRevoked = "share_revoked"
    case endpointFailed = "endpoint_failed"
    case endpointMissing = "endpoint_missing"
    case removing
    case removed

    /// States in which the customer still counts as registered (name and ARN reserved).
    public var isLive: Bool { self != .removed }

    public static func < (lhs: CustomerState, rhs: CustomerState) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// The SQL list used by the schema's CHECK constraint, e.g. `'awaiting_share','accepting',…`.
    static var sqlList: String { allCases.map { "'\($0.rawValue)'" }.joined(separator: ",") }
}
