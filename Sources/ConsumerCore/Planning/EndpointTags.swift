import AWSModels

/// The tags that mark an endpoint as ours and name its customer.
public enum EndpointTags {
    /// The key whose value is the customer's name; the way we find our endpoints again.
    public static let customerKey = "privatelink-consumer:customer"

    /// The key whose value names the installation that made the endpoint (`deployment` in the config).
    public static let deploymentKey = "privatelink-consumer:deployment"
    /// The deployment of an installation that names none, and of endpoints made before the tag existed.
    public static let defaultDeployment = "default"

    public static func tags(customer: String, deployment: String = defaultDeployment) -> [(key: String, value: String)] {
        [("Name", "privatelink-consumer/\(customer)"), (customerKey, customer), (deploymentKey, deployment)]
    }

    /// Whether `endpoint` is this deployment's to adopt, delete or count as its own: its tag names it, or it has
    /// none (made before the tag existed) and this is the default deployment.
    public static func belongs(_ endpoint: VpcEndpoint, to deployment: String) -> Bool {
        (endpoint.tags[deploymentKey] ?? defaultDeployment) == deployment
    }

    /// A deployment name: 1–32 of a-z, 0-9 and `-`, starting with a letter or digit.
    public static func isDeploymentName(_ name: String) -> Bool {
        (1...32).contains(name.count) && name.first.map { $0.isLowercase || $0.isNumber } == true
            && name.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}

extension VpcEndpoint {
    /// What identifies it as one of ours: its id, our customer tag, its resource configuration.
    public var identity: VpcEndpointIdentity {
        VpcEndpointIdentity(vpcEndpointId: vpcEndpointId, customerTag: tags[EndpointTags.customerKey],
                            resourceConfigurationArn: resourceConfigurationArn, createdAt: creationTimestamp.flatMap(Timestamp.parse))
    }
}
