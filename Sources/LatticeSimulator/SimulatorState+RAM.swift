import Foundation

/// A resource as ListResources reports it: which share, and whether it is usable yet.
struct ListedResource: Sendable, Equatable {
    var resource: SharedResource
    var resourceShareArn: String
    /// `AVAILABLE` or `PENDING`.
    var status: String
    var createdAt: Date
    var updatedAt: Date
}

/// Whether a resource can back a new endpoint.
enum ResourceVisibility: Sendable, Equatable {
    case available
    case pending
    case notShared
}

extension SimulatorState {
    // MARK: Test-facing changes

    mutating func addInvitation(sender: String, shareName: String, resources: [SharedResource], region: String?,
                                now: Date) -> SimulatedInvitation {
        let region = region ?? self.region
        let shareArn = "arn:aws:ram:\(region):\(sender):resource-share/\(UUID().uuidString.lowercased())"
        let invitation = SimulatedInvitation(
            arn: "arn:aws:ram:\(region):\(sender):resource-share-invitation/\(UUID().uuidString.lowercased())",
            resourceShareArn: shareArn, resourceShareName: shareName, senderAccountId: sender,
            receiverAccountId: accountId, region: region, timestamp: now, status: .pending, isExpired: false,
            resources: resources)
        invitations.append(invitation)
        shares.append(SimulatedShare(arn: shareArn, name: shareName, owningAccountId: sender, region: region,
                                     origin: .invitation(invitation.arn), status: .awaitingAcceptance,
                                     resources: resources, createdAt: now, activatedAt: nil,
                                     listResourcesCallsSinceActive: 0))
        registerResourceConfigurations(resources, now: now)
        return invitation
    }

    mutating func addOrganizationShare(owner: String, shareName: String, resources: [SharedResource], region: String?,
                                       now: Date) -> SimulatedShare {
        let region = region ?? self.region
        let share = SimulatedShare(
            arn: "arn:aws:ram:\(region):\(owner):resource-share/\(UUID().uuidString.lowercased())",
            name: shareName, owningAccountId: owner, region: region, origin: .organization, status: .active,
            resources: resources, createdAt: now, activatedAt: now, listResourcesCallsSinceActive: 0)
        shares.append(share)
        registerResourceConfigurations(resources, now: now)
        return share
    }

    /// Gives every shared resource configuration a default description unless a test set one.
    mutating func registerResourceConfigurations(_ resources: [SharedResource], now: Date) {
        for resource in resources where resource.type.lowercased() == SharedResource.resourceConfigurationType.lowercased() {
            if resourceConfigurations[resource.arn] == nil {
                resourceConfigurations[resource.arn] = SimulatedResourceConfiguration(arn: resource.arn, createdAt: now)
            }
        }
    }

    /// Marks an invitation expired; with `stillReadsPending` RAM keeps answering `PENDING` for it.
    mutating func expireInvitation(_ arn: String, stillReadsPending: Bool) -> Bool {
        guard let index = invitations.firstIndex(where: { $0.arn == arn }) else { return false }
        invitations[index].isExpired = true
        if !stillReadsPending { invitations[index].status = .expired }
        return true
    }

    /// The owner deletes the share: its resources vanish, pending invitations to it disappear, and the
    /// endpoints on its resources react as `effect` says.
    mutating func withdrawShare(_ shareArn: String, effect: ShareWithdrawalEffect, now: Date) -> Bool {
        guard let index = shares.firstIndex(where: { $0.arn == shareArn }) else { return false }
        shares[index].status = .withdrawn
        invitations.removeAll { $0.resourceShareArn == shareArn && $0.status == .pending }
        let withdrawn = Set(shares[index].resources.map(\.arn))
        for endpointIndex in endpoints.indices where withdrawn.contains(endpoints[endpointIndex].resourceConfigurationArn) {
            // Another active share may still carry the same resource.
            guard resourceVisibility(endpoints[endpointIndex].resourceConfigurationArn) == .notShared else { continue }
            switch effect {
            case .associationsInaccessible:
                endpoints[endpointIndex].isAssociationAccessible = false
            case .endpointsFail:
                guard [.pending, .available].contains(endpoints[endpointIndex].state) else { continue }
                setState(.failed, ofEndpointAt: endpointIndex)
                endpoints[endpointIndex].lastError = SimulatedEndpoint.LastError(
                    code: "ResourceConfigurationNotShared",
                    message: "The resource configuration \(endpoints[endpointIndex].resourceConfigurationArn) is no longer shared with this account")
                endpoints[endpointIndex].failureReason = endpoints[endpointIndex].lastError?.message
            case .none:
                break
            }
        }
        return true
    }

