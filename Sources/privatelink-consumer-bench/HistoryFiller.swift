import Foundation
import GRDB

/// Puts history into a state file the way months of operation would: answered invitations RAM no longer
/// lists and lifecycle events already written to the health log, all within retention (kept).
enum HistoryFiller {
    static func fill(statePath: String, count: Int) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(15)
        let queue = try DatabaseQueue(path: statePath, configuration: configuration)
        defer { try? queue.close() }
        try queue.write { db in
            let invitationTime = Date().addingTimeInterval(-20 * 86_400)
            let eventTime = Date().addingTimeInterval(-100 * 86_400)
            let invitation = try db.makeStatement(sql: """
                INSERT INTO invitation (invitationArn, region, resourceShareArn, senderAccountId, status, resources, decision, firstSeen, lastSeen)
                VALUES (?, 'us-east-1', ?, '555566667777', 'ACCEPTED', '[]', 'accepted', ?, ?)
                """)
            let event = try db.makeStatement(sql: """
                INSERT INTO event (time, customerId, customerName, event, detail, actor)
                VALUES (?, NULL, ?, 'endpoint_deleted', 'history', 'daemon')
                """)
            for n in 0..<count {
                try invitation.execute(arguments: ["arn:aws:ram:us-east-1:555566667777:resource-share-invitation/old-\(n)",
                                                   "arn:aws:ram:us-east-1:555566667777:resource-share/old-\(n)", invitationTime, invitationTime])
                try event.execute(arguments: [eventTime, "gone-\(n % 1000)"])
            }
            try db.execute(sql: "UPDATE meta SET value = (SELECT max(id) FROM event) WHERE key = 'healthLogCursor'")
        }
    }

    /// Points every customer of the state file at `port` (the bench's own fixture: its customers all resolve
    /// to 127.0.0.1), so that a daemon started on it probes whatever listens there.
    static func repoint(statePath: String, port: Int) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(15)
        let queue = try DatabaseQueue(path: statePath, configuration: configuration)
        defer { try? queue.close() }
        try queue.write { db in try db.execute(sql: "UPDATE customer SET port = ?", arguments: [port]) }
    }
}
