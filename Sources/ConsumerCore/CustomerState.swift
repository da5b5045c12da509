/// A customer's place in the onboarding lifecycle (`CustomerLifecycle` holds the edges between them).
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
}
