import Foundation
import GRDB

/// The Resource VPC endpoint we created (or adopted) for a customer, one generation at a time.
public struct EndpointRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "endpoint"

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
                createAnsweredAt: Date? = nil, lastSeenAt: Date? = nil, deleteRequestedAt: Date? = nil, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.customerId = customerId
        self.region = region
        self.clientToken = clientToken
        self.generation = generation
        self.vpcEndpointId = vpcEndpointId
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

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A resource share invitation we have seen, and what the daemon decided about it.
public struct InvitationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "invitation"

    public enum Decision: String, Codable, Sendable, CaseIterable {
        case pending
        case accepted
        case ignored
        case rejected
    }

    public enum Reason: String, Codable, Sendable, CaseIterable {
        case unregisteredResource = "unregistered_resource"
        case senderMismatch = "sender_mismatch"
        case unexpectedResourceType = "unexpected_resource_type"
        case emptyShare = "empty_share"
    }

    /// One resource listed by the invitation.
    public struct Resource: Codable, Sendable, Equatable {
        public var arn: String
        public var type: String
        public init(arn: String, type: String) {
            self.arn = arn
            self.type = type
        }
    }

    public var invitationArn: String
    public var region: String
    public var resourceShareArn: String
    public var resourceShareName: String?
    public var senderAccountId: String
    /// RAM's status, verbatim.
    public var status: String
    public var resources: [Resource]
    public var decision: Decision
    public var reason: Reason?
    /// The clientToken of our AcceptResourceShareInvitation, stored before the call.
    public var acceptClientToken: String?
    public var firstSeen: Date
    public var lastSeen: Date
    public var decidedAt: Date?

    public init(invitationArn: String, region: String, resourceShareArn: String, resourceShareName: String?,
                senderAccountId: String, status: String, resources: [Resource], decision: Decision, reason: Reason?,
                acceptClientToken: String?, firstSeen: Date, lastSeen: Date, decidedAt: Date?) {
        self.invitationArn = invitationArn
        self.region = region
        self.resourceShareArn = resourceShareArn
        self.resourceShareName = resourceShareName
        self.senderAccountId = senderAccountId
        self.status = status
        self.resources = resources
        self.decision = decision
        self.reason = reason
        self.acceptClientToken = acceptClientToken
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.decidedAt = decidedAt
    }
}

/// One lifecycle transition or notable happening for a customer; also the health log's outbox.
public struct LifecycleEvent: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "event"

    public var id: Int64?
    public var time: Date
    public var customerId: Int64?
    public var customerName: String?
    public var event: String
    public var fromState: CustomerState?
    public var toState: CustomerState?
    public var detail: String?
    /// Who made it: `daemon`, or `cli:<user>` (`LifecycleActor`).
    public var actor: String

    public init(id: Int64? = nil, time: Date, customerId: Int64?, customerName: String?, event: String,
                fromState: CustomerState?, toState: CustomerState?, detail: String?, actor: LifecycleActor) {
        self.id = id
        self.time = time
        self.customerId = customerId
        self.customerName = customerName
        self.event = event
        self.fromState = fromState
        self.toState = toState
        self.detail = detail
        self.actor = actor.description
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// The outcome of one probe of a customer's database through its endpoint.
public struct ProbeResultRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "probeResult"

    public enum Stage: String, Codable, Sendable, CaseIterable {
        case dns
        case connect
        case postgres
        case login
    }

    public var id: Int64?
    public var customerId: Int64
    public var time: Date
    public var ok: Bool
    /// The last stage attempted: where it failed, or the last one that passed.
    public var stage: Stage
    public var errorKind: String?
    public var error: String?
    public var hint: String?
    /// Milliseconds per stage, keyed by `Stage.rawValue`.
    public var latencyMs: [String: Double]
    public var vpcEndpointId: String?
    public var dnsName: String?
    public var port: Int

    public init(id: Int64?, customerId: Int64, time: Date, ok: Bool, stage: Stage, errorKind: String?, error: String?,
                hint: String?, latencyMs: [String: Double], vpcEndpointId: String?, dnsName: String?, port: Int) {
        self.id = id
        self.customerId = customerId
        self.time = time
        self.ok = ok
        self.stage = stage
        self.errorKind = errorKind
        self.error = error
        self.hint = hint
        self.latencyMs = latencyMs
        self.vpcEndpointId = vpcEndpointId
        self.dnsName = dnsName
        self.port = port
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension CustomerState: DatabaseValueConvertible {}
extension EndpointRecord.State: DatabaseValueConvertible {}
extension InvitationRecord.Decision: DatabaseValueConvertible {}
extension InvitationRecord.Reason: DatabaseValueConvertible {}
extension ProbeResultRecord.Stage: DatabaseValueConvertible {}
