import AWSClient
import ConsumerCore

/// The AWS calls a reconcile pass makes: the HTTP clients in production (`AWSContext`), an in-memory
/// model of RAM and EC2 in the seeded tests of interleavings, so that thousands of cases run in seconds
/// through the real reconciler and the real store.
public protocol ReconcilerAWS: Sendable {
    /// Every invitation addressed to us, all pages.
    func invitations(region: String) async throws(AWSClientError) -> [ResourceShareInvitation]
    /// A pending invitation's resources, all pages.
    func invitationResources(region: String, invitationArn: String) async throws(AWSClientError) -> [RAMResource]
    /// Resource configurations shared with us by other accounts, all pages, by ARN; their ARNs and share ARNs
    /// are `known`'s where it has them.
    func sharedResourceConfigurations(region: String, known: KnownStrings) async throws(AWSClientError) -> [String: RAMResource]
    /// AcceptResourceShareInvitation; returns RAM's status of the invitation.
    func acceptInvitation(region: String, invitationArn: String, clientToken: String) async throws(AWSClientError) -> String
    func rejectInvitation(region: String, invitationArn: String, clientToken: String) async throws(AWSClientError)
    /// The Resource-type endpoints in the region's VPCs (one listing filtered on all of them), all pages; their
    /// ids, resource ARNs and tag values are `known`'s where it has them.
    func resourceEndpoints(region: String, vpcIds: [String], known: KnownStrings) async throws(AWSClientError) -> [VpcEndpoint]
    /// One endpoint looked up by id (DescribeVpcEndpoints with `VpcEndpointIds`): nil when EC2 answers
    /// `InvalidVpcEndpointId.NotFound`, the confirmation that an endpoint a listing left out is gone.
    func vpcEndpoint(region: String, id: String) async throws(AWSClientError) -> VpcEndpoint?
    /// One resource configuration shared with us, looked up by ARN (ListResources with `resourceArns`): nil
    /// when RAM lists nothing for it, the confirmation that a resource a listing left out is no longer shared.
    func sharedResourceConfiguration(region: String, arn: String) async throws(AWSClientError) -> RAMResource?
    /// Every association of these endpoints (DescribeVpcEndpointAssociations, 100 ids a call), by endpoint id.
    func associations(region: String, endpointIds: [String]) async throws(AWSClientError) -> [String: [VpcEndpointAssociation]]
    func createResourceEndpoint(region: String, _ request: ResourceEndpointRequest) async throws(AWSClientError) -> VpcEndpoint
    /// DeleteVpcEndpoints; EC2 answers 200 with the items it could not delete.
    func deleteVpcEndpoints(region: String, ids: [String]) async throws(AWSClientError) -> [DeleteFailure]
    /// Adds a tag to an endpoint (CreateTags).
    func tagEndpoint(region: String, id: String, key: String, value: String) async throws(AWSClientError)
    /// The applied value of a Service Quotas quota (GetServiceQuota), e.g. `vpc` / `L-CA6CC422`.
    func serviceQuota(region: String, serviceCode: String, quotaCode: String) async throws(AWSClientError) -> Double
    /// Our account id (STS GetCallerIdentity).
    func accountId() async throws(AWSClientError) -> String
    /// GetResourceConfiguration of a shared configuration; any failure (access denied, not found,
    /// throttled, transport) is reported as `unreadable` with its reason, never thrown.
    func resourceConfiguration(region: String, arn: String) async -> ResourceConfigurationChecks.Lookup
}

extension AWSContext: ReconcilerAWS {
    public func invitations(region: String) async throws(AWSClientError) -> [ResourceShareInvitation] {
        try await ram(region).resourceShareInvitations().collectAll()
    }

    public func invitationResources(region: String, invitationArn: String) async throws(AWSClientError) -> [RAMResource] {
        try await ram(region).pendingInvitationResources(invitationArn: invitationArn).collectAll()
    }

    public func sharedResourceConfigurations(region: String, known: KnownStrings) async throws(AWSClientError) -> [String: RAMResource] {
        // Indexed page by page: 10,000 resources are never held twice, as a list and as its index.
        var byArn: [String: RAMResource] = [:]
        try await ram(region).resources(owner: .otherAccounts, resourceType: RAMResource.resourceConfigurationType).forEachPage { page in
            for var resource in page {
                resource.arn = known.shared(resource.arn)
                resource.resourceShareArn = resource.resourceShareArn.map(known.shared)
                byArn[resource.arn] = resource
            }
        }
        return byArn
    }

