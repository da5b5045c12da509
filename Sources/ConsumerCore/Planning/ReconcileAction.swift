import AWSModels

/// One thing a pass decided to do. The planner produces them from what it observed; the shell does them
/// and feeds the outcomes of its calls back to the planner's outcome rules.
public enum ReconcileAction: Sendable, Equatable {
    /// Store what was decided about an invitation (logged when new or changed).
    case recordInvitation(InvitationRecord)
    /// Accept a pending invitation that shares exactly registered resources of its sender. `steps` are its
    /// customers' `accepting` moves, written with the call's ClientToken in one transaction right before it.
    case accept(invitationArn: String, customers: [Int64], steps: [TransitionRequest])
    /// Reject an unmatched invitation (`unmatchedInvitations: reject`).
    case reject(invitationArn: String)
    /// A lifecycle event for a customer, compare-and-set on the state it was planned from.
    case transition(TransitionRequest)
    /// Start a new endpoint generation: ClientToken and request stored, then CreateVpcEndpoint. The
    /// customer first moves by `endpoint_requested`; a stale plan creates nothing.
    case createEndpoint(customerId: Int64, name: String, resourceConfigurationArn: String, detail: String, share: String?)
    /// Call CreateVpcEndpoint again, identically, for a generation whose answer was lost.
    case resumeCreate(customerId: Int64, name: String, endpoint: EndpointRecord)
    /// Take over an endpoint found in EC2 for a customer with no current generation.
    case adoptEndpoint(customerId: Int64, name: String, endpoint: VpcEndpoint, dnsName: String?)
    /// Record what EC2 said about a generation (compare-and-set on the row's state), and `then` the customer's
    /// step it means, in the same transaction and only when the change applied.
    case changeEndpoint(customerId: Int64, name: String, rowId: Int64, change: EndpointChange, then: TransitionRequest?)
    /// Delete an endpoint in EC2 (removal, a revoked share, a failed generation, a surplus duplicate).
    /// `row` is nil for an endpoint we never recorded.
    case deleteEndpoint(customerId: Int64, name: String, row: EndpointRecord?, vpcEndpointId: String, reason: String)
    /// The customer's endpoint works: forget earlier failures.
    case resetFailures(customerId: Int64)
    /// Delete an endpoint tagged with a customer name that no live registration owns and no generation
    /// records (ours: our tag, our VPC; a leak of an earlier registration).
    case deleteOrphan(vpcEndpointId: String, customerTag: String, resourceConfigurationArn: String?, reason: String)
    /// Record the endpoint id of a generation released before CreateVpcEndpoint answered (by tag and ARN).
    case recordReleasedEndpoint(rowId: Int64, vpcEndpointId: String)
    /// Write what was seen to the customer's history and the health log, without changing anything
    /// (`endpoint_unconfirmed`, `share_unconfirmed`: a listing left something out; what a lookup said).
    case note(customerId: Int64, name: String, event: String, detail: String)

    /// The customer an action is about, if one.
    package var customerId: Int64? {
        switch self {
        case .transition(let request): request.customerId
        case .createEndpoint(let id, _, _, _, _), .resumeCreate(let id, _, _), .adoptEndpoint(let id, _, _, _),
             .changeEndpoint(let id, _, _, _, _), .deleteEndpoint(let id, _, _, _, _), .resetFailures(let id),
             .note(let id, _, _, _):
            id
        case .recordInvitation, .accept, .reject, .deleteOrphan, .recordReleasedEndpoint: nil
        }
    }
}

/// What CreateVpcEndpoint answered, as far as the lifecycle cares. Throttling, 5xx, lost answers and
/// refusals that say nothing about the endpoint (access denied, bad signature) are thrown instead:
/// the row stays `creating` and the next pass repeats the call with the same token.
public enum CreateOutcome: Sendable, Equatable {
    case created(VpcEndpoint)
    /// The token belongs to an endpoint already deleted (the request is identical by construction).
    case idempotentMismatch(message: String)
    /// EC2 refused the parameters (quota, subnets, a resource not shared): nothing was created.
    case refused(code: String, message: String)
    /// The VPC has no room for another endpoint (its quota, or its subnets' free addresses): nothing was
    /// created, and it is not the customer's failure; the endpoint goes to the next VPC of the pool.
    case noRoom(code: String, message: String)
}

/// What DeleteVpcEndpoints answered for one endpoint.
public enum DeleteOutcome: Sendable, Equatable {
    case accepted
    case notFound
}

/// What AcceptResourceShareInvitation answered.
public enum AcceptOutcome: Sendable, Equatable {
    case accepted
    case alreadyAccepted
    case expired
    case rejected
}