    // MARK: Operations

    /// GetResourceShareInvitations before paging: filters are ANDed; an unknown ARN in the filter is an error.
    func resourceShareInvitations(invitationArns: [String]?, shareArns: [String]?) throws(SimulatorAPIError) -> [SimulatedInvitation] {
        for arn in invitationArns ?? [] {
            try Self.requireArn(arn, resource: "resource-share-invitation")
            guard invitations.contains(where: { $0.arn == arn }) else { throw Self.invitationNotFound(arn) }
        }
        for arn in shareArns ?? [] {
            try Self.requireArn(arn, resource: "resource-share")
        }
        return invitations.filter { invitation in
            (invitationArns?.isEmpty ?? true || invitationArns!.contains(invitation.arn))
                && (shareArns?.isEmpty ?? true || shareArns!.contains(invitation.resourceShareArn))
        }
    }

    /// ListPendingInvitationResources before paging.
    func pendingInvitationResources(invitationArn: String?) throws(SimulatorAPIError) -> [ListedResource] {
        guard let invitationArn, !invitationArn.isEmpty else {
            throw SimulatorAPIError(400, "MissingRequiredParameterException", "resourceShareInvitationArn is required.")
        }
        let invitation = try pendingInvitation(invitationArn)
        return invitation.resources.map {
            ListedResource(resource: $0, resourceShareArn: invitation.resourceShareArn, status: "AVAILABLE",
                           createdAt: invitation.timestamp, updatedAt: invitation.timestamp)
        }
    }

    /// AcceptResourceShareInvitation / RejectResourceShareInvitation, idempotent per client token.
    mutating func respondToInvitation(arn: String?, accept: Bool, clientToken: String?,
                                      now: Date) throws(SimulatorAPIError) -> SimulatedInvitation {
        guard let arn, !arn.isEmpty else {
            throw SimulatorAPIError(400, "MissingRequiredParameterException", "resourceShareInvitationArn is required.")
        }
        try Self.requireArn(arn, resource: "resource-share-invitation")
        let tokenKey = clientToken.map { "\(accept ? "Accept" : "Reject"):\($0)" }
        if let tokenKey, let earlier = invitationClientTokens[tokenKey] {
            guard earlier.arn == arn else {
                throw SimulatorAPIError(400, "IdempotentParameterMismatchException",
                                        "The client token \(clientToken!) was already used with different parameters.")
            }
            return earlier.answer
        }
        let invitation = try pendingInvitation(arn)
        guard let index = invitations.firstIndex(where: { $0.arn == invitation.arn }) else { throw Self.invitationNotFound(arn) }
        invitations[index].status = accept ? .accepted : .rejected
        if let shareIndex = shares.firstIndex(where: { $0.arn == invitation.resourceShareArn }) {
            shares[shareIndex].status = accept ? .active : .rejected
            shares[shareIndex].activatedAt = accept ? now : nil
            shares[shareIndex].listResourcesCallsSinceActive = 0
        }
        if let tokenKey { invitationClientTokens[tokenKey] = (arn, invitations[index]) }
        return invitations[index]
    }

    /// GetResourceShares before paging.
    func resourceShares(owner: String?, shareArns: [String]?, status: String?, name: String?) throws(SimulatorAPIError) -> [SimulatedShare] {
        try Self.requireOwner(owner)
        for arn in shareArns ?? [] {
            try Self.requireArn(arn, resource: "resource-share")
        }
        if let status, !["PENDING", "ACTIVE", "FAILED", "DELETING", "DELETED"].contains(status) {
            throw SimulatorAPIError(400, "InvalidParameterException", "resourceShareStatus '\(status)' is not valid.")
        }
        guard owner == "OTHER-ACCOUNTS" else { return [] }
        return shares.filter { share in
            share.status == .active
                && (shareArns?.isEmpty ?? true || shareArns!.contains(share.arn))
                && (status == nil || status == "ACTIVE")
                && (name == nil || name == share.name)
        }
    }

