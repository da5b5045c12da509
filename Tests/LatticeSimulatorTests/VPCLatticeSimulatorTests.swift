import Foundation
@testable import LatticeSimulator
import Testing

@Suite(.timeLimit(.minutes(1)))
struct VPCLatticeSimulatorTests {
    @Test func getResourceConfigurationByPercentEncodedArnAndById() async throws {
        let created = Date(timeIntervalSince1970: 1_735_787_045)
        try await LatticeSimulator.with { simulator, client in
            let arn = Fixture.rcfgArn(1)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            simulator.setResourceConfiguration(SimulatedResourceConfiguration(
                arn: arn, name: "acme-db", definition: .dns(domainName: "acme.cluster-abc.us-east-1.rds.amazonaws.com"),
                portRanges: ["5432"], resourceGatewayId: "rgw-0123456789abcdef0", createdAt: created))

            let response = try await client.getResourceConfiguration(arn)
            #expect(response.status == 200, "\(response.text)")
            #expect(response.header("content-type") == "application/json")
            let body = try response.json()
            #expect(body["arn"] as? String == arn)
            #expect(body["id"] as? String == "rcfg-00000000000000001")
            #expect(body["name"] as? String == "acme-db")
            #expect(body["type"] as? String == "SINGLE")
            #expect(body["status"] as? String == "ACTIVE")
            #expect(body["protocol"] as? String == "TCP")
            #expect(body["portRanges"] as? [String] == ["5432"])
            #expect(body["resourceGatewayId"] as? String == "rgw-0123456789abcdef0")
            #expect(body["createdAt"] as? String == "2025-01-02T03:04:05Z")
            #expect(body["lastUpdatedAt"] is String)
            let definition = try #require(body["resourceConfigurationDefinition"] as? [String: Any])
            #expect(Set(definition.keys) == ["dnsResource"])
            let dns = try #require(definition["dnsResource"] as? [String: Any])
            #expect(dns["domainName"] as? String == "acme.cluster-abc.us-east-1.rds.amazonaws.com")
            #expect(dns["ipAddressType"] as? String == "IPV4")

            let byId = try await client.getResourceConfiguration("rcfg-00000000000000001")
            #expect(try byId.json()["arn"] as? String == arn)
            #expect(simulator.callCounts["vpc-lattice:GetResourceConfiguration"] == 2)
        }
    }

    @Test func ipDefinitionsPortsAndDeniedReads() async throws {
        try await LatticeSimulator.with { simulator, client in
            let ipArn = Fixture.rcfgArn(2)
            let deniedArn = Fixture.rcfgArn(3)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme",
                                           resources: [SharedResource(arn: ipArn), SharedResource(arn: deniedArn)])
            simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: ipArn, definition: .ip(address: "10.0.3.4"),
                                                                              portRanges: ["6432"]))
            simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: deniedArn, isReadable: false))

            let ip = try await client.getResourceConfiguration(ipArn).json()
            #expect((ip["resourceConfigurationDefinition"] as? [String: Any])?["ipResource"] as? [String: String] == ["ipAddress": "10.0.3.4"])
            #expect(ip["portRanges"] as? [String] == ["6432"])

            let denied = try await client.getResourceConfiguration(deniedArn)
            #expect(denied.status == 403)
            #expect(denied.restJSONErrorCode == "AccessDeniedException")
            #expect(try denied.json()["message"] is String)
        }
    }

    @Test func unknownUnsharedAndMalformedIdentifiers() async throws {
        try await LatticeSimulator.with { simulator, client in
            let invited = Fixture.rcfgArn(4)
            simulator.addInvitation(sender: Fixture.customer, shareName: "not yet", resources: [SharedResource(arn: invited)])
            for identifier in [Fixture.rcfgArn(99), invited, "rcfg-00000000000000099"] {
                let response = try await client.getResourceConfiguration(identifier)
                #expect(response.status == 404)
                #expect(response.restJSONErrorCode == "ResourceNotFoundException")
            }
            let malformed = try await client.getResourceConfiguration("db-123")
            #expect(malformed.status == 400)
            #expect(malformed.restJSONErrorCode == "ValidationException")
        }
    }
}
