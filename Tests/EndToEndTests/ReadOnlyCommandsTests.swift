import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// `invitations` and `endpoints` as SEs and on-call run them: the built binary against the simulator,
/// one item per page, checking the JSON contract and the human tables.
@Suite(.timeLimit(.minutes(1)))
struct ReadOnlyCommandsTests {
    let dir = TemporaryDirectory()
    let binary = ProcessRunner.executable("privatelink-consumer")
    static let acme = "111122223333"
    static let globex = "444455556666"
    static let vpc = "vpc-0123456789abcdef0"

    static let invitationKeys: Set<String> = ["invitationArn", "resourceShareArn", "resourceShareName", "senderAccountId",
                                              "status", "resources"]
    static let endpointKeys: Set<String> = ["vpcEndpointId", "region", "state", "resourceConfigurationArn", "dnsName",
                                            "customer", "lastError"]

    /// Runs the binary with a clean environment (nothing inherited: only loopback traffic) whose AWS
    /// endpoints point at `endpointURL` (the simulator's unless a router stands in front).
    func run(_ arguments: [String], _ simulator: LatticeSimulator, endpointURL: String? = nil, regions: [String] = ["us-east-1"],
             secret: String = SimulatorConfiguration.defaultCredentials.secretAccessKey) async throws -> ProcessOutput {
        let config = try TestConfig(directory: dir.path, regions: regions).write()
        var environment = ["PATH": "/usr/bin:/bin", "HOME": dir.file("home"), "AWS_REGION": "us-east-1",
                           "AWS_ACCESS_KEY_ID": SimulatorConfiguration.defaultCredentials.accessKeyId,
                           "AWS_SECRET_ACCESS_KEY": secret]
        environment.merge(simulator.endpointEnvironment) { $1 }
        if let endpointURL {
            for (key, _) in environment where key.hasPrefix("AWS_ENDPOINT_URL") { environment[key] = endpointURL }
        }
        return try await ProcessRunner.run(binary, arguments + ["--config", config], environment: environment)
    }

