import Foundation

/// A Resource-type VPC endpoint in the simulator's account.
public struct SimulatedEndpoint: Sendable, Hashable {
    /// The endpoint's lifecycle state (EC2 spells it in several casings; see `EndpointStateCasing`).
    public enum State: String, Sendable, Hashable {
        case pending
        case available
        case deleting
        case deleted
        case failed
    }

    /// What an endpoint's `lastError` says.
    public struct LastError: Sendable, Hashable {
        public var code: String
        public var message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// `vpce-` and 17 hex digits.
    public var id: String
    public var resourceConfigurationArn: String
    public var vpcId: String
    public var subnetIds: [String]
    public var securityGroupIds: [String]
    /// As requested (`ipv4`, `dualstack`, `ipv6`); EC2 answers it upper-case.
    public var ipAddressType: String
    public var privateDnsEnabled: Bool
    /// Tags by key (EC2 keys are unique).
    public var tags: [String: String]
    /// The ClientToken it was created with.
    public var clientToken: String?
    public var state: State
    public var createdAt: Date
    public var lastError: LastError?
    public var failureReason: String?
    /// One ENI per subnet.
    public var networkInterfaceIds: [String]
    /// The id of its association with the resource configuration (`vpce-rsc-asc-…`).
    public var associationId: String
    /// The association's default DNS name (`vpce-….rcfg-….<hex>.vpc-lattice-rsc.<region>.on.aws`), used
    /// unless `setAssociationDNSName` configured one for the resource.
    public var defaultDNSName: String
    /// False once the share of its resource was withdrawn with `.associationsInaccessible`.
    public var isAssociationAccessible: Bool
    /// DescribeVpcEndpoints answers that included it in its current state.
    public var describesInCurrentState: Int
    /// DescribeVpcEndpoints calls left before EC2 lists it (eventual consistency after creation).
    public var unlistedDescribes: Int = 0
}
