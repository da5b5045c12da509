import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// The daemon end to end: the built binary against the simulator, as systemd and SEs run it. The
/// suites below spawn many processes each; they run one test at a time so that timing checks (a 10 s
/// stop budget) are not at the mercy of a dozen other daemons on two cores.
@Suite(.serialized) enum DaemonEndToEnd {}

extension DaemonEndToEnd {
@Suite struct ReconcileEndToEndTests {
    static let ours = "111122223333"

    @Test func onboardingAcceptsOnlyMatchingSharesAndMakesOneEndpointEach() async throws {
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(pageSize: 1))
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let acme = testARN(1), globex = testARN(2, account: "444455556666"), stranger = testARN(3, account: "555566667777")
        let spoofed = testARN(4)
        let acmeInvite = sim.addInvitation(sender: Self.ours, shareName: "acme", resources: [SharedResource(arn: acme)])
        sim.addOrganizationShare(owner: "444455556666", shareName: "globex", resources: [SharedResource(arn: globex)])
        let strangerInvite = sim.addInvitation(sender: "555566667777", shareName: "stranger", resources: [SharedResource(arn: stranger)])
        // Registered ARN, but shared by an account that does not own it.
        let spoofInvite = sim.addInvitation(sender: "666677778888", shareName: "spoof", resources: [SharedResource(arn: spoofed)])
        sim.setAssociationDNSName("localhost", forResource: acme)
        // acme's database port has nothing listening: the probe that follows each pass says so.
        let closedPort = try freeLoopbackPort()
        let added = try await harness.cli(["customer", "add", "acme", "--arn", acme, "--port", String(closedPort)])
        #expect(added.status == 0, "\(added.stderr)")
        try await harness.register("globex", arn: globex)
        try await harness.register("spoofed", arn: spoofed)

        try await harness.passUntil { try await harness.states().filter { $0.key != "spoofed" }.values.allSatisfy { $0 == "ready" } }

        let endpoints = harness.liveEndpoints()
        #expect(endpoints["acme"]?.count == 1)
        #expect(endpoints["globex"]?.count == 1)
        #expect(endpoints["spoofed"] == nil)
        // Every endpoint ever created, deleted ones included: nothing here deletes, so a duplicate made and
        // cleaned up again would show.
        #expect(harness.endpointsEverCreated() == ["acme": 1, "globex": 1], "\(sim.endpoints.map { "\($0.id) \($0.tags) \($0.state)" })")
        #expect(endpoints["acme"]?.first?.resourceConfigurationArn == acme)
        #expect(endpoints["acme"]?.first?.tags["Name"] == "privatelink-consumer/acme")
        #expect(endpoints["acme"]?.first?.subnetIds == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
        let invitations = Dictionary(uniqueKeysWithValues: sim.invitations.map { ($0.arn, $0.status) })
        #expect(invitations[acmeInvite.arn] == .accepted)
        #expect(invitations[strangerInvite.arn] == .pending)
        #expect(invitations[spoofInvite.arn] == .pending)

        let status = try await harness.status()
        let customers = try #require(status["customers"] as? [[String: Any]])
        let acmeRow = try #require(customers.first { $0["name"] as? String == "acme" })
        #expect(acmeRow["dnsName"] as? String == "localhost")
        #expect(acmeRow["vpcEndpointId"] as? String == endpoints["acme"]?.first?.id)
        #expect(acmeRow["health"] as? String == "unhealthy")
        let probe = try #require(acmeRow["lastProbe"] as? [String: Any])
        #expect(probe["ok"] as? Bool == false)
        #expect(probe["stage"] as? String == "connect")
        // The closed-port hint: nothing listening on that port, check the resource configuration (step 4).
        let hint = acmeRow["hint"] as? String ?? ""
        #expect(hint.contains("Nothing is listening on port \(closedPort)") && hint.contains("(step 4)"), "\(hint)")
        #expect(acmeRow["accountId"] as? String == Self.ours)
        #expect(customers.first { $0["name"] as? String == "spoofed" }?["state"] as? String == "awaiting_share")
        let refused = try #require(status["invitations"] as? [[String: Any]])
        let reasons = Dictionary(uniqueKeysWithValues: refused.compactMap { row in
            (row["invitationArn"] as? String).map { ($0, row["reason"] as? String ?? "") }
        })
        #expect(reasons == [strangerInvite.arn: "unregistered_resource", spoofInvite.arn: "sender_mismatch"])

