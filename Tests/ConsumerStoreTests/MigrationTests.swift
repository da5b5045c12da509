import Foundation
import GRDB
import Synchronization
import Testing
import TestSupport
@testable import ConsumerStore

@Suite struct MigrationTests {
    @Test func newFileIsCreatedWithDirectoryAndOwnerOnlyPermissions() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("nested/deeper/state.sqlite3")
        let store = try SQLiteStore(path: path)
        #expect(try await store.schemaVersion() == Schema.currentVersion)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
        #expect(mode & 0o077 == 0, "state file mode \(String(mode, radix: 8)) is readable by others")
        let journal = try await store.database.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }

    @Test func migratesFromEveryEarlierVersion() async throws {
        for start in 0..<Schema.currentVersion {
            let dir = TemporaryDirectory()
            let path = dir.file("state.sqlite3")
            let queue = try DatabaseQueue(path: path)
            try await queue.writeWithoutTransaction { db in try Schema.migrate(db, to: start) }
            try queue.close()
            let store = try SQLiteStore(path: path)
            #expect(try await store.schemaVersion() == Schema.currentVersion, "from version \(start)")
            let customer = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()), by: StoreFixtures.actor)
            #expect(customer.id != nil)
        }
    }

    @Test func reopeningIsIdempotent() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("state.sqlite3")
        _ = try await SQLiteStore(path: path).addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()), by: StoreFixtures.actor)
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.customers().map(\.name) == ["acme"])
    }

    @Test func newerSchemaIsRefusedAndLeftUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("state.sqlite3")
        _ = try SQLiteStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA user_version = \(Schema.currentVersion + 1)")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.code == .newerSchema)
        #expect(error?.message.contains("newer") == true)
        #expect(error?.message.contains("nothing was modified") == true)
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before == after)
    }

    @Test func aFileThatIsNotADatabaseIsRefusedClearly() throws {
        let dir = TemporaryDirectory()
        let path = try dir.write("state.sqlite3", String(repeating: "this is not sqlite\n", count: 200))
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.message.contains("not an SQLite database") == true)
        #expect(error?.code == .cannotOpen)
    }

    @Test func aDirectoryInPlaceOfTheFileIsRefused() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("state.sqlite3"), withIntermediateDirectories: true)
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: dir.file("state.sqlite3")) }
        #expect(error?.message.contains("is a directory") == true)
    }

    /// A file written by every earlier schema, with rows in it, upgrades to the current one keeping them:
    /// the migrations are the SQL of their time, so `migrate(to: n)` writes exactly what version n wrote.
    @Test func upgradesAFileWithDataWrittenByEveryEarlierSchema() async throws {
        // Versions 1–3 took rows in any state; from 4 on the file's own lifecycle rules apply (next test).
        for start in 1..<4 {
            let dir = TemporaryDirectory()
            let path = try await Self.file(in: dir, version: start, sql: """
                    INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, state, keepEndpoint,
                                          createdAt, updatedAt, stateChangedAt)
                    VALUES ('acme', ?, 'aws', 'us-east-1', '111122223333', 5432, 'ready', 0, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000'),
                           ('globex', ?, 'aws', 'us-east-1', '111122223333', 5432, 'endpoint_failed', 0, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                    INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, state, keepEndpoint,
                                          createdAt, updatedAt, stateChangedAt, removedAt)
                    VALUES ('kept', ?, 'aws', 'us-east-1', '111122223333', 5432, 'removed', 1, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000', '2026-01-02 00:00:00.000');
                    INSERT INTO endpoint (customerId, region, clientToken, generation, vpcEndpointId, state, createdAt, updatedAt)
                    VALUES (1, 'us-east-1', 'plc-a', 1, 'vpce-0aaaaaaaaaaaaaaaa', 'available', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000'),
                           (2, 'us-east-1', 'plc-b', 1, NULL, 'failed', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000'),
                           (3, 'us-east-1', 'plc-c', 1, 'vpce-0cccccccccccccccc', 'available', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                    INSERT INTO event (time, customerId, customerName, event, fromState, toState, detail)
                    VALUES ('2026-01-01 00:00:00.000', 1, 'acme', 'registered', NULL, 'awaiting_share', NULL),
                           ('2026-01-01 00:00:01.000', 1, 'acme', 'ready', 'endpoint_pending', 'ready', NULL);
                    INSERT INTO invitation (invitationArn, region, resourceShareArn, senderAccountId, status, decision, firstSeen, lastSeen)
                    VALUES ('arn:aws:ram:us-east-1:111122223333:resource-share-invitation/i', 'us-east-1', 's', '111122223333', 'ACCEPTED',
                            'accepted', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                    INSERT INTO probeResult (customerId, time, ok, stage, port) VALUES (1, '2026-01-01 00:00:00.000', 1, 'postgres', 5432);
                    """, arguments: [testARN(1), testARN(2), testARN(3)])
            let store = try SQLiteStore(path: path)
            #expect(try await store.schemaVersion() == Schema.currentVersion, "from version \(start)")
            #expect(try await store.customers().map(\.name) == ["acme", "globex"], "from version \(start)")
            let generations = try await store.endpointGenerations()
            #expect(generations.map(\.state) == [.available, .deleted, .released],
                    "from version \(start): a failed generation without an id created nothing; a removed customer's kept endpoint is released")
            #expect(try await store.healthLogCursor() == 2, "from version \(start): old events were written by the daemon of their time")
            #expect(try await store.events(customerId: 1).map(\.actor) == ["daemon", "daemon"])
            // The lifecycle holds on upgraded rows: the CLI removes, the daemon may not finish while the endpoint is open.
            let removing = try await store.requestRemoval(named: "acme", keepEndpoint: false, by: StoreFixtures.actor)
            #expect(removing.state == .removing)
            await #expect(throws: DatabaseError.self, "from version \(start): removal finished with an open endpoint") {
                try await store.transition(TransitionRequest(customerId: 1, from: .removing, event: .removalFinished, detail: nil))
            }
        }
    }

    /// A file written by version 4 (rows made the way its lifecycle rules allow) upgrades to every later one.
    @Test func upgradesAFileWithDataWrittenByTheLifecycleSchema() async throws {
        for start in 4..<Schema.currentVersion {
            let dir = TemporaryDirectory()
            let path = try await Self.file(in: dir, version: start, sql: """
                    INSERT INTO customer (name, resourceConfigurationArn, partition, region, accountId, port, state, keepEndpoint,
                                          createdAt, updatedAt, stateChangedAt, stateActor)
                    VALUES ('acme', ?, 'aws', 'us-east-1', '111122223333', 5432, 'awaiting_share', 0, '2026-01-01 00:00:00.000',
                            '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000', 'cli:se');
                    UPDATE customer SET state = 'accepting', stateActor = 'daemon' WHERE id = 1;
                    UPDATE customer SET state = 'share_accepted' WHERE id = 1;
                    UPDATE customer SET state = 'endpoint_pending' WHERE id = 1;
                    INSERT INTO endpoint (customerId, region, clientToken, generation, vpcEndpointId, state, createRequest, createdAt, updatedAt)
                    VALUES (1, 'us-east-1', 'plc-a', 1, 'vpce-0aaaaaaaaaaaaaaaa', 'available', '{}', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                    UPDATE customer SET state = 'ready' WHERE id = 1;
                    INSERT INTO event (time, customerId, customerName, event, fromState, toState, detail, actor)
                    VALUES ('2026-01-01 00:00:00.000', 1, 'acme', 'registered', NULL, 'awaiting_share', NULL, 'cli:se'),
                           ('2026-01-01 00:00:01.000', 1, 'acme', 'endpoint_available', 'endpoint_pending', 'ready', NULL, 'daemon');
                    INSERT INTO probeResult (customerId, time, ok, stage, port) VALUES (1, '2026-01-01 00:00:00.000', 1, 'postgres', 5432);
                    """, arguments: [testARN(1)])
            let store = try SQLiteStore(path: path)
            #expect(try await store.schemaVersion() == Schema.currentVersion, "from version \(start)")
            #expect(try await store.customers().map(\.state) == [.ready], "from version \(start)")
            #expect(try await store.events(customerId: 1).map(\.actor) == ["cli:se", "daemon"])
            #expect(try await store.checks().isEmpty)
            // The new tables take rows for the upgraded customers.
            let changed = try await store.recordChecks(customerId: 1, [CheckResult(check: "definition", verdict: .fail, detail: "an IP resource")])
            #expect(changed.map(\.check) == ["definition"], "from version \(start)")
            #expect(try await store.events(customerId: 1).last?.checkName == "definition")
        }
    }

    /// A state file at schema `version` with the rows `sql` writes, as the build of that version made it.
    static func file(in dir: TemporaryDirectory, version: Int, sql: String, arguments: StatementArguments) async throws -> String {
        let path = dir.file("state.sqlite3")
        let queue = try DatabaseQueue(path: path)
        try await queue.writeWithoutTransaction { db in
            try Schema.migrate(db, to: version)
            try db.execute(sql: sql, arguments: arguments)
        }
        try queue.close()
        return path
    }
}
