/// What AWS's error codes mean for our own calls, as pure functions beside the planner's outcome rules:
/// the executor reports the code it got, these say what it is (an outcome the planner's rules take, or
/// nothing to conclude: the call is repeated later with the same token).
public enum AWSOutcomes {
    /// A CreateVpcEndpoint refusal (an HTTP 4xx with `code`): the outcome for the generation, or nil when the
    /// refusal is about us (credentials, permissions), not about the endpoint, and nothing is concluded.
    public static func create(refusalCode code: String, message: String) -> CreateOutcome? {
        if saysNothingAboutTheEndpoint(code) { return nil }
        if VpcCapacity.isCapacityRefusal(code) { return .noRoom(code: code, message: message) }
        return code == "IdempotentParameterMismatch" ? .idempotentMismatch(message: message) : .refused(code: code, message: message)
    }

    /// Refusals that are about us (credentials, permissions), not about the endpoint: no conclusion.
    public static func saysNothingAboutTheEndpoint(_ code: String) -> Bool {
        ["UnauthorizedOperation", "AuthFailure", "AccessDenied", "SignatureDoesNotMatch", "InvalidClientTokenId",
         "RequestExpired", "DryRunOperation", "OptInRequired", "Blocked"].contains { code.hasPrefix($0) }
    }

    /// An AcceptResourceShareInvitation error: AlreadyAccepted is success (an earlier attempt's answer was
    /// lost); Expired and AlreadyRejected are final (the customer must share again); anything else is nil.
    public static func accept(errorCode code: String?) -> AcceptOutcome? {
        switch code {
        case "ResourceShareInvitationAlreadyAcceptedException": .alreadyAccepted
        case "ResourceShareInvitationExpiredException": .expired
        case "ResourceShareInvitationAlreadyRejectedException": .rejected
        default: nil
        }
    }

    /// Whether a RejectResourceShareInvitation error says the invitation was already answered (nothing to do).
    public static func rejectAlreadyAnswered(errorCode code: String?) -> Bool {
        ["ResourceShareInvitationAlreadyRejectedException", "ResourceShareInvitationExpiredException",
         "ResourceShareInvitationAlreadyAcceptedException"].contains(code ?? "")
    }

    /// A DeleteVpcEndpoints per-item failure: NotFound is an outcome; anything else is nil (an error).
    public static func delete(failureCode code: String?) -> DeleteOutcome? {
        (code ?? "").contains("NotFound") ? .notFound : nil
    }

    /// A lookup by id (DescribeVpcEndpoints with VpcEndpointIds) that failed with `code`: whether it says the
    /// endpoint does not exist (the confirmation a listing's silence needs).
    public static func lookupSaysAbsent(errorCode code: String?) -> Bool {
        code == "InvalidVpcEndpointId.NotFound"
    }
}
