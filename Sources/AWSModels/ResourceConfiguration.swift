import Foundation

/// The parts of a resource configuration the daemon uses.
public struct ResourceConfiguration: Sendable, Equatable, Decodable {
    public var arn: String?
    public var id: String?
    public var name: String?
    /// `SINGLE`, `GROUP`, `CHILD`, `ARN`.
    public var type: String?
    /// `ACTIVE`, `CREATE_IN_PROGRESS`, `UPDATE_IN_PROGRESS`, `DELETE_IN_PROGRESS`, `*_FAILED`.
    public var status: String?
    public var failureReason: String?
    public var portRanges: [String]?
    public var `protocol`: String?
    public var customDomainName: String?
    public var resourceConfigurationDefinition: Definition?

    public init(arn: String?, id: String?, name: String?, type: String?, status: String?, portRanges: [String]?,
                protocol: String?, definition: Definition?) {
        self.arn = arn
        self.id = id
        self.name = name
        self.type = type
        self.status = status
        self.portRanges = portRanges
        self.protocol = `protocol`
        resourceConfigurationDefinition = definition
    }

    public struct Definition: Sendable, Equatable, Decodable {
        public var dnsResource: DNSResource?
        public var ipResource: IPResource?
        public var arnResource: ARNResource?

        public init(dnsResource: DNSResource? = nil, ipResource: IPResource? = nil, arnResource: ARNResource? = nil) {
            self.dnsResource = dnsResource
            self.ipResource = ipResource
            self.arnResource = arnResource
        }
    }

    public struct DNSResource: Sendable, Equatable, Decodable {
        public var domainName: String?
        public var ipAddressType: String?

        public init(domainName: String?, ipAddressType: String? = nil) {
            self.domainName = domainName
            self.ipAddressType = ipAddressType
        }
    }

    public struct IPResource: Sendable, Equatable, Decodable {
        public var ipAddress: String?

        public init(ipAddress: String?) { self.ipAddress = ipAddress }
    }

    public struct ARNResource: Sendable, Equatable, Decodable {
        public var arn: String?

        public init(arn: String?) { self.arn = arn }
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
