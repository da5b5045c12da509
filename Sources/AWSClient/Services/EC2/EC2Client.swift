/// Amazon EC2 (query protocol, XML answers) in one region: Resource VPC endpoints and their associations.
public struct EC2Client: Sendable {
    public static let apiVersion = "2016-11-15"
    let executor: AWSRequestExecutor
    let credentials: any CredentialProvider
    public let region: String

    public init(executor: AWSRequestExecutor, credentials: any CredentialProvider, region: String) {
        self.executor = executor
        self.credentials = credentials
        self.region = region
    }

    /// Creates a Resource-type endpoint (never `ServiceName`, route tables or a service network).
    public func createResourceEndpoint(_ input: ResourceEndpointRequest) async throws(AWSClientError) -> VpcEndpoint {
        let operation = "CreateVpcEndpoint"
        var parameters = QueryParameters(action: operation, version: Self.apiVersion)
        parameters.add("VpcEndpointType", "Resource")
        parameters.add("ResourceConfigurationArn", input.resourceConfigurationArn)
        parameters.add("VpcId", input.vpcId)
        parameters.addList("SubnetId", input.subnetIds)
        parameters.addList("SecurityGroupId", input.securityGroupIds)
        parameters.add("IpAddressType", input.ipAddressType)
        parameters.add("PrivateDnsEnabled", input.privateDnsEnabled)
        parameters.add("ClientToken", input.clientToken)
        if !input.tags.isEmpty {
            parameters.add("TagSpecification.1.ResourceType", "vpc-endpoint")
            for (index, tag) in input.tags.enumerated() {
                parameters.add("TagSpecification.1.Tag.\(index + 1).Key", tag.key)
                parameters.add("TagSpecification.1.Tag.\(index + 1).Value", tag.value)
            }
        }
        let root = try await call(operation, parameters)
        guard let item = root.child("vpcEndpoint") else { throw EC2XML.missing("vpcEndpoint element", operation: operation) }
        return try VpcEndpoint(xml: item, operation: operation)
    }

    /// Endpoints by id and/or filters. EC2 allows `MaxResults` only without explicit ids.
    /// `known`: strings the caller holds, shared by the endpoints instead of decoded copies (``KnownStrings``).
    public func vpcEndpoints(ids: [String] = [], filters: [EC2Filter] = [], pageSize: Int = 1000,
                             known: KnownStrings = .none) -> Paginated<VpcEndpoint> {
        let operation = "DescribeVpcEndpoints"
        return Paginated(service: AWSService.ec2.name, operation: operation) { token throws(AWSClientError) in
            var parameters = QueryParameters(action: operation, version: Self.apiVersion)
            parameters.addList("VpcEndpointId", ids)
            Self.add(filters, to: &parameters)
            if ids.isEmpty { parameters.add("MaxResults", pageSize) }
            if let token { parameters.add("NextToken", token) }
            // Each endpoint is read as its element closes, and the element dropped: a page of 1,000 is never held
            // as a tree (8.5 MB) beside what is made of it.
            var items: [VpcEndpoint] = []
            var repeated = RepeatedValues(known: known)
            var failure: AWSClientError?
            let root = try await call(operation, parameters) { depth, parent, element in
                guard depth == 3, parent == "vpcEndpointSet", element.name == "item" else { return false }
                guard failure == nil else { return true }
                do throws(AWSClientError) {
                    items.append(try VpcEndpoint(xml: element, operation: operation, repeated: &repeated))
                } catch {
                    failure = error
                }
                return true
            }
            if let failure { throw failure }
            return (items, root.childText("nextToken"))
        }
    }

    /// The Resource-type endpoints in `vpcId`.
    public func resourceEndpoints(inVpc vpcId: String) -> Paginated<VpcEndpoint> {
        resourceEndpoints(inVpcs: [vpcId])
    }

    /// The Resource-type endpoints in any of `vpcIds`: one listing (a filter's values are ORed), not one per VPC.
    public func resourceEndpoints(inVpcs vpcIds: [String], known: KnownStrings = .none) -> Paginated<VpcEndpoint> {
        vpcEndpoints(filters: [EC2Filter("vpc-id", vpcIds), EC2Filter("vpc-endpoint-type", ["Resource"])], known: known)
    }

    /// The name to connect to (``VpcEndpointAssociation/preferredDnsName``) of each endpoint in `ids` that
    /// has one, by endpoint id; 100 endpoints per call.
    public func associations(ofEndpoints ids: [String]) async throws(AWSClientError) -> [String: [VpcEndpointAssociation]] {
        var all: [String: [VpcEndpointAssociation]] = [:]
        for start in stride(from: 0, to: ids.count, by: 100) {
            let batch = Array(ids[start..<min(start + 100, ids.count)])
            for association in try await vpcEndpointAssociations(ids: batch).collectAll() {
                all[association.vpcEndpointId, default: []].append(association)
            }
        }
        return all
    }

