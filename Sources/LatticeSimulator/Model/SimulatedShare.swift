import Foundation

/// A resource share another account made with the simulator's account.
public struct SimulatedShare: Sendable, Hashable {
    /// How the share reached this account.
    public enum Origin: Sendable, Hashable {
        /// Through the invitation with this ARN.
        case invitation(String)
        /// Within the same AWS Organization: no invitation, the resources simply appear.
        case organization
    }

    /// Where the share stands from this account's side.
    public enum Status: String, Sendable, Hashable {
        /// Its invitation has not been accepted: invisible to GetResourceShares and ListResources.
        case awaitingAcceptance
        /// Accepted, or shared within the organization: visible, status `ACTIVE`.
        case active
        /// Its invitation was rejected.
        case rejected
        /// The owner deleted the share or removed this account from it (`withdrawShare`).
        case withdrawn
    }

    public var arn: String
    public var name: String
    public var owningAccountId: String
    public var region: String
    public var origin: Origin
    public var status: Status
    public var resources: [SharedResource]
    public var createdAt: Date
    /// When it became `active`.
    public var activatedAt: Date?
    /// ListResources calls seen since it became active; its resources read `AVAILABLE` once this reaches
    /// `ProvisioningSettings.resourcesAvailableAfterListCalls`.
    public var listResourcesCallsSinceActive: Int
}
