import AWSModels

/// The tags that mark an endpoint as ours and name its customer.
public enum EndpointTags {
    /// The key whose value is the customer's name; the way we find our endpoints again.
    public static let customerKey = "privatelink-consumer:customer"

    public static func tags(customer: String) -> [(key: String, value: String)] {
        [("Name", "privatelink-consumer/\(customer)"), (customerKey, customer)]
    }
}

extension VpcEndpoint {
    /// What identifies it as one of ours: its id, our customer tag, its resource configuration.
    public var identity: VpcEndpointIdentity {
        VpcEndpointIdentity(vpcEndpointId: vpcEndpointId, customerTag: tags[EndpointTags.customerKey],
                            resourceConfigurationArn: resourceConfigurationArn, createdAt: creationTimestamp.flatMap(Timestamp.parse))
    }
}
