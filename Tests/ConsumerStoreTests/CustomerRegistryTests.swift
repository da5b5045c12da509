import Foundation
import Synchronization
import GRDB
import Testing
import TestSupport
@testable import ConsumerStore

@Suite struct CustomerRegistryTests {

    func arn(_ n: Int) throws -> ResourceConfigurationARN { try ResourceConfigurationARN.parse(testARN(n)).get() }

    @Test(arguments: Backend.allCases) func addThenListAndShow(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let added = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(1), port: 6543, note: "ticket 42"), by: StoreFixtures.actor)
        #expect(added.state == .awaitingShare)
        #expect(added.accountId == "111122223333")
        #expect(added.region == "us-east-1")
        let listed = try await store.customers()
        #expect(listed == [added])
        let events = try await store.events(customerId: try #require(added.id))
        #expect(events.map(\.event) == ["registered"])
        #expect(events.first?.toState == .awaitingShare)
    }

    @Test(arguments: Backend.allCases) func countsLiveAndReadyCustomersAndStaysUsableAfterReleasingMemory(_ backend: Backend) async throws {
        let store = try await backend.open().store
        #expect(try await store.customerCounts() == (0, 0))
        for n in 1...2 { try await StoreFixtures.readyCustomer(store, name: "c\(n)", arn: testARN(n), vpcEndpointId: "vpce-0000000000000000\(n)") }
        for n in 3...5 { _ = try await store.addCustomer(NewCustomer(name: "c\(n)", arn: try arn(n)), by: StoreFixtures.actor) }
        _ = try await store.requestRemoval(named: "c5", keepEndpoint: false, by: StoreFixtures.actor)
        await store.releaseMemory()
        let counts = try await store.customerCounts()
        #expect(counts.live == 4 && counts.ready == 2, "\(counts)")
        #expect(try await store.customers().map(\.name) == ["c1", "c2", "c3", "c4"])
        _ = try await store.addCustomer(NewCustomer(name: "c6", arn: try arn(6)), by: StoreFixtures.actor)
        #expect(try await store.customerCounts().live == 5)
    }

    /// Every connection of the pool, the writer's and the readers' (also those opened again after a release),
    /// keeps a page cache of `pageCacheKiB`, not SQLite's 2,000 KiB.
    @Test func everyConnectionKeepsTheSmallerPageCache() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let expected = -SQLiteStore.pageCacheKiB
        let cacheSize = "PRAGMA cache_size"
        #expect(try await store.database.write { db in try Int.fetchOne(db, sql: cacheSize) } == expected)
        #expect(try await store.database.read { db in try Int.fetchOne(db, sql: cacheSize) } == expected)
        // The release closes the readers: the next reads open connections again.
        await store.releaseMemory()
        async let first = store.database.read { db in try Int.fetchOne(db, sql: cacheSize) }
        async let second = store.database.read { db in try Int.fetchOne(db, sql: cacheSize) }
        #expect(try await [first, second] == [expected, expected])
    }

    /// Opening can meet SQLITE_BUSY before SQLite's busy handler runs (another process switching to WAL or
    /// checkpointing on close): it is tried again; any other error is not.
    @Test func openingRetriesWhileBusyOnly() throws {
        var attempts = 0
        let value = try SQLiteStore.retryingWhileBusy { () throws -> Int in
            attempts += 1
            if attempts < 3 { throw DatabaseError(resultCode: .SQLITE_BUSY, message: "database is locked") }
            return 42
        }
        #expect(value == 42 && attempts == 3)
        attempts = 0
        #expect(throws: DatabaseError.self) {
            try SQLiteStore.retryingWhileBusy { () throws -> Int in
                attempts += 1
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "corrupt")
            }
        }
        #expect(attempts == 1)
    }

    @Test(arguments: Backend.allCases) func duplicateNameAndArnAreRefusedWithTheFix(_ backend: Backend) async throws {
        let store = try await backend.open().store
        _ = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(1)), by: StoreFixtures.actor)
        let byName = await #expect(throws: StoreError.self) {
            try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(2)), by: StoreFixtures.actor)
        }
        #expect(byName?.code == .duplicateName)
        #expect(byName?.message.contains("customer remove acme") == true)
        let byArn = await #expect(throws: StoreError.self) {
            try await store.addCustomer(NewCustomer(name: "other", arn: try arn(1)), by: StoreFixtures.actor)
        }
        #expect(byArn?.code == .duplicateArn)
        #expect(byArn?.message.contains("customer acme") == true)
        #expect(try await store.customers().count == 1)
    }

    @Test(arguments: Backend.allCases) func removeWithoutEndpointRemovesAtOnceAndFreesTheName(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let first = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(1)), by: StoreFixtures.actor)
        let removed = try await store.requestRemoval(named: "acme", keepEndpoint: false, by: StoreFixtures.actor)
        #expect(removed.state == .removed)
        #expect(removed.removedAt != nil)
        #expect(try await store.customers().isEmpty)
        #expect(try await store.customers(includeRemoved: true).count == 1)
        let again = try await store.addCustomer(NewCustomer(name: "acme", arn: try arn(1)), by: StoreFixtures.actor)
        #expect(again.id != first.id)
        let events = try await store.events(customerId: try #require(first.id))
        #expect(events.map(\.event) == ["registered", "removed"])
        #expect(events.map(\.actor) == ["cli:test", "cli:test"])
    }

    @Test(arguments: Backend.allCases) func removeWithEndpointLeavesItToTheDaemonUnlessKept(_ backend: Backend) async throws {
        let store = try await backend.open().store
        for (index, name) in ["acme", "globex"].enumerated() {
            let customer = try await store.addCustomer(NewCustomer(name: name, arn: try arn(index + 1)), by: StoreFixtures.actor)
            let row = try #require(try await store.beginEndpoint(customerId: customer.id!, expecting: .awaitingShare, region: "us-east-1",
                                                                 clientToken: "token-\(name)", request: "{}"))
            #expect(try await store.changeEndpoint(row.id!, .init(from: [.creating], to: .available,
                                                                  vpcEndpointId: "vpce-0000000000000000\(index)", awsState: "Available")))
        }
        #expect(try await store.requestRemoval(named: "acme", keepEndpoint: false, by: StoreFixtures.actor).state == .removing)
        let kept = try await store.requestRemoval(named: "globex", keepEndpoint: true, by: StoreFixtures.actor)
        #expect(kept.state == .removed)
        #expect(kept.keepEndpoint)
    }

    @Test(arguments: Backend.allCases) func removingAnUnknownNameSaysHowToList(_ backend: Backend) async throws {
        let store = try await backend.open().store
        let error = await #expect(throws: StoreError.self) { try await store.requestRemoval(named: "nobody", keepEndpoint: false, by: StoreFixtures.actor) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("customer list") == true)
    }

    /// Several processes' writers (a store each: separate connections) all land, none refused; and a reader
    /// following the outbox as the health log does (events after its cursor) while they write misses none:
    /// an event never commits after a later one was already read.
    @Test(arguments: Backend.allCases)
    func concurrentWritersOnSeparateConnectionsAllLand(_ backend: Backend) async throws {
        let opened = try await backend.open()
        let writing = Mutex(true)
        let follower = Task { () -> [Int64] in
            var cursor: Int64 = 0
            var seen: [Int64] = []
            while true {
                let done = writing.withLock { !$0 }
                let batch = try await opened.store.events(after: cursor, limit: 500)
                seen += batch.compactMap(\.id)
                cursor = batch.last?.id ?? cursor
                if done && batch.isEmpty { return seen }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    let store = try await opened.reopen()
                    for n in 0..<5 {
                        let index = writer * 5 + n
                        _ = try await store.addCustomer(NewCustomer(name: "c\(index)", arn: try ResourceConfigurationARN.parse(testARN(index + 1)).get()), by: StoreFixtures.actor)
                    }
                    await store.close()
                }
            }
            try await group.waitForAll()
        }
        writing.withLock { $0 = false }
        let followed = try await follower.value
        #expect(try await opened.store.customers().count == 20)
        let events = try await opened.store.events(after: 0, limit: 100)
        #expect(events.count == 20)
        #expect(followed == events.compactMap(\.id), "the follower missed an event that committed behind its cursor")
    }
}

