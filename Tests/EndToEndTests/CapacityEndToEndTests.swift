import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// Endpoints spread over a pool of VPCs within AWS's quota, through the binary against a simulator that
/// enforces a quota per VPC: full is a wait, not a failure; EC2's refusal moves the endpoint on in the same pass.
@Suite struct CapacityEndToEndTests {
    static let ours = "111122223333"
    static let vpcs = ["vpc-0a000000000000001", "vpc-0a000000000000002", "vpc-0a000000000000003"]

    /// The `regions` section with a pool of these VPCs (subnets of their own).
    static func regions(_ vpcs: [String]) -> String {
        let pool = vpcs.enumerated().map { index, vpc in
            """
            {"vpcId": "\(vpc)", "subnetIds": ["subnet-0b00000000000000\(index)", "subnet-0c00000000000000\(index)"],
             "securityGroupIds": ["sg-0123456789abcdef0"]}
            """
        }.joined(separator: ", ")
        return "{\"us-east-1\": {\"vpcs\": [\(pool)], \"ipAddressType\": \"ipv4\", \"privateDnsEnabled\": true}}"
    }

    func register(_ harness: DaemonHarness, _ count: Int) async throws -> [String] {
        let arns = (1...count).map { testARN(60 + $0) }
        harness.simulator.addOrganizationShare(owner: Self.ours, shareName: "pool", resources: arns.map { SharedResource(arn: $0) })
        for (index, arn) in arns.enumerated() { try await harness.register("c\(index + 1)", arn: arn) }
        return arns
    }

    func row(_ harness: DaemonHarness, _ name: String) async throws -> [String: Any] {
        let rows = try await harness.status()["customers"] as? [[String: Any]] ?? []
        return try #require(rows.first { $0["name"] as? String == name })
    }

    /// `status --json`'s pool rows as (vpcId, endpoints, limit, limitSource, fullBecause).
    func capacity(_ harness: DaemonHarness) async throws -> [String] {
        let rows = try await harness.status()["capacity"] as? [[String: Any]] ?? []
        return rows.map { row in
            ["region", "vpcId", "endpoints", "limit", "limitSource", "fullBecause"].map { key in
                row[key].map { $0 is NSNull ? "null" : "\($0)" } ?? "missing"
            }.joined(separator: " ")
        }
    }

    func events(_ harness: DaemonHarness) -> String {
        (try? String(contentsOfFile: harness.config.healthLog, encoding: .utf8)) ?? ""
    }

