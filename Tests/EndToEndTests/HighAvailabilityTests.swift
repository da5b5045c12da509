import AWSClient
import ConsumerStore
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// Several daemons on one PostgreSQL state, through the binary, against the simulator: one active, the
/// others standing by; SIGKILL, SIGSTOP and a restarted database, and never a second endpoint.
/// Each test has a time limit: a wait that never ends fails by name instead of holding the run up.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HighAvailabilityTests {
    /// Daemons of one test: each with its own config (its own health log and metrics port, as on its own
    /// host) and its own AWS access key, so that the simulator's call log tells them apart.
    final class Fleet: @unchecked Sendable {
        let harness: DaemonHarness
        let postgres: PostgresStateConfig
        private(set) var daemons: [(process: Process, key: String, metricsPort: Int?)] = []

        init(harness: DaemonHarness, postgres: PostgresStateConfig) {
            self.harness = harness
            self.postgres = postgres
        }

        /// Starts daemon number `daemons.count`.
        @discardableResult
        func start(metrics: Bool = false) throws -> Process {
            let index = daemons.count
            var config = TestConfig(directory: harness.dir.path)
            let metricsPort = metrics ? try freeLoopbackPort() : nil
            config.extra = harness.config.extra.merging(["healthLog": "\"\(harness.dir.file("log/health-\(index).jsonl"))\""]) { $1 }
            if let metricsPort { config.extra["metrics"] = "{\"listen\": \"127.0.0.1:\(metricsPort)\"}" }
            let path = try config.write(name: "config-\(index).json")
            let key = "AKIDDAEMON\(index)XXXXXXXX".prefix(20)
            let credentials = AWSCredentials(accessKeyId: String(key), secretAccessKey: "daemon-\(index)-secret")
            harness.simulator.accept(credentials)
            let process = try harness.startDaemon(["PRIVATELINK_CONSUMER_CONFIG": path, "AWS_ACCESS_KEY_ID": credentials.accessKeyId,
                                                   "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey])
            daemons.append((process, credentials.accessKeyId, metricsPort))
            return process
        }

        func index(ofPid pid: Int) -> Int? { daemons.firstIndex { Int($0.process.processIdentifier) == pid } }

        /// `status --json`'s leader, or nil.
        func leader() async throws -> [String: Any]? {
            try await harness.status()["leader"] as? [String: Any]
        }

        /// Waits until a running daemon other than `excluding` leads; returns its index.
        func waitForLeader(excluding: Int? = nil, timeout: Duration = .seconds(40)) async throws -> Int {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let leader = try await leader(), let pid = leader["pid"] as? Int, let index = index(ofPid: pid),
                   index != excluding, daemons[index].process.isRunning {
                    return index
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw HarnessError("no daemon took the lease within \(timeout)")
        }

        /// Waits until a running daemon other than `excluding` leads; returns its index and when it took
        /// the lease (the database's clock, this host's): a handover's time, without the polling's latency.
        func waitForTakeover(excluding: Int, timeout: Duration = .seconds(40)) async throws -> (index: Int, since: Date) {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let leader = try await leader(), let pid = leader["pid"] as? Int, let index = index(ofPid: pid),
                   index != excluding, daemons[index].process.isRunning {
                    let since = try #require((leader["since"] as? String).flatMap(Timestamp.parse), "\(leader)")
                    return (index, since)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw HarnessError("no daemon took the lease within \(timeout)")
        }
    }

    static func fleet(customers: Int, leaseSeconds: Int = 5, on cluster: ThrowawayPostgres? = nil,
                      provisioning: ProvisioningSettings = ProvisioningSettings(endpoints: .afterDescribes(3))) async throws -> Fleet {
        let postgres = try await TestPostgresDatabase.make(on: cluster, leaseSeconds: leaseSeconds)
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(pageSize: 5, provisioning: provisioning),
                                              pollIntervalSeconds: 0.3,
                                              extra: ["state": TestPostgresDatabase.configJSON(postgres)])
        for n in 0..<customers {
            let arn = testARN(500 + n)
            harness.simulator.addInvitation(sender: "111122223333", shareName: "ha\(n)", resources: [SharedResource(arn: arn)])
        }
        return Fleet(harness: harness, postgres: postgres)
    }

    /// Three daemons; the active one is SIGKILLed at random instants ten times while 20 customers onboard
    /// (each time a new daemon joins, so three run): exactly one endpoint per customer is ever created,
    /// every registration is kept, and a standby takes over within the lease plus one claim interval.
    @Test func killingTheActiveDaemonTenTimesNeverMakesASecondEndpoint() async throws {
        let lease = 5
        let fleet = try await Self.fleet(customers: 20, leaseSeconds: lease)
        let harness = fleet.harness
        defer { Task { await harness.shutdown() } }
        var registered: [String] = []
        for n in 0..<10 {
            try await harness.register("ha\(n)", arn: testARN(500 + n))
            registered.append("ha\(n)")
        }
        for _ in 0..<3 { try fleet.start() }
        var leader = try await fleet.waitForLeader()
        var failovers: [Double] = []
        var generator = SystemRandomNumberGenerator()
        for round in 0..<10 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...1500, using: &generator)))
            let victim = fleet.daemons[leader].process
            let killed = Date()
            kill(victim.processIdentifier, SIGKILL)
            _ = await waitForExit(victim, timeout: .seconds(5))
            // Registrations keep arriving, from the CLI on "another machine", while nobody leads.
            try await harness.register("ha\(10 + round)", arn: testARN(510 + round))
            registered.append("ha\(10 + round)")
            let next = try await fleet.waitForTakeover(excluding: leader)
            failovers.append(next.since.timeIntervalSince(killed))
            leader = next.index
            try fleet.start()
        }
        print("failover after SIGKILL of the active daemon (lease \(lease) s, claims every \(Double(lease) / 3) s): "
              + failovers.map { String(format: "%.1f s", $0) }.joined(separator: ", ")
              + String(format: "; max %.1f s", failovers.max() ?? 0))
        // The lease and one claim interval (measured to the lease's own start, so the CLI's polling is not
        // in it), with a second for a claim that is late on a loaded machine.
        #expect(failovers.allSatisfy { $0 <= Double(lease) + Double(lease) / 3 + 1 }, "\(failovers)")

        try await harness.waitUntil(timeout: .seconds(90), "every customer ready after the kills") {
            let states = try await harness.states()
            return Set(states.keys) == Set(registered) && states.values.allSatisfy { $0 == "ready" }
        }
        #expect(harness.endpointsEverCreated() == Dictionary(uniqueKeysWithValues: registered.map { ($0, 1) }),
                "\(harness.simulator.endpoints.map { "\($0.id) \($0.tags) \($0.state)" })")
        #expect(harness.liveEndpoints().mapValues(\.count) == Dictionary(uniqueKeysWithValues: registered.map { ($0, 1) }))
        #expect(Set(try await harness.states().keys) == Set(registered), "every registration kept")
        // The health logs of the hosts that led say who took over.
        let logs = (0..<fleet.daemons.count).map { (try? String(contentsOfFile: harness.dir.file("log/health-\($0).jsonl"), encoding: .utf8)) ?? "" }
        #expect(logs.filter { $0.contains("leader_acquired") }.count >= 2)
    }

    /// The active daemon is paused (SIGSTOP) for longer than its lease; a standby takes over; woken up
    /// (SIGCONT), the old one makes no AWS change and writes nothing: it stands down.
    @Test func aPausedLeaderThatWakesUpIsFencedAndStandsDown() async throws {
        let lease = 5
        let fleet = try await Self.fleet(customers: 8, leaseSeconds: lease,
                                         provisioning: ProvisioningSettings(endpoints: .afterDescribes(6)))
        let harness = fleet.harness
        defer { Task { await harness.shutdown() } }
        for n in 0..<4 { try await harness.register("ha\(n)", arn: testARN(500 + n)) }
        try fleet.start(metrics: true)
        try fleet.start(metrics: true)
        let first = try await fleet.waitForLeader()
        let standby = 1 - first
        // Both healthy: the standby too; only the active one says it leads.
        for (index, leading) in [(first, "1"), (standby, "0")] {
            let port = try #require(fleet.daemons[index].metricsPort)
            try await harness.waitUntil(timeout: .seconds(15), "daemon \(index) metrics") {
                let metrics = try? await httpGet(port: port, path: "/metrics")
                return metrics?.body.contains("privatelink_consumer_leader \(leading)") == true
            }
            // The active one once its first pass finished; the standby once it saw the lease.
            try await harness.waitUntil(timeout: .seconds(15), "daemon \(index) /healthz 200") {
                (try? await httpGet(port: port, path: "/healthz"))?.status == 200
            }
        }
        // Let it start onboarding, then freeze it mid-work.
        try await Task.sleep(for: .milliseconds(700))
        let paused = fleet.daemons[first]
        kill(paused.process.processIdentifier, SIGSTOP)
        let stoppedAt = Date()
        for n in 4..<8 { try await harness.register("ha\(n)", arn: testARN(500 + n)) }
        let next = try await fleet.waitForLeader(excluding: first, timeout: .seconds(Double(lease) * 3))
        #expect(next == standby)
        try await Task.sleep(for: .seconds(lease + 1))
        let wokenAt = Date()
        kill(paused.process.processIdentifier, SIGCONT)
        try await harness.waitUntil(timeout: .seconds(20), "the woken daemon stands down") {
            harness.daemonLog(first).contains("stood down")
        }
        try await harness.waitUntil(timeout: .seconds(60), "every customer ready under the new leader") {
            let states = try await harness.states()
            return states.count == 8 && states.values.allSatisfy { $0 == "ready" }
        }
        let calls = harness.simulator.calls
        let pausedCalls = calls.filter { $0.accessKeyId == paused.key }
        #expect(pausedCalls.filter { $0.time < stoppedAt }.contains { $0.operation.hasPrefix("ram:") }, "it worked before the pause")
        let afterWaking = pausedCalls.filter { $0.time >= wokenAt && $0.isMutation }
        #expect(afterWaking.isEmpty, "the woken daemon changed AWS: \(afterWaking.map(\.operation))")
        #expect(try await fleet.leader()?["pid"] as? Int == Int(fleet.daemons[standby].process.processIdentifier))
        #expect(harness.endpointsEverCreated().values.allSatisfy { $0 == 1 })
        #expect(harness.endpointsEverCreated().count == 8)
        // Its metrics say so too.
        let port = try #require(paused.metricsPort)
        try await harness.waitUntil(timeout: .seconds(10), "the woken daemon reports standby") {
            (try? await httpGet(port: port, path: "/metrics"))?.body.contains("privatelink_consumer_leader 0") == true
        }

        // A daemon stopped with SIGTERM gives the lease up: the other takes over at its next claim, long
        // before the lease would have run out.
        let stopping = fleet.daemons[standby].process
        let stoppedCleanly = Date()
        kill(stopping.processIdentifier, SIGTERM)
        #expect(await waitForExit(stopping, timeout: .seconds(15)) == 0)
        // Released, not left to run out: the lease (which had at least lease − lease/3 left) no longer names it.
        #expect(try await fleet.leader()?["pid"] as? Int != Int(stopping.processIdentifier))
        let handover = try await fleet.waitForTakeover(excluding: standby, timeout: .seconds(30)).since.timeIntervalSince(stoppedCleanly)
        // Its last renewal was at most a claim interval ago, so the lease had at least lease − lease/3 left.
        #expect(handover < Double(lease), "handed over \(handover) s after SIGTERM")
        #expect(harness.daemonLog(standby).contains("leadership released at shutdown"))
    }

    /// The database goes away and comes back: a daemon started while it is down runs, says so once, and
    /// takes over and onboards once it answers; a restart while daemons run is ridden out.
    @Test func aDatabaseThatIsDownOrRestartsIsRiddenOut() async throws {
        let cluster = try await ThrowawayPostgres.dedicated()
        let fleet = try await Self.fleet(customers: 6, leaseSeconds: 5, on: cluster)
        let harness = fleet.harness
        defer { Task { await harness.shutdown(); try? await cluster.stop() } }
        for n in 0..<3 { try await harness.register("ha\(n)", arn: testARN(500 + n)) }
        try await cluster.stop()
        let daemon = try fleet.start()
        // It says so, and then keeps retrying (several times in 3 s) without saying it again.
        try await harness.waitUntil(timeout: .seconds(30), "the daemon reports the database unavailable") {
            harness.daemonLog(0).contains("state database unavailable")
        }
        try await Task.sleep(for: .seconds(3))
        #expect(daemon.isRunning, "no exit into a restart loop while the database is down")
        let unavailable = harness.daemonLog(0).components(separatedBy: "state database unavailable").count - 1
        #expect(unavailable == 1, "one line for the outage, not one per retry:\n\(harness.daemonLog(0))")

        try await cluster.startAgain()
        try await harness.waitUntil(timeout: .seconds(40), "the first customers ready") {
            let states = try await harness.states()
            return states.count == 3 && states.values.allSatisfy { $0 == "ready" }
        }
        #expect(harness.daemonLog(0).contains("state database answers again"))
        try fleet.start()
        for n in 3..<6 { try await harness.register("ha\(n)", arn: testARN(500 + n)) }
        try await cluster.restart()
        try await harness.waitUntil(timeout: .seconds(60), "every customer ready after the restart") {
            let states = try? await harness.states()
            return states?.count == 6 && states?.values.allSatisfy { $0 == "ready" } == true
        }
        #expect(harness.endpointsEverCreated().values.allSatisfy { $0 == 1 } && harness.endpointsEverCreated().count == 6)
        #expect(fleet.daemons.allSatisfy { $0.process.isRunning })
        _ = try await fleet.waitForLeader()
    }
}
