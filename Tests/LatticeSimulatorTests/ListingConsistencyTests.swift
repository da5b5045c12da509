import AWSClient
import Foundation
@testable import LatticeSimulator
import Testing

/// The simulator's listings are eventually consistent in both directions, as AWS's are: a listing can leave
/// out what exists (for as many listings as a test asks), while a lookup by id still finds it; and EC2 can
/// hold a deletion in `deleting` for as long as a test asks.
@Suite(.timeLimit(.minutes(1)))
struct ListingConsistencyTests {
    func endpointIds(_ client: SimulatorTestClient, _ parameters: [(String, String)] = []) async throws -> [String] {
        let response = try await client.ec2("DescribeVpcEndpoints", parameters)
        return try response.xml().path("vpcEndpointSet")?.children(named: "item").compactMap { $0.childText("vpcEndpointId") } ?? []
    }

    @Test func aHiddenEndpointIsLeftOutOfTheNextListingsButFoundById() async throws {
        try await LatticeSimulator.with(SimulatorConfiguration(provisioning: .instant)) { simulator, client in
            let arn = Fixture.rcfgArn(1)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "t-1")).xml()
            let id = try #require(created.path("vpcEndpoint", "vpcEndpointId")?.text)
            simulator.hideFromListings([id], listings: 2)
            #expect(try await endpointIds(client) == [])
            // A lookup by id is not a listing: it finds it, and does not count.
            #expect(try await endpointIds(client, [("VpcEndpointId.1", id)]) == [id])
            #expect(simulator.listingsHiding(id) == 1)
            #expect(try await endpointIds(client, [("Filter.1.Name", "vpc-endpoint-type"), ("Filter.1.Value.1", "Resource")]) == [])
            #expect(try await endpointIds(client) == [id])
        }
    }

    @Test func aHiddenEndpointStaysHiddenOnEveryPageOfOneListing() async throws {
        try await LatticeSimulator.with(SimulatorConfiguration(provisioning: .instant)) { simulator, client in
            let arn = Fixture.rcfgArn(1)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            var ids: [String] = []
            for n in 1...3 {
                let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "t-\(n)")).xml()
                ids.append(try #require(created.path("vpcEndpoint", "vpcEndpointId")?.text))
            }
            simulator.hideFromListings([ids[2]], listings: 1)
            var seen: [String] = []
            var token: String?
            repeat {
                var parameters = [("MaxResults", "5")]
                if let token { parameters.append(("NextToken", token)) }
                let document = try await client.ec2("DescribeVpcEndpoints", parameters).xml()
                seen += document.path("vpcEndpointSet")?.children(named: "item").compactMap { $0.childText("vpcEndpointId") } ?? []
                token = document.childText("nextToken")
            } while token != nil
            #expect(seen.sorted() == ids.prefix(2).sorted())
        }
    }

    func listed(_ client: SimulatorTestClient, _ body: [String: any Sendable]) async throws -> [String] {
        let resources = try await client.ram("ListResources", body).json()["resources"] as? [[String: Any]] ?? []
        return resources.compactMap { $0["arn"] as? String }
    }

    @Test func aHiddenResourceIsLeftOutOfListResourcesButFoundByArn() async throws {
        try await LatticeSimulator.with(SimulatorConfiguration()) { simulator, client in
            let arn = Fixture.rcfgArn(1)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            simulator.hideFromListings([arn], listings: 1)
            let byArn = try await listed(client, ["resourceOwner": "OTHER-ACCOUNTS", "resourceArns": [arn]])
            let first = try await listed(client, ["resourceOwner": "OTHER-ACCOUNTS"])
            let second = try await listed(client, ["resourceOwner": "OTHER-ACCOUNTS"])
            #expect(byArn == [arn])
            #expect(first == [])
            #expect(second == [arn])
        }
    }

    @Test func aHeldDeletionReadsDeletingUntilItIsFinished() async throws {
        try await LatticeSimulator.with(SimulatorConfiguration(provisioning: .instant)) { simulator, client in
            let arn = Fixture.rcfgArn(1)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            let created = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "t-1")).xml()
            let id = try #require(created.path("vpcEndpoint", "vpcEndpointId")?.text)
            simulator.holdDeleting(id)
            _ = try await client.ec2("DeleteVpcEndpoints", [("VpcEndpointId.1", id)])
            for _ in 0..<3 {
                #expect(try await endpointIds(client) == [id])
                #expect(simulator.endpoint(id)?.state == .deleting)
            }
            simulator.finishDeleting(id)
            _ = try await endpointIds(client)
            #expect(simulator.endpoint(id)?.state == .deleted)
            let lookup = try await client.ec2("DescribeVpcEndpoints", [("VpcEndpointId.1", id)])
            #expect(lookup.status == 400 && lookup.text.contains("InvalidVpcEndpointId.NotFound"), "\(lookup.text)")
        }
    }
}