    /// ListResources before paging; every call counts towards resources becoming `AVAILABLE`.
    mutating func listResources(owner: String?, resourceType: String?, resourceArns: [String]?,
                                shareArns: [String]?) throws(SimulatorAPIError) -> [ListedResource] {
        try Self.requireOwner(owner)
        if let resourceType, !resourceType.contains(":") {
            throw SimulatorAPIError(400, "InvalidResourceTypeException", "The specified resource type '\(resourceType)' is not valid.")
        }
        for arn in shareArns ?? [] {
            try Self.requireArn(arn, resource: "resource-share")
        }
        for arn in resourceArns ?? [] where !arn.hasPrefix("arn:") {
            throw SimulatorAPIError(400, "MalformedArnException", "The format of ARN '\(arn)' is not valid.")
        }
        guard owner == "OTHER-ACCOUNTS" else { return [] }
        // A listing (no resourceArns) may leave out what is shared: each call counts against a blink.
        let listing = resourceArns?.isEmpty ?? true
        let blinking = listing ? Set(shares.flatMap { $0.resources.map(\.arn) }.filter { consumeBlink($0) }) : []
        var listed: [ListedResource] = []
        for share in shares where share.status == .active {
            guard shareArns?.isEmpty ?? true || shareArns!.contains(share.arn) else { continue }
            let available = share.listResourcesCallsSinceActive >= provisioning.resourcesAvailableAfterListCalls
            for resource in share.resources {
                guard resourceType == nil || resourceType!.lowercased() == resource.type.lowercased(),
                      resourceArns?.isEmpty ?? true || resourceArns!.contains(resource.arn), !blinking.contains(resource.arn) else { continue }
                listed.append(ListedResource(resource: resource, resourceShareArn: share.arn,
                                             status: available ? "AVAILABLE" : "PENDING",
                                             createdAt: share.activatedAt ?? share.createdAt,
                                             updatedAt: share.activatedAt ?? share.createdAt))
            }
        }
        for index in shares.indices where shares[index].status == .active {
            shares[index].listResourcesCallsSinceActive += 1
        }
        return listed
    }

    /// Whether `resourceArn` is in an active share, and whether it is `AVAILABLE` there yet.
    func resourceVisibility(_ resourceArn: String) -> ResourceVisibility {
        var visibility = ResourceVisibility.notShared
        for share in shares where share.status == .active && share.resources.contains(where: { $0.arn == resourceArn }) {
            if share.listResourcesCallsSinceActive >= provisioning.resourcesAvailableAfterListCalls { return .available }
            visibility = .pending
        }
        return visibility
    }

    // MARK: Validation

    /// The invitation if it can still be answered, else the error RAM gives.
    private func pendingInvitation(_ arn: String) throws(SimulatorAPIError) -> SimulatedInvitation {
        try Self.requireArn(arn, resource: "resource-share-invitation")
        guard let invitation = invitations.first(where: { $0.arn == arn }) else { throw Self.invitationNotFound(arn) }
        if invitation.isExpired || invitation.status == .expired {
            throw SimulatorAPIError(400, "ResourceShareInvitationExpiredException",
                                    "The invitation \(arn) is expired. Ask the sender to share the resource again.")
        }
        switch invitation.status {
        case .accepted:
            throw SimulatorAPIError(400, "ResourceShareInvitationAlreadyAcceptedException",
                                    "The invitation \(arn) has already been accepted.")
        case .rejected:
            throw SimulatorAPIError(400, "ResourceShareInvitationAlreadyRejectedException",
                                    "The invitation \(arn) has already been rejected.")
        case .pending, .expired:
            return invitation
        }
    }

    static func invitationNotFound(_ arn: String) -> SimulatorAPIError {
        SimulatorAPIError(400, "ResourceShareInvitationArnNotFoundException", "ResourceShareInvitationArn \(arn) could not be found.")
    }

    /// `arn:<partition>:ram:<region>:<account>:<resource>/<id>`, else MalformedArnException.
    static func requireArn(_ arn: String, resource: String) throws(SimulatorAPIError) {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[1].hasPrefix("aws"), parts[2] == "ram",
              parts[4].count == 12, parts[4].allSatisfy(\.isNumber),
              parts[5].hasPrefix("\(resource)/"), parts[5].count > resource.count + 1 else {
            throw SimulatorAPIError(400, "MalformedArnException", "The format of ARN '\(arn)' is not valid.")
        }
    }

    static func requireOwner(_ owner: String?) throws(SimulatorAPIError) {
        guard let owner else {
            throw SimulatorAPIError(400, "MissingRequiredParameterException", "resourceOwner is required.")
        }
        guard owner == "SELF" || owner == "OTHER-ACCOUNTS" else {
            throw SimulatorAPIError(400, "InvalidParameterException",
                                    "resourceOwner must be SELF or OTHER-ACCOUNTS, not '\(owner)'.")
        }
    }
}

/// What happens to endpoints on a resource whose share is withdrawn.
public enum ShareWithdrawalEffect: String, Sendable, Equatable {
    /// The endpoint stays Available; its association reads `Inaccessible` (the likely AWS behaviour).
    case associationsInaccessible
    /// The endpoint turns Failed with a `lastError`.
    case endpointsFail
    /// Nothing visible on the endpoint.
    case none
}