    public func acceptInvitation(region: String, invitationArn: String, clientToken: String) async throws(AWSClientError) -> String {
        try await ram(region).acceptInvitation(invitationArn, clientToken: clientToken).status
    }

    public func rejectInvitation(region: String, invitationArn: String, clientToken: String) async throws(AWSClientError) {
        _ = try await ram(region).rejectInvitation(invitationArn, clientToken: clientToken)
    }

    public func resourceEndpoints(region: String, vpcIds: [String], known: KnownStrings) async throws(AWSClientError) -> [VpcEndpoint] {
        try await ec2(region).resourceEndpoints(inVpcs: vpcIds, known: known).collectAll()
    }

    public func vpcEndpoint(region: String, id: String) async throws(AWSClientError) -> VpcEndpoint? {
        let listed: [VpcEndpoint]
        do throws(AWSClientError) {
            listed = try await ec2(region).vpcEndpoints(ids: [id]).collectAll()
        } catch {
            if AWSOutcomes.lookupSaysAbsent(errorCode: error.code) { return nil }
            throw error
        }
        // Only NotFound confirms an absence: an answer that leaves the id out says nothing.
        guard let endpoint = listed.first(where: { $0.vpcEndpointId == id }) else {
            throw AWSClientError(.service, service: "ec2", operation: "DescribeVpcEndpoints", code: nil,
                                 message: "the lookup of \(id) answered without it (neither the endpoint nor NotFound)")
        }
        return endpoint
    }

    public func sharedResourceConfiguration(region: String, arn: String) async throws(AWSClientError) -> RAMResource? {
        do throws(AWSClientError) {
            return try await ram(region).resources(owner: .otherAccounts, resourceType: RAMResource.resourceConfigurationType, resourceArns: [arn])
                .collectAll().first { $0.arn == arn }
        } catch {
            if error.code == "UnknownResourceException" { return nil }
            throw error
        }
    }

    public func associations(region: String, endpointIds: [String]) async throws(AWSClientError) -> [String: [VpcEndpointAssociation]] {
        try await ec2(region).associations(ofEndpoints: endpointIds)
    }

    public func createResourceEndpoint(region: String, _ request: ResourceEndpointRequest) async throws(AWSClientError) -> VpcEndpoint {
        try await ec2(region).createResourceEndpoint(request)
    }

    public func deleteVpcEndpoints(region: String, ids: [String]) async throws(AWSClientError) -> [DeleteFailure] {
        try await ec2(region).deleteVpcEndpoints(ids: ids)
    }

    public func resourceConfiguration(region: String, arn: String) async -> ResourceConfigurationChecks.Lookup {
        do {
            switch try await lattice(region).resourceConfiguration(arn) {
            case .found(let configuration): return .found(configuration)
            case .accessDenied(let message): return .unreadable("AccessDeniedException: \(Self.brief(message))")
            case .notFound(let message): return .unreadable("ResourceNotFoundException: \(Self.brief(message))")
            }
        } catch {
            let reason = "\(error.code ?? "error"): \(Self.brief(error.message))"
            return error.isRefusal ? .unreadable(reason) : .failed(reason)
        }
    }

    /// AWS's message cut to its first line and 200 characters: signature errors may echo the canonical
    /// request (with the session token among its signed headers), which must not reach the state or logs.
    static func brief(_ message: String) -> String {
        var text = String(message.prefix { $0 != "\n" })
        if let range = text.range(of: "The Canonical String") { text = String(text[..<range.lowerBound]) }
        text = text.trimmingCharacters(in: .whitespaces)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    public func tagEndpoint(region: String, id: String, key: String, value: String) async throws(AWSClientError) {
        try await ec2(region).createTags(resourceIds: [id], tags: [(key, value)])
    }

    public func serviceQuota(region: String, serviceCode: String, quotaCode: String) async throws(AWSClientError) -> Double {
        try await ServiceQuotasClient(executor: executor, credentials: credentials, region: region)
            .serviceQuota(serviceCode: serviceCode, quotaCode: quotaCode)
    }

    public func accountId() async throws(AWSClientError) -> String {
        try await STSClient(executor: executor, credentials: credentials, region: defaultRegion).getCallerIdentity().account
    }
}
