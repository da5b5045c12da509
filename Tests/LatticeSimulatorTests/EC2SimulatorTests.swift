import AWSClient
import Foundation
@testable import LatticeSimulator
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct EC2SimulatorTests {
    /// A simulator whose account already accepted a share of `Fixture.rcfgArn(1)`.
    func withShare<Result>(_ configuration: SimulatorConfiguration = SimulatorConfiguration(),
                           _ body: (LatticeSimulator, SimulatorTestClient, String) async throws -> Result) async throws -> Result {
        try await LatticeSimulator.with(configuration) { simulator, client in
            let arn = Fixture.rcfgArn(1)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            return try await body(simulator, client, arn)
        }
    }

    @Test func createVpcEndpointAnswersEC2sDocument() async throws {
        try await withShare { simulator, client, arn in
            let response = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "token-1"))
            #expect(response.status == 200, "\(response.text)")
            let document = try response.xml()
            #expect(document.name == "CreateVpcEndpointResponse")
            #expect(document.attributes["xmlns"] == "http://ec2.amazonaws.com/doc/2016-11-15/")
            #expect(document.childText("requestId")?.isEmpty == false)
            #expect(document.childText("clientToken") == "token-1")
            let endpoint = try #require(document.child("vpcEndpoint"))
            let id = try #require(endpoint.childText("vpcEndpointId"))
            #expect(id.hasPrefix("vpce-") && id.count == 22 && id.dropFirst(5).allSatisfy(\.isHexDigit))
            #expect(endpoint.childText("vpcEndpointType") == "Resource")
            #expect(endpoint.childText("vpcId") == "vpc-0123456789abcdef0")
            #expect(endpoint.childText("state") == "Pending")
            #expect(endpoint.path("subnetIdSet")?.children(named: "item").map(\.text) == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
            #expect(endpoint.path("groupSet", "item", "groupId")?.text == "sg-0123456789abcdef0")
            #expect(endpoint.path("groupSet", "item", "groupName") != nil)
            #expect(endpoint.childText("ipAddressType") == "IPV4")
            #expect(endpoint.childText("privateDnsEnabled") == "true")
            #expect(endpoint.child("dnsEntrySet")?.children.isEmpty == true)
            #expect(endpoint.path("networkInterfaceIdSet")?.children(named: "item").count == 2)
            #expect(endpoint.path("tagSet", "item", "key")?.text == "privatelink-consumer:customer")
            #expect(endpoint.path("tagSet", "item", "value")?.text == "acme")
            #expect(endpoint.childText("resourceConfigurationArn") == arn)
            #expect(endpoint.childText("ownerId") == "999999999999")
            #expect(endpoint.childText("creationTimestamp")?.hasSuffix("Z") == true)
            #expect(endpoint.child("lastError") == nil)

            let stored = try #require(simulator.endpoint(id))
            #expect(stored.state == .pending)
            #expect(stored.clientToken == "token-1")
            #expect(stored.tags == ["privatelink-consumer:customer": "acme"])
            #expect(stored.subnetIds.count == 2)
            #expect(stored.privateDnsEnabled)
            #expect(simulator.callCounts["ec2:CreateVpcEndpoint"] == 1)
        }
    }

    @Test func clientTokenMakesCreateIdempotent() async throws {
        try await withShare { simulator, client, arn in
            let first = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "same"))
            let again = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "same"))
            let firstId = try first.xml().path("vpcEndpoint", "vpcEndpointId")?.text
            #expect(firstId != nil)
            #expect(try again.xml().path("vpcEndpoint", "vpcEndpointId")?.text == firstId)
            #expect(simulator.endpoints.count == 1)

            let different = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "same", vpc: "vpc-0fffffffffffffff0"))
            #expect(different.status == 400)
            #expect(different.ec2ErrorCode == "IdempotentParameterMismatch")
            let otherTags = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "same", customer: "globex"))
            #expect(otherTags.ec2ErrorCode == "IdempotentParameterMismatch")

            let fresh = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "other"))
            #expect(fresh.status == 200)
            #expect(simulator.endpoints.count == 2)
        }
    }

    @Test func createRefusesWhatAResourceEndpointCannotTake() async throws {
        let provisioning = ProvisioningSettings(resourcesAvailableAfterListCalls: 1)
        try await withShare(SimulatorConfiguration(provisioning: provisioning)) { simulator, client, arn in
            // One ListResources makes `arn` AVAILABLE; a share made afterwards is still PENDING.
            _ = try await client.ram("ListResources", ["resourceOwner": "OTHER-ACCOUNTS"])
            let pendingArn = Fixture.rcfgArn(2)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "late", resources: [SharedResource(arn: pendingArn)])
            let base = Fixture.createParameters(arn, token: nil)
            func replacing(_ name: String, with value: String?) -> [(String, String)] {
                var parameters = base.filter { $0.0 != name }
                if let value { parameters.append((name, value)) }
                return parameters
            }
            let unshared = Fixture.rcfgArn(Fixture.otherCustomer, 9)
            let cases: [([(String, String)], String, String?)] = [
                (replacing("VpcEndpointType", with: "Interface"), "InvalidParameter", nil),
                (replacing("VpcEndpointType", with: nil), "InvalidParameter", nil),
                (base + [("ServiceName", "com.amazonaws.us-east-1.s3")], "InvalidParameter", "ServiceName"),
                (base + [("RouteTableId.1", "rtb-0123456789abcdef0")], "InvalidParameter", nil),
                (base.filter { !$0.0.hasPrefix("SubnetId") }, "InvalidParameter", "subnet"),
                (replacing("VpcId", with: nil), "MissingParameter", "VpcId"),
                (replacing("ResourceConfigurationArn", with: nil), "MissingParameter", "ResourceConfigurationArn"),
                (replacing("ResourceConfigurationArn", with: unshared), "InvalidParameterValue", unshared),
                (replacing("ResourceConfigurationArn", with: pendingArn), "InvalidParameterValue", pendingArn),
                (replacing("IpAddressType", with: "ipv5"), "InvalidParameterValue", nil),
                (replacing("TagSpecification.1.ResourceType", with: "vpc"), "InvalidParameterValue", nil),
                (base + [("Bogus", "1")], "UnknownParameter", "Bogus"),
            ]
            for (parameters, code, mentioned) in cases {
                let response = try await client.ec2("CreateVpcEndpoint", parameters)
                #expect(response.status == 400, "\(code): \(response.text)")
                #expect(response.ec2ErrorCode == code, "\(response.text)")
                let document = try response.xml()
                #expect(document.name == "Response")
                #expect(document.childText("RequestID") != nil)
                if let mentioned {
                    #expect(document.path("Errors", "Error", "Message")?.text.contains(mentioned) == true, "\(response.text)")
                }
            }
            let noVersion = try await client.ec2("CreateVpcEndpoint", base, version: nil)
            #expect(noVersion.ec2ErrorCode == "MissingParameter")
            #expect(simulator.endpoints.isEmpty)
        }
    }

    @Test func endpointsTurnAvailableAfterConfiguredDescribes() async throws {
        let provisioning = ProvisioningSettings(endpoints: .afterDescribes(2))
        try await withShare(SimulatorConfiguration(provisioning: provisioning)) { simulator, client, arn in
            let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn))
            let id = try #require(try created.xml().path("vpcEndpoint", "vpcEndpointId")?.text)
            var states: [String] = []
            for _ in 1...3 {
                let described = try await client.ec2("DescribeVpcEndpoints", [("VpcEndpointId.1", id)]).xml()
                states.append(described.path("vpcEndpointSet", "item", "state")?.text ?? "-")
            }
            #expect(states == ["Pending", "Pending", "available"])
            #expect(simulator.endpoint(id)?.state == .available)

            // Only describes that include the endpoint count.
            let other = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "t2"))
            let otherId = try #require(try other.xml().path("vpcEndpoint", "vpcEndpointId")?.text)
            for _ in 1...3 { _ = try await client.ec2("DescribeVpcEndpoints", [("VpcEndpointId.1", id)]) }
            #expect(simulator.endpoint(otherId)?.state == .pending)
        }
    }

    @Test(arguments: [(EndpointStateCasing.lowercase, "pending", "available"), (.model, "Pending", "Available")])
    func stateCasingIsConfigurable(casing: EndpointStateCasing, pending: String, available: String) async throws {
        let provisioning = ProvisioningSettings(endpoints: .afterDescribes(1), endpointStateCasing: casing)
        try await withShare(SimulatorConfiguration(provisioning: provisioning)) { _, client, arn in
            let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn)).xml()
            #expect(created.path("vpcEndpoint", "state")?.text == pending)
            _ = try await client.ec2("DescribeVpcEndpoints")
            let described = try await client.ec2("DescribeVpcEndpoints").xml()
            #expect(described.path("vpcEndpointSet", "item", "state")?.text == available)
        }
    }

    @Test func delayedProvisioningFollowsTheInjectedClock() async throws {
        // The clock starts at the wall clock's time because signatures are checked against it too.
        let clock = Mutex(Date())
        let configuration = SimulatorConfiguration(provisioning: ProvisioningSettings(endpoints: .afterDelay(seconds: 30)),
                                                   now: { clock.withLock { $0 } })
        try await withShare(configuration) { simulator, client, arn in
            let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn))
            let id = try #require(try created.xml().path("vpcEndpoint", "vpcEndpointId")?.text)
            clock.withLock { $0 = $0.addingTimeInterval(29) }
            #expect(simulator.endpoint(id)?.state == .pending)
            clock.withLock { $0 = $0.addingTimeInterval(1) }
            #expect(simulator.endpoint(id)?.state == .available)
        }
    }

    @Test func describeFiltersMatchEC2sNames() async throws {
        try await withShare(SimulatorConfiguration(provisioning: .instant)) { simulator, client, arn in
            let second = Fixture.rcfgArn(2)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "b", resources: [SharedResource(arn: second)])
            _ = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "a", customer: "acme"))
            _ = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(second, token: "b", vpc: "vpc-0bbbbbbbbbbbbbbb0", customer: "globex"))
            let ids = simulator.endpoints.map(\.id)
            func describe(_ parameters: [(String, String)]) async throws -> [String] {
                let response = try await client.ec2("DescribeVpcEndpoints", parameters)
                #expect(response.status == 200, "\(response.text)")
                return try response.xml().path("vpcEndpointSet")?.children(named: "item").compactMap { $0.childText("vpcEndpointId") } ?? []
            }
            #expect(try await describe([]) == ids)
            #expect(try await describe([("Filter.1.Name", "tag:privatelink-consumer:customer"), ("Filter.1.Value.1", "globex")]) == [ids[1]])
            #expect(try await describe([("Filter.1.Name", "tag-key"), ("Filter.1.Value.1", "privatelink-consumer:*")]) == ids)
            #expect(try await describe([("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", "vpc-0123456789abcdef0")]) == [ids[0]])
            #expect(try await describe([("Filter.1.Name", "resource-configuration-arn"), ("Filter.1.Value.1", second)]) == [ids[1]])
            #expect(try await describe([("Filter.1.Name", "vpc-endpoint-type"), ("Filter.1.Value.1", "Resource"),
                                        ("Filter.2.Name", "vpc-endpoint-state"), ("Filter.2.Value.1", "Available")]) == ids)
            #expect(try await describe([("Filter.1.Name", "vpc-endpoint-id"), ("Filter.1.Value.1", ids[1]), ("Filter.1.Value.2", ids[0])]) == ids)
            #expect(try await describe([("VpcEndpointId.1", ids[1])]) == [ids[1]])

            let unknownFilter = try await client.ec2("DescribeVpcEndpoints", [("Filter.1.Name", "colour"), ("Filter.1.Value.1", "red")])
            #expect(unknownFilter.ec2ErrorCode == "InvalidParameterValue")
            let unknownId = try await client.ec2("DescribeVpcEndpoints", [("VpcEndpointId.1", "vpce-00000000000000000")])
            #expect(unknownId.status == 400)
            #expect(unknownId.ec2ErrorCode == "InvalidVpcEndpointId.NotFound")
            let malformedId = try await client.ec2("DescribeVpcEndpoints", [("VpcEndpointId.1", "endpoint-1")])
            #expect(malformedId.ec2ErrorCode == "InvalidVpcEndpointId.Malformed")
        }
    }

    @Test(arguments: [1, 2])
    func describePagesFollowNextTokenChains(pageSize: Int) async throws {
        try await withShare(SimulatorConfiguration(pageSize: pageSize, provisioning: .instant)) { simulator, client, arn in
            for index in 1...5 {
                _ = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "t\(index)"))
            }
            var seen: [String] = []
            var token: String?
            var pages = 0
            repeat {
                let page = try await client.ec2("DescribeVpcEndpoints", token.map { [("NextToken", $0)] } ?? []).xml()
                let items = page.path("vpcEndpointSet")?.children(named: "item") ?? []
                #expect(items.count <= pageSize)
                seen += items.compactMap { $0.childText("vpcEndpointId") }
                token = page.childText("nextToken")
                pages += 1
            } while token != nil && pages < 20
            #expect(seen == simulator.endpoints.map(\.id))
            #expect(pages == (5 + pageSize - 1) / pageSize)

            let capped = try await client.ec2("DescribeVpcEndpoints", [("MaxResults", "1")]).xml()
            #expect(capped.path("vpcEndpointSet")?.children.count == 1)
            let badToken = try await client.ec2("DescribeVpcEndpoints", [("NextToken", "garbage")])
            #expect(badToken.status == 400)
            #expect(badToken.ec2ErrorCode == "InvalidPaginationToken")
            let badMax = try await client.ec2("DescribeVpcEndpoints", [("MaxResults", "1001")])
            #expect(badMax.ec2ErrorCode == "InvalidParameterValue")
        }
    }

    @Test func associationsCarryTheConfiguredDNSNames() async throws {
        try await withShare(SimulatorConfiguration(awsStyleDNSNames: true)) { simulator, client, arn in
            let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, privateDns: true))
            let id = try #require(try created.xml().path("vpcEndpoint", "vpcEndpointId")?.text)

            // Pending endpoints have no associations yet.
            let early = try await client.ec2("DescribeVpcEndpointAssociations", [("VpcEndpointId.1", id)]).xml()
            #expect(early.path("vpcEndpointAssociationSet")?.children.isEmpty == true)

            #expect(simulator.makeEndpointAvailable(id))
            let response = try await client.ec2("DescribeVpcEndpointAssociations", [("VpcEndpointId.1", id)])
            let document = try response.xml()
            #expect(document.name == "DescribeVpcEndpointAssociationsResponse")
            let item = try #require(document.path("vpcEndpointAssociationSet", "item"))
            #expect(item.childText("id")?.hasPrefix("vpce-rsc-asc-") == true)
            #expect(item.childText("vpcEndpointId") == id)
            #expect(item.childText("associatedResourceAccessibility") == "Accessible")
            #expect(item.childText("associatedResourceArn") == arn)
            #expect(item.child("privateDnsEntry") == nil)
            let dnsName = try #require(item.path("dnsEntry", "dnsName")?.text)
            let labels = dnsName.split(separator: ".")
            #expect(labels.count == 7)
            #expect(labels[0] == Substring(id))
            #expect(labels[1] == "rcfg-00000000000000001")
            #expect(labels[2].count == 8 && labels[2].allSatisfy(\.isHexDigit))
            #expect(labels.dropFirst(3).joined(separator: ".") == "vpc-lattice-rsc.us-east-1.on.aws")
            #expect(item.path("dnsEntry", "hostedZoneId")?.text.isEmpty == false)

            simulator.setAssociationDNSName("localhost", privateDNSName: "db.acme.internal", forResource: arn)
            let configured = try await client.ec2("DescribeVpcEndpointAssociations", [("Filter.1.Name", "vpc-endpoint-id"), ("Filter.1.Value.1", id)]).xml()
            #expect(configured.path("vpcEndpointAssociationSet", "item", "dnsEntry", "dnsName")?.text == "localhost")
            #expect(configured.path("vpcEndpointAssociationSet", "item", "privateDnsEntry", "dnsName")?.text == "db.acme.internal")

            // Without private DNS there is no private entry, whatever is configured.
            let plain = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "no-private-dns", privateDns: false))
            let plainId = try #require(try plain.xml().path("vpcEndpoint", "vpcEndpointId")?.text)
            simulator.makeEndpointAvailable(plainId)
            let noPrivate = try await client.ec2("DescribeVpcEndpointAssociations", [("VpcEndpointId.1", plainId)]).xml()
            #expect(noPrivate.path("vpcEndpointAssociationSet", "item", "dnsEntry", "dnsName")?.text == "localhost")
            #expect(noPrivate.path("vpcEndpointAssociationSet", "item", "privateDnsEntry") == nil)

            let badMax = try await client.ec2("DescribeVpcEndpointAssociations", [("MaxResults", "101")])
            #expect(badMax.ec2ErrorCode == "InvalidParameterValue")
        }
    }

    @Test func deleteAnswers200WithUnsuccessfulItemsAndEndpointsFadeAway() async throws {
        try await withShare(SimulatorConfiguration(provisioning: .instant)) { simulator, client, arn in
            let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn))
            let id = try #require(try created.xml().path("vpcEndpoint", "vpcEndpointId")?.text)
            let missing = "vpce-0000000000000000f"
            let response = try await client.ec2("DeleteVpcEndpoints", [("VpcEndpointId.1", id), ("VpcEndpointId.2", missing)])
            #expect(response.status == 200)
            let document = try response.xml()
            #expect(document.name == "DeleteVpcEndpointsResponse")
            let failures = document.path("unsuccessful")?.children(named: "item") ?? []
            #expect(failures.count == 1)
            #expect(failures.first?.childText("resourceId") == missing)
            #expect(failures.first?.path("error", "code")?.text == "InvalidVpcEndpoint.NotFound")
            #expect(failures.first?.path("error", "message")?.text.contains(missing) == true)

            let deleting = try await client.ec2("DescribeVpcEndpoints").xml()
            #expect(deleting.path("vpcEndpointSet", "item", "state")?.text == "deleting")
            let gone = try await client.ec2("DescribeVpcEndpoints").xml()
            #expect(gone.path("vpcEndpointSet")?.children.isEmpty == true)
            #expect(simulator.endpoint(id)?.state == .deleted)
            let describeGone = try await client.ec2("DescribeVpcEndpoints", [("VpcEndpointId.1", id)])
            #expect(describeGone.ec2ErrorCode == "InvalidVpcEndpointId.NotFound")
        }
    }

    @Test func outOfBandChangesShowOnTheWire() async throws {
        try await withShare(SimulatorConfiguration(provisioning: .instant)) { simulator, client, arn in
            for token in ["a", "b", "c"] {
                _ = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: token))
            }
            let ids = simulator.endpoints.map(\.id)
            #expect(simulator.failEndpoint(ids[0], code: "InsufficientCapacity", message: "no capacity in subnet"))
            #expect(simulator.deleteEndpoint(ids[1]))
            let described = try await client.ec2("DescribeVpcEndpoints").xml()
            let items = described.path("vpcEndpointSet")?.children(named: "item") ?? []
            #expect(items.map { $0.childText("state") ?? "" } == ["failed", "deleting", "available"])
            #expect(items.first?.path("lastError", "code")?.text == "InsufficientCapacity")
            #expect(items.first?.path("lastError", "message")?.text == "no capacity in subnet")
            #expect(items.first?.childText("failureReason") == "no capacity in subnet")

            let share = try #require(simulator.shares.first)
            #expect(simulator.withdrawShare(share.arn))
            let associations = try await client.ec2("DescribeVpcEndpointAssociations").xml()
            let item = associations.path("vpcEndpointAssociationSet", "item")
            #expect(item?.childText("vpcEndpointId") == ids[2])
            #expect(item?.childText("associatedResourceAccessibility") == "Inaccessible")
            #expect(simulator.endpoint(ids[2])?.state == .available)
            // A withdrawn resource cannot back a new endpoint.
            let refused = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "d"))
            #expect(refused.ec2ErrorCode == "InvalidParameterValue")
        }
    }

    @Test func withdrawingCanFailEndpointsInstead() async throws {
        try await withShare(SimulatorConfiguration(provisioning: .instant)) { simulator, client, arn in
            _ = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn))
            let share = try #require(simulator.shares.first)
            simulator.withdrawShare(share.arn, effect: .endpointsFail)
            let endpoint = try #require(simulator.endpoints.first)
            #expect(endpoint.state == .failed)
            #expect(endpoint.lastError?.code == "ResourceConfigurationNotShared")
        }
    }
}
