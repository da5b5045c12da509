import Foundation

/// The Resource VPC endpoint we created (or adopted) for a customer, one generation at a time.
public struct EndpointRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// The ClientToken is stored; CreateVpcEndpoint may or may not have reached AWS.
        case creating
        case pending
        case available
        case failed
        /// DeleteVpcEndpoints accepted (or answered NotFound); not yet confirmed gone.
        case deleting
        /// Confirmed gone: EC2 said so, or stopped listing it after having listed it (or after its
        /// eventual-consistency window).
        case deleted
        /// Left in place and forgotten (`customer remove --keep-endpoint`).
        case released

        /// Closed generations: nothing left to do in EC2.
        public var isClosed: Bool { self == .deleted || self == .released }
        /// The customer's current generation: being created or alive.
        public var isCurrent: Bool { self == .creating || self == .pending || self == .available }
    }

    public var id: Int64?
    public var customerId: Int64
    public var region: String
    /// Persisted before CreateVpcEndpoint so that a retry after a crash cannot make a second endpoint.
    public var clientToken: String
    public var generation: Int
    public var vpcEndpointId: String?
    /// The VPC of the pool it was made in (or found in, when adopted): an endpoint never moves.
    public var vpcId: String?
    public var state: State
    /// The state exactly as EC2 reported it (`Pending`, `available`, …).
    public var awsState: String?
    public var dnsName: String?
    public var lastError: String?
    /// The exact CreateVpcEndpoint request (JSON) sent with `clientToken`, so that a call whose answer
    /// was lost is repeated identically: EC2 then returns the same endpoint, or says it is deleted.
    public var createRequest: String?
    /// When CreateVpcEndpoint last answered with this endpoint: EC2's listing may lag from then on.
    public var createAnsweredAt: Date?
    /// The last time DescribeVpcEndpoints listed this endpoint.
    public var lastSeenAt: Date?
    /// When DeleteVpcEndpoints was last accepted for it.
    public var deleteRequestedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64?, customerId: Int64, region: String, clientToken: String, generation: Int, vpcEndpointId: String?,
                state: State, awsState: String?, dnsName: String?, lastError: String?, createRequest: String? = nil,
                createAnsweredAt: Date? = nil, lastSeenAt: Date? = nil, deleteRequestedAt: Date? = nil, vpcId: String? = nil,
                createdAt: Date, updatedAt: Date) {
        self.id = id
        self.customerId = customerId
        self.region = region
        self.clientToken = clientToken
        self.generation = generation
        self.vpcEndpointId = vpcEndpointId
        self.vpcId = vpcId
        self.state = state
        self.awsState = awsState
        self.dnsName = dnsName
        self.lastError = lastError
        self.createRequest = createRequest
        self.createAnsweredAt = createAnsweredAt
        self.lastSeenAt = lastSeenAt
        self.deleteRequestedAt = deleteRequestedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

}