    /// The items under `key` of a JSON document, after checking that `key` is its only top-level key.
    func items(_ output: ProcessOutput, _ key: String) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any],
                                  "not a JSON object: \(output.stdout)")
        #expect(Array(object.keys) == [key])
        return try #require(object[key] as? [[String: Any]], "no \(key) array: \(output.stdout)")
    }

    /// Checks that every row starts each column where the header does, and returns the rows.
    func tableRows(_ output: ProcessOutput, _ headers: [String]) -> [String] {
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        guard let header = lines.first else {
            Issue.record("no table: \(output.stdout)")
            return []
        }
        var offsets: [Int] = []
        var searchFrom = header.startIndex
        for name in headers {
            guard let range = header.range(of: name, range: searchFrom..<header.endIndex) else {
                Issue.record("header \(name) missing in \(header)")
                return []
            }
            offsets.append(header.distance(from: header.startIndex, to: range.lowerBound))
            searchFrom = range.upperBound
        }
        #expect(offsets.first == 0)
        for line in lines.dropFirst() {
            let characters = Array(line)
            for offset in offsets.dropFirst() {
                #expect(characters.count > offset && characters[offset - 1] == " " && characters[offset] != " ",
                        "column at \(offset) not aligned in:\n\(header)\n\(line)")
            }
        }
        return Array(lines.dropFirst())
    }

    // MARK: invitations

    @Test func invitationsListsPendingAcceptedAndExpiredInvitationsWithTheirResources() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1)) { simulator, clients in
            let pending = simulator.addInvitation(sender: Self.acme, shareName: "acme-db",
                                                  resources: [SharedResource(arn: testARN(1)), SharedResource(arn: testARN(2))])
            let accepted = simulator.addInvitation(sender: Self.globex, shareName: "globex-db",
                                                   resources: [SharedResource(arn: testARN(3, account: Self.globex))])
            _ = try await clients.ram.acceptInvitation(accepted.arn, clientToken: "accept-globex")
            let expired = simulator.addInvitation(sender: Self.acme, shareName: "acme-old", resources: [SharedResource(arn: testARN(4))])
            simulator.expireInvitation(expired.arn)
            let stale = simulator.addInvitation(sender: Self.acme, shareName: "acme-stale", resources: [SharedResource(arn: testARN(5))])
            simulator.expireInvitation(stale.arn, stillReadsPending: true)

            let json = try await run(["invitations", "--json"], simulator)
            #expect(json.status == 0, "\(json.stderr)")
            let invitations = try items(json, "invitations")
            #expect(invitations.map { $0["invitationArn"] as? String } == [pending.arn, accepted.arn, expired.arn, stale.arn])
            for invitation in invitations {
                #expect(Set(invitation.keys).isSuperset(of: Self.invitationKeys), "\(invitation.keys.sorted())")
            }
            #expect(invitations.map { $0["status"] as? String } == ["PENDING", "ACCEPTED", "EXPIRED", "PENDING"])
            #expect(invitations.map { $0["resourceShareName"] as? String } == ["acme-db", "globex-db", "acme-old", "acme-stale"])
            #expect(invitations.map { $0["resourceShareArn"] as? String }
                == [pending, accepted, expired, stale].map(\.resourceShareArn))
            #expect(invitations.map { $0["senderAccountId"] as? String } == [Self.acme, Self.globex, Self.acme, Self.acme])
            let resources = invitations.map { ($0["resources"] as? [[String: Any]]) ?? [] }
            // Pending: from ListPendingInvitationResources, both pages.
            #expect(resources[0].map { $0["arn"] as? String } == [testARN(1), testARN(2)])
            #expect(resources[0].map { $0["type"] as? String } == ["vpc-lattice:ResourceConfiguration", "vpc-lattice:ResourceConfiguration"])
            // Accepted: from ListResources.
            #expect(resources[1].map { $0["arn"] as? String } == [testARN(3, account: Self.globex)])
            #expect(resources[1].first.map { Set($0.keys).isSuperset(of: ["arn", "type"]) } == true)
            // Expired: nothing to list; still reading PENDING: RAM's refusal is shown instead.
            #expect(resources[2].isEmpty)
            #expect(resources[3].isEmpty)
            #expect(invitations[3]["resourcesError"] as? String == "ResourceShareInvitationExpiredException")

            let counts = simulator.callCounts
            #expect(counts["ram:GetResourceShareInvitations"] == 4)
            #expect(counts["ram:ListPendingInvitationResources"] == 3)
            #expect(counts["ram:ListResources"] == 1)
            #expect(counts["ram:AcceptResourceShareInvitation"] == 1)

            let table = try await run(["invitations"], simulator)
            #expect(table.status == 0, "\(table.stderr)")
            let rows = tableRows(table, ["REGION", "STATUS", "SENDER", "SHARE", "INVITATION", "RESOURCES"])
            #expect(rows.count == 4)
            #expect(rows.first?.hasPrefix("us-east-1") == true)
            #expect(rows.first?.contains("PENDING") == true)
            #expect(rows.first?.contains("acme-db") == true)
            #expect(rows.first?.contains("\(testARN(1)) [vpc-lattice:ResourceConfiguration], \(testARN(2))") == true)
            #expect(rows.dropFirst().first?.contains("ACCEPTED") == true)
            #expect(rows.dropFirst(2).first?.contains("EXPIRED") == true)
            #expect(rows.last?.contains("(ResourceShareInvitationExpiredException)") == true)
        }
    }

    @Test func invitationsWithNoneSaysSo() async throws {
        try await withSimulator { simulator, _ in
            let json = try await run(["invitations", "--json"], simulator)
            #expect(json.status == 0, "\(json.stderr)")
            #expect(try items(json, "invitations").isEmpty)
            let table = try await run(["invitations"], simulator)
            #expect(table.stdout.contains("no resource share invitations addressed to this account in us-east-1"), "\(table.stdout)")
        }
    }

    // MARK: endpoints

    @Test func endpointsListsStateDNSNameCustomerAndLastErrorAcrossAllPages() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1, provisioning: .instant, awsStyleDNSNames: true)) { simulator, clients in
            let arns = (1...4).map { testARN($0) }
            simulator.addOrganizationShare(owner: Self.acme, shareName: "org", resources: arns.map { SharedResource(arn: $0) })
            simulator.setAssociationDNSName(nil, privateDNSName: "db.acme.internal", forResource: arns[0])
            let acme = try await clients.ec2.createResourceEndpoint(.test(arns[0], clientToken: "acme", customer: "acme"))
            let globex = try await clients.ec2.createResourceEndpoint(.test(arns[1], clientToken: "globex", customer: "globex"))
            let initech = try await clients.ec2.createResourceEndpoint(.test(arns[2], clientToken: "initech", customer: "initech"))
            simulator.failEndpoint(initech.vpcEndpointId, code: "ResourceConfigurationNotShared", message: "The resource configuration is no longer shared")
            // Another VPC: not ours to show.
            _ = try await clients.ec2.createResourceEndpoint(.test(arns[3], clientToken: "other", vpcId: "vpc-0fffffffffffffff0"))

            let json = try await run(["endpoints", "--json"], simulator)
            #expect(json.status == 0, "\(json.stderr)")
            let endpoints = try items(json, "endpoints")
            for endpoint in endpoints {
                #expect(Set(endpoint.keys).isSuperset(of: Self.endpointKeys), "\(endpoint.keys.sorted())")
            }
            #expect(endpoints.map { $0["vpcEndpointId"] as? String } == [acme, globex, initech].map(\.vpcEndpointId))
            #expect(endpoints.map { $0["region"] as? String } == ["us-east-1", "us-east-1", "us-east-1"])
            #expect(endpoints.map { $0["state"] as? String } == ["Available", "Available", "Failed"])
            #expect(endpoints.map { $0["resourceConfigurationArn"] as? String } == Array(arns.prefix(3)))
            #expect(endpoints.map { $0["customer"] as? String } == ["acme", "globex", "initech"])
            // The DNS name comes from the association, the private name preferred; a failed endpoint has none.
            #expect(endpoints[0]["dnsName"] as? String == "db.acme.internal")
            #expect(endpoints[1]["dnsName"] as? String == simulator.associationDNSName(endpoint: globex.vpcEndpointId))
            #expect((endpoints[1]["dnsName"] as? String)?.hasSuffix(".vpc-lattice-rsc.us-east-1.on.aws") == true)
            #expect(endpoints[2]["dnsName"] is NSNull)
            #expect(endpoints[0]["lastError"] is NSNull)
            #expect(endpoints[2]["lastError"] as? String == "ResourceConfigurationNotShared: The resource configuration is no longer shared")

            let counts = simulator.callCounts
            #expect(counts["ec2:DescribeVpcEndpoints"] == 3)
            // Two endpoints are available, so two associations, one per page.
            #expect(counts["ec2:DescribeVpcEndpointAssociations"] == 2)

            let table = try await run(["endpoints"], simulator)
            #expect(table.status == 0, "\(table.stderr)")
            let rows = tableRows(table, ["REGION", "ENDPOINT", "STATE", "CUSTOMER", "RESOURCE CONFIGURATION", "DNS NAME", "LAST ERROR"])
            #expect(rows.count == 3)
            #expect(rows.first?.contains(acme.vpcEndpointId) == true)
            #expect(rows.first?.contains("rcfg-00000000000000001") == true)
            #expect(rows.first?.contains("db.acme.internal") == true)
            #expect(rows.last?.contains("Failed") == true)
            #expect(rows.last?.hasSuffix("ResourceConfigurationNotShared: The resource configuration is no longer shared") == true)
        }
    }

    // MARK: Two regions

    @Test func everyConfiguredRegionIsListed() async throws {
        let east = try await LatticeSimulator.start(SimulatorConfiguration(region: "us-east-1", pageSize: 1, provisioning: .instant, awsStyleDNSNames: true))
        let west = try await LatticeSimulator.start(SimulatorConfiguration(region: "eu-west-1", pageSize: 1, provisioning: .instant, awsStyleDNSNames: true))
        let router = try await RegionRouter.start(["us-east-1": east, "eu-west-1": west])
        do {
            let eastInvitation = east.addInvitation(sender: Self.acme, shareName: "acme-db", resources: [SharedResource(arn: testARN(1))])
            let westInvitation = west.addInvitation(sender: Self.globex, shareName: "globex-db",
                                                    resources: [SharedResource(arn: testARN(2, region: "eu-west-1", account: Self.globex))])
            east.addOrganizationShare(owner: Self.acme, shareName: "org", resources: [SharedResource(arn: testARN(3))])
            west.addOrganizationShare(owner: Self.globex, shareName: "org",
                                      resources: [SharedResource(arn: testARN(4, region: "eu-west-1", account: Self.globex))])
            let eastEndpoint = try await SimulatorClients(east).ec2.createResourceEndpoint(.test(testARN(3), clientToken: "a", customer: "acme"))
            let westEndpoint = try await SimulatorClients(west, region: "eu-west-1").ec2
                .createResourceEndpoint(.test(testARN(4, region: "eu-west-1", account: Self.globex), clientToken: "b", customer: "globex"))

            let invitationsOutput = try await run(["invitations", "--json"], east, endpointURL: router.baseURL, regions: ["us-east-1", "eu-west-1"])
            #expect(invitationsOutput.status == 0, "\(invitationsOutput.stderr)")
            let invitations = try items(invitationsOutput, "invitations")
            // Regions in name order.
            #expect(invitations.map { $0["invitationArn"] as? String } == [westInvitation.arn, eastInvitation.arn])
            #expect(invitations.map { $0["region"] as? String } == ["eu-west-1", "us-east-1"])

            let endpointsOutput = try await run(["endpoints", "--json"], east, endpointURL: router.baseURL, regions: ["us-east-1", "eu-west-1"])
            #expect(endpointsOutput.status == 0, "\(endpointsOutput.stderr)")
            let endpoints = try items(endpointsOutput, "endpoints")
            #expect(endpoints.map { $0["vpcEndpointId"] as? String } == [westEndpoint.vpcEndpointId, eastEndpoint.vpcEndpointId])
            #expect(endpoints.map { $0["region"] as? String } == ["eu-west-1", "us-east-1"])
            #expect(endpoints.map { $0["customer"] as? String } == ["globex", "acme"])
            #expect((endpoints[0]["dnsName"] as? String)?.hasSuffix(".vpc-lattice-rsc.eu-west-1.on.aws") == true)

            for simulator in [east, west] {
                #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 1)
                #expect(simulator.callCounts["ec2:DescribeVpcEndpoints"] == 1)
            }
        } catch {
            Issue.record(error)
        }
        try await router.shutdown()
        try await east.shutdown()
        try await west.shutdown()
    }

    // MARK: AWS refusals

    @Test(arguments: [["invitations"], ["invitations", "--json"], ["endpoints"], ["endpoints", "--json"]])
    func aRefusedSignatureExits1NamingTheCodeNeverAnEmptyList(_ arguments: [String]) async throws {
        try await withSimulator { simulator, _ in
            let secret = wrongSecretCredentials.secretAccessKey
            let output = try await run(arguments, simulator, secret: secret)
            #expect(output.status == 1)
            #expect(output.stdout.isEmpty, "\(output.stdout)")
            #expect(output.stderr.contains("SignatureDoesNotMatch"), "\(output.stderr)")
            #expect(output.stderr.contains("HTTP 403"), "\(output.stderr)")
            #expect(!output.stderr.contains(secret))
            let operation = arguments[0] == "invitations" ? "ram:GetResourceShareInvitations" : "ec2:DescribeVpcEndpoints"
            #expect(simulator.callCounts == [operation: 1])
        }
    }
}

