import Foundation
import GRDB
import Testing
import TestSupport
@testable import ConsumerStore

@Suite struct MigrationTests {
    @Test func newFileIsCreatedWithDirectoryAndOwnerOnlyPermissions() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("nested/deeper/state.sqlite3")
        let store = try ConsumerStore(path: path)
        #expect(try store.schemaVersion() == Schema.currentVersion)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
        #expect(mode & 0o077 == 0, "state file mode \(String(mode, radix: 8)) is readable by others")
        let journal = try store.database.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }

    @Test func migratesFromEveryEarlierVersion() async throws {
        for start in 0..<Schema.currentVersion {
            let dir = TemporaryDirectory()
            let path = dir.file("state.sqlite3")
            let queue = try DatabaseQueue(path: path)
            try await queue.writeWithoutTransaction { db in try Schema.migrate(db, to: start) }
            try queue.close()
            let store = try ConsumerStore(path: path)
            #expect(try store.schemaVersion() == Schema.currentVersion, "from version \(start)")
            let customer = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()), by: StoreFixtures.actor)
            #expect(customer.id != nil)
        }
    }

    @Test func reopeningIsIdempotent() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("state.sqlite3")
        _ = try await ConsumerStore(path: path).addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()), by: StoreFixtures.actor)
        let reopened = try ConsumerStore(path: path)
        #expect(try await reopened.customers().map(\.name) == ["acme"])
    }

    @Test func newerSchemaIsRefusedAndLeftUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("state.sqlite3")
        _ = try ConsumerStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA user_version = \(Schema.currentVersion + 1)")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try ConsumerStore(path: path) }
        #expect(error?.code == .newerSchema)
        #expect(error?.message.contains("newer") == true)
        #expect(error?.message.contains("not modified") == true)
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before == after)
    }

    @Test func aFileThatIsNotADatabaseIsRefusedClearly() throws {
        let dir = TemporaryDirectory()
        let path = try dir.write("state.sqlite3", String(repeating: "this is not sqlite\n", count: 200))
        let error = #expect(throws: StoreError.self) { try ConsumerStore(path: path) }
        #expect(error?.message.contains("not an SQLite database") == true)
        #expect(error?.code == .cannotOpen)
    }

    @Test func aDirectoryInPlaceOfTheFileIsRefused() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("state.sqlite3"), withIntermediateDirectories: true)
        let error = #expect(throws: StoreError.self) { try ConsumerStore(path: dir.file("state.sqlite3")) }
        #expect(error?.message.contains("is a directory") == true)
    }
}