@Suite struct ResourceConfigurationARNTests {
    @Test(arguments: [
        "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0",
        "arn:aws-cn:vpc-lattice:cn-north-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0",
        "arn:aws-us-gov:vpc-lattice:us-gov-west-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0",
    ])
    func accepts(_ text: String) throws {
        let arn = try ResourceConfigurationARN.parse(text).get()
        #expect(arn.description == text)
        #expect(arn.accountId == "111122223333")
    }

    @Test(arguments: [
        ("", "is empty"),
        (" arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0", "whitespace"),
        ("arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0\n", "whitespace"),
        ("arn:aws:vpc-lattice:us-east-1:11112222333:resourceconfiguration/rcfg-0123456789abcdef0", "account id"),
        ("arn:aws:vpc-lattice:us-east-1:11112222333a:resourceconfiguration/rcfg-0123456789abcdef0", "account id"),
        ("arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789ABCDEF0", "resource configuration id"),
        ("arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef", "resource configuration id"),
        ("arn:aws:vpc-lattice:us-east-1:111122223333:resourcegateway/rgw-0123456789abcdef0", "not a resource configuration"),
        ("arn:aws:ram:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0", "not a VPC Lattice"),
        ("arn:aws:vpc-lattice:US-EAST-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0", "invalid region"),
        ("arn:azure:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0", "partition"),
        ("rcfg-0123456789abcdef0", "not an ARN"),
        ("arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0:extra", "not an ARN"),
    ])
    func refuses(_ text: String, _ expected: String) {
        guard case .failure(let error) = ResourceConfigurationARN.parse(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.reason.contains(expected), "\(error.reason)")
    }

    @Test(arguments: [("acme", true), ("acme-prod-2", true), ("a", true), ("Acme", false), ("acme_prod", false),
                      ("-acme", false), ("acme-", false), ("1acme", false), ("ac me", false), ("acme;rm", false),
                      ("", false), (String(repeating: "a", count: 41), false), ("é", false)])
    func customerNames(_ name: String, _ valid: Bool) {
        #expect((CustomerName.problem(with: name) == nil) == valid, "\(name)")
    }
}
