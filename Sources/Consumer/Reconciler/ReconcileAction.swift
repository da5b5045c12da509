import AWSClient
import ConsumerStore

/// One thing a pass decided to do. The planner produces them from what it observed; the shell does them.
public enum ReconcileAction: Sendable, Equatable {
    /// Store what was decided about an invitation (logged when new or changed).
    case recordInvitation(InvitationRecord)
    /// Accept a pending invitation that shares exactly registered resources of its sender.
    case accept(invitationArn: String, customers: [String])
    /// Reject an unmatched invitation (`unmatchedInvitations: reject`).
    case reject(invitationArn: String)
    /// Move a customer to a lifecycle state (or refresh its detail and hint).
    case transition(customer: String, to: CustomerState, detail: String?, hint: String?, resourceShareArn: String?)
    /// Start a new endpoint generation: a new ClientToken is stored, then CreateVpcEndpoint.
    case createEndpoint(customer: String, resourceConfigurationArn: String)
    /// Call CreateVpcEndpoint again with the stored ClientToken of a generation whose outcome is unknown.
    case resumeCreate(customer: String, resourceConfigurationArn: String, endpointRowId: Int64, clientToken: String)
    /// Take over an endpoint found in EC2.
    case adoptEndpoint(customer: String, endpoint: VpcEndpoint)
    /// Record an endpoint's state and DNS name.
    case updateEndpoint(customer: String, endpointRowId: Int64, state: EndpointRecord.State, awsState: String,
                        dnsName: String?, lastError: String?)
    /// An endpoint we knew is gone from EC2: close its row.
    case endpointGone(customer: String, endpointRowId: Int64)
    /// An endpoint ended Failed/Rejected/Expired: count it and back off before the next generation.
    case endpointFailed(customer: String, endpointRowId: Int64, reason: String)
    /// The customer's endpoint works: forget earlier failures.
    case resetFailures(customer: String)
    /// Delete an endpoint in EC2 (removal, a revoked share, a failed generation, a surplus duplicate).
    case deleteEndpoint(customer: String, vpcEndpointId: String, reason: String)
    /// Removal is complete: the customer leaves `status`.
    case finishRemoval(customer: String, detail: String)
}