/// Sends each signed request to the simulator of the region in its SigV4 credential scope, as the
/// regional AWS endpoints would (one simulator serves one region; an endpoint override serves all).
enum RegionRouter {
    static func start(_ simulators: [String: LatticeSimulator]) async throws -> LoopbackHTTPServer {
        let transport = AsyncHTTPClientTransport()
        let framing: Set<String> = ["content-length", "connection", "transfer-encoding"]
        return try await LoopbackHTTPServer.start { request in
            // `Credential=<key>/<date>/<region>/<service>/aws4_request`
            let scope = request.header("Authorization")?.components(separatedBy: "Credential=").last?.split(separator: "/") ?? []
            guard scope.count > 2, let simulator = simulators[String(scope[2])] else {
                return .text(400, "no simulator for the request's region")
            }
            // The Host header is forwarded as signed; async-http-client keeps an explicit one.
            let forwarded = TransportRequest(method: request.method, url: simulator.endpointURL + request.uri,
                                             headers: request.headers.filter { !framing.contains($0.name.lowercased()) }
                                                 .map { HTTPHeader(name: $0.name, value: $0.value) },
                                             body: request.body)
            do {
                let response = try await transport.send(forwarded, timeout: .seconds(10), maxResponseBytes: 16 << 20)
                return .respond(status: response.status, headers: response.headers.map { ServerHeader($0.name, $0.value) },
                                body: response.body)
            } catch {
                return .text(502, "router: \(error)")
            }
        }
    }
}
