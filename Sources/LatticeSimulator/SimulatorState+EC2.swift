import Foundation

/// An endpoint association as DescribeVpcEndpointAssociations reports it.
struct AssociationView: Sendable, Equatable {
    var id: String
    var vpcEndpointId: String
    var resourceArn: String
    var groupArn: String? = nil
    var accessibility: String
    var failureCode: String?
    var failureReason: String?
    var dnsName: String
    var hostedZoneId: String
    var privateDNSName: String?
}

/// An item DeleteVpcEndpoints could not delete.
struct UnsuccessfulItem: Sendable, Equatable {
    var resourceId: String
    var code: String
    var message: String
}

extension SimulatorState {
    static let hostedZoneId = "Z03864281F6OXCK0U6JJM"
    static let describeEndpointsFilters: Set<String> = [
        "vpc-endpoint-id", "vpc-endpoint-type", "vpc-endpoint-state", "vpc-id", "tag-key",
        "resource-configuration-arn", "service-name", "ip-address-type",
    ]
    static let describeAssociationsFilters: Set<String> = [
        "vpc-endpoint-id", "associated-resource-accessibility", "association-id", "associated-resource-id",
    ]

    // MARK: CreateVpcEndpoint

    /// Creates a Resource endpoint, or returns the one an earlier call with the same ClientToken created.
    mutating func createVpcEndpoint(_ input: CreateVpcEndpointInput, clientToken: String?,
                                    now: Date) throws(SimulatorAPIError) -> SimulatedEndpoint {
        refreshTimedStates(now: now)
        if let clientToken, let earlier = endpointClientTokens[clientToken] {
            guard earlier.input == input else {
                throw SimulatorAPIError(400, "IdempotentParameterMismatch",
                                        "The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.")
            }
            if let endpoint = endpoints.first(where: { $0.id == earlier.endpointId }) { return endpoint }
        }
        switch resourceVisibility(input.resourceConfigurationArn) {
        case .available:
            break
        case .pending:
            throw SimulatorAPIError(400, "InvalidParameterValue",
                                    "The resource configuration \(input.resourceConfigurationArn) is not yet available to this account.")
        case .notShared:
            throw SimulatorAPIError(400, "InvalidParameterValue",
                                    "The resource configuration \(input.resourceConfigurationArn) does not exist or is not shared with this account.")
        }
        // Capacity: the VPC's endpoint quota, then each subnet's free addresses (an endpoint takes one in each).
        let live = endpoints.filter { $0.state != .deleted }
        if let limit = vpcEndpointLimits[input.vpcId], live.filter({ $0.vpcId == input.vpcId }).count >= limit {
            throw SimulatorAPIError(400, "VpcEndpointLimitExceeded",
                                    "The maximum number of VPC endpoints has been reached in \(input.vpcId) (\(limit)).")
        }
        for subnet in input.subnetIds {
            if let addresses = subnetAddresses[subnet], live.filter({ $0.subnetIds.contains(subnet) }).count >= addresses {
                throw SimulatorAPIError(400, "InsufficientFreeAddressesInSubnet",
                                        "There are not enough free addresses in subnet '\(subnet)' to satisfy the requested number of instances.")
            }
        }
        let id = SimulatorIdentifiers.make("vpce")
        let rcfg = SimulatedResourceConfiguration.id(fromArn: input.resourceConfigurationArn)
        var tags: [String: String] = [:]
        for tag in input.tags { tags[tag.key] = tag.value }
        var endpoint = SimulatedEndpoint(
            id: id, resourceConfigurationArn: input.resourceConfigurationArn, vpcId: input.vpcId,
            subnetIds: input.subnetIds, securityGroupIds: input.securityGroupIds, ipAddressType: input.ipAddressType,
            privateDnsEnabled: input.privateDnsEnabled, tags: tags, clientToken: clientToken,
            state: provisioning.endpoints == .instant ? .available : .pending, createdAt: now,
            lastError: nil, failureReason: nil,
            networkInterfaceIds: input.subnetIds.map { _ in SimulatorIdentifiers.make("eni") },
            associationId: SimulatorIdentifiers.make("vpce-rsc-asc"),
            defaultDNSName: "\(id).\(rcfg).\(SimulatorIdentifiers.hex(8)).vpc-lattice-rsc.\(region).on.aws",
            isAssociationAccessible: true, describesInCurrentState: 0)
        endpoint.unlistedDescribes = provisioning.listingLagDescribes
        endpoints.append(endpoint)
        if let clientToken { endpointClientTokens[clientToken] = (id, input) }
        return endpoint
    }

    // MARK: DescribeVpcEndpoints