    @Test func sevenCustomersInTwoVpcsOfThreeThenAThirdVpc() async throws {
        let harness = try await DaemonHarness(extra: ["regions": Self.regions(Array(Self.vpcs.prefix(2)))])
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        sim.setServiceQuota(3)
        for vpc in Self.vpcs { sim.setVpcEndpointLimit(3, vpcId: vpc) }
        _ = try await register(harness, 7)
        try await harness.passUntil(maxPasses: 8) { try await harness.states().values.filter { $0 == "ready" }.count == 6 }
        let live = sim.endpoints.filter { $0.state != .deleted }
        #expect(live.filter { $0.vpcId == Self.vpcs[0] }.count == 3)
        #expect(live.filter { $0.vpcId == Self.vpcs[1] }.count == 3)
        // Filled in configured order: the first three customers in the first VPC.
        for name in ["c1", "c2", "c3"] {
            let id = try await row(harness, name)["vpcEndpointId"] as? String
            #expect(sim.endpoint(id ?? "")?.vpcId == Self.vpcs[0], "\(name)")
        }
        // Ops see the pool and where each customer's endpoint is.
        #expect(try await capacity(harness) == ["us-east-1 \(Self.vpcs[0]) 3 3 service-quotas null",
                                                "us-east-1 \(Self.vpcs[1]) 3 3 service-quotas null"])
        for name in ["c1", "c4", "c6"] {
            let customer = try await row(harness, name)
            let endpoint = sim.endpoint(customer["vpcEndpointId"] as? String ?? "")
            #expect(customer["vpcId"] as? String == endpoint?.vpcId && endpoint?.vpcId != nil, "\(name)")
        }
        let text = try await harness.cli(["status"]).stdout
        #expect(text.contains("capacity") && text.contains("LIMIT FROM") && text.contains(Self.vpcs[1]), "\(text)")
        let waiting = try await row(harness, "c7")
        #expect(waiting["state"] as? String == "endpoint_pending")
        #expect(waiting["vpcId"] is NSNull)
        let hint = waiting["hint"] as? String ?? ""
        #expect(hint.contains("L-CA6CC422") && hint.contains("regions.us-east-1.vpcs") && hint.contains("not a failure"), "\(hint)")
        #expect(!events(harness).contains("\"event\":\"endpoint_failed\""))
        // A full pool is not asked again pass after pass.
        let creates = sim.callCounts["ec2:CreateVpcEndpoint"] ?? 0
        try await harness.pass()
        try await harness.pass()
        #expect(sim.callCounts["ec2:CreateVpcEndpoint"] ?? 0 == creates)
        #expect(sim.callCounts["service-quotas:GetServiceQuota"] ?? 0 >= 1)

        // The operator adds a VPC: the next pass takes the waiting customer in.
        var config = harness.config
        config.extra["regions"] = Self.regions(Self.vpcs)
        try config.write()
        try await harness.passUntil(maxPasses: 3) { try await harness.states()["c7"] == "ready" }
        let placed = try await row(harness, "c7")["vpcEndpointId"] as? String
        #expect(sim.endpoint(placed ?? "")?.vpcId == Self.vpcs[2])
        #expect(try await row(harness, "c7")["vpcId"] as? String == Self.vpcs[2])
        #expect(try await capacity(harness).last == "us-east-1 \(Self.vpcs[2]) 1 3 service-quotas null")
        #expect(harness.endpointsEverCreated().values.reduce(0, +) == 7)
    }

    @Test func aQuotaLoweredBehindTheDaemonsBackMovesTheEndpointOnInTheSamePass() async throws {
        let harness = try await DaemonHarness(extra: ["regions": Self.regions(Array(Self.vpcs.prefix(2)))])
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        // Service Quotas says 200; EC2 holds the first VPC to one endpoint (lowered, or others' endpoints).
        sim.setVpcEndpointLimit(1, vpcId: Self.vpcs[0])
        _ = try await register(harness, 2)
        // The pass EC2 refused in shows that VPC full, and why (marks live until the quota is read again: here, the
        // next `run --once`, as at a daemon's start).
        var afterRefusal: [String]?
        try await harness.passUntil(maxPasses: 6) {
            if afterRefusal == nil, events(harness).contains("\"event\":\"endpoint_no_room\"") { afterRefusal = try await capacity(harness) }
            return try await harness.states().values.allSatisfy { $0 == "ready" }
        }
        #expect(afterRefusal == ["us-east-1 \(Self.vpcs[0]) 1 200 service-quotas VpcEndpointLimitExceeded",
                                 "us-east-1 \(Self.vpcs[1]) 1 200 service-quotas null"], "\(afterRefusal ?? [])")
        let second = try await row(harness, "c2")["vpcEndpointId"] as? String
        #expect(sim.endpoint(second ?? "")?.vpcId == Self.vpcs[1])
        let log = events(harness)
        #expect(log.contains("\"event\":\"endpoint_no_room\""), "\(log)")
        #expect(!log.contains("\"event\":\"endpoint_failed\""))
        #expect(harness.endpointsEverCreated().values.reduce(0, +) == 2)
    }

    /// A create whose answer never came is repeated with its token in the next pass; when EC2 then says the VPC has
    /// no room, that VPC is marked full there too, and the new generation goes straight to the next VPC.
    @Test func aRepeatedCreateRefusedForRoomMarksTheVpcFull() async throws {
        let harness = try await DaemonHarness(pollIntervalSeconds: 1, extra: ["regions": Self.regions(Array(Self.vpcs.prefix(2)))])
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        // Full with endpoints that are not ours: the listing shows room, EC2 does not.
        sim.setVpcEndpointLimit(0, vpcId: Self.vpcs[0])
        // Every attempt of the first call is dropped before it takes effect.
        sim.inject(SimulatorFault(.dropConnection, on: .operation(.ec2, "CreateVpcEndpoint"), times: 3))
        _ = try await register(harness, 1)
        _ = try harness.startDaemon()
        try await harness.waitUntil(timeout: .seconds(40), "c1 ready") { try await harness.states()["c1"] == "ready" }
        let placed = try await row(harness, "c1")
        #expect(placed["vpcId"] as? String == Self.vpcs[1])
        // Three dropped attempts, the repeat (refused: no room), the new generation in the second VPC: never the first again.
        #expect(sim.callCounts["ec2:CreateVpcEndpoint"] == 5, "\(sim.callCounts)")
        let log = events(harness)
        #expect(log.contains("\"event\":\"endpoint_no_room\"") && !log.contains("\"event\":\"endpoint_failed\""), "\(log)")
        #expect(harness.endpointsEverCreated().values.reduce(0, +) == 1)
    }

    @Test func aQuotaServiceQuotasWillNotTellIsAWSsDefault() async throws {
        let harness = try await DaemonHarness(extra: ["regions": Self.regions(Array(Self.vpcs.prefix(1)))])
        defer { Task { await harness.shutdown() } }
        harness.simulator.denyServiceQuotas()
        _ = try await register(harness, 1)
        let first = try await harness.pass()
        #expect(first.stderr.contains("using AWS's default") && first.stderr.contains("servicequotas:GetServiceQuota"), "\(first.stderr)")
        try await harness.passUntil(maxPasses: 4) { try await harness.states()["c1"] == "ready" }
        #expect(try await capacity(harness) == ["us-east-1 \(Self.vpcs[0]) 1 200 default null"])
    }
}

