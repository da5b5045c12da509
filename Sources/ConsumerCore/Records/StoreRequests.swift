import Foundation

// What decision code asks of the state store: the snapshot a pass plans from, and compare-and-set
// changes of a customer's state and of an endpoint generation.

/// What the reconciler reads at the start of a pass.
public struct RegistrySnapshot: Sendable, Equatable {
    /// Live customers (including `removing`), by name.
    public var customers: [Customer]
    /// Every endpoint generation not yet closed (not deleted, not released), by customer id, oldest first.
    public var openEndpoints: [Int64: [EndpointRecord]]
    /// Every invitation seen, by invitation ARN.
    public var invitations: [String: InvitationRecord]
    /// Endpoints left in place by `customer remove --keep-endpoint`: never deleted, never adopted.
    public var released: ReleasedEndpoints
    /// The (name, resource configuration ARN) of every removed registration: an untracked endpoint tagged for one
    /// of them, that no live registration owns, is a leak of it (an orphan).
    public var removedRegistrations: Set<Registration> = []

    /// A customer's name and resource configuration ARN.
    public struct Registration: Sendable, Hashable {
        public var name: String
        public var resourceConfigurationArn: String
        public init(name: String, resourceConfigurationArn: String) {
            self.name = name
            self.resourceConfigurationArn = resourceConfigurationArn
        }
    }

    public init(customers: [Customer], openEndpoints: [Int64: [EndpointRecord]], invitations: [String: InvitationRecord],
                released: ReleasedEndpoints = ReleasedEndpoints()) {
        self.customers = customers
        self.openEndpoints = openEndpoints
        self.invitations = invitations
        self.released = released
    }

    /// Endpoint ids that belong to a generation: open ones (their customer's) and released ones (nobody's to touch).
    public var knownEndpointIds: Set<String> {
        Set(openEndpoints.values.joined().compactMap(\.vpcEndpointId)).union(released.ids)
    }

    /// The customer's current generation (being created or alive), if any.
    public func currentEndpoint(of customerId: Int64?) -> EndpointRecord? {
        customerId.flatMap { openEndpoints[$0]?.last { $0.state.isCurrent } }
    }
}

/// What `customer remove --keep-endpoint` left in place, as a pass needs it.
public struct ReleasedEndpoints: Sendable, Equatable {
    /// Endpoint ids of released generations.
    public var ids: Set<String>
    /// Released generations whose endpoint id is not known (released while CreateVpcEndpoint was unanswered):
    /// an endpoint EC2 lists with the same customer tag and resource configuration, created before the
    /// release (or while its call could still be retrying), is theirs.
    public var unresolved: [Unresolved]

    public struct Unresolved: Sendable, Equatable {
        public var rowId: Int64
        public var customerName: String
        public var resourceConfigurationArn: String
        public var releasedAt: Date
        public init(rowId: Int64, customerName: String, resourceConfigurationArn: String, releasedAt: Date) {
            self.rowId = rowId
            self.customerName = customerName
            self.resourceConfigurationArn = resourceConfigurationArn
            self.releasedAt = releasedAt
        }

        /// How long after the release the unanswered call (with its retries) may still have created the endpoint.
        public static let callWindow: TimeInterval = 300

        /// Whether `endpoint` can be this generation's: its tag and ARN, and created no later than the call could.
        /// An endpoint whose creation time EC2 did not give is treated as possibly this generation's (kept, never
        /// destroyed) but is not recorded as it.
        func mayOwn(_ endpoint: VpcEndpointIdentity) -> Bool {
            guard customerName == endpoint.customerTag && resourceConfigurationArn == endpoint.resourceConfigurationArn else { return false }
            guard let created = endpoint.createdAt else { return true }
            return created <= releasedAt.addingTimeInterval(Self.callWindow)
        }
    }

    public init(ids: Set<String> = [], unresolved: [Unresolved] = []) {
        self.ids = ids
        self.unresolved = unresolved
    }

    /// The unresolved released generation an untracked endpoint may belong to, if one.
    public func unresolvedOwner(of endpoint: VpcEndpointIdentity) -> Unresolved? {
        unresolved.first { $0.mayOwn(endpoint) }
    }

    /// Whether an endpoint is a released one: by id, or by tag and ARN for a generation released before its id was known.
    public func contains(_ endpoint: VpcEndpointIdentity) -> Bool {
        ids.contains(endpoint.vpcEndpointId) || unresolvedOwner(of: endpoint) != nil
    }
}

