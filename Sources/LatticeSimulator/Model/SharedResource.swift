/// A resource inside a RAM share, as a test or scenario adds it.
public struct SharedResource: Sendable, Hashable {
    /// The RAM type of a VPC Lattice resource configuration.
    public static let resourceConfigurationType = "vpc-lattice:ResourceConfiguration"

    /// The resource's ARN, e.g. `arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-…`.
    public var arn: String
    /// The RAM resource type (`vpc-lattice:ResourceConfiguration`); RAM compares it case-insensitively.
    public var type: String
    /// `REGIONAL` or `GLOBAL`.
    public var regionScope: String

    /// Creates a shared resource, by default a resource configuration.
    public init(arn: String, type: String = SharedResource.resourceConfigurationType, regionScope: String = "REGIONAL") {
        self.arn = arn
        self.type = type
        self.regionScope = regionScope
    }

    /// A random resource configuration ARN owned by `account`, for tests that need one.
    public static func randomResourceConfigurationArn(account: String, region: String = "us-east-1") -> String {
        "arn:aws:vpc-lattice:\(region):\(account):resourceconfiguration/\(SimulatorIdentifiers.make("rcfg"))"
    }
}
