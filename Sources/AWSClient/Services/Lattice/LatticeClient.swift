import Foundation

/// VPC Lattice (rest-json) in one region: reading a shared resource configuration, to enrich and warn.
public struct LatticeClient: Sendable {
    let executor: AWSRequestExecutor
    let credentials: any CredentialProvider
    public let region: String

    public init(executor: AWSRequestExecutor, credentials: any CredentialProvider, region: String) {
        self.executor = executor
        self.credentials = credentials
        self.region = region
    }

    /// What GetResourceConfiguration tells. The consumer account may not be allowed to read a shared
    /// configuration: that is a normal answer, not a failure.
    public enum Lookup: Sendable, Equatable {
        case found(ResourceConfiguration)
        case accessDenied(String)
        case notFound(String)
    }

    public func resourceConfiguration(_ idOrArn: String) async throws(AWSClientError) -> Lookup {
        let operation = "GetResourceConfiguration"
        let request = AWSRequest(service: .vpcLattice, operation: operation, region: region, method: "GET",
                                 path: "/resourceconfigurations/" + QueryParameters.percentEncode(idOrArn))
        let response: TransportResponse
        do {
            response = try await executor.send(request, credentials: credentials)
        } catch {
            if error.code == "AccessDeniedException" { return .accessDenied(error.message) }
            if error.code == "ResourceNotFoundException" { return .notFound(error.message) }
            throw error
        }
        return .found(try RestJSON.decode(ResourceConfiguration.self, from: response.body,
                                          service: AWSService.vpcLattice.name, operation: operation))
    }
}

/// The parts of a resource configuration the daemon uses.
public struct ResourceConfiguration: Sendable, Equatable, Decodable {
    public var arn: String?
    public var id: String?
    public var name: String?
    /// `SINGLE`, `GROUP`, `CHILD`, `ARN`.
    public var type: String?
    /// `ACTIVE`, `CREATE_IN_PROGRESS`, …
    public var status: String?
    public var portRanges: [String]?
    public var `protocol`: String?
    public var customDomainName: String?
    public var resourceConfigurationDefinition: Definition?

    public struct Definition: Sendable, Equatable, Decodable {
        public var dnsResource: DNSResource?
        public var ipResource: IPResource?
        public var arnResource: ARNResource?
    }

    public struct DNSResource: Sendable, Equatable, Decodable {
        public var domainName: String?
        public var ipAddressType: String?
    }

    public struct IPResource: Sendable, Equatable, Decodable {
        public var ipAddress: String?
    }

    public struct ARNResource: Sendable, Equatable, Decodable {
        public var arn: String?
    }

    /// An IP-address resource: Lattice cannot follow an RDS failover (customer setup, Troubleshooting 3).
    public var isIPResource: Bool { resourceConfigurationDefinition?.ipResource != nil }

    /// Whether `port` falls in one of the configuration's port ranges (`"5432"` or `"5000-6000"`).
    public func allows(port: Int) -> Bool? {
        guard let portRanges, !portRanges.isEmpty else { return nil }
        return portRanges.contains { range in
            let bounds = range.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1: return bounds[0] == port
            case 2: return (bounds[0]...max(bounds[0], bounds[1])).contains(port)
            default: return false
            }
        }
    }
}
