import Foundation

/// A RAM resource share invitation addressed to the simulator's account, as RAM holds it.
public struct SimulatedInvitation: Sendable, Hashable {
    /// An invitation's status as RAM reports it.
    public enum Status: String, Sendable, Hashable {
        case pending = "PENDING"
        case accepted = "ACCEPTED"
        case rejected = "REJECTED"
        case expired = "EXPIRED"
    }

    /// `arn:aws:ram:<region>:<sender>:resource-share-invitation/<uuid>`.
    public var arn: String
    /// `arn:aws:ram:<region>:<sender>:resource-share/<uuid>`.
    public var resourceShareArn: String
    public var resourceShareName: String
    public var senderAccountId: String
    public var receiverAccountId: String
    public var region: String
    public var timestamp: Date
    /// What RAM answers; an expired invitation may still read `PENDING` (see `isExpired`).
    public var status: Status
    /// Whether accepting it fails with `ResourceShareInvitationExpiredException`, whatever `status` reads.
    public var isExpired: Bool
    /// The resources the share holds.
    public var resources: [SharedResource]
}
