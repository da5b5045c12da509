import AWSClient
import Foundation

extension LatticeSimulator {
    static let ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
    static let listParameters: Set<String> = ["DryRun", "VpcEndpointId.N", "Filter.N.Name", "Filter.N.Value.N", "MaxResults", "NextToken"]

    func handleEC2(_ route: Route, requestId: String) -> ServerResponse {
        let query = EC2Query(fields: route.fields)
        let now = configuration.now()
        do throws(SimulatorAPIError) {
            guard query.value("Version") != nil else {
                throw SimulatorAPIError(400, "MissingParameter", "The request must contain the parameter Version")
            }
            switch route.operation {
            case "CreateVpcEndpoint":
                let input = try CreateVpcEndpointInput(query)
                try refuseDryRun(query)
                let clientToken = query.value("ClientToken")
                let (endpoint, casing) = try state.withLock { state throws(SimulatorAPIError) in
                    (try state.createVpcEndpoint(input, clientToken: clientToken, now: now), state.provisioning.endpointStateCasing)
                }
                return ec2Response(route, requestId: requestId) { xml in
                    xml.element("vpcEndpoint") { writeEndpoint(endpoint, casing: casing, into: &$0) }
                    xml.element("clientToken", clientToken)
                }

            case "DescribeVpcEndpoints":
                try query.requireOnly(Self.listParameters)
                try refuseDryRun(query)
                let ids = query.list("VpcEndpointId")
                let filters = try query.filters()
                let maxResults = try query.maxResults(in: 1...1000)
                let (page, casing) = try state.withLock { state throws(SimulatorAPIError) in
                    (try state.describeVpcEndpoints(ids: ids, filters: filters, token: query.value("NextToken"),
                                                    maxResults: maxResults, now: now),
                     state.provisioning.endpointStateCasing)
                }
                return ec2Response(route, requestId: requestId) { xml in
                    xml.element("vpcEndpointSet") { set in
                        for endpoint in page.items {
                            set.element("item") { writeEndpoint(endpoint, casing: casing, into: &$0) }
                        }
                    }
                    xml.element("nextToken", page.nextToken)
                }

            case "DescribeVpcEndpointAssociations":
                try query.requireOnly(Self.listParameters)
                try refuseDryRun(query)
                let ids = query.list("VpcEndpointId")
                let filters = try query.filters()
                let maxResults = try query.maxResults(in: 1...100)
                let page = try state.withLock { state throws(SimulatorAPIError) in
                    try state.describeVpcEndpointAssociations(ids: ids, filters: filters, token: query.value("NextToken"),
                                                              maxResults: maxResults, now: now)
                }
                return ec2Response(route, requestId: requestId) { xml in
                    xml.element("vpcEndpointAssociationSet") { set in
                        for association in page.items {
                            set.element("item") { item in
                                item.element("id", association.id)
                                item.element("vpcEndpointId", association.vpcEndpointId)
                                item.element("associatedResourceAccessibility", association.accessibility)
                                item.element("failureCode", association.failureCode)
                                item.element("failureReason", association.failureReason)
                                item.element("dnsEntry") { entry in
                                    entry.element("dnsName", association.dnsName)
                                    entry.element("hostedZoneId", association.hostedZoneId)
                                }
                                if let privateName = association.privateDNSName {
                                    item.element("privateDnsEntry") { entry in
                                        entry.element("dnsName", privateName)
                                        entry.element("hostedZoneId", association.hostedZoneId)
                                    }
                                }
                                item.element("associatedResourceArn", association.resourceArn)
                                if let group = association.groupArn { item.element("resourceConfigurationGroupArn", group) }
                                item.element("tagSet") { _ in }
                            }
                        }
                    }
                    xml.element("nextToken", page.nextToken)
                }

            case "DeleteVpcEndpoints":
                try query.requireOnly(["DryRun", "VpcEndpointId.N"])
                try refuseDryRun(query)
                let ids = query.list("VpcEndpointId")
                let unsuccessful = try state.withLock { state throws(SimulatorAPIError) in
                    try state.deleteVpcEndpoints(ids: ids, now: now)
                }
                // EC2 answers 200 even when items fail; each failure is an `unsuccessful` item.
                return ec2Response(route, requestId: requestId) { xml in
                    xml.element("unsuccessful") { set in
                        for item in unsuccessful {
                            set.element("item") { entry in
                                entry.element("error") { error in
                                    error.element("code", item.code)
                                    error.element("message", item.message)
                                }
                                entry.element("resourceId", item.resourceId)
                            }
                        }
                    }
                }

            case "CreateTags":
                try query.requireOnly(["DryRun", "ResourceId.N", "Tag.N.Key", "Tag.N.Value"])
                try refuseDryRun(query)
                let ids = query.list("ResourceId")
                var tags: [(String, String)] = []
                var index = 1
                while let key = query.value("Tag.\(index).Key") {
                    tags.append((key, query.value("Tag.\(index).Value") ?? ""))
                    index += 1
                }
                guard !ids.isEmpty, !tags.isEmpty else {
                    throw SimulatorAPIError(400, "MissingParameter", "The request must contain the parameters ResourceId and Tag")
                }
                try state.withLock { state throws(SimulatorAPIError) in
                    for id in ids {
                        guard let endpoint = state.endpoints.firstIndex(where: { $0.id == id && $0.state != .deleted }) else {
                            throw SimulatorAPIError(400, "InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '\(id)' does not exist")
                        }
                        for (key, value) in tags { state.endpoints[endpoint].tags[key] = value }
                    }
                }
                return ec2Response(route, requestId: requestId) { xml in xml.element("return", "true") }

            default:
                throw SimulatorAPIError(400, "InvalidAction", "The action \(route.operation) is not valid for this web service.")
            }
        } catch {
            return errorResponse(route, status: error.status, code: error.code, message: error.message, requestId: requestId)
        }
    }

