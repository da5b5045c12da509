import Foundation

/// A registered customer: the resource configuration an SE told us to expect, and where it stands.
public struct Customer: Codable, Sendable, Equatable {
    public var id: Int64?
    public var name: String
    public var resourceConfigurationArn: String
    public var partition: String
    public var region: String
    public var accountId: String
    public var port: Int
    public var note: String?
    public var state: CustomerState
    /// Why the customer is in its state, in words for on-call (AWS's reason, a refusal, …).
    public var stateDetail: String?
    /// What to do about it, when there is something to do.
    public var hint: String?
    /// `customer remove --keep-endpoint`: the daemon forgets the customer but leaves its endpoint.
    public var keepEndpoint: Bool
    public var resourceShareArn: String?
    public var invitationArn: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var stateChangedAt: Date
    public var removedAt: Date?
    /// Consecutive endpoints that ended Failed/Rejected/Expired; reset when one becomes Available.
    public var endpointFailures: Int
    /// When the next endpoint generation may be created after a failure (exponential backoff).
    public var nextEndpointAttemptAt: Date?
    /// The probe's optional login: user name, and the path of a file holding the password.
    public var probeUser: String? = nil
    public var probePasswordFile: String? = nil
    public var probeDatabase: String? = nil
    /// Who made the last state change: `daemon` or `cli:<user>` (the store's lifecycle trigger reads it).
    public var stateActor: String = "daemon"

    public init(id: Int64?, name: String, resourceConfigurationArn: String, partition: String, region: String, accountId: String,
                port: Int, note: String?, state: CustomerState, stateDetail: String?, hint: String?, keepEndpoint: Bool,
                resourceShareArn: String?, invitationArn: String?, createdAt: Date, updatedAt: Date, stateChangedAt: Date,
                removedAt: Date?, endpointFailures: Int, nextEndpointAttemptAt: Date?) {
        self.id = id
        self.name = name
        self.resourceConfigurationArn = resourceConfigurationArn
        self.partition = partition
        self.region = region
        self.accountId = accountId
        self.port = port
        self.note = note
        self.state = state
        self.stateDetail = stateDetail
        self.hint = hint
        self.keepEndpoint = keepEndpoint
        self.resourceShareArn = resourceShareArn
        self.invitationArn = invitationArn
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.stateChangedAt = stateChangedAt
        self.removedAt = removedAt
        self.endpointFailures = endpointFailures
        self.nextEndpointAttemptAt = nextEndpointAttemptAt
    }

}