    /// One page of DescribeVpcEndpoints; the endpoints on it move towards their next state afterwards.
    mutating func describeVpcEndpoints(ids: [String], filters: [EC2Filter], token: String?, maxResults: Int?,
                                       now: Date) throws(SimulatorAPIError) -> Page<SimulatedEndpoint> {
        refreshTimedStates(now: now)
        try Self.requireEndpointIds(ids)
        for filter in filters where !Self.describeEndpointsFilters.contains(filter.name) && !filter.name.hasPrefix("tag:") {
            throw SimulatorAPIError(400, "InvalidParameterValue", "The filter '\(filter.name)' is invalid")
        }
        // Endpoints EC2 does not list yet count down one describe call, whatever page it asks for.
        let unlisted = Set(endpoints.filter { $0.unlistedDescribes > 0 }.map(\.id))
        if token == nil {
            for index in endpoints.indices where endpoints[index].unlistedDescribes > 0 { endpoints[index].unlistedDescribes -= 1 }
        }
        let listed = endpoints.lazy.filter { $0.state != .deleted && !unlisted.contains($0.id) }
        for id in ids where !listed.contains(where: { $0.id == id }) {
            throw SimulatorAPIError(400, "InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '\(id)' does not exist")
        }
        // A listing (no ids) may leave out what exists: the blinks are fixed at its first page.
        if ids.isEmpty && token == nil {
            blinkingListing = Set(endpoints.map(\.id).filter { consumeBlink($0) })
        }
        let blinking = ids.isEmpty ? blinkingListing : []
        let matching = Array(listed.filter { endpoint in
            !blinking.contains(endpoint.id) &&
            (ids.isEmpty || ids.contains(endpoint.id)) && filters.allSatisfy { Self.endpoint(endpoint, matches: $0) }
        })
        let page = try paginate(matching, operation: "DescribeVpcEndpoints", token: token, maxResults: maxResults,
                                invalidToken: Self.invalidPaginationToken(token))
        advance(afterDescribing: Set(page.items.map(\.id)))
        return page
    }

    static func endpoint(_ endpoint: SimulatedEndpoint, matches filter: EC2Filter) -> Bool {
        switch filter.name {
        case "vpc-endpoint-id": return filter.matches(endpoint.id)
        case "vpc-endpoint-type": return filter.matches("Resource", caseInsensitive: true)
        case "vpc-endpoint-state": return filter.matches(endpoint.state.rawValue, caseInsensitive: true)
        case "vpc-id": return filter.matches(endpoint.vpcId)
        case "resource-configuration-arn": return filter.matches(endpoint.resourceConfigurationArn)
        case "ip-address-type": return filter.matches(endpoint.ipAddressType, caseInsensitive: true)
        case "service-name": return false
        case "tag-key": return endpoint.tags.keys.contains { filter.matches($0) }
        default:
            let key = String(filter.name.dropFirst("tag:".count))
            return filter.matches(endpoint.tags[key])
        }
    }

    /// Pending endpoints seen often enough become available; deleting ones seen often enough vanish.
    mutating func advance(afterDescribing ids: Set<String>) {
        for index in endpoints.indices where ids.contains(endpoints[index].id) {
            endpoints[index].describesInCurrentState += 1
            switch endpoints[index].state {
            case .pending:
                if case .afterDescribes(let count) = provisioning.endpoints,
                   endpoints[index].describesInCurrentState >= count {
                    setState(.available, ofEndpointAt: index)
                }
            case .deleting:
                if endpoints[index].describesInCurrentState >= provisioning.deletingDescribes && !heldDeleting.contains(endpoints[index].id) {
                    setState(.deleted, ofEndpointAt: index)
                }
            case .available, .deleted, .failed:
                break
            }
        }
    }

    /// Applies delay-based provisioning at `now`.
    mutating func refreshTimedStates(now: Date) {
        for index in endpoints.indices where endpoints[index].state == .pending {
            switch provisioning.endpoints {
            case .instant:
                setState(.available, ofEndpointAt: index)
            case .afterDelay(let seconds):
                if now.timeIntervalSince(endpoints[index].createdAt) >= seconds {
                    setState(.available, ofEndpointAt: index)
                }
            case .afterDescribes:
                break
            }
        }
        for index in endpoints.indices where endpoints[index].state == .deleting && provisioning.deletingDescribes == 0
            && !heldDeleting.contains(endpoints[index].id) {
            setState(.deleted, ofEndpointAt: index)
        }
    }

    mutating func setState(_ state: SimulatedEndpoint.State, ofEndpointAt index: Int) {
        endpoints[index].state = state
        endpoints[index].describesInCurrentState = 0
    }

    // MARK: DescribeVpcEndpointAssociations