/// Two installations (staging and production) in one account and one VPC, with one customer name each: each
/// makes, adopts and deletes only endpoints tagged with its own deployment.
@Suite struct DeploymentEndToEndTests {
    @Test func twoDeploymentsInOneVpcNeverTouchEachOthersEndpoints() async throws {
        let production = try await DaemonHarness(extra: ["deployment": "\"prod\""])
        let staging = try DaemonHarness(sharingAWSWith: production, extra: ["deployment": "\"staging\""])
        defer { Task { await staging.shutdown(); await production.shutdown() } }
        let sim = production.simulator
        let arn = testARN(80)
        sim.addOrganizationShare(owner: CapacityEndToEndTests.ours, shareName: "acme", resources: [SharedResource(arn: arn)])
        try await production.register("acme", arn: arn)
        try await staging.register("acme", arn: arn)
        try await production.passUntil(maxPasses: 4) { try await production.states()["acme"] == "ready" }
        try await staging.passUntil(maxPasses: 4) { try await staging.states()["acme"] == "ready" }
        let live = sim.endpoints.filter { $0.state != .deleted }
        #expect(live.count == 2, "\(live.map { "\($0.id) \($0.tags)" })")
        let prodEndpoint = try #require(live.first { $0.tags["privatelink-consumer:deployment"] == "prod" })
        let stagingEndpoint = try #require(live.first { $0.tags["privatelink-consumer:deployment"] == "staging" })
        for _ in 0..<2 {
            try await production.pass()
            try await staging.pass()
        }
        // Staging removes its acme: its endpoint goes, production's stays.
        #expect(try await staging.cli(["customer", "remove", "acme"]).status == 0)
        try await staging.passUntil(maxPasses: 4) { try await staging.states()["acme"] == nil }
        try await production.pass()
        #expect([.deleted, .deleting].contains(sim.endpoint(stagingEndpoint.id)?.state))
        #expect(sim.endpoint(prodEndpoint.id)?.state == .available)
        #expect(try await production.states()["acme"] == "ready")
        #expect(sim.endpoints.count == 2, "nobody made a third endpoint")
    }