/// What identifies an endpoint EC2 lists as one of ours.
public struct VpcEndpointIdentity: Sendable, Equatable {
    public var vpcEndpointId: String
    public var customerTag: String?
    public var resourceConfigurationArn: String?
    /// EC2's creation time, when it gave one.
    public var createdAt: Date?
    public init(vpcEndpointId: String, customerTag: String?, resourceConfigurationArn: String?, createdAt: Date? = nil) {
        self.vpcEndpointId = vpcEndpointId
        self.customerTag = customerTag
        self.resourceConfigurationArn = resourceConfigurationArn
        self.createdAt = createdAt
    }
}

/// A lifecycle change asked for by the planner or the reconciler: compare-and-set on `from`.
public struct TransitionRequest: Sendable, Equatable {
    public var customerId: Int64
    /// The state the decision was made from.
    public var from: CustomerState
    public var event: CustomerLifecycle.Event
    public var detail: String?
    public var hint: String?
    /// Recorded with the change when not nil.
    public var resourceShareArn: String?

    public init(customerId: Int64, from: CustomerState, event: CustomerLifecycle.Event, detail: String?, hint: String? = nil,
                resourceShareArn: String? = nil) {
        self.customerId = customerId
        self.from = from
        self.event = event
        self.detail = detail
        self.hint = hint
        self.resourceShareArn = resourceShareArn
    }
}

/// One change of an endpoint generation, applied only while the row is in one of `from`.
public struct EndpointChange: Sendable, Equatable {
    public var from: Set<EndpointRecord.State>
    public var to: EndpointRecord.State
    public var vpcEndpointId: String?
    /// The VPC EC2 lists it in: recorded when the generation has none yet (rows from before it was recorded).
    public var vpcId: String?
    public var awsState: String?
    public var dnsName: String?
    public var lastError: String?
    /// CreateVpcEndpoint answered with it now.
    public var createAnswered: Bool
    /// EC2 listed it now.
    public var seen: Bool
    /// DeleteVpcEndpoints was accepted now.
    public var deleteRequested: Bool
    /// An event for the health log (`endpoint_created`, `endpoint_deleted`, …) when the change applies.
    public var note: EndpointNote?
    /// This generation failed: count it (once: the row leaves `from`) and wait until this time.
    public var failureNextAttempt: Date?

    public init(from: Set<EndpointRecord.State>, to: EndpointRecord.State, vpcEndpointId: String? = nil, awsState: String? = nil,
                dnsName: String? = nil, lastError: String? = nil, createAnswered: Bool = false, seen: Bool = false,
                deleteRequested: Bool = false, note: EndpointNote? = nil, failureNextAttempt: Date? = nil, vpcId: String? = nil) {
        self.from = from
        self.to = to
        self.vpcEndpointId = vpcEndpointId
        self.awsState = awsState
        self.dnsName = dnsName
        self.lastError = lastError
        self.createAnswered = createAnswered
        self.seen = seen
        self.deleteRequested = deleteRequested
        self.note = note
        self.failureNextAttempt = failureNextAttempt
        self.vpcId = vpcId
    }
}

/// A happening of an endpoint generation written to the event table with the change.
public struct EndpointNote: Sendable, Equatable {
    public var event: String
    public var detail: String
    public init(_ event: String, _ detail: String) {
        self.event = event
        self.detail = detail
    }
}

extension EndpointRecord {
    /// What `change` does to a generation that is in one of `change.from` (both stores write the result):
    /// the new state, the ids and names EC2 gave, the DNS name only while pending or available, the error
    /// until it is available, and the times of the answers.
    public mutating func apply(_ change: EndpointChange, at time: Date) {
        state = change.to
        if let id = change.vpcEndpointId { vpcEndpointId = id }
        if vpcId == nil, let vpc = change.vpcId { vpcId = vpc }
        if let aws = change.awsState { awsState = aws }
        if change.to == .available || change.dnsName != nil { dnsName = change.dnsName ?? dnsName }
        if change.to != .available && change.to != .pending { dnsName = nil }
        if change.lastError != nil || change.to == .available { lastError = change.lastError }
        if change.createAnswered { createAnsweredAt = time }
        if change.seen { lastSeenAt = time }
        if change.deleteRequested { deleteRequestedAt = time }
        updatedAt = time
    }
}
