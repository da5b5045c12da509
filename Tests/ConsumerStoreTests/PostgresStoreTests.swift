import Foundation
import Synchronization
import Testing
import TestSupport
@testable import ConsumerStore

/// What only the PostgreSQL store has: several processes migrating one database at once, a server that
/// refuses us, is not there, or restarts under us. Against real servers on loopback.
@Suite struct PostgresStoreTests {
    static let arn = try! ResourceConfigurationARN.parse(testARN(1)).get()

    @Test func migrationsRunOnceHoweverManyStartAtOnce() async throws {
        let config = try await TestPostgresDatabase.make()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<8 { group.addTask { try await PostgresStore.open(config) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stores.count == 8)
        let opened = OpenedStore(store: stores[0], path: nil, postgres: config)
        let applied = try await opened.rawRows("SELECT version::text FROM schema_migration ORDER BY version", columns: 1)
        #expect(applied.map { $0[0] } == (1...PostgresSchema.currentVersion).map(String.init))
        for store in stores {
            #expect(try await store.schemaVersion() == PostgresSchema.currentVersion)
            await store.close()
        }
    }

    @Test func aDatabaseWrittenByANewerBuildIsRefusedAndLeftAlone() async throws {
        let opened = try await Backend.postgres.open()
        _ = try await opened.store.addCustomer(NewCustomer(name: "acme", arn: Self.arn), by: StoreFixtures.actor)
        try await opened.raw("INSERT INTO schema_migration (version, name) VALUES (99, 'from-the-future')")
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(opened.postgres!) }
        #expect(error?.code == .newerSchema)
        #expect(error?.message.contains("version 99") == true)
        #expect(try await opened.store.customers().map(\.name) == ["acme"])
    }

    @Test func aWrongPasswordIsRefusedWithoutShowingIt() async throws {
        var config = try await TestPostgresDatabase.make()
        let directory = TemporaryDirectory()
        config.passwordFile = try directory.write("password", "wrong-secret-4711\n")
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(config) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("login refused") == true, "\(String(describing: error))")
        #expect(error?.message.contains(config.description) == true)
        #expect(error?.message.contains("wrong-secret-4711") == false)
    }

    @Test func aMissingPasswordFileIsNamed() async throws {
        var config = try await TestPostgresDatabase.make()
        config.passwordFile = "/nonexistent/plc-password"
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(config) }
        #expect(error?.code == .cannotOpen)
        #expect(error?.message.contains("state.postgres.passwordFile /nonexistent/plc-password") == true)
    }

    @Test func nothingListeningFailsFastAndSaysWhere() async throws {
        let config = PostgresStateConfig(host: "127.0.0.1", port: try freeLoopbackPort(), database: "state", user: "plc", tls: .disable)
        let started = ContinuousClock.now
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(config) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("postgres://plc@127.0.0.1:\(config.port)/state") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(8))
    }

    /// A restart cuts every connection: operations while the server is down fail at once with `unavailable`
    /// (no hang), and the store reconnects by itself once it is back, with everything that was committed.
    @Test func aRestartedServerIsReconnectedAndNothingCommittedIsLost() async throws {
        let cluster = try await ThrowawayPostgres.dedicated()
        let config = try await TestPostgresDatabase.make(on: cluster)
        let store = try await PostgresStore.open(config)
        _ = try await store.addCustomer(NewCustomer(name: "acme", arn: Self.arn), by: StoreFixtures.actor)

        try await cluster.stop()
        let started = ContinuousClock.now
        let down = await #expect(throws: StoreError.self) { try await store.customers() }
        #expect(down?.code == .unavailable, "\(String(describing: down))")
        #expect(ContinuousClock.now - started < .seconds(8))
        let refused = await #expect(throws: StoreError.self) {
            try await store.addCustomer(NewCustomer(name: "globex", arn: try ResourceConfigurationARN.parse(testARN(2)).get()), by: StoreFixtures.actor)
        }
        #expect(refused?.code == .unavailable)

        try await cluster.startAgain()
        #expect(try await store.customers().map(\.name) == ["acme"], "committed before the stop, and nothing half-written after")
        _ = try await store.addCustomer(NewCustomer(name: "globex", arn: try ResourceConfigurationARN.parse(testARN(2)).get()), by: StoreFixtures.actor)
        try await cluster.restart()
        #expect(try await store.customers().map(\.name) == ["acme", "globex"])
        await store.close()
        try await cluster.stop()
    }
}