    /// One page of the associations of available endpoints.
    mutating func describeVpcEndpointAssociations(ids: [String], filters: [EC2Filter], token: String?, maxResults: Int?,
                                                  now: Date) throws(SimulatorAPIError) -> Page<AssociationView> {
        refreshTimedStates(now: now)
        try Self.requireEndpointIds(ids)
        for filter in filters where !Self.describeAssociationsFilters.contains(filter.name) {
            throw SimulatorAPIError(400, "InvalidParameterValue", "The filter '\(filter.name)' is invalid")
        }
        for id in ids where !endpoints.contains(where: { $0.id == id && $0.state != .deleted }) {
            throw SimulatorAPIError(400, "InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '\(id)' does not exist")
        }
        let views = endpoints
            .filter { $0.state == .available && (ids.isEmpty || ids.contains($0.id)) }
            .flatMap(associations(of:))
            .filter { view in
                filters.allSatisfy { filter in
                    switch filter.name {
                    case "vpc-endpoint-id": filter.matches(view.vpcEndpointId)
                    case "associated-resource-accessibility": filter.matches(view.accessibility, caseInsensitive: true)
                    case "association-id": filter.matches(view.id)
                    default: filter.matches(view.resourceArn)
                    }
                }
            }
        return try paginate(views, operation: "DescribeVpcEndpointAssociations", token: token, maxResults: maxResults,
                            invalidToken: Self.invalidPaginationToken(token))
    }

    /// Every association of an endpoint: the extra ones configured for its resource (a group
    /// configuration's children, listed in the order they were given), else its one default association.
    func associations(of endpoint: SimulatedEndpoint) -> [AssociationView] {
        guard let extra = extraAssociations[endpoint.resourceConfigurationArn], !extra.isEmpty else { return [association(of: endpoint)] }
        return extra.enumerated().map { index, spec in
            AssociationView(
                id: "\(endpoint.associationId)-\(index)", vpcEndpointId: endpoint.id, resourceArn: spec.resourceArn, groupArn: spec.groupArn,
                accessibility: spec.accessible && endpoint.isAssociationAccessible ? "Accessible" : "Inaccessible",
                failureCode: spec.accessible ? nil : "ResourceConfigurationNotAvailable",
                failureReason: spec.accessible ? nil : "The resource configuration is not in an available state",
                dnsName: spec.dnsName, hostedZoneId: Self.hostedZoneId, privateDNSName: nil)
        }
    }

    func association(of endpoint: SimulatedEndpoint) -> AssociationView {
        let configured = associationDNSNames[endpoint.resourceConfigurationArn]
        let privateName = configured?.privateDNSName ?? resourceConfigurations[endpoint.resourceConfigurationArn]?.customDomainName
        return AssociationView(
            id: endpoint.associationId, vpcEndpointId: endpoint.id, resourceArn: endpoint.resourceConfigurationArn,
            accessibility: endpoint.isAssociationAccessible ? "Accessible" : "Inaccessible",
            failureCode: endpoint.isAssociationAccessible ? nil : "ResourceConfigurationNotShared",
            failureReason: endpoint.isAssociationAccessible
                ? nil : "The resource configuration is no longer shared with this account",
            dnsName: configured?.dnsName ?? (awsStyleDNSNames ? endpoint.defaultDNSName : "localhost"), hostedZoneId: Self.hostedZoneId,
            privateDNSName: endpoint.privateDnsEnabled ? privateName : nil)
    }

    // MARK: DeleteVpcEndpoints

    /// Starts deleting each endpoint; unknown ids come back as unsuccessful items, not as an error.
    mutating func deleteVpcEndpoints(ids: [String], now: Date) throws(SimulatorAPIError) -> [UnsuccessfulItem] {
        refreshTimedStates(now: now)
        guard !ids.isEmpty else {
            throw SimulatorAPIError(400, "MissingParameter", "The request must contain the parameter VpcEndpointId")
        }
        try Self.requireEndpointIds(ids)
        var unsuccessful: [UnsuccessfulItem] = []
        for id in ids {
            guard let index = endpoints.firstIndex(where: { $0.id == id && $0.state != .deleted && $0.unlistedDescribes == 0 }) else {
                unsuccessful.append(UnsuccessfulItem(resourceId: id, code: "InvalidVpcEndpoint.NotFound",
                                                     message: "The Vpc Endpoint Id '\(id)' does not exist"))
                continue
            }
            startDeleting(at: index)
        }
        return unsuccessful
    }

    mutating func startDeleting(at index: Int) {
        guard endpoints[index].state != .deleting else { return }
        let held = heldDeleting.contains(endpoints[index].id)
        setState(provisioning.deletingDescribes == 0 && !held ? .deleted : .deleting, ofEndpointAt: index)
    }

    /// Whether a listing leaves `id` out now; counts the listing against its blink.
    mutating func consumeBlink(_ id: String) -> Bool {
        guard let left = listingBlinks[id], left > 0 else { return false }
        listingBlinks[id] = left == 1 ? nil : left - 1
        return true
    }

    // MARK: Validation

    static func requireEndpointIds(_ ids: [String]) throws(SimulatorAPIError) {
        if let bad = ids.first(where: { !$0.hasPrefix("vpce-") }) {
            throw SimulatorAPIError(400, "InvalidVpcEndpointId.Malformed", "Invalid Id: '\(bad)' (expecting 'vpce-...')")
        }
    }

    static func invalidPaginationToken(_ token: String?) -> SimulatorAPIError {
        SimulatorAPIError(400, "InvalidPaginationToken", "Invalid pagination token \(token ?? "")")
    }
}