    /// EC2's answer envelope: `<OperationResponse>` with the request id first, then `body`.
    private func ec2Response(_ route: Route, requestId: String, _ body: (inout XMLWriter) -> Void) -> ServerResponse {
        var xml = XMLWriter(root: route.operation + "Response", namespace: Self.ec2Namespace)
        xml.element("requestId", requestId)
        body(&xml)
        return xmlResponse(xml.finish(), requestId: requestId)
    }

    private func refuseDryRun(_ query: EC2Query) throws(SimulatorAPIError) {
        if try query.bool("DryRun", default: false) {
            throw SimulatorAPIError(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
        }
    }

    /// EC2's timestamps: RFC 3339 in UTC with milliseconds. A format style, not an ISO8601DateFormatter
    /// per endpoint: creating those dominated listing thousands of endpoints.
    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// The members of a `vpcEndpoint` / `vpcEndpointSet/item` element, in EC2's order.
    func writeEndpoint(_ endpoint: SimulatedEndpoint, casing: EndpointStateCasing, into xml: inout XMLWriter) {
        xml.element("vpcEndpointId", endpoint.id)
        xml.element("vpcEndpointType", "Resource")
        xml.element("vpcId", endpoint.vpcId)
        xml.element("state", casing.spell(endpoint.state))
        xml.element("routeTableIdSet") { _ in }
        xml.element("subnetIdSet") { set in
            for subnet in endpoint.subnetIds { set.element("item", subnet) }
        }
        xml.element("groupSet") { set in
            for group in endpoint.securityGroupIds {
                set.element("item") { item in
                    item.element("groupId", group)
                    item.element("groupName", "simulated-\(group)")
                }
            }
        }
        xml.element("ipAddressType", endpoint.ipAddressType.uppercased())
        xml.element("dnsOptions") { $0.element("dnsRecordIpType", endpoint.ipAddressType) }
        xml.element("privateDnsEnabled", endpoint.privateDnsEnabled ? "true" : "false")
        xml.element("requesterManaged", "false")
        xml.element("networkInterfaceIdSet") { set in
            for eni in endpoint.networkInterfaceIds { set.element("item", eni) }
        }
        // Resource endpoints have no DNS entries of their own: the names are on the associations.
        xml.element("dnsEntrySet") { _ in }
        xml.element("creationTimestamp", endpoint.createdAt.formatted(Self.timestampStyle))
        xml.element("tagSet") { set in
            for (key, value) in endpoint.tags.sorted(by: { $0.key < $1.key }) {
                set.element("item") { item in
                    item.element("key", key)
                    item.element("value", value)
                }
            }
        }
        xml.element("ownerId", configuration.accountId)
        if let lastError = endpoint.lastError {
            xml.element("lastError") { error in
                error.element("message", lastError.message)
                error.element("code", lastError.code)
            }
        }
        xml.element("failureReason", endpoint.failureReason)
        xml.element("resourceConfigurationArn", endpoint.resourceConfigurationArn)
    }
}

extension EndpointStateCasing {
    /// How EC2 spells `state` under this casing.
    func spell(_ state: SimulatedEndpoint.State) -> String {
        switch self {
        case .mixed: state == .pending ? "Pending" : state.rawValue
        case .lowercase: state.rawValue
        case .model: state.rawValue.prefix(1).uppercased() + state.rawValue.dropFirst()
        }
    }
}