/// The lease and its fence in the store: a takeover waits for nothing but the lease to run out, and then
/// every write of the old holder is refused with nothing written.
@Suite(.timeLimit(.minutes(2))) struct LeaseStoreTests {
    static let a = LeaseCandidate(holder: "host-a:1:aa", host: "host-a", pid: 1)
    static let b = LeaseCandidate(holder: "host-b:2:bb", host: "host-b", pid: 2)

    @Test func claimsRenewTakeOverAndFenceTheOldHolder() async throws {
        let opened = try await Backend.postgres.open()
        let config = try #require(opened.postgres)
        let storeA = try await PostgresStore.open(config)
        let storeB = try await PostgresStore.open(config)
        #expect(try await storeA.leader() == nil)

        guard case .leading(let first, tookOver: true, previous: nil) = try await storeA.claimLeadership(Self.a, held: nil, leaseSeconds: 30) else {
            Issue.record("a did not take the free lease"); return
        }
        #expect(first.epoch == 1 && first.host == "host-a")
        guard case .standby(let seen) = try await storeB.claimLeadership(Self.b, held: nil, leaseSeconds: 30) else {
            Issue.record("b took a live lease"); return
        }
        #expect(seen.holder == Self.a.holder)
        guard case .leading(let renewed, tookOver: false, previous: nil) = try await storeA.claimLeadership(Self.a, held: 1, leaseSeconds: 30) else {
            Issue.record("a did not renew"); return
        }
        #expect(renewed.epoch == 1 && renewed.since == first.since && renewed.expiresAt >= first.expiresAt)

        storeA.setFence(LeaseFence(holder: Self.a.holder, epoch: 1))
        let acme = try await storeA.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()),
                                                by: StoreFixtures.actor)
        // A's lease runs out (it was paused): B takes over with the next epoch.
        try await opened.raw("UPDATE leader SET expiresAt = now() - interval '1 second'")
        guard case .leading(let second, tookOver: true, previous: let previous) = try await storeB.claimLeadership(Self.b, held: nil, leaseSeconds: 30) else {
            Issue.record("b did not take over a lapsed lease"); return
        }
        #expect(second.epoch == 2 && previous?.holder == Self.a.holder)
        #expect(try await storeA.leader()?.holder == Self.b.holder)

        // Every write A tries now is refused, and nothing of it is written.
        let eventsBefore = try await storeB.events(after: 0, limit: 1000).count
        let refused = await #expect(throws: StoreError.self) {
            try await storeA.transition(TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .shareExpired, detail: "stale"))
        }
        #expect(refused?.code == .fenced)
        #expect(refused?.message.contains("no longer holds the leadership lease") == true)
        await #expect(throws: StoreError.self) {
            try await storeA.addCustomer(NewCustomer(name: "globex", arn: try ResourceConfigurationARN.parse(testARN(2)).get()), by: StoreFixtures.actor)
        }
        #expect(try await storeB.customers().map(\.state) == [.awaitingShare])
        #expect(try await storeB.events(after: 0, limit: 1000).count == eventsBefore)
        // A, claiming again, stands by; B's writes pass its own fence.
        guard case .standby = try await storeA.claimLeadership(Self.a, held: 1, leaseSeconds: 30) else {
            Issue.record("a took a live lease back"); return
        }
        storeB.setFence(LeaseFence(holder: Self.b.holder, epoch: 2))
        let moved = try await storeB.transition(TransitionRequest(customerId: acme.id!, from: .awaitingShare, event: .shareExpired, detail: "b"))
        guard case .applied = moved else { Issue.record("b's write under its own fence: \(moved)"); return }

        // Released at shutdown: free at once; the epoch never goes back.
        try await storeA.releaseLeadership(LeaseFence(holder: Self.a.holder, epoch: 1))
        #expect(try await storeA.leader()?.holder == Self.b.holder, "only the holder can release")
        try await storeB.releaseLeadership(LeaseFence(holder: Self.b.holder, epoch: 2))
        #expect(try await storeA.leader() == nil)
        await #expect(throws: ConstraintRefusal.self) { try await opened.raw("UPDATE leader SET epoch = 1") }
        for store in [storeA, storeB] { await store.close() }
    }

    /// `confirmLease` takes the database's word from a fenced write of the last 100 ms (asked in its first
    /// statement), asks again when it is older, and never takes a word the database has since taken back.
    @Test func aConfirmationIsTheDatabasesRecentWordAndNeverOutlivesARefusal() async throws {
        let opened = try await Backend.postgres.open()
        let config = try #require(opened.postgres)
        let storeA = try await PostgresStore.open(config)
        let storeB = try await PostgresStore.open(config)
        guard case .leading = try await storeA.claimLeadership(Self.a, held: nil, leaseSeconds: 30) else { Issue.record("a did not lead"); return }
        storeA.setFence(LeaseFence(holder: Self.a.holder, epoch: 1))
        _ = try await storeA.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()), by: StoreFixtures.actor)
        try await storeA.confirmLease()

        // B takes over (the test moves A's expiry by hand: the word said the lease had far more than 100 ms left).
        // Once the word is older than 100 ms the database is asked, and says no.
        try await opened.raw("UPDATE leader SET expiresAt = now() - interval '1 second'")
        guard case .leading = try await storeB.claimLeadership(Self.b, held: nil, leaseSeconds: 30) else { Issue.record("b did not take over"); return }
        try await Task.sleep(for: .milliseconds(150))
        let stale = await #expect(throws: StoreError.self) { try await storeA.confirmLease() }
        #expect(stale?.code == .fenced)

        // A refused write takes the word back at once: the next confirmation asks, and is refused too.
        try await storeB.releaseLeadership(LeaseFence(holder: Self.b.holder, epoch: 2))
        guard case .leading(let again, _, _) = try await storeA.claimLeadership(Self.a, held: nil, leaseSeconds: 30) else { Issue.record("a did not lead again"); return }
        storeA.setFence(LeaseFence(holder: Self.a.holder, epoch: again.epoch))
        try await storeA.confirmLease()
        try await opened.raw("UPDATE leader SET expiresAt = now() - interval '1 second'")
        await #expect(throws: StoreError.self) {
            try await storeA.addCustomer(NewCustomer(name: "globex", arn: try ResourceConfigurationARN.parse(testARN(2)).get()), by: StoreFixtures.actor)
        }
        let refused = await #expect(throws: StoreError.self) { try await storeA.confirmLease() }
        #expect(refused?.code == .fenced)

        // A word from a lease with less left than the reuse time is not kept: the next confirmation asks. (The
        // reuse time is 10 s here and the lease has 5 s left, so that nothing depends on the machine's speed.)
        try await storeB.releaseLeadership(LeaseFence(holder: Self.b.holder, epoch: 2))
        try await opened.raw("UPDATE leader SET holder = NULL, expiresAt = NULL")
        guard case .leading(let third, _, _) = try await storeA.claimLeadership(Self.a, held: nil, leaseSeconds: 30) else { Issue.record("a did not lead a third time"); return }
        storeA.setFence(LeaseFence(holder: Self.a.holder, epoch: third.epoch))
        storeA.word.withLock { $0 = LeaseWord(reuse: .seconds(10)) }
        try await opened.raw("UPDATE leader SET expiresAt = clock_timestamp() + interval '5 seconds'")
        _ = try await storeA.addCustomer(NewCustomer(name: "initech", arn: try ResourceConfigurationARN.parse(testARN(3)).get()), by: StoreFixtures.actor)
        try await opened.raw("UPDATE leader SET expiresAt = now() - interval '1 second'")
        let short = await #expect(throws: StoreError.self) { try await storeA.confirmLease() }
        #expect(short?.code == .fenced)
        for store in [storeA, storeB] { await store.close() }
    }

    /// The word's rules as a table: kept only with time to spare, never older than a refusal, for its fence only.
    @Test func theLeaseWordsRules() {
        let t0 = ContinuousClock.now
        let a = LeaseFence(holder: Self.a.holder, epoch: 1)
        var word = LeaseWord()
        word.heard(a, asked: t0, spare: false)
        #expect(!word.holds(a, at: t0 + .milliseconds(1)))
        word.heard(a, asked: t0, spare: true)
        #expect(word.holds(a, at: t0 + .milliseconds(99)))
        #expect(!word.holds(a, at: t0 + word.reuse))
        #expect(!word.holds(LeaseFence(holder: Self.a.holder, epoch: 2), at: t0 + .milliseconds(1)))
        // A refusal asked later wins over a yes asked before it, whichever arrives last.
        word.refused(asked: t0 + .milliseconds(5))
        word.heard(a, asked: t0 + .milliseconds(3), spare: true)
        #expect(!word.holds(a, at: t0 + .milliseconds(6)))
        // A yes asked after the refusal is kept (the lease was won again).
        word.heard(a, asked: t0 + .milliseconds(7), spare: true)
        #expect(word.holds(a, at: t0 + .milliseconds(8)))
        // An older yes never replaces a newer one.
        word.heard(a, asked: t0 + .milliseconds(6), spare: true)
        #expect(word.holds(a, at: t0 + .milliseconds(106.5)))
    }

    /// A write in flight when another daemon takes over commits before the takeover, whole: the takeover
    /// waits for it (the fence holds the lease row for share until the write commits), and every write after
    /// the takeover is refused.
    @Test func aTakeoverWaitsForTheWriteInFlight() async throws {
        let opened = try await Backend.postgres.open()
        let config = try #require(opened.postgres)
        let storeA = try await PostgresStore.open(config)
        let storeB = try await PostgresStore.open(config)
        guard case .leading(let held, _, _) = try await Self.claimPatiently(storeA, Self.a, leaseSeconds: 30) else {
            Issue.record("a did not take the free lease"); return
        }
        storeA.setFence(LeaseFence(holder: Self.a.holder, epoch: held.epoch))
        // A's lease runs out 2 s from now; its write passes the fence at once and then takes 4 s.
        try await opened.raw("UPDATE leader SET expiresAt = now() + interval '2 seconds'")
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let clock = ContinuousClock()
        let committed = Mutex<ContinuousClock.Instant?>(nil)
        // Taken inside the write, so a late wake-up of this test cannot shorten the measured wait.
        let writeStartedAt = Mutex<ContinuousClock.Instant?>(nil)
        let write = Task {
            // Ends the wait below should the write be refused before it begins.
            defer { signal.finish() }
            try await storeA.write { session in
                writeStartedAt.withLock { $0 = clock.now }
                signal.yield()
                try await Task.sleep(for: .seconds(4))
                try await session.insert(LifecycleEvent(time: Date(), customerId: nil, customerName: nil, event: "in_flight",
                                                        fromState: nil, toState: nil, detail: nil, actor: .daemon))
            }
            committed.withLock { $0 = clock.now }
        }
        for await _ in started { break }
        guard let writeStarted = writeStartedAt.withLock({ $0 }) else {
            Issue.record("the write never began: \(await write.result)"); return
        }
        // B claims once the lease ran out, again while the row is busy, until it takes over.
        try await Task.sleep(for: .milliseconds(2500))
        var claim: LeaseClaim?
        while claim == nil {
            do {
                claim = try await storeB.claimLeadership(Self.b, held: nil, leaseSeconds: 30)
            } catch let error as StoreError where error.code == .busy {
                continue
            }
        }
        let claimedAt = clock.now
        try await write.value
        guard case .leading(let info, tookOver: true, previous: _)? = claim else { Issue.record("\(String(describing: claim))"); return }
        #expect(info.epoch == held.epoch + 1)
        #expect(committed.withLock { $0 } != nil)
        // The write held the lease row for 4 s after it started: no takeover before it committed.
        #expect(claimedAt - writeStarted >= .milliseconds(3900), "the takeover did not wait for the write in flight (\(claimedAt - writeStarted))")
        #expect(try await storeB.events(after: 0, limit: 10).map(\.event) == ["in_flight"], "the write in flight landed whole")
        let refused = await #expect(throws: StoreError.self) {
            try await storeA.noteLeadership("after", detail: "refused")
        }
        #expect(refused?.code == .fenced)
        for store in [storeA, storeB] { await store.close() }
    }

    /// A claim tried again for up to 20 s while the database does not answer in time: at a 5 s lease a
    /// claim has 1.5 s, connecting included, which a loaded machine can miss (a daemon simply claims again).
    /// A retry after a claim that landed unseen finds the candidate leading already.
    static func claimPatiently(_ store: PostgresStore, _ candidate: LeaseCandidate, leaseSeconds: Int) async throws -> LeaseClaim {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            do {
                let claim = try await store.claimLeadership(candidate, held: nil, leaseSeconds: leaseSeconds)
                if case .standby(let leader) = claim, leader.holder == candidate.holder {
                    return .leading(leader, tookOver: false, previous: nil)
                }
                return claim
            } catch let error as StoreError where (error.code == .unavailable || error.code == .busy) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// A daemon frozen in the middle of a write (SIGSTOP, a frozen VM: its transaction open, the lease row
    /// held for share) cannot hold a failover up: the server ends the idle transaction within half a lease,
    /// the standby takes over, and the frozen write is lost whole.
    @Test func aDaemonFrozenMidTransactionCannotHoldTheLeaseRowForever() async throws {
        let config = try await TestPostgresDatabase.make(leaseSeconds: 5)
        let storeA = try await PostgresStore.open(config)
        let storeB = try await PostgresStore.open(config)
        // A long lease while the stage is set (a loaded machine may take seconds here); it is cut to 3 s below.
        guard case .leading(let held, _, _) = try await Self.claimPatiently(storeA, Self.a, leaseSeconds: 60) else {
            Issue.record("a did not take the free lease"); return
        }
        storeA.setFence(LeaseFence(holder: Self.a.holder, epoch: held.epoch))
        // B's lease connection is open before the freeze.
        guard case .standby = try await Self.claimPatiently(storeB, Self.b, leaseSeconds: 5) else {
            Issue.record("b took a live lease"); return
        }
        let opened = OpenedStore(store: storeA, path: nil, postgres: config)
        // The lease runs out 3 s from now: long enough for the write to pass the fence on a loaded machine (1 s was
        // not, with the whole suite running), short enough that only the server ending the frozen transaction
        // (2.5 s) lets the standby in well before the 12 s freeze ends.
        try await opened.raw("UPDATE leader SET expiresAt = now() + interval '3 seconds'")
        let clock = ContinuousClock()
        let (frozenStarted, signal) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
        let frozen = Task {
            // Ends the wait below should the write be refused before it begins.
            defer { signal.finish() }
            try await storeA.write { session in
                signal.yield(clock.now)
                // Frozen for far longer than a lease, between two statements of its transaction.
                try await Task.sleep(for: .seconds(12))
                try await session.insert(LifecycleEvent(time: Date(), customerId: nil, customerName: nil, event: "frozen",
                                                        fromState: nil, toState: nil, detail: nil, actor: .daemon))
            }
        }
        var began: ContinuousClock.Instant?
        for await instant in frozenStarted { began = instant; break }
        guard let started = began else { Issue.record("the frozen write never began: \(await frozen.result)"); return }
        var claim: LeaseClaim?
        // Until B leads: a claim blocked on the frozen row, or one that finds the lease not yet run out, tries again.
        while clock.now - started < .seconds(14) {
            if case .leading? = claim { break }
            if case .standby? = claim { try await Task.sleep(for: .milliseconds(100)) }
            do {
                claim = try await storeB.claimLeadership(Self.b, held: nil, leaseSeconds: 5)
            } catch let error as StoreError where error.code == .busy {
                continue
            } catch let error as StoreError where error.code == .unavailable {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let tookOver = clock.now - started
        guard case .leading(let info, tookOver: true, previous: _)? = claim else { Issue.record("\(String(describing: claim))"); return }
        // B leads under a new epoch (a claim whose answer was lost under load and was repeated takes over from
        // itself once more: 3).
        #expect(info.holder == Self.b.holder && info.epoch >= 2, "\(info)")
        // The server ends the idle transaction after half a lease (2.5 s); the frozen write would hold the
        // row for 12 s.
        #expect(tookOver < .seconds(7), "the frozen transaction held the lease row for \(tookOver)")
        let lost = await frozen.result
        guard case .failure = lost else { Issue.record("the frozen write committed after the takeover"); return }
        #expect(try await storeB.events(after: 0, limit: 10).isEmpty)
        for store in [storeA, storeB] { await store.close() }
    }
}