    /// The DNS name of each endpoint: that of the association serving its own resource configuration
    /// (`VpcEndpointAssociation.chosen`), never whichever EC2 listed last.
    public func dnsNames(of endpoints: [VpcEndpoint]) async throws(AWSClientError) -> [String: String] {
        let all = try await associations(ofEndpoints: endpoints.map(\.vpcEndpointId))
        var names: [String: String] = [:]
        for endpoint in endpoints {
            let chosen = VpcEndpointAssociation.chosen(from: all[endpoint.vpcEndpointId] ?? [], for: endpoint.resourceConfigurationArn)
            if let chosen, chosen.isAccessible, let name = chosen.preferredDnsName { names[endpoint.vpcEndpointId] = name }
        }
        return names
    }

    /// Associations (DNS names) of Resource endpoints; at most 100 per page.
    public func vpcEndpointAssociations(ids: [String] = [], filters: [EC2Filter] = [], pageSize: Int = 100) -> Paginated<VpcEndpointAssociation> {
        let operation = "DescribeVpcEndpointAssociations"
        return Paginated(service: AWSService.ec2.name, operation: operation) { token throws(AWSClientError) in
            var parameters = QueryParameters(action: operation, version: Self.apiVersion)
            parameters.addList("VpcEndpointId", ids)
            Self.add(filters, to: &parameters)
            parameters.add("MaxResults", min(pageSize, 100))
            if let token { parameters.add("NextToken", token) }
            let root = try await call(operation, parameters)
            var items: [VpcEndpointAssociation] = []
            for item in root.child("vpcEndpointAssociationSet")?.children(named: "item") ?? [] {
                items.append(try VpcEndpointAssociation(xml: item, operation: operation))
            }
            return (items, root.childText("nextToken"))
        }
    }

    /// Adds (or overwrites) tags on resources (CreateTags).
    public func createTags(resourceIds: [String], tags: [(key: String, value: String)]) async throws(AWSClientError) {
        let operation = "CreateTags"
        var parameters = QueryParameters(action: operation, version: Self.apiVersion)
        parameters.addList("ResourceId", resourceIds)
        for (index, tag) in tags.enumerated() {
            parameters.add("Tag.\(index + 1).Key", tag.key)
            parameters.add("Tag.\(index + 1).Value", tag.value)
        }
        _ = try await call(operation, parameters)
    }

    /// Deletes endpoints; returns the ones EC2 could not delete (it answers 200 with per-item failures).
    public func deleteVpcEndpoints(ids: [String]) async throws(AWSClientError) -> [DeleteFailure] {
        let operation = "DeleteVpcEndpoints"
        var parameters = QueryParameters(action: operation, version: Self.apiVersion)
        parameters.addList("VpcEndpointId", ids)
        let root = try await call(operation, parameters)
        return (root.child("unsuccessful")?.children(named: "item") ?? []).map { item in
            let error = item.child("error")
            return DeleteFailure(vpcEndpointId: item.childText("resourceId") ?? "",
                                 error: VpcEndpoint.EC2Error(code: error?.childText("code"), message: error?.childText("message")))
        }
    }

    static func add(_ filters: [EC2Filter], to parameters: inout QueryParameters) {
        for (index, filter) in filters.enumerated() {
            parameters.add("Filter.\(index + 1).Name", filter.name)
            parameters.addList("Filter.\(index + 1).Value", filter.values)
        }
    }

    private func call(_ operation: String, _ parameters: QueryParameters,
                      handOver: XMLDocumentParser.HandOver? = nil) async throws(AWSClientError) -> XMLElement {
        let request = AWSRequest(service: .ec2, operation: operation, region: region, method: "POST", path: "/",
                                 headers: [HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")],
                                 body: Array(parameters.body.utf8))
        let response = try await executor.send(request, credentials: credentials)
        let root = try EC2XML.parse(response.body, operation: operation, handOver: handOver)
        // A 200 answer that is some other document (a proxy's page that happens to be well-formed XML)
        // would otherwise read as an empty listing or a deletion without failures.
        guard root.name == operation + "Response" else {
            throw AWSClientError(.malformedResponse, service: AWSService.ec2.name, operation: operation,
                                 message: "the response is a <\(root.name)> document, not <\(operation)Response>; \(response.body.count) bytes")
        }
        return root
    }
}
