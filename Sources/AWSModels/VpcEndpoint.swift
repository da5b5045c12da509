import Foundation

/// The state of a VPC endpoint, compared case-insensitively (EC2 answers `Pending`, `available`, …);
/// a state this build does not know is kept verbatim rather than crashed on.
public enum VpcEndpointState: Sendable, Hashable, CustomStringConvertible {
    case pendingAcceptance, pending, available, deleting, deleted, rejected, failed, expired, partial
    case unknown(String)

    public init(_ raw: String) {
        switch raw.lowercased() {
        case "pendingacceptance": self = .pendingAcceptance
        case "pending": self = .pending
        case "available": self = .available
        case "deleting": self = .deleting
        case "deleted": self = .deleted
        case "rejected": self = .rejected
        case "failed": self = .failed
        case "expired": self = .expired
        case "partial": self = .partial
        default: self = .unknown(raw)
        }
    }

    public var description: String {
        switch self {
        case .pendingAcceptance: "PendingAcceptance"
        case .pending: "Pending"
        case .available: "Available"
        case .deleting: "Deleting"
        case .deleted: "Deleted"
        case .rejected: "Rejected"
        case .failed: "Failed"
        case .expired: "Expired"
        case .partial: "Partial"
        case .unknown(let raw): raw
        }
    }

    /// Failed, Rejected or Expired: the endpoint will not become usable.
    public var isTerminalFailure: Bool { [.failed, .rejected, .expired].contains(self) }
}

/// A VPC endpoint as DescribeVpcEndpoints / CreateVpcEndpoint return it.
public struct VpcEndpoint: Sendable, Equatable {
    public var vpcEndpointId: String
    public var vpcEndpointType: String?
    public var vpcId: String?
    public var state: VpcEndpointState
    public var subnetIds: [String]
    public var securityGroupIds: [String]
    public var ipAddressType: String?
    public var privateDnsEnabled: Bool?
    public var resourceConfigurationArn: String?
    public var tags: [String: String]
    public var lastError: EC2Error?
    public var failureReason: String?
    public var creationTimestamp: String?

    /// An error EC2 attaches to an item (`lastError`, DeleteVpcEndpoints' `unsuccessful`).
    public struct EC2Error: Sendable, Equatable, CustomStringConvertible {
        public var code: String?
        public var message: String?

        public init(code: String?, message: String?) {
            self.code = code
            self.message = message
        }
        public var description: String { [code, message].compactMap { $0 }.joined(separator: ": ") }
    }

    /// An endpoint built from known values (in-memory models of EC2; the client builds them from XML).
    public init(vpcEndpointId: String, state: VpcEndpointState, vpcId: String?, resourceConfigurationArn: String?,
                tags: [String: String], lastError: EC2Error? = nil) {
        self.vpcEndpointId = vpcEndpointId
        vpcEndpointType = "Resource"
        self.vpcId = vpcId
        self.state = state
        subnetIds = []
        securityGroupIds = []
        ipAddressType = nil
        privateDnsEnabled = nil
        self.resourceConfigurationArn = resourceConfigurationArn
        self.tags = tags
        self.lastError = lastError
        failureReason = nil
        creationTimestamp = nil
    }

}

/// A Resource endpoint's association with the resource: where its DNS names are.
public struct VpcEndpointAssociation: Sendable, Equatable {
    public var id: String?
    public var vpcEndpointId: String
    public var associatedResourceArn: String?
    /// Set when the associated resource is a child of a group configuration: the group's ARN.
    public var resourceConfigurationGroupArn: String?
    /// `Accessible` or `Inaccessible` (the resource configuration is not AVAILABLE, or no longer shared).
    public var accessibility: String?
    public var dnsName: String?
    public var privateDnsName: String?
    public var failureCode: String?
    public var failureReason: String?

    /// The name to connect to: the private DNS name when there is one, else the endpoint's own.
    public var preferredDnsName: String? { privateDnsName ?? dnsName }

