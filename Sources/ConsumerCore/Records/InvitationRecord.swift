import AWSModels
import Foundation

/// A resource share invitation we have seen, and what the daemon decided about it.
public struct InvitationRecord: Codable, Sendable, Equatable {
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
    /// RAM's status, verbatim (as stored).
    public var status: String
    /// `status`, typed: what decisions compare.
    public var invitationStatus: ResourceShareInvitationStatus {
        get { ResourceShareInvitationStatus(status) }
        set { status = newValue.description }
    }
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
