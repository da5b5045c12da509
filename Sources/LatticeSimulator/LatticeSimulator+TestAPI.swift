import Foundation

/// What tests, the benchmark and the demo use to arrange the simulated AWS and to look at it.
extension LatticeSimulator {
    // MARK: RAM

    /// Sends the simulator's account an invitation to a new share of `resources` from `sender`, and returns it
    /// (`arn` and `resourceShareArn` are what RAM will report). `region` defaults to the configuration's.
    @discardableResult
    public func addInvitation(sender: String, shareName: String, resources: [SharedResource],
                              region: String? = nil) -> SimulatedInvitation {
        let now = configuration.now()
        return state.withLock { $0.addInvitation(sender: sender, shareName: shareName, resources: resources, region: region, now: now) }
    }

    /// Shares `resources` from `owner` within the same AWS Organization: no invitation, the resources
    /// appear in ListResources(OTHER-ACCOUNTS) at once. Returns the share.
    @discardableResult
    public func addOrganizationShare(owner: String, shareName: String, resources: [SharedResource],
                                     region: String? = nil) -> SimulatedShare {
        let now = configuration.now()
        return state.withLock { $0.addOrganizationShare(owner: owner, shareName: shareName, resources: resources, region: region, now: now) }
    }

    /// Lets an invitation expire. With `stillReadsPending` RAM keeps reporting it `PENDING` (as AWS may);
    /// either way accepting it fails with `ResourceShareInvitationExpiredException`. Returns false for an unknown ARN.
    @discardableResult
    public func expireInvitation(_ invitationArn: String, stillReadsPending: Bool = false) -> Bool {
        state.withLock { $0.expireInvitation(invitationArn, stillReadsPending: stillReadsPending) }
    }

    /// Drops an invitation from GetResourceShareInvitations, as RAM does with answered ones after about 7 days.
    public func forgetInvitation(_ invitationArn: String) {
        state.withLock { $0.invitations.removeAll { $0.arn == invitationArn } }
    }

    /// Drops every answered invitation (accepted, rejected or expired) at once, as if about 7 days had
    /// passed since the last answer. Returns how many were dropped.
    @discardableResult
    public func ageAnsweredInvitations() -> Int {
        state.withLock { state in
            let before = state.invitations.count
            state.invitations.removeAll { $0.status != .pending }
            return before - state.invitations.count
        }
    }

    /// The owner deletes the share (or removes this account from it): its resources vanish from
    /// ListResources and GetResourceShares, pending invitations to it disappear, and endpoints on its
    /// resources react as `effect` says. Returns false for an unknown share.
    @discardableResult
    public func withdrawShare(_ resourceShareArn: String,
                              effect: ShareWithdrawalEffect = .associationsInaccessible) -> Bool {
        let now = configuration.now()
        return state.withLock { $0.withdrawShare(resourceShareArn, effect: effect, now: now) }
    }

    /// Every invitation RAM holds for this account, oldest first.
    public var invitations: [SimulatedInvitation] { state.withLock { $0.invitations } }

    /// Every share made with this account (whatever its status), oldest first.
    public var shares: [SimulatedShare] { state.withLock { $0.shares } }

    // MARK: EC2

    /// Every endpoint ever created, oldest first; deleted ones stay with state `.deleted`.
    public var endpoints: [SimulatedEndpoint] {
        let now = configuration.now()
        return state.withLock { state in
            state.refreshTimedStates(now: now)
            return state.endpoints
        }
    }

    /// The endpoint with `id`, if it was ever created.
    public func endpoint(_ id: String) -> SimulatedEndpoint? {
        endpoints.first { $0.id == id }
    }

    /// Someone deletes the endpoint outside the daemon (console, another tool): it reads `deleting` and
    /// then vanishes. Returns false for an unknown or already deleted endpoint.
    @discardableResult
    public func deleteEndpoint(_ id: String) -> Bool {
        state.withLock { state in
            guard let index = state.endpoints.firstIndex(where: { $0.id == id && $0.state != .deleted }) else { return false }
            state.startDeleting(at: index)
            return true
        }
    }

    /// EC2's and RAM's listings are eventually consistent in both directions: the next `listings` listings
    /// (DescribeVpcEndpoints without ids, every page of it; ListResources without resourceArns) leave out
    /// each of `ids` (endpoint ids or resource ARNs) although it exists. Lookups by id still find it.
    public func hideFromListings(_ ids: [String], listings: Int = 1) {
        state.withLock { state in for id in ids { state.listingBlinks[id] = max(0, listings) } }
    }

    /// How many more listings leave `id` out.
    public func listingsHiding(_ id: String) -> Int {
        state.withLock { $0.listingBlinks[id] ?? 0 }
    }

    /// How many Resource endpoints `vpcId` may hold: CreateVpcEndpoint answers `VpcEndpointLimitExceeded` past
    /// it (nil: no limit, the default). Lowering it below what exists behaves as AWS does: nothing is deleted,
    /// new endpoints are refused.
    public func setVpcEndpointLimit(_ limit: Int?, vpcId: String) {
        state.withLock { $0.vpcEndpointLimits[vpcId] = limit }
    }

