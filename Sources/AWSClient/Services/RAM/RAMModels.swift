import Foundation

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

    public var isPending: Bool { status.uppercased() == "PENDING" }

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

    public var isAvailable: Bool { status?.uppercased() == "AVAILABLE" }

    public init(arn: String, type: String, resourceShareArn: String?, status: String?, statusMessage: String? = nil) {
        self.arn = arn
        self.type = type
        self.resourceShareArn = resourceShareArn
        self.status = status
        self.statusMessage = statusMessage
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
