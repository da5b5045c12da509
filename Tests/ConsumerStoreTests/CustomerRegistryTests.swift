import Foundation
import GRDB
import Testing
import TestSupport
@testable import ConsumerStore

@Suite struct CustomerRegistryTests {
    let dir = TemporaryDirectory()

    func arn(_ n: Int) throws -> ResourceConfigurationARN { try ResourceConfigurationARN.parse(testARN(n)).get() }

    @Test func addThenListAndShow() async throws {
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
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

    @Test func countsLiveAndReadyCustomersAndStaysUsableAfterReleasingMemory() async throws {
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
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

    /// Opening can meet SQLITE_BUSY before SQLite's busy handler runs (another process switching to WAL or
    /// checkpointing on close): it is tried again; any other error is not.
    @Test func openingRetriesWhileBusyOnly() throws {
        var attempts = 0
        let value = try ConsumerStore.retryingWhileBusy { () throws -> Int in
            attempts += 1
            if attempts < 3 { throw DatabaseError(resultCode: .SQLITE_BUSY, message: "database is locked") }
            return 42
        }
        #expect(value == 42 && attempts == 3)
        attempts = 0
        #expect(throws: DatabaseError.self) {
            try ConsumerStore.retryingWhileBusy { () throws -> Int in
                attempts += 1
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "corrupt")
            }
        }
        #expect(attempts == 1)
    }

    @Test func duplicateNameAndArnAreRefusedWithTheFix() async throws {
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
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

    @Test func removeWithoutEndpointRemovesAtOnceAndFreesTheName() async throws {
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
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

    @Test func removeWithEndpointLeavesItToTheDaemonUnlessKept() async throws {
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
        for (index, name) in ["acme", "globex"].enumerated() {
            let customer = try await store.addCustomer(NewCustomer(name: name, arn: try arn(index + 1)), by: StoreFixtures.actor)
            try await store.database.write { db in
                var endpoint = EndpointRecord(id: nil, customerId: customer.id!, region: "us-east-1", clientToken: "token-\(name)",
                                              generation: 1, vpcEndpointId: "vpce-0000000000000000\(index)", state: .available,
                                              awsState: "Available", dnsName: nil, lastError: nil,
                                              createdAt: Date(), updatedAt: Date())
                try endpoint.insert(db)
            }
        }
        #expect(try await store.requestRemoval(named: "acme", keepEndpoint: false, by: StoreFixtures.actor).state == .removing)
        let kept = try await store.requestRemoval(named: "globex", keepEndpoint: true, by: StoreFixtures.actor)
        #expect(kept.state == .removed)
        #expect(kept.keepEndpoint)
    }

    @Test func removingAnUnknownNameSaysHowToList() async throws {
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
        let error = await #expect(throws: StoreError.self) { try await store.requestRemoval(named: "nobody", keepEndpoint: false, by: StoreFixtures.actor) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("customer list") == true)
    }

    @Test func concurrentWritersOnSeparateConnectionsAllLand() async throws {
        let path = dir.file("state.sqlite3")
        _ = try ConsumerStore(path: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    // A pool per writer: separate SQLite connections, as separate processes have.
                    let store = try ConsumerStore(path: path)
                    for n in 0..<5 {
                        let index = writer * 5 + n
                        _ = try await store.addCustomer(NewCustomer(name: "c\(index)", arn: try ResourceConfigurationARN.parse(testARN(index + 1)).get()), by: StoreFixtures.actor)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await ConsumerStore(path: path).customers().count == 20)
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
