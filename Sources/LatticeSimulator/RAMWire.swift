import Foundation

/// RAM's rest-json request and response shapes (botocore `ram/2018-01-04`), as far as the simulator speaks them.
enum RAMWire {
    struct GetResourceShareInvitationsRequest: Decodable {
        var resourceShareInvitationArns: [String]?
        var resourceShareArns: [String]?
        var nextToken: String?
        var maxResults: Int?
    }

    struct ListPendingInvitationResourcesRequest: Decodable {
        var resourceShareInvitationArn: String?
        var nextToken: String?
        var maxResults: Int?
        var resourceRegionScope: String?
    }

    struct InvitationResponseRequest: Decodable {
        var resourceShareInvitationArn: String?
        var clientToken: String?
    }

    struct GetResourceSharesRequest: Decodable {
        var resourceOwner: String?
        var resourceShareArns: [String]?
        var resourceShareStatus: String?
        var name: String?
        var nextToken: String?
        var maxResults: Int?
    }

    struct ListResourcesRequest: Decodable {
        var resourceOwner: String?
        var resourceType: String?
        var resourceArns: [String]?
        var resourceShareArns: [String]?
        var nextToken: String?
        var maxResults: Int?
        var resourceRegionScope: String?
    }

    struct Invitation: Encodable {
        var resourceShareInvitationArn: String
        var resourceShareName: String
        var resourceShareArn: String
        var senderAccountId: String
        var receiverAccountId: String
        var invitationTimestamp: Date
        var status: String

        init(_ invitation: SimulatedInvitation) {
            resourceShareInvitationArn = invitation.arn
            resourceShareName = invitation.resourceShareName
            resourceShareArn = invitation.resourceShareArn
            senderAccountId = invitation.senderAccountId
            receiverAccountId = invitation.receiverAccountId
            invitationTimestamp = invitation.timestamp
            status = invitation.status.rawValue
        }
    }

    struct Resource: Encodable {
        var arn: String
        var type: String
        var resourceShareArn: String
        var status: String
        var creationTime: Date
        var lastUpdatedTime: Date
        var resourceRegionScope: String

        init(_ listed: ListedResource) {
            arn = listed.resource.arn
            type = listed.resource.type
            resourceShareArn = listed.resourceShareArn
            status = listed.status
            creationTime = listed.createdAt
            lastUpdatedTime = listed.updatedAt
            resourceRegionScope = listed.resource.regionScope
        }
    }

    struct ResourceShare: Encodable {
        var resourceShareArn: String
        var name: String
        var owningAccountId: String
        var allowExternalPrincipals: Bool
        var status: String
        var creationTime: Date
        var lastUpdatedTime: Date
        var featureSet: String
        var tags: [String]

        init(_ share: SimulatedShare) {
            resourceShareArn = share.arn
            name = share.name
            owningAccountId = share.owningAccountId
            allowExternalPrincipals = share.origin != .organization
            status = "ACTIVE"
            creationTime = share.createdAt
            lastUpdatedTime = share.activatedAt ?? share.createdAt
            featureSet = "STANDARD"
            tags = []
        }
    }

    struct InvitationsPage: Encodable {
        var resourceShareInvitations: [Invitation]
        var nextToken: String?
    }

    struct ResourcesPage: Encodable {
        var resources: [Resource]
        var nextToken: String?
    }

    struct SharesPage: Encodable {
        var resourceShares: [ResourceShare]
        var nextToken: String?
    }

    struct InvitationAnswer: Encodable {
        var resourceShareInvitation: Invitation
        var clientToken: String?
    }
}
