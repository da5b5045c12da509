/// One association a Resource endpoint reports (DescribeVpcEndpointAssociations), beyond the default one.
public struct SimulatedAssociation: Sendable, Hashable {
    /// `associatedResourceArn`: the resource (or, for a group, one child) it reaches.
    public var resourceArn: String
    /// `resourceConfigurationGroupArn`: the group the child belongs to.
    public var groupArn: String?
    public var dnsName: String
    /// False: `associatedResourceAccessibility` reads `Inaccessible`.
    public var accessible: Bool

    public init(resourceArn: String, groupArn: String? = nil, dnsName: String, accessible: Bool = true) {
        self.resourceArn = resourceArn
        self.groupArn = groupArn
        self.dnsName = dnsName
        self.accessible = accessible
    }
}
