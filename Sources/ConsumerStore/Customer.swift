import Foundation
import GRDB

/// What `customer add` supplies; the rest of a `Customer` is derived or defaulted.
public struct NewCustomer: Sendable, Equatable {
    public var name: String
    public var arn: ResourceConfigurationARN
    public var port: Int
    public var note: String?

    public init(name: String, arn: ResourceConfigurationARN, port: Int = 5432, note: String? = nil) {
        self.name = name
        self.arn = arn
        self.port = port
        self.note = note
    }
}

extension Customer: FetchableRecord, MutablePersistableRecord, StoredDates {
    public static let databaseTableName = "customer"

    /// Column by column rather than through `Decodable`: a pass reads every live customer, and this is
    /// several times cheaper. NULL in a required column, an unknown state or an unreadable date throws;
    /// integers are read as SQLite converts them (as `Decodable` did), the schema's CHECKs bound them.
    public init(row: Row) throws {
        self.init(id: try row.decode(forColumn: "id"), name: try row.decode(forColumn: "name"),
                  resourceConfigurationArn: try row.decode(forColumn: "resourceConfigurationArn"),
                  partition: try row.decode(forColumn: "partition"), region: try row.decode(forColumn: "region"),
                  accountId: try row.decode(forColumn: "accountId"), port: try row.decode(forColumn: "port"),
                  note: try row.decode(forColumn: "note"), state: try row.decode(forColumn: "state"),
                  stateDetail: try row.decode(forColumn: "stateDetail"), hint: try row.decode(forColumn: "hint"),
                  keepEndpoint: try row.decode(forColumn: "keepEndpoint"),
                  resourceShareArn: try row.decode(forColumn: "resourceShareArn"),
                  invitationArn: try row.decode(forColumn: "invitationArn"),
                  createdAt: try row.decodeDate(forColumn: "createdAt"), updatedAt: try row.decodeDate(forColumn: "updatedAt"),
                  stateChangedAt: try row.decodeDate(forColumn: "stateChangedAt"), removedAt: try row.decodeDateIfPresent(forColumn: "removedAt"),
                  endpointFailures: try row.decode(forColumn: "endpointFailures"),
                  nextEndpointAttemptAt: try row.decodeDateIfPresent(forColumn: "nextEndpointAttemptAt"))
        probeUser = try row.decode(forColumn: "probeUser")
        probePasswordFile = try row.decode(forColumn: "probePasswordFile")
        probeDatabase = try row.decode(forColumn: "probeDatabase")
        stateActor = try row.decode(forColumn: "stateActor")
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