        // `invitations` shows every invitation with the daemon's decision and reason.
        let listed = try await harness.cli(["invitations", "--json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])
        let decisions = Dictionary(uniqueKeysWithValues: (document["invitations"] as? [[String: Any]] ?? []).compactMap { row in
            (row["invitationArn"] as? String).map { ($0, "\(row["decision"] as? String ?? "-")/\(row["reason"] as? String ?? "-")") }
        })
        #expect(decisions == [acmeInvite.arn: "accepted/-", strangerInvite.arn: "ignored/unregistered_resource",
                              spoofInvite.arn: "ignored/sender_mismatch"])

        // Every transition is an event in the store and a line in the health log.
        let show = try await harness.cli(["customer", "show", "acme", "--json"])
        let detail = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let events = (detail["events"] as? [[String: Any]] ?? []).compactMap { $0["toState"] as? String }
        #expect(events == ["awaiting_share", "accepting", "share_accepted", "endpoint_pending", "ready"])
        let log = try String(contentsOfFile: harness.config.healthLog, encoding: .utf8)
        let acmeEvents = log.split(separator: "\n").filter { $0.contains("\"customer\":\"acme\"") && $0.contains("\"kind\":\"event\"") }
        for state in ["accepting", "share_accepted", "endpoint_pending", "ready"] {
            #expect(acmeEvents.contains { $0.contains("\"toState\":\"\(state)\"") }, "no health-log event to \(state)")
        }
        // Each exactly once, with who made it, in the order they were committed.
        let ids = acmeEvents.compactMap { line in line.range(of: "\"eventId\":").map { Int(line[$0.upperBound...].prefix { $0.isNumber }) ?? -1 } }
        #expect(ids.count == acmeEvents.count && ids == ids.sorted() && Set(ids).count == ids.count, "\(acmeEvents)")
        #expect(acmeEvents.first?.contains("\"actor\":\"cli:") == true)
        for line in acmeEvents.dropFirst() {
            #expect(line.contains("\"actor\":\"daemon\""), "\(line)")
        }
    }