    @Test func anUntaggedEndpointIsTheDefaultDeploymentsAndIsTaggedWhenAdopted() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let arn = testARN(81)
        sim.addOrganizationShare(owner: CapacityEndToEndTests.ours, shareName: "acme", resources: [SharedResource(arn: arn)])
        // Made by an earlier build: our customer tag, no deployment tag.
        var request = ResourceEndpointRequest.test(arn, clientToken: "earlier-build-1")
        request.tags = request.tags.filter { $0.key != "privatelink-consumer:deployment" }
        let earlier = try await SimulatorClients(sim).ec2.createResourceEndpoint(request)
        try await harness.register("acme", arn: arn)
        try await harness.passUntil(maxPasses: 4) { try await harness.states()["acme"] == "ready" }
        #expect(sim.endpoints.count == 1)
        #expect(sim.endpoint(earlier.vpcEndpointId)?.tags["privatelink-consumer:deployment"] == "default")
    }

    /// The tag is a courtesy to other deployments: when EC2 will not take it, the adoption stands, is said, and
    /// nothing else is made.
    @Test func anAdoptionStandsWhenTheTagCannotBeAdded() async throws {
        let harness = try await DaemonHarness()
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        let arn = testARN(82)
        sim.addOrganizationShare(owner: CapacityEndToEndTests.ours, shareName: "acme", resources: [SharedResource(arn: arn)])
        var request = ResourceEndpointRequest.test(arn, clientToken: "earlier-build-2")
        request.tags = request.tags.filter { $0.key != "privatelink-consumer:deployment" }
        let earlier = try await SimulatorClients(sim).ec2.createResourceEndpoint(request)
        sim.inject(SimulatorFault(.serverError, on: .operation(.ec2, "CreateTags"), times: 100))
        try await harness.register("acme", arn: arn)
        var log = ""
        for _ in 0..<4 {
            log += try await harness.pass().stderr
            if try await harness.states()["acme"] == "ready" { break }
        }
        #expect(try await harness.states()["acme"] == "ready")
        #expect(sim.endpoints.count == 1 && sim.endpoint(earlier.vpcEndpointId)?.tags["privatelink-consumer:deployment"] == nil)
        #expect(log.contains("adopted endpoint not tagged with the deployment"), "\(log.suffix(1500))")
    }
}

@Suite struct CapacityConfigTests {
    func check(_ regions: String) async throws -> ProcessOutput {
        let dir = TemporaryDirectory()
        var config = TestConfig(directory: dir.path)
        config.extra["regions"] = regions
        return try await ProcessRunner.run(ProcessRunner.executable("privatelink-consumer"), ["check-config", "--config", try config.write()],
                                           environment: [:])
    }

    @Test func bothFormsAnEmptyPoolAndAVpcTwiceAreRefusedByName() async throws {
        let both = try await check("""
            {"us-east-1": {"vpcId": "vpc-0123456789abcdef0", "vpcs": [], "ipAddressType": "ipv4"}}
            """)
        #expect(both.status == 64)
        #expect(both.stderr.contains("regions.us-east-1: has both vpcs and vpcId"), "\(both.stderr)")
        let empty = try await check(#"{"us-east-1": {"vpcs": []}}"#)
        #expect(empty.status == 64 && empty.stderr.contains("regions.us-east-1.vpcs: is empty"), "\(empty.stderr)")
        let twice = try await check(CapacityEndToEndTests.regions([CapacityEndToEndTests.vpcs[0], CapacityEndToEndTests.vpcs[0]]))
        #expect(twice.status == 64 && twice.stderr.contains("regions.us-east-1.vpcs[1].vpcId") && twice.stderr.contains("listed twice"),
                "\(twice.stderr)")
        let pool = try await check(CapacityEndToEndTests.regions(CapacityEndToEndTests.vpcs))
        #expect(pool.status == 0, "\(pool.stderr)")
        let dir = TemporaryDirectory()
        var config = TestConfig(directory: dir.path)
        config.extra["deployment"] = "\"Prod!\""
        let badName = try await ProcessRunner.run(ProcessRunner.executable("privatelink-consumer"), ["check-config", "--config", try config.write()],
                                                  environment: [:])
        #expect(badName.status == 64 && badName.stderr.contains("deployment: \"Prod!\" is not a deployment name"), "\(badName.stderr)")
        #expect(pool.stdout.contains("a pool of 3 VPCs"), "\(pool.stdout)")
    }
}
