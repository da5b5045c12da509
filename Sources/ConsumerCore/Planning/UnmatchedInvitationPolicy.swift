/// What the daemon does with an invitation that does not match a registration.
public enum UnmatchedInvitationPolicy: String, Sendable, Equatable, CaseIterable {
    /// Record and report it; leave it pending (the SE may still register the ARN).
    case ignore
    /// Record and report it, and reject it in RAM.
    case reject
}
