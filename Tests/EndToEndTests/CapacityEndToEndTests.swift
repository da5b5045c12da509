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
        let waiting = try await row(harness, "c7")
        #expect(waiting["state"] as? String == "endpoint_pending")
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
        #expect(harness.endpointsEverCreated().values.reduce(0, +) == 7)
    }

    @Test func aQuotaLoweredBehindTheDaemonsBackMovesTheEndpointOnInTheSamePass() async throws {
        let harness = try await DaemonHarness(extra: ["regions": Self.regions(Array(Self.vpcs.prefix(2)))])
        defer { Task { await harness.shutdown() } }
        let sim = harness.simulator
        // Service Quotas says 200; EC2 holds the first VPC to one endpoint (lowered, or others' endpoints).
        sim.setVpcEndpointLimit(1, vpcId: Self.vpcs[0])
        _ = try await register(harness, 2)
        try await harness.passUntil(maxPasses: 6) { try await harness.states().values.allSatisfy { $0 == "ready" } }
        let second = try await row(harness, "c2")["vpcEndpointId"] as? String
        #expect(sim.endpoint(second ?? "")?.vpcId == Self.vpcs[1])
        let log = events(harness)
        #expect(log.contains("\"event\":\"endpoint_no_room\""), "\(log)")
        #expect(!log.contains("\"event\":\"endpoint_failed\""))
        #expect(harness.endpointsEverCreated().values.reduce(0, +) == 2)
    }

    @Test func aQuotaServiceQuotasWillNotTellIsAWSsDefault() async throws {
        let harness = try await DaemonHarness(extra: ["regions": Self.regions(Array(Self.vpcs.prefix(1)))])
        defer { Task { await harness.shutdown() } }
        harness.simulator.denyServiceQuotas()
        _ = try await register(harness, 1)
        let first = try await harness.pass()
        #expect(first.stderr.contains("using AWS's default") && first.stderr.contains("servicequotas:GetServiceQuota"), "\(first.stderr)")
        try await harness.passUntil(maxPasses: 4) { try await harness.states()["c1"] == "ready" }
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
