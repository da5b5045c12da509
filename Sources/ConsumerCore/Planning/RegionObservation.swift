import AWSModels

/// What one pass saw of AWS in one region.
public struct RegionObservation: Sendable, Equatable {
    public var region: String
    /// Every invitation addressed to us (all statuses).
    public var invitations: [ResourceShareInvitation]
    /// The resources of pending invitations, by invitation ARN (from this pass or the store's memory).
    public var pendingResources: [String: [RAMResource]]
    /// Resource configurations shared with us (accepted and same-organization shares), by ARN.
    public var sharedResources: [String: RAMResource]
    /// Resource endpoints in our VPC (ours by tag, or for a registered ARN), excluding deleted ones.
    public var endpoints: [VpcEndpoint]
    /// DNS names read from DescribeVpcEndpointAssociations this pass, by endpoint id: each from the
    /// association that serves the endpoint's own resource configuration, when it is accessible.
    public var dnsNames: [String: String]
    /// Endpoints whose association reads `Inaccessible` (the resource configuration is not AVAILABLE or
    /// no longer shared), by endpoint id → EC2's reason: such an endpoint does not make a customer ready.
    public var inaccessible: [String: String] = [:]
    /// Pending invitations whose resources RAM would not list because they expired (they may still
    /// read PENDING), by invitation ARN → the error code.
    public var unlistable: [String: String] = [:]
    /// Endpoint ids that a listing left out and a lookup by id answered `InvalidVpcEndpointId.NotFound`
    /// for: confirmed gone. A listing's silence alone never is.
    public var confirmedGone: Set<String> = []
    /// Resource configuration ARNs that ListResources left out and a lookup of that one ARN did not find
    /// either: confirmed no longer shared with us.
    public var confirmedUnshared: Set<String> = []
    /// What a lookup found that the listing had left out (a blink of an eventually consistent listing):
    /// endpoint ids and resource ARNs, put back into `endpoints` and `sharedResources` by the observer.
    public var foundByLookup: Set<String> = []
    /// Endpoints of other deployments in the region's VPCs: never ours to touch, but they take the VPCs' room.
    public var othersInPool: [VpcEndpoint] = []
    /// Which of `endpoints` is which customer's, as the reconciler worked it out while observing (it
    /// needs it to know whose DNS names to ask for); nil lets the planner work it out.
    public var match: EndpointMatcher.Match?

    public init(region: String, invitations: [ResourceShareInvitation] = [], pendingResources: [String: [RAMResource]] = [:],
                sharedResources: [String: RAMResource] = [:], endpoints: [VpcEndpoint] = [], dnsNames: [String: String] = [:]) {
        self.region = region
        self.invitations = invitations
        self.pendingResources = pendingResources
        self.sharedResources = sharedResources
        self.endpoints = endpoints
        self.dnsNames = dnsNames
    }

    /// What one lookup by id said about something a listing left out.
    public enum Lookup<Value: Sendable & Equatable>: Sendable, Equatable {
        case found(Value)
        /// AWS answered that it does not exist (EC2's NotFound, or RAM listing nothing for that ARN).
        case absent
        /// No answer (throttled, a transport failure): nothing is concluded.
        case unanswered(String)
    }

    /// Takes the answer of a lookup by id of an endpoint the listing left out.
    public mutating func record(endpointLookup id: String, _ lookup: Lookup<VpcEndpoint>) {
        switch lookup {
        case .found(let endpoint) where endpoint.state == .deleted:
            // EC2 says Deleted: gone, as NotFound would.
            confirmedGone.insert(id)
        case .found(let endpoint):
            foundByLookup.insert(id)
            if !endpoints.contains(where: { $0.vpcEndpointId == id }) { endpoints.append(endpoint) }
        case .absent:
            confirmedGone.insert(id)
        case .unanswered:
            break
        }
    }

    /// Takes the answer of a lookup of one resource ARN that ListResources left out.
    public mutating func record(resourceLookup arn: String, _ lookup: Lookup<RAMResource>) {
        switch lookup {
        case .found(let resource):
            foundByLookup.insert(arn)
            sharedResources[arn] = resource
        case .absent:
            confirmedUnshared.insert(arn)
        case .unanswered:
            break
        }
    }

    /// Takes what DescribeVpcEndpointAssociations answered: for each endpoint, the association of its own
    /// resource configuration (or a child of it), never whichever came last.
    public mutating func record(associations: [String: [VpcEndpointAssociation]]) {
        for endpoint in endpoints {
            guard let all = associations[endpoint.vpcEndpointId],
                  let chosen = VpcEndpointAssociation.chosen(from: all, for: endpoint.resourceConfigurationArn) else { continue }
            if chosen.isAccessible {
                if let name = chosen.preferredDnsName { dnsNames[endpoint.vpcEndpointId] = name }
            } else {
                inaccessible[endpoint.vpcEndpointId] = [chosen.accessibility, chosen.failureCode, chosen.failureReason]
                    .compactMap { $0 }.joined(separator: ": ")
            }
        }
    }
}