    @Test func aShareThatArrivedBeforeTheRegistrationIsAcceptedOnTheNextPass() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let arn = testARN(11)
        let invite = harness.simulator.addInvitation(sender: Self.ours, shareName: "early", resources: [SharedResource(arn: arn)])
        try await harness.pass()
        #expect(harness.simulator.invitations.first?.status == .pending)
        #expect((try await harness.status()["invitations"] as? [[String: Any]])?.first?["reason"] as? String == "unregistered_resource")
        try await harness.register("early", arn: arn)
        try await harness.pass()
        #expect(harness.simulator.invitations.first { $0.arn == invite.arn }?.status == .accepted)
        #expect((try await harness.status()["invitations"] as? [[String: Any]])?.isEmpty == true)
    }

    @Test func anExpiredInvitationTellsOnCallThatTheCustomerMustShareAgain() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let arn = testARN(12)
        let invite = harness.simulator.addInvitation(sender: Self.ours, shareName: "late", resources: [SharedResource(arn: arn)])
        _ = harness.simulator.expireInvitation(invite.arn, stillReadsPending: true)
        try await harness.register("late", arn: arn)
        try await harness.passUntil(maxPasses: 3) { try await harness.states()["late"] == "share_expired" }
        let row = (try await harness.status()["customers"] as? [[String: Any]])?.first
        #expect((row?["hint"] as? String)?.contains("share the resource configuration again") == true)
        #expect(harness.liveEndpoints().isEmpty)
    }

    @Test func driftIsRepairedAndRemovalDeletesTheEndpoint() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let acme = testARN(21), globex = testARN(22)
        sim.addInvitation(sender: Self.ours, shareName: "acme", resources: [SharedResource(arn: acme)])
        let globexInvite = sim.addInvitation(sender: Self.ours, shareName: "globex", resources: [SharedResource(arn: globex)])
        try await harness.register("acme", arn: acme)
        try await harness.register("globex", arn: globex)
        try await harness.passUntil { try await harness.states().values.allSatisfy { $0 == "ready" } }
        let first = try #require(harness.liveEndpoints()["acme"]?.first?.id)

        // Deleted outside the daemon: recreated.
        #expect(sim.deleteEndpoint(first))
        try await harness.pass()
        #expect(["endpoint_missing", "endpoint_pending"].contains(try await harness.states()["acme"] ?? "-"))
        try await harness.passUntil { try await harness.states()["acme"] == "ready" }
        let second = try #require(harness.liveEndpoints()["acme"])
        #expect(second.count == 1)
        #expect(second.first?.id != first)
        let show = try await harness.cli(["customer", "show", "acme", "--json"])
        #expect(show.stdout.contains("endpoint_missing"))

        // The customer withdrew the share: reported, endpoint deleted.
        #expect(sim.withdrawShare(globexInvite.resourceShareArn))
        try await harness.passUntil(maxPasses: 3) { try await harness.states()["globex"] == "share_revoked" }
        #expect(harness.liveEndpoints()["globex"] == nil)

        // Deregistered: the daemon deletes the endpoint and the customer leaves status.
        let removal = try await harness.cli(["customer", "remove", "acme"])
        #expect(removal.stdout.contains("the daemon deletes its endpoints"))
        try await harness.passUntil(maxPasses: 3) { try await harness.states()["acme"] == nil }
        #expect(harness.liveEndpoints()["acme"] == nil)
    }

    @Test func steadyStatePassesCostPagesNotCustomers() async throws {
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(provisioning: .instant))
        defer { Task { await harness.shutdown() } }
        for n in 0..<12 {
            let arn = testARN(100 + n)
            harness.simulator.addInvitation(sender: Self.ours, shareName: "c\(n)", resources: [SharedResource(arn: arn)])
            try await harness.register("c\(n)", arn: arn)
        }
        try await harness.passUntil { try await harness.states().values.allSatisfy { $0 == "ready" } }
        let before = harness.simulator.callCounts
        try await harness.pass()
        let after = harness.simulator.callCounts
        let calls = after.merging(before) { $0 - $1 }.filter { $0.value > 0 }
        // One page each of invitations, shared resources and endpoints (plus, once per process, STS and the VPC
        // endpoint quota: a running daemon reads the quota again only every 6 hours).
        #expect(calls == ["ram:GetResourceShareInvitations": 1, "ram:ListResources": 1, "ec2:DescribeVpcEndpoints": 1,
                          "sts:GetCallerIdentity": 1, "service-quotas:GetServiceQuota": 1], "\(calls)")
    }

    @Test func throttlingAndServerErrorsStillConverge() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        for n in 0..<4 {
            let arn = testARN(200 + n)
            sim.addInvitation(sender: Self.ours, shareName: "t\(n)", resources: [SharedResource(arn: arn)])
            try await harness.register("t\(n)", arn: arn)
        }
        sim.inject(.throttle(every: 3))
        sim.inject(.serverError(every: 7))
        try await harness.passUntil(maxPasses: 15) { try await harness.states().values.allSatisfy { $0 == "ready" } }
        #expect(harness.liveEndpoints().mapValues(\.count) == ["t0": 1, "t1": 1, "t2": 1, "t3": 1])
        // Ever created, deleted ones included: retried creates reuse their ClientToken, never a second endpoint.
        #expect(harness.endpointsEverCreated() == ["t0": 1, "t1": 1, "t2": 1, "t3": 1], "\(sim.endpoints.map { "\($0.id) \($0.tags) \($0.state)" })")
        #expect(sim.faultFirings.allSatisfy { $0 > 0 })
    }
}

