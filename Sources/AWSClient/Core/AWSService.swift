/// What the client needs to know about one AWS service: how to reach it, sign for it and read its errors.
public struct AWSService: Sendable, Hashable, CustomStringConvertible {
    /// Short name for messages, logs and metrics (`ram`, `ec2`, `vpc-lattice`, `sts`).
    public let name: String
    /// The SigV4 signing name.
    public let signingName: String
    /// The first label of the default endpoint host (`<prefix>.<region>.amazonaws.com`).
    public let endpointPrefix: String
    /// The suffix of `AWS_ENDPOINT_URL_<SERVICE>` that overrides the endpoint.
    public let environmentSuffix: String
    public let wireProtocol: AWSProtocol

    public var description: String { name }

    public static let ram = AWSService(name: "ram", signingName: "ram", endpointPrefix: "ram",
                                       environmentSuffix: "RAM", wireProtocol: .restJSON)
    public static let ec2 = AWSService(name: "ec2", signingName: "ec2", endpointPrefix: "ec2",
                                       environmentSuffix: "EC2", wireProtocol: .ec2)
    public static let vpcLattice = AWSService(name: "vpc-lattice", signingName: "vpc-lattice", endpointPrefix: "vpc-lattice",
                                              environmentSuffix: "VPC_LATTICE", wireProtocol: .restJSON)
    public static let sts = AWSService(name: "sts", signingName: "sts", endpointPrefix: "sts",
                                       environmentSuffix: "STS", wireProtocol: .query)
    /// Service Quotas (botocore `service-quotas`: endpoint prefix and signing name `servicequotas`).
    public static let serviceQuotas = AWSService(name: "service-quotas", signingName: "servicequotas", endpointPrefix: "servicequotas",
                                                 environmentSuffix: "SERVICE_QUOTAS", wireProtocol: .json)
}