    /// How many endpoints `subnetId` has addresses for (each endpoint takes one in each of its subnets):
    /// CreateVpcEndpoint answers `InsufficientFreeAddressesInSubnet` past it (nil: plenty, the default).
    public func setSubnetAddresses(_ addresses: Int?, subnetId: String) {
        state.withLock { $0.subnetAddresses[subnetId] = addresses }
    }

    /// The applied value Service Quotas' GetServiceQuota answers for `service`/`quotaCode` (nil:
    /// NoSuchResourceException). Default: 200 for `vpc` / `L-CA6CC422`.
    public func setServiceQuota(_ value: Double?, service: String = "vpc", quotaCode: String = "L-CA6CC422") {
        state.withLock { $0.serviceQuotas["\(service)/\(quotaCode)"] = value }
    }

    /// GetServiceQuota answers AccessDeniedException (a role without servicequotas:GetServiceQuota).
    public func denyServiceQuotas(_ denied: Bool = true) {
        state.withLock { $0.serviceQuotasAccessDenied = denied }
    }

    /// EC2 holds the deletion of this endpoint: once deleted (by us or by hand) it reads `deleting` until
    /// `finishDeleting` (as an endpoint whose network interfaces take long to go does).
    public func holdDeleting(_ id: String) {
        state.withLock { _ = $0.heldDeleting.insert(id) }
    }

    /// Lets a held deletion finish: the endpoint vanishes at the next describe (or at once without describe steps).
    public func finishDeleting(_ id: String) {
        state.withLock { _ = $0.heldDeleting.remove(id) }
    }

    /// The endpoint fails: state `failed` with `lastError` {code, message} and `failureReason` message.
    @discardableResult
    public func failEndpoint(_ id: String, code: String, message: String) -> Bool {
        state.withLock { state in
            guard let index = state.endpoints.firstIndex(where: { $0.id == id && $0.state != .deleted }) else { return false }
            state.setState(.failed, ofEndpointAt: index)
            state.endpoints[index].lastError = SimulatedEndpoint.LastError(code: code, message: message)
            state.endpoints[index].failureReason = message
            return true
        }
    }

    /// Makes a pending endpoint available now, whatever the provisioning says.
    @discardableResult
    public func makeEndpointAvailable(_ id: String) -> Bool {
        state.withLock { state in
            guard let index = state.endpoints.firstIndex(where: { $0.id == id && $0.state == .pending }) else { return false }
            state.setState(.available, ofEndpointAt: index)
            return true
        }
    }

    /// The DNS names endpoint associations report for `resourceArn`: `dnsName` replaces the generated
    /// `dnsEntry` name (e.g. `localhost`, or a name that must not resolve), `privateDNSName` is reported
    /// as `privateDnsEntry` on endpoints with private DNS enabled. Applies to existing endpoints too.
    public func setAssociationDNSName(_ dnsName: String?, privateDNSName: String? = nil, forResource resourceArn: String) {
        state.withLock {
            $0.associationDNSNames[resourceArn] = AssociationDNSName(dnsName: dnsName, privateDNSName: privateDNSName)
        }
    }

    /// Makes an endpoint for `resourceArn` report these associations (in this order) instead of its one
    /// default: a group configuration's children, inaccessible ones, several of them.
    public func setAssociations(_ associations: [SimulatedAssociation], forResource resourceArn: String) {
        state.withLock { $0.extraAssociations[resourceArn] = associations }
    }

    /// The DNS name an association with `resourceArn` would report now for endpoint `id`.
    public func associationDNSName(endpoint id: String) -> String? {
        state.withLock { state in
            state.endpoints.first { $0.id == id }.map { state.association(of: $0).dnsName }
        }
    }

    // MARK: VPC Lattice

    /// Describes a resource configuration for GetResourceConfiguration (replacing the default one every
    /// shared resource configuration gets: a DNS resource on port 5432, readable).
    public func setResourceConfiguration(_ configuration: SimulatedResourceConfiguration) {
        state.withLock { $0.resourceConfigurations[configuration.arn] = configuration }
    }

    /// The description GetResourceConfiguration gives for `arn`, if any.
    public func resourceConfiguration(_ arn: String) -> SimulatedResourceConfiguration? {
        state.withLock { $0.resourceConfigurations[arn] }
    }

    // MARK: Behaviour

    /// The provisioning in force.
    public var provisioning: ProvisioningSettings { state.withLock { $0.provisioning } }

    /// Changes how fast endpoints and resources become usable, and how pages and states look, from now on.
    public func setProvisioning(_ provisioning: ProvisioningSettings) {
        state.withLock { $0.provisioning = provisioning }
    }

    /// Adds a fault; faults apply in the order they were injected.
    public func inject(_ fault: SimulatorFault) {
        state.withLock { $0.faults.append(ActiveFault(fault: fault)) }
    }

    /// Removes every fault.
    public func clearFaults() {
        state.withLock { $0.faults.removeAll() }
    }

    /// How many times each injected fault fired, in injection order.
    public var faultFirings: [Int] { state.withLock { $0.faults.map(\.fired) } }
}
