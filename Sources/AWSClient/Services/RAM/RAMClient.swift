/// AWS Resource Access Manager (rest-json) in one region: invitations and shared resources.
public struct RAMClient: Sendable {
    let executor: AWSRequestExecutor
    let credentials: any CredentialProvider
    public let region: String

    public init(executor: AWSRequestExecutor, credentials: any CredentialProvider, region: String) {
        self.executor = executor
        self.credentials = credentials
        self.region = region
    }

    /// RAM's largest page.
    public static let maxPageSize = 500

    /// Every invitation addressed to us (all statuses: RAM has no status filter).
    public func resourceShareInvitations(invitationArns: [String] = [], resourceShareArns: [String] = [],
                                         pageSize: Int = maxPageSize) -> Paginated<ResourceShareInvitation> {
        struct Body: Encodable {
            var resourceShareInvitationArns: [String]?
            var resourceShareArns: [String]?
            var nextToken: String?
            var maxResults: Int?
        }
        struct Response: Decodable {
            var resourceShareInvitations: [ResourceShareInvitation]?
            var nextToken: String?
        }
        let operation = "GetResourceShareInvitations"
        // RAM refuses maxResults together with an explicit ARN list.
        let explicit = !invitationArns.isEmpty
        return paginate(operation) { token throws(AWSClientError) in
            let body = Body(resourceShareInvitationArns: explicit ? invitationArns : nil,
                            resourceShareArns: resourceShareArns.isEmpty ? nil : resourceShareArns,
                            nextToken: token, maxResults: explicit ? nil : pageSize)
            let response = try await call(operation, path: "/getresourceshareinvitations", body: body, as: Response.self)
            return (response.resourceShareInvitations ?? [], response.nextToken)
        }
    }

    /// The resources a pending invitation would share.
    public func pendingInvitationResources(invitationArn: String, pageSize: Int = maxPageSize) -> Paginated<RAMResource> {
        struct Body: Encodable {
            var resourceShareInvitationArn: String
            var nextToken: String?
            var maxResults: Int
        }
        struct Response: Decodable {
            var resources: [RAMResource]?
            var nextToken: String?
        }
        let operation = "ListPendingInvitationResources"
        return paginate(operation) { token throws(AWSClientError) in
            let response = try await call(operation, path: "/listpendinginvitationresources",
                                          body: Body(resourceShareInvitationArn: invitationArn, nextToken: token, maxResults: pageSize),
                                          as: Response.self)
            return (response.resources ?? [], response.nextToken)
        }
    }

    /// Accepts an invitation. `clientToken` makes a retry (or a retry after a crash) idempotent.
    public func acceptInvitation(_ invitationArn: String, clientToken: String) async throws(AWSClientError) -> ResourceShareInvitation {
        try await answer("AcceptResourceShareInvitation", path: "/acceptresourceshareinvitation",
                         invitationArn: invitationArn, clientToken: clientToken)
    }

    /// Rejects an invitation.
    public func rejectInvitation(_ invitationArn: String, clientToken: String) async throws(AWSClientError) -> ResourceShareInvitation {
        try await answer("RejectResourceShareInvitation", path: "/rejectresourceshareinvitation",
                         invitationArn: invitationArn, clientToken: clientToken)
    }

    /// Resource shares by owner.
    public func resourceShares(owner: ResourceOwner, resourceShareArns: [String] = [], status: String? = nil,
                               pageSize: Int = maxPageSize) -> Paginated<ResourceShare> {
        struct Body: Encodable {
            var resourceOwner: ResourceOwner
            var resourceShareArns: [String]?
            var resourceShareStatus: String?
            var nextToken: String?
            var maxResults: Int
        }
        struct Response: Decodable {
            var resourceShares: [ResourceShare]?
            var nextToken: String?
        }
        let operation = "GetResourceShares"
        return paginate(operation) { token throws(AWSClientError) in
            let body = Body(resourceOwner: owner, resourceShareArns: resourceShareArns.isEmpty ? nil : resourceShareArns,
                            resourceShareStatus: status, nextToken: token, maxResults: pageSize)
            let response = try await call(operation, path: "/getresourceshares", body: body, as: Response.self)
            return (response.resourceShares ?? [], response.nextToken)
        }
    }

    /// Resources shared with us (`owner: .otherAccounts`) — including same-organization shares, which
    /// come without an invitation.
    public func resources(owner: ResourceOwner, resourceType: String? = nil, resourceArns: [String] = [],
                          resourceShareArns: [String] = [], pageSize: Int = maxPageSize) -> Paginated<RAMResource> {
        struct Body: Encodable {
            var resourceOwner: ResourceOwner
            var resourceType: String?
            var resourceArns: [String]?
            var resourceShareArns: [String]?
            var nextToken: String?
            var maxResults: Int?
        }
        struct Response: Decodable {
            var resources: [RAMResource]?
            var nextToken: String?
        }
        let operation = "ListResources"
        let explicit = !resourceArns.isEmpty
        return paginate(operation) { token throws(AWSClientError) in
            let body = Body(resourceOwner: owner, resourceType: resourceType, resourceArns: explicit ? resourceArns : nil,
                            resourceShareArns: resourceShareArns.isEmpty ? nil : resourceShareArns,
                            nextToken: token, maxResults: explicit ? nil : pageSize)
            let response = try await call(operation, path: "/listresources", body: body, as: Response.self)
            return (response.resources ?? [], response.nextToken)
        }
    }

    // MARK: -

    private func answer(_ operation: String, path: String, invitationArn: String, clientToken: String) async throws(AWSClientError) -> ResourceShareInvitation {
        struct Body: Encodable {
            var resourceShareInvitationArn: String
            var clientToken: String
        }
        struct Response: Decodable {
            var resourceShareInvitation: ResourceShareInvitation
        }
        return try await call(operation, path: path, body: Body(resourceShareInvitationArn: invitationArn, clientToken: clientToken),
                              as: Response.self).resourceShareInvitation
    }

    private func paginate<Element>(_ operation: String, _ fetch: @escaping Paginated<Element>.Fetch) -> Paginated<Element> {
        Paginated(service: AWSService.ram.name, operation: operation, fetch: fetch)
    }

    private func call<Body: Encodable, Response: Decodable>(_ operation: String, path: String, body: Body,
                                                            as type: Response.Type) async throws(AWSClientError) -> Response {
        let request = AWSRequest(service: .ram, operation: operation, region: region, method: "POST", path: path,
                                 headers: [RestJSON.contentType], body: RestJSON.encode(body))
        let response = try await executor.send(request, credentials: credentials)
        return try RestJSON.decode(type, from: response.body, service: AWSService.ram.name, operation: operation)
    }
}
