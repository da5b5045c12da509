import AWSClient
import Foundation

/// Everything the simulator knows; guarded by the simulator's mutex.
///
/// The operations are plain mutating methods that take parsed parameters and the time and either
/// return a result or throw the service's error, so tests can drive them without HTTP.
struct SimulatorState: Sendable {
    /// Accepted credentials by access key id.
    var credentials: [String: AWSCredentials]
    var callCounts: [String: Int] = [:]
    /// Every request in arrival order (the newest 100,000), with the access key that signed it.
    var calls: [SimulatedCall] = []
    var issuedCredentials = 0

    /// The account invitations are addressed to and endpoints belong to.
    let accountId: String
    let region: String
    let pageSize: Int
    var provisioning: ProvisioningSettings
    /// Part of every page token, so tokens of another simulator run are refused.
    let pageNonce = SimulatorIdentifiers.hex(8)
    var pagedCalls = 0

    // RAM
    var invitations: [SimulatedInvitation] = []
    var shares: [SimulatedShare] = []
    /// `Accept:<token>` / `Reject:<token>` → the invitation ARN and the answer first given.
    var invitationClientTokens: [String: (arn: String, answer: SimulatedInvitation)] = [:]

    // EC2
    var endpoints: [SimulatedEndpoint] = []
    /// ClientToken → the endpoint it created and the parameters it was created with.
    var endpointClientTokens: [String: (endpointId: String, input: CreateVpcEndpointInput)] = [:]
    /// Association DNS names configured per resource ARN.
    var associationDNSNames: [String: AssociationDNSName] = [:]
    /// Associations an endpoint for a resource reports instead of its default one, by resource ARN.
    var extraAssociations: [String: [SimulatedAssociation]] = [:]

    // VPC Lattice
    var resourceConfigurations: [String: SimulatedResourceConfiguration] = [:]

    /// Eventual consistency of listings: endpoint ids and resource ARNs that the next N listings leave out
    /// (DescribeVpcEndpoints without ids, ListResources without resourceArns); lookups by id still find them.
    var listingBlinks: [String: Int] = [:]
    /// What the DescribeVpcEndpoints listing in progress leaves out (fixed at its first page, for all its pages).
    var blinkingListing: Set<String> = []
    /// Endpoints whose deletion EC2 holds: they read `deleting` until released (`finishDeleting`).
    var heldDeleting: Set<String> = []

    // Capacity
    /// Service Quotas' applied values by `service/quotaCode` (AWS's default for Resource endpoints per VPC).
    var serviceQuotas: [String: Double] = ["vpc/L-CA6CC422": 200]
    /// GetServiceQuota answers AccessDeniedException (the role lacks servicequotas:GetServiceQuota).
    var serviceQuotasAccessDenied = false
    /// Resource endpoints a VPC may hold, enforced by CreateVpcEndpoint (`VpcEndpointLimitExceeded`); a VPC
    /// not named here is not limited.
    var vpcEndpointLimits: [String: Int] = [:]
    /// Addresses a subnet has for endpoints (one per endpoint using it); a subnet not named here has plenty.
    var subnetAddresses: [String: Int] = [:]

    var faults: [ActiveFault] = []
    /// See `SimulatorConfiguration.awsStyleDNSNames`.
    var awsStyleDNSNames: Bool

    init(configuration: SimulatorConfiguration) {
        self.credentials = Dictionary(configuration.credentials.map { ($0.accessKeyId, $0) },
                                      uniquingKeysWith: { _, last in last })
        self.accountId = configuration.accountId
        self.region = configuration.region
        self.pageSize = configuration.pageSize
        self.provisioning = configuration.provisioning
        self.awsStyleDNSNames = configuration.awsStyleDNSNames
    }

    /// The fault to apply to this call, counting it against every fault that matches.
    mutating func nextFault(service: AWSService, operation: String) -> SimulatorFault.Kind? {
        var firing: SimulatorFault.Kind?
        for index in faults.indices where faults[index].fault.scope.matches(service, operation) {
            if let times = faults[index].fault.times, faults[index].fired >= times { continue }
            faults[index].matched += 1
            if firing == nil, faults[index].matched % faults[index].fault.every == 0 {
                faults[index].fired += 1
                firing = faults[index].fault.kind
            }
        }
        return firing
    }
}

/// DNS names an endpoint association reports for one resource.
struct AssociationDNSName: Sendable, Equatable {
    /// Replaces the generated `dnsEntry` name when set.
    var dnsName: String?
    /// Reported as `privateDnsEntry` when the endpoint has private DNS enabled.
    var privateDNSName: String?
}
