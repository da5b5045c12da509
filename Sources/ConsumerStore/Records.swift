import Foundation
import GRDB

/// One lifecycle transition or notable happening for a customer; also the health log's outbox.
public struct LifecycleEvent: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord, StoredDates {
    public static let databaseTableName = "event"

    public var id: Int64?
    public var time: Date
    public var customerId: Int64?
    public var customerName: String?
    public var event: String
    public var fromState: CustomerState?
    public var toState: CustomerState?
    public var detail: String?
    /// Who made it: `daemon`, or `cli:<user>` (`LifecycleActor`).
    public var actor: String
    /// For a resource configuration check's verdict change (`event == "check"`): which check, its verdict, the hint.
    public var checkName: String? = nil
    public var verdict: CheckVerdict? = nil
    public var hint: String? = nil

    public init(id: Int64? = nil, time: Date, customerId: Int64?, customerName: String?, event: String,
                fromState: CustomerState?, toState: CustomerState?, detail: String?, actor: LifecycleActor) {
        self.id = id
        self.time = time
        self.customerId = customerId
        self.customerName = customerName
        self.event = event
        self.fromState = fromState
        self.toState = toState
        self.detail = detail
        self.actor = actor.description
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// The outcome of one probe of a customer's database through its endpoint.
public struct ProbeResultRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord, StoredDates {
    public static let databaseTableName = "probeResult"

    public enum Stage: String, Codable, Sendable, CaseIterable {
        case dns
        case connect
        case postgres
        case login
    }

    public var id: Int64?
    public var customerId: Int64
    public var time: Date
    public var ok: Bool
    /// The last stage attempted: where it failed, or the last one that passed.
    public var stage: Stage
    public var errorKind: String?
    public var error: String?
    public var hint: String?
    /// Milliseconds per stage, keyed by `Stage.rawValue`.
    public var latencyMs: [String: Double]
    public var vpcEndpointId: String?
    public var dnsName: String?
    public var port: Int

    public init(id: Int64?, customerId: Int64, time: Date, ok: Bool, stage: Stage, errorKind: String?, error: String?,
                hint: String?, latencyMs: [String: Double], vpcEndpointId: String?, dnsName: String?, port: Int) {
        self.id = id
        self.customerId = customerId
        self.time = time
        self.ok = ok
        self.stage = stage
        self.errorKind = errorKind
        self.error = error
        self.hint = hint
        self.latencyMs = latencyMs
        self.vpcEndpointId = vpcEndpointId
        self.dnsName = dnsName
        self.port = port
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension EndpointRecord: FetchableRecord, MutablePersistableRecord, StoredDates {
    public static let databaseTableName = "endpoint"

    /// Column by column, as `Customer` (a pass reads every open generation).
    public init(row: Row) throws {
        self.init(id: try row.decode(forColumn: "id"), customerId: try row.decode(forColumn: "customerId"),
                  region: try row.decode(forColumn: "region"), clientToken: try row.decode(forColumn: "clientToken"),
                  generation: try row.decode(forColumn: "generation"), vpcEndpointId: try row.decode(forColumn: "vpcEndpointId"),
                  state: try row.decode(forColumn: "state"), awsState: try row.decode(forColumn: "awsState"),
                  dnsName: try row.decode(forColumn: "dnsName"), lastError: try row.decode(forColumn: "lastError"),
                  createRequest: try row.decode(forColumn: "createRequest"),
                  createAnsweredAt: try row.decodeDateIfPresent(forColumn: "createAnsweredAt"), lastSeenAt: try row.decodeDateIfPresent(forColumn: "lastSeenAt"),
                  deleteRequestedAt: try row.decodeDateIfPresent(forColumn: "deleteRequestedAt"), vpcId: try row.decode(forColumn: "vpcId"),
                  createdAt: try row.decodeDate(forColumn: "createdAt"), updatedAt: try row.decodeDate(forColumn: "updatedAt"))
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// Every column, with the stored create request only where it can still be needed: a generation being
    /// created (its call is repeated from it). A pass and a sweep read 10,000 open generations, and the request
    /// (half a kilobyte of JSON each) of the others would only be held. The same SQL in both backends.
    static let columnsForPasses = """
        id, customerId, region, clientToken, generation, vpcEndpointId, vpcId, state, awsState, dnsName, lastError,
        CASE WHEN state = 'creating' THEN createRequest END AS createRequest,
        createAnsweredAt, lastSeenAt, deleteRequestedAt, createdAt, updatedAt
        """
}

extension CapacityRecord: FetchableRecord, PersistableRecord, StoredDates {
    public static let databaseTableName = "vpc_capacity"
}

extension InvitationRecord: FetchableRecord, PersistableRecord, StoredDates {
    public static let databaseTableName = "invitation"
}

extension CustomerState: DatabaseValueConvertible {}
extension CheckVerdict: DatabaseValueConvertible {}
extension EndpointRecord.State: DatabaseValueConvertible {}
extension InvitationRecord.Decision: DatabaseValueConvertible {}
extension InvitationRecord.Reason: DatabaseValueConvertible {}
extension ProbeResultRecord.Stage: DatabaseValueConvertible {}