@Suite struct DaemonProcessTests {
    @Test func systemdNotifyPromptRegistrationsSingleInstanceAndGracefulStop() async throws {
        let harness = try await DaemonHarness(pollIntervalSeconds: 3600)
        defer { Task { await harness.shutdown() } }
        let socket = try NotifySocket(path: harness.dir.file("notify.sock"))
        let daemon = try harness.startDaemon(["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        var messages: [String] = []
        try await harness.waitUntil("READY=1, a STATUS line and watchdog pings") {
            messages += socket.drain()
            return messages.contains("READY=1") && messages.contains { $0.hasPrefix("STATUS=") }
                && messages.filter { $0 == "WATCHDOG=1" }.count >= 2
        }
        #expect(messages.first { $0.hasPrefix("STATUS=") }?.contains("customers ready") == true)

        // A second daemon on the same state file refuses to start.
        let second = try await harness.cli(["run"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("another privatelink-consumer daemon (pid \(daemon.processIdentifier)) is already running"), "\(second.stderr)")

        // A registration made while the daemon sleeps (poll interval 1 h) is picked up within seconds.
        let arn = testARN(31)
        harness.simulator.addInvitation(sender: "111122223333", shareName: "live", resources: [SharedResource(arn: arn)])
        try await harness.register("live", arn: arn)
        try await harness.waitUntil(timeout: .seconds(15), "the new customer's invitation accepted") {
            harness.simulator.invitations.contains { $0.status == .accepted }
        }

        kill(daemon.processIdentifier, SIGTERM)
        let status = await waitForExit(daemon, timeout: .seconds(10))
        #expect(status == 0, "daemon did not stop cleanly within 10 s; its log: \(harness.daemonLog(0).suffix(3000))")
        messages += socket.drain()
        #expect(messages.contains("STOPPING=1"), "\(messages)")
        // The lock went with it: a new daemon may start.
        let nextSocket = try NotifySocket(path: harness.dir.file("notify2.sock"))
        let after = try harness.startDaemon(["NOTIFY_SOCKET": nextSocket.path])
        try await harness.waitUntil("the next daemon ready") { nextSocket.drain().contains("READY=1") }
        kill(after.processIdentifier, SIGTERM)
        #expect(await waitForExit(after, timeout: .seconds(10)) == 0)
    }

    @Test func theMetricsEndpointServesPrometheusTextAndLiveness() async throws {
        let port = try freeLoopbackPort()
        let harness = try await DaemonHarness(pollIntervalSeconds: 3600, extra: ["metrics": "{\"listen\": \"127.0.0.1:\(port)\"}"])
        defer { Task { await harness.shutdown() } }
        let arn = testARN(41)
        harness.simulator.addInvitation(sender: "111122223333", shareName: "m", resources: [SharedResource(arn: arn)])
        try await harness.register("metered", arn: arn)
        let daemon = try harness.startDaemon()
        var page = ""
        try await harness.waitUntil("the metrics page with the customer's state") {
            page = (try? await httpGet(port: port, path: "/metrics").body) ?? ""
            return page.contains("privatelink_consumer_customer_state{") && page.contains("privatelink_consumer_aws_calls_total{")
        }
        #expect(page.contains("customer=\"metered\""))
        #expect(page.contains("privatelink_consumer_pass_duration_seconds"))
        let health = try await httpGet(port: port, path: "/healthz")
        #expect(health.status == 200, "\(health.body)")
        #expect(health.body.contains("\"status\":\"ok\""))
        // A removed customer leaves the metrics as it leaves `status`.
        #expect(try await harness.cli(["customer", "remove", "metered"]).status == 0)
        try await harness.waitUntil("the removed customer's series gone") {
            let current = (try? await httpGet(port: port, path: "/metrics").body) ?? "customer=\"metered\""
            return !current.contains("customer=\"metered\"")
        }
        kill(daemon.processIdentifier, SIGTERM)
        #expect(await waitForExit(daemon, timeout: .seconds(10)) == 0)
    }

    @Test func sigtermStopsTheDaemonMidRequestWithinTenSeconds() async throws {
        let harness = try await DaemonHarness(pollIntervalSeconds: 3600)
        defer { Task { await harness.shutdown() } }
        // Every RAM call now hangs for a minute: the daemon is stuck mid-request when SIGTERM comes.
        harness.simulator.inject(SimulatorFault(.delay(.seconds(60)), on: .service(.ram)))
        let daemon = try harness.startDaemon()
        try await harness.waitUntil("a RAM call in flight") { (harness.simulator.callCounts["ram:GetResourceShareInvitations"] ?? 0) > 0 }
        let start = ContinuousClock.now
        kill(daemon.processIdentifier, SIGTERM)
        let status = await waitForExit(daemon, timeout: .seconds(10))
        #expect(status == 0, "exit \(String(describing: status))")
        #expect(ContinuousClock.now - start < .seconds(10))
        // The store is consistent: the CLI reads it at once.
        #expect(try await harness.cli(["status", "--json"]).status == 0)
    }

    @Test func sigkillAtRandomInstantsNeverMakesASecondEndpointNorAcceptsAStranger() async throws {
        let slow = ProvisioningSettings(endpoints: .afterDescribes(4))
        let harness = try await DaemonHarness(simulator: SimulatorConfiguration(pageSize: 2, provisioning: slow), pollIntervalSeconds: 0.2)
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        sim.inject(.lostResponse(on: .operation(.ec2, "CreateVpcEndpoint"), every: 2, times: 3))
        let stranger = sim.addInvitation(sender: "555566667777", shareName: "stranger",
                                         resources: [SharedResource(arn: testARN(99, account: "555566667777"))])
        var registered: [String] = []
        for n in 0..<5 {
            let arn = testARN(300 + n)
            sim.addInvitation(sender: "111122223333", shareName: "k\(n)", resources: [SharedResource(arn: arn)])
            try await harness.register("k\(n)", arn: arn)
            registered.append("k\(n)")
        }
        var generator = SystemRandomNumberGenerator()
        var daemonsStarted = 0
        for round in 0..<12 {
            let daemon = try harness.startDaemon()
            daemonsStarted += 1
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...700, using: &generator)))
            kill(daemon.processIdentifier, SIGKILL)
            _ = await waitForExit(daemon, timeout: .seconds(5))
            if round == 5 {
                // Registrations keep arriving between crashes.
                let arn = testARN(400)
                sim.addInvitation(sender: "111122223333", shareName: "late", resources: [SharedResource(arn: arn)])
                try await harness.register("late", arn: arn)
                registered.append("late")
            }
        }
        let finalDaemon = try harness.startDaemon()
        daemonsStarted += 1
        try await harness.waitUntil(timeout: .seconds(60), "every customer ready after the crashes") {
            let states = try await harness.states()
            return Set(states.keys) == Set(registered) && states.values.allSatisfy { $0 == "ready" }
        }
        kill(finalDaemon.processIdentifier, SIGTERM)
        _ = await waitForExit(finalDaemon, timeout: .seconds(10))
        let live = harness.liveEndpoints()
        #expect(live.mapValues(\.count) == Dictionary(uniqueKeysWithValues: registered.map { ($0, 1) }), "\(live.mapValues { $0.map(\.id) })")
        #expect(sim.endpoints.filter { $0.state != .deleted }.count == registered.count)
        // Every endpoint ever created, deleted ones included: a duplicate made and then cleaned up fails here.
        #expect(sim.endpoints.count == registered.count, "\(sim.endpoints.map { "\($0.id) \($0.tags) \($0.state)" })")
        #expect(harness.endpointsEverCreated() == Dictionary(uniqueKeysWithValues: registered.map { ($0, 1) }))
        // Nor did any daemon plan a "duplicate endpoint" deletion (health log, rotated files included, and stderr).
        let logDirectory = (harness.config.healthLog as NSString).deletingLastPathComponent
        let healthLogs = try FileManager.default.contentsOfDirectory(atPath: logDirectory).map { name in
            (try? String(contentsOfFile: logDirectory + "/" + name, encoding: .utf8)) ?? ""
        }
        #expect(!healthLogs.isEmpty)
        #expect(!healthLogs.contains { $0.contains("duplicate endpoint") })
        for index in 0..<daemonsStarted {
            #expect(!harness.daemonLog(index).contains("duplicate endpoint"), "daemon \(index)")
        }
        #expect(sim.invitations.first { $0.arn == stranger.arn }?.status == .pending)
    }
}
}

/// 127.0.0.1:`port` as the sockets API takes it.
func withLoopbackAddress<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A plain HTTP/1.0 GET over a loopback socket: status and body.
func httpGet(port: Int, path: String) async throws -> (status: Int, body: String) {
    try await onThread { () -> Result<(Int, String), HarnessError> in
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let connected = withLoopbackAddress(port: port) { connect(fd, $0, $1) == 0 }
        guard connected else { return .failure(HarnessError("cannot connect to 127.0.0.1:\(port)")) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return .success((status, body))
    }.get()
}
