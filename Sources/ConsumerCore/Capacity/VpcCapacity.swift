import AWSModels

/// How many Resource endpoints each VPC of a region's pool may still take, and where the next one goes: pure
/// decisions over what the pass read (our endpoints by VPC), the quota (Service Quotas, or AWS's default) and
/// the operator's caps, and what EC2 said (a VPC it refused is full until the quota is read again).
public struct VpcCapacity: Sendable, Equatable {
    /// Service Quotas' code for Resource VPC endpoints per VPC (service `vpc`), and AWS's default for it.
    public static let quotaCode = "L-CA6CC422"
    public static let defaultQuota = 200

    /// Where a VPC's limit comes from (`status --json`'s `limitSource`).
    public enum LimitSource: String, Sendable, Equatable {
        case serviceQuotas = "service-quotas"
        case `default`
        case maxEndpoints
    }

    public var vpcId: String
    /// Our endpoints in it that EC2 lists (not yet deleted), and those created since the listing.
    public var endpoints: Int
    public var limit: Int
    public var limitSource: LimitSource
    /// EC2 refused an endpoint here (`VpcEndpointLimitExceeded`, `InsufficientFreeAddressesInSubnet`): no room
    /// until the quota is read again, whatever the counts say; the code says which.
    public var fullBecause: String?

    public init(vpcId: String, endpoints: Int, limit: Int, limitSource: LimitSource, fullBecause: String? = nil) {
        self.vpcId = vpcId
        self.endpoints = endpoints
        self.limit = limit
        self.limitSource = limitSource
        self.fullBecause = fullBecause
    }

    /// How many more endpoints it takes.
    public var room: Int { fullBecause == nil ? max(0, limit - endpoints) : 0 }

    /// A VPC's limit: the quota, or the operator's cap when lower.
    public static func limit(quota: Int, quotaFromServiceQuotas: Bool, maxEndpoints: Int?) -> (Int, LimitSource) {
        if let maxEndpoints, maxEndpoints < quota { return (maxEndpoints, .maxEndpoints) }
        return (quota, quotaFromServiceQuotas ? .serviceQuotas : .default)
    }

    /// The pool's capacities, in configured order: our endpoints counted from the listing (any state but
    /// deleted: a deleting endpoint still takes its place until it is gone).
    /// - Parameter full: the VPCs EC2 refused, with the code and how many of our endpoints the VPC held then: a
    ///   mark holds until the quota is read again, or until the VPC holds fewer endpoints than when it was marked.
    public static func pool(_ vpcs: [(vpcId: String, maxEndpoints: Int?)], listed: some Sequence<VpcEndpoint>, quota: Int,
                            quotaFromServiceQuotas: Bool, full: [String: (code: String, endpoints: Int)]) -> [VpcCapacity] {
        var counts: [String: Int] = [:]
        for endpoint in listed where endpoint.state != .deleted && endpoint.tags[EndpointTags.customerKey] != nil {
            if let vpc = endpoint.vpcId { counts[vpc, default: 0] += 1 }
        }
        return vpcs.map { vpc in
            let (limit, source) = limit(quota: quota, quotaFromServiceQuotas: quotaFromServiceQuotas, maxEndpoints: vpc.maxEndpoints)
            let count = counts[vpc.vpcId] ?? 0
            let mark = full[vpc.vpcId].flatMap { count < $0.endpoints ? nil : $0.code }
            return VpcCapacity(vpcId: vpc.vpcId, endpoints: count, limit: limit, limitSource: source, fullBecause: mark)
        }
    }

    /// The VPC a new endpoint goes to: the first in configured order with room; nil when the pool is full.
    public static func place(in pool: [VpcCapacity]) -> String? {
        pool.first { $0.room > 0 }?.vpcId
    }

    /// The EC2 codes that mean "this VPC has no room" rather than "this request is wrong".
    public static func isCapacityRefusal(_ code: String) -> Bool {
        code == "VpcEndpointLimitExceeded" || code == "InsufficientFreeAddressesInSubnet"
    }

    /// What on-call reads when a region's pool is full: the region, the quota and the two fixes.
    public static func fullHint(region: String) -> String {
        "no VPC of regions.\(region) has room for another Resource endpoint: add a VPC to regions.\(region).vpcs in the config, "
            + "or raise the Service Quotas quota \(quotaCode) (Resource VPC endpoints per VPC) for the full VPCs; the customer is "
            + "onboarded in the next pass that finds room (this is not a failure)"
    }

    /// What on-call reads when a VPC's subnets have no free address left.
    public static func addressesHint(region: String, vpcId: String) -> String {
        "a subnet of \(vpcId) (regions.\(region)) has no free IP address for another endpoint: give the VPC larger subnets or "
            + "add a VPC to regions.\(region).vpcs"
    }
}
