import Foundation

/// One VPC of a region's pool as the active daemon's last pass left it: what `status` shows under
/// "capacity". The daemon writes the whole table when a pass changes any of it (not every pass).
public struct CapacityRecord: Codable, Sendable, Equatable {
    public var region: String
    public var vpcId: String
    /// Its place in `regions.<region>.vpcs` (0 first): the order new endpoints fill the pool in.
    public var position: Int
    /// Endpoints in it that take room (ours, and other deployments' tagged ones), as EC2 listed them.
    public var endpoints: Int
    public var endpointLimit: Int
    /// `VpcCapacity.LimitSource`'s raw value: `service-quotas`, `default` or `maxEndpoints`.
    public var limitSource: String
    /// The EC2 code that marked it full (`VpcEndpointLimitExceeded`, `InsufficientFreeAddressesInSubnet`), if any.
    public var fullBecause: String?
    public var changedAt: Date

    public init(region: String, vpcId: String, position: Int, endpoints: Int, endpointLimit: Int, limitSource: String,
                fullBecause: String?, changedAt: Date) {
        self.region = region
        self.vpcId = vpcId
        self.position = position
        self.endpoints = endpoints
        self.endpointLimit = endpointLimit
        self.limitSource = limitSource
        self.fullBecause = fullBecause
        self.changedAt = changedAt
    }

    /// The rows of one region's pool, in configured order.
    public static func rows(region: String, pool: [VpcCapacity], at time: Date) -> [CapacityRecord] {
        pool.enumerated().map { index, vpc in
            CapacityRecord(region: region, vpcId: vpc.vpcId, position: index, endpoints: vpc.endpoints, endpointLimit: vpc.limit,
                           limitSource: vpc.limitSource.rawValue, fullBecause: vpc.fullBecause, changedAt: time)
        }
    }

    /// Equal but for when it was written (whether a pass changed anything worth writing).
    public func sameReading(as other: CapacityRecord) -> Bool {
        var other = other
        other.changedAt = changedAt
        return self == other
    }
}
