import Foundation

/// A resource share invitation's status (botocore `ResourceShareInvitationStatus`), compared
/// case-insensitively; a value this build does not know is kept verbatim, never crashed on.
public enum ResourceShareInvitationStatus: Sendable, Hashable, CustomStringConvertible {
    case pending, accepted, rejected, expired
    case unknown(String)

    public init(_ raw: String) {
        switch raw.uppercased() {
        case "PENDING": self = .pending
        case "ACCEPTED": self = .accepted
        case "REJECTED": self = .rejected
        case "EXPIRED": self = .expired
        default: self = .unknown(raw)
        }
    }

    public var description: String {
        switch self {
        case .pending: "PENDING"
        case .accepted: "ACCEPTED"
        case .rejected: "REJECTED"
        case .expired: "EXPIRED"
        case .unknown(let raw): raw
        }
    }
}

/// A shared resource's status (botocore `ResourceStatus`); unknown values kept verbatim.
public enum RAMResourceStatus: Sendable, Hashable, CustomStringConvertible {
    case available, zonalResourceInaccessible, limitExceeded, unavailable, pending
    case unknown(String)

    public init(_ raw: String) {
        switch raw.uppercased() {
        case "AVAILABLE": self = .available
        case "ZONAL_RESOURCE_INACCESSIBLE": self = .zonalResourceInaccessible
        case "LIMIT_EXCEEDED": self = .limitExceeded
        case "UNAVAILABLE": self = .unavailable
        case "PENDING": self = .pending
        default: self = .unknown(raw)
        }
    }

    public var description: String {
        switch self {
        case .available: "AVAILABLE"
        case .zonalResourceInaccessible: "ZONAL_RESOURCE_INACCESSIBLE"
        case .limitExceeded: "LIMIT_EXCEEDED"
        case .unavailable: "UNAVAILABLE"
        case .pending: "PENDING"
        case .unknown(let raw): raw
        }
    }
}

/// A RAM resource share invitation (GetResourceShareInvitations, Accept/Reject…).
public struct ResourceShareInvitation: Sendable, Equatable, Decodable {
    public var resourceShareInvitationArn: String
    public var resourceShareName: String?
    public var resourceShareArn: String
    public var senderAccountId: String
    public var receiverAccountId: String?
    public var invitationTimestamp: Date?
    /// `PENDING`, `ACCEPTED`, `REJECTED`, `EXPIRED` (kept verbatim; compare with `isPending`).
    public var status: String

    /// `status`, typed.
    public var invitationStatus: ResourceShareInvitationStatus { ResourceShareInvitationStatus(status) }

    public var isPending: Bool { invitationStatus == .pending }

    public init(resourceShareInvitationArn: String, resourceShareName: String?, resourceShareArn: String,
                senderAccountId: String, receiverAccountId: String?, invitationTimestamp: Date?, status: String) {
        self.resourceShareInvitationArn = resourceShareInvitationArn
        self.resourceShareName = resourceShareName
        self.resourceShareArn = resourceShareArn
        self.senderAccountId = senderAccountId
        self.receiverAccountId = receiverAccountId
        self.invitationTimestamp = invitationTimestamp
        self.status = status
    }
}

/// A shared resource as RAM lists it (ListPendingInvitationResources, ListResources).
public struct RAMResource: Sendable, Equatable, Decodable {
    public var arn: String
    /// e.g. `vpc-lattice:ResourceConfiguration` (compare case-insensitively).
    public var type: String
    public var resourceShareArn: String?
    /// `AVAILABLE`, `ZONAL_RESOURCE_INACCESSIBLE`, `LIMIT_EXCEEDED`, `UNAVAILABLE`, `PENDING`.
    public var status: String?
    public var statusMessage: String?

    public static let resourceConfigurationType = "vpc-lattice:ResourceConfiguration"

    public var isResourceConfiguration: Bool {
        type.caseInsensitiveCompare(Self.resourceConfigurationType) == .orderedSame
    }

    /// `status`, typed (nil when RAM gave none).
    public var resourceStatus: RAMResourceStatus? { status.map(RAMResourceStatus.init) }

    public var isAvailable: Bool { resourceStatus == .available }

    public init(arn: String, type: String, resourceShareArn: String?, status: String?, statusMessage: String? = nil) {
        self.arn = arn
        self.type = type
        self.resourceShareArn = resourceShareArn
        self.status = status
        self.statusMessage = statusMessage
    }

    private enum CodingKeys: String, CodingKey {
        case arn, type, resourceShareArn, status, statusMessage
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        // A listing of 10,000 resource configurations holds the constant, not 10,000 decoded copies of it.
        self.init(arn: try container.decode(String.self, forKey: .arn),
                  type: type == Self.resourceConfigurationType ? Self.resourceConfigurationType : type,
                  resourceShareArn: try container.decodeIfPresent(String.self, forKey: .resourceShareArn),
                  status: try container.decodeIfPresent(String.self, forKey: .status),
                  statusMessage: try container.decodeIfPresent(String.self, forKey: .statusMessage))
    }
}

/// A resource share (GetResourceShares).
public struct ResourceShare: Sendable, Equatable, Decodable {
    public var resourceShareArn: String
    public var name: String?
    public var owningAccountId: String?
    /// `PENDING`, `ACTIVE`, `FAILED`, `DELETING`, `DELETED`.
    public var status: String?
}

/// Whose shares to list.
public enum ResourceOwner: String, Sendable, Encodable {
    case selfAccount = "SELF"
    case otherAccounts = "OTHER-ACCOUNTS"
}
