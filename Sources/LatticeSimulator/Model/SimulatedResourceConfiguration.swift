import Foundation

/// A VPC Lattice resource configuration as `GetResourceConfiguration` describes it.
public struct SimulatedResourceConfiguration: Sendable, Hashable {
    /// What the configuration points at.
    public enum Definition: Sendable, Hashable {
        /// A DNS name (e.g. an RDS endpoint); `ipAddressType` is `IPV4`, `IPV6` or `DUALSTACK`.
        case dns(domainName: String, ipAddressType: String = "IPV4")
        /// A fixed IP address: no failover when the database moves.
        case ip(address: String)
        /// Another AWS resource by ARN (ARN-type configurations).
        case arn(String)
        /// None of its own (a GROUP configuration: its children have the definitions).
        case noDefinition
    }

    /// `arn:aws:vpc-lattice:<region>:<owner>:resourceconfiguration/rcfg-<17 hex>`.
    public var arn: String
    public var name: String
    public var definition: Definition
    /// Ports as Lattice lists them (`"5432"`, `"5432-5433"`).
    public var portRanges: [String]
    public var customDomainName: String?
    public var resourceGatewayId: String
    /// False: the consumer account may not read it (`AccessDeniedException`), as is common for shared configurations.
    public var isReadable: Bool
    public var createdAt: Date
    /// `SINGLE`, `GROUP`, `CHILD` or `ARN`.
    public var type: String = "SINGLE"
    /// `ACTIVE`, `CREATE_IN_PROGRESS`, `UPDATE_FAILED`, …
    public var status: String = "ACTIVE"
    /// Why the last change failed, when `status` is a failure.
    public var failureReason: String? = nil

    /// Creates a configuration; the defaults describe a PostgreSQL RDS instance on port 5432.
    public init(arn: String,
                name: String? = nil,
                definition: Definition? = nil,
                portRanges: [String] = ["5432"],
                customDomainName: String? = nil,
                resourceGatewayId: String? = nil,
                isReadable: Bool = true,
                createdAt: Date = Date(timeIntervalSince1970: 1_735_787_045)) {
        self.arn = arn
        let id = Self.id(fromArn: arn)
        self.name = name ?? "db-\(id.suffix(6))"
        self.definition = definition
            ?? .dns(domainName: "db-\(id.suffix(8)).cluster-c0ffee.\(Self.region(fromArn: arn)).rds.amazonaws.com")
        self.portRanges = portRanges
        self.customDomainName = customDomainName
        self.resourceGatewayId = resourceGatewayId ?? SimulatorIdentifiers.make("rgw")
        self.isReadable = isReadable
        self.createdAt = createdAt
    }

    /// The `rcfg-…` id: the ARN's last path component.
    public var id: String { Self.id(fromArn: arn) }

    static func id(fromArn arn: String) -> String {
        String(arn.split(separator: "/").last ?? Substring(arn))
    }

    static func region(fromArn arn: String) -> String {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 3 && !parts[3].isEmpty ? String(parts[3]) : "us-east-1"
    }
}