    /// Whether EC2 says the resource is reachable through it (absent: assumed so).
    public var isAccessible: Bool {
        guard let accessibility, !accessibility.isEmpty else { return true }
        return accessibility.caseInsensitiveCompare("Accessible") == .orderedSame
    }

    /// The association of one endpoint that serves `resourceArn`: the one whose resource it is, else one
    /// of its children (a group configuration; the lowest child ARN, so the choice never depends on the
    /// order EC2 lists them in), else the only one when there is exactly one.
    public static func chosen(from associations: [VpcEndpointAssociation], for resourceArn: String?) -> VpcEndpointAssociation? {
        if let resourceArn {
            if let own = associations.first(where: { $0.associatedResourceArn == resourceArn }) { return own }
            let children = associations.filter { $0.resourceConfigurationGroupArn == resourceArn }
            if let child = children.min(by: { ($0.associatedResourceArn ?? "") < ($1.associatedResourceArn ?? "") }) { return child }
        }
        return associations.count == 1 ? associations[0] : nil
    }

    public init(id: String?, vpcEndpointId: String, associatedResourceArn: String?, resourceConfigurationGroupArn: String? = nil,
                accessibility: String?, dnsName: String?, privateDnsName: String?, failureCode: String?, failureReason: String?) {
        self.id = id
        self.vpcEndpointId = vpcEndpointId
        self.associatedResourceArn = associatedResourceArn
        self.resourceConfigurationGroupArn = resourceConfigurationGroupArn
        self.accessibility = accessibility
        self.dnsName = dnsName
        self.privateDnsName = privateDnsName
        self.failureCode = failureCode
        self.failureReason = failureReason
    }

}

/// A DescribeVpcEndpoints / DescribeVpcEndpointAssociations filter.
public struct EC2Filter: Sendable, Equatable {
    public var name: String
    public var values: [String]

    public init(_ name: String, _ values: [String]) {
        self.name = name
        self.values = values
    }
}

/// One endpoint that DeleteVpcEndpoints could not delete (EC2 still answers 200).
public struct DeleteFailure: Sendable, Equatable {
    public var vpcEndpointId: String
    public var error: VpcEndpoint.EC2Error

    public init(vpcEndpointId: String, error: VpcEndpoint.EC2Error) {
        self.vpcEndpointId = vpcEndpointId
        self.error = error
    }
}

/// What CreateVpcEndpoint needs for a Resource endpoint.
public struct ResourceEndpointRequest: Sendable, Equatable {
    public var resourceConfigurationArn: String
    public var vpcId: String
    public var subnetIds: [String]
    public var securityGroupIds: [String]
    /// `ipv4`, `dualstack` or `ipv6`.
    public var ipAddressType: String
    public var privateDnsEnabled: Bool
    /// Persisted by the caller before the call: the same token makes a retry return the same endpoint.
    public var clientToken: String
    public var tags: [(key: String, value: String)]

    public init(resourceConfigurationArn: String, vpcId: String, subnetIds: [String], securityGroupIds: [String],
                ipAddressType: String, privateDnsEnabled: Bool, clientToken: String, tags: [(key: String, value: String)]) {
        self.resourceConfigurationArn = resourceConfigurationArn
        self.vpcId = vpcId
        self.subnetIds = subnetIds
        self.securityGroupIds = securityGroupIds
        self.ipAddressType = ipAddressType
        self.privateDnsEnabled = privateDnsEnabled
        self.clientToken = clientToken
        self.tags = tags
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.resourceConfigurationArn == rhs.resourceConfigurationArn && lhs.vpcId == rhs.vpcId
            && lhs.subnetIds == rhs.subnetIds && lhs.securityGroupIds == rhs.securityGroupIds
            && lhs.ipAddressType == rhs.ipAddressType && lhs.privateDnsEnabled == rhs.privateDnsEnabled
            && lhs.clientToken == rhs.clientToken && lhs.tags.elementsEqual(rhs.tags) { $0 == $1 }
    }
}
