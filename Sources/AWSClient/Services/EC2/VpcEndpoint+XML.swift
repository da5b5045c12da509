import AWSModels

// The EC2 query protocol's XML items as the models of `AWSModels`.

extension VpcEndpoint {
    init(xml item: XMLElement, operation: String) throws(AWSClientError) {
        guard let id = item.childText("vpcEndpointId"), !id.isEmpty else {
            throw EC2XML.missing("vpcEndpointId in a vpcEndpoint item", operation: operation)
        }
        var tags: [String: String] = [:]
        for tag in item.child("tagSet")?.children(named: "item") ?? [] {
            if let key = tag.childText("key") { tags[key] = tag.childText("value") ?? "" }
        }
        self.init(vpcEndpointId: id, state: VpcEndpointState(item.childText("state") ?? ""), vpcId: item.childText("vpcId"),
                  resourceConfigurationArn: item.childText("resourceConfigurationArn"), tags: tags,
                  lastError: item.child("lastError").map { EC2Error(code: $0.childText("code"), message: $0.childText("message")) })
        vpcEndpointType = item.childText("vpcEndpointType")
        subnetIds = item.child("subnetIdSet")?.children(named: "item").map(\.text) ?? []
        securityGroupIds = item.child("groupSet")?.children(named: "item").compactMap { $0.childText("groupId") } ?? []
        ipAddressType = item.childText("ipAddressType")
        privateDnsEnabled = item.childText("privateDnsEnabled").map { $0.lowercased() == "true" }
        failureReason = item.childText("failureReason")
        creationTimestamp = item.childText("creationTimestamp")
    }
}

extension VpcEndpointAssociation {
    init(xml item: XMLElement, operation: String) throws(AWSClientError) {
        guard let endpoint = item.childText("vpcEndpointId"), !endpoint.isEmpty else {
            throw EC2XML.missing("vpcEndpointId in a vpcEndpointAssociation item", operation: operation)
        }
        self.init(id: item.childText("id"), vpcEndpointId: endpoint,
                  associatedResourceArn: item.childText("associatedResourceArn"),
                  resourceConfigurationGroupArn: item.childText("resourceConfigurationGroupArn"),
                  accessibility: item.childText("associatedResourceAccessibility"),
                  dnsName: item.child("dnsEntry")?.childText("dnsName").flatMap { $0.isEmpty ? nil : $0 },
                  privateDnsName: item.child("privateDnsEntry")?.childText("dnsName").flatMap { $0.isEmpty ? nil : $0 },
                  failureCode: item.childText("failureCode"), failureReason: item.childText("failureReason"))
    }
}
