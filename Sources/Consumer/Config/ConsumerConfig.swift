import ConsumerCore
import ConsumerStore
import Foundation

/// The daemon's configuration file (DESIGN.md "Configuration"), validated as a whole at load.
public struct ConsumerConfig: Sendable, Equatable {
    /// Where the file was read from.
    public var source: String
    /// Where the state lives: the SQLite file (`stateDatabase`, the default) or PostgreSQL (`state`).
    public var state: StateLocation
    public var healthLog: String
    public var pollIntervalSeconds: Double
    public var probeIntervalSeconds: Double
    /// Per-region endpoint placement, keyed by region name.
    public var regions: [String: RegionConfig]
    public var probe: ProbeConfig
    public var unmatchedInvitations: UnmatchedInvitationPolicy
    public var metrics: MetricsConfig?
    /// How fast CreateVpcEndpoint/DeleteVpcEndpoints may be called (EC2's own bucket: 4, refill 0.3/s).
    public var ec2Pacing: EC2Pacing = EC2Pacing()
    /// When the health log rotates, and how many files are kept.
    public var healthLogRotation: HealthLogRotation = HealthLogRotation()
    /// How much history the state keeps.
    public var retention: Retention = Retention()
    /// How often the customers' resource configurations are read again.
    public var checks: Checks = Checks()
    /// This installation's name among those that share an account and its VPCs (staging, production): tagged
    /// on every endpoint it creates (`privatelink-consumer:deployment`); it adopts, deletes and counts as its
    /// own only endpoints with its tag (untagged ones, made before the tag existed, are `default`'s).
    public var deployment: String = EndpointTags.defaultDeployment

    /// The SQLite state file; nil when the state lives in PostgreSQL.
    public var stateDatabase: String? {
        if case .sqlite(let path) = state { return path }
        return nil
    }

    /// Region names in a stable order.
    public var regionNames: [String] { regions.keys.sorted() }

    public static let defaultPath = "/etc/privatelink-consumer/config.json"
    public static let environmentVariable = "PRIVATELINK_CONSUMER_CONFIG"
}

/// Where the state lives.
public enum StateLocation: Sendable, Equatable, CustomStringConvertible {
    /// One SQLite file on this host (the embedded default).
    case sqlite(path: String)
    /// A shared PostgreSQL database: several hosts, one active daemon.
    case postgres(PostgresStateConfig)

    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let postgres): postgres.description
        }
    }
}

/// Where Resource endpoints are placed in one region: a pool of VPCs, filled in configured order (AWS allows
/// 200 Resource endpoints per VPC by default, Service Quotas `vpc` / `L-CA6CC422`). The single form of the
/// file (`vpcId`, `subnetIds`, `securityGroupIds` at region level) is a pool of one.
public struct RegionConfig: Sendable, Equatable {
    /// The pool, in placement order; never empty, no VPC twice.
    public var vpcs: [VpcPlacement]
    public var ipAddressType: IPAddressType
    public var privateDnsEnabled: Bool

    public init(vpcs: [VpcPlacement], ipAddressType: IPAddressType, privateDnsEnabled: Bool) {
        precondition(!vpcs.isEmpty, "a region has at least one VPC")
        self.vpcs = vpcs
        self.ipAddressType = ipAddressType
        self.privateDnsEnabled = privateDnsEnabled
    }

    /// A pool of one (the single form).
    public init(vpcId: String, subnetIds: [String], securityGroupIds: [String], ipAddressType: IPAddressType, privateDnsEnabled: Bool) {
        self.init(vpcs: [VpcPlacement(vpcId: vpcId, subnetIds: subnetIds, securityGroupIds: securityGroupIds)],
                  ipAddressType: ipAddressType, privateDnsEnabled: privateDnsEnabled)
    }

    /// The pool's VPC ids, in order.
    public var vpcIds: [String] { vpcs.map(\.vpcId) }

    /// The first VPC of the pool.
    public var first: VpcPlacement { vpcs[0] }

    /// The placement of `vpcId`, if the pool has it.
    public func placement(_ vpcId: String) -> VpcPlacement? { vpcs.first { $0.vpcId == vpcId } }
}

/// One VPC of a region's pool: where its endpoints go, and at most how many of ours it may hold.
public struct VpcPlacement: Sendable, Equatable {
    public var vpcId: String
    public var subnetIds: [String]
    public var securityGroupIds: [String]
    /// An operator's own cap below AWS's quota (nil: the quota alone).
    public var maxEndpoints: Int?

    public init(vpcId: String, subnetIds: [String], securityGroupIds: [String], maxEndpoints: Int? = nil) {
        self.vpcId = vpcId
        self.subnetIds = subnetIds
        self.securityGroupIds = securityGroupIds
        self.maxEndpoints = maxEndpoints
    }
}

/// `IpAddressType` of CreateVpcEndpoint.
public enum IPAddressType: String, Sendable, Equatable, CaseIterable {
    case ipv4
    case dualstack
    case ipv6
}

/// Probe timing and parallelism. Each stage has its own budget; unset ones use `timeoutSeconds`.
public struct ProbeConfig: Sendable, Equatable {
    public var timeoutSeconds: Double
    public var concurrency: Int
    public var dnsTimeoutSeconds: Double? = nil
    public var connectTimeoutSeconds: Double? = nil
    public var postgresTimeoutSeconds: Double? = nil
    public var loginTimeoutSeconds: Double? = nil

    public init(timeoutSeconds: Double, concurrency: Int, dnsTimeoutSeconds: Double? = nil, connectTimeoutSeconds: Double? = nil,
                postgresTimeoutSeconds: Double? = nil, loginTimeoutSeconds: Double? = nil) {
        self.timeoutSeconds = timeoutSeconds
        self.concurrency = concurrency
        self.dnsTimeoutSeconds = dnsTimeoutSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.postgresTimeoutSeconds = postgresTimeoutSeconds
        self.loginTimeoutSeconds = loginTimeoutSeconds
    }
}

/// How long answered invitations and lifecycle events are kept (the health log keeps its own copy of
/// events, rotated by size). Invitations RAM still lists are never pruned: RAM forgets answered ones
/// after about 7 days, hence the 8-day floor.
public struct Retention: Sendable, Equatable {
    public var invitationDays: Int = 30
    public var eventDays: Int = 400
    public var eventsPerCustomer: Int = 1000
}

/// The resource configuration checks: read when a share is accepted, then again every
/// `resourceConfigurationHours` (spread over passes).
public struct Checks: Sendable, Equatable {
    public var resourceConfigurationHours: Int = 6
}

/// Size-based rotation of the health log.
public struct HealthLogRotation: Sendable, Equatable {
    public var maxBytes: Int = 10 << 20
    public var files: Int = 5
}

/// The Prometheus endpoint's listening address.
public struct MetricsConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
}

/// The token bucket the daemon paces EC2 endpoint mutations with. The defaults are EC2's own limits
/// for these calls; raise them only when AWS raised the account's limits.
public struct EC2Pacing: Sendable, Equatable {
    public var burst: Double = 4
    public var refillPerSecond: Double = 0.3
}

/// `state.backend`.
enum StateBackendName: String, CaseIterable {
    case sqlite
    case postgres
}
