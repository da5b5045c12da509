import AWSClient
import Foundation
@testable import LatticeSimulator
import Testing

@Suite(.timeLimit(.minutes(1)))
struct FaultInjectionTests {
    @Test func throttlingEveryThirdCallInEachServicesTerms() async throws {
        try await LatticeSimulator.with { simulator, client in
            simulator.inject(.throttle(every: 3, on: .service(.ram)))
            simulator.inject(.throttle(every: 3, on: .service(.ec2)))
            simulator.inject(.throttle(every: 3, on: .service(.vpcLattice)))
            var ram: [Int] = []
            var ec2: [Int] = []
            var lattice: [Int] = []
            for _ in 1...6 {
                let ramResponse = try await client.ram("GetResourceShareInvitations")
                ram.append(ramResponse.status)
                if ramResponse.status != 200 {
                    #expect(ramResponse.restJSONErrorCode == "ThrottlingException")
                }
                let ec2Response = try await client.ec2("DescribeVpcEndpoints")
                ec2.append(ec2Response.status)
                if ec2Response.status != 200 {
                    #expect(ec2Response.ec2ErrorCode == "RequestLimitExceeded")
                }
                let latticeResponse = try await client.getResourceConfiguration("rcfg-00000000000000001")
                lattice.append(latticeResponse.status)
                if latticeResponse.status == 429 {
                    #expect(latticeResponse.restJSONErrorCode == "ThrottlingException")
                }
            }
            #expect(ram == [200, 200, 429, 200, 200, 429])
            #expect(ec2 == [200, 200, 503, 200, 200, 503])
            #expect(lattice == [404, 404, 429, 404, 404, 429])
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 6)
            #expect(simulator.faultFirings == [2, 2, 2])
        }
    }

    @Test func serverErrorsAreServiceSpecificAndLimitedToTheirOperation() async throws {
        try await LatticeSimulator.with { simulator, client in
            simulator.inject(.serverError(on: .operation(.ram, "ListResources"), times: 1))
            simulator.inject(SimulatorFault(.unavailable, on: .operation(.ec2, "DescribeVpcEndpoints"), times: 1))
            simulator.inject(.serverError(on: .operation(.ec2, "DescribeVpcEndpointAssociations"), times: 1))

            #expect(try await client.ram("GetResourceShareInvitations").status == 200)
            let ram = try await client.ram("ListResources", ["resourceOwner": "OTHER-ACCOUNTS"])
            #expect(ram.status == 500)
            #expect(ram.restJSONErrorCode == "ServerInternalException")
            #expect(try await client.ram("ListResources", ["resourceOwner": "OTHER-ACCOUNTS"]).status == 200)

            let unavailable = try await client.ec2("DescribeVpcEndpoints")
            #expect(unavailable.status == 503)
            #expect(unavailable.ec2ErrorCode == "Unavailable")
            let internalError = try await client.ec2("DescribeVpcEndpointAssociations")
            #expect(internalError.status == 500)
            #expect(internalError.ec2ErrorCode == "InternalError")
            #expect(try await client.ec2("DescribeVpcEndpoints").status == 200)

            simulator.inject(.serverError(on: .service(.vpcLattice)))
            let lattice = try await client.getResourceConfiguration("rcfg-00000000000000001")
            #expect(lattice.status == 500)
            #expect(lattice.restJSONErrorCode == "InternalServerException")
            simulator.clearFaults()
            #expect(try await client.getResourceConfiguration("rcfg-00000000000000001").status == 404)
        }
    }

    @Test func aLostCreateResponseStillCreatesTheEndpoint() async throws {
        try await LatticeSimulator.with(SimulatorConfiguration(provisioning: .instant)) { simulator, client in
            let arn = Fixture.rcfgArn(1)
            simulator.addOrganizationShare(owner: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            simulator.inject(.lostResponse(on: .operation(.ec2, "CreateVpcEndpoint")))

            await #expect(throws: (any Error).self) {
                try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "lost-1"))
            }
            #expect(simulator.endpoints.count == 1)
            #expect(simulator.endpoints.first?.clientToken == "lost-1")

            // The retry with the same token gets the endpoint that was created, not a second one.
            let retry = try await client.ec2("CreateVpcEndpoint", Fixture.createParameters(arn, token: "lost-1"))
            #expect(retry.status == 200)
            #expect(try retry.xml().path("vpcEndpoint", "vpcEndpointId")?.text == simulator.endpoints.first?.id)
            #expect(simulator.endpoints.count == 1)
            #expect(simulator.callCounts["ec2:CreateVpcEndpoint"] == 2)
        }
    }

    @Test func droppedConnectionsNeverReachTheService() async throws {
        try await LatticeSimulator.with { simulator, client in
            let invitation = simulator.addInvitation(sender: Fixture.customer, shareName: "a", resources: [SharedResource(arn: Fixture.rcfgArn(1))])
            simulator.inject(SimulatorFault(.dropConnection, on: .operation(.ram, "AcceptResourceShareInvitation"), times: 1))
            await #expect(throws: (any Error).self) {
                try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": invitation.arn])
            }
            #expect(simulator.invitations.first?.status == .pending)
        }
    }

    @Test func truncatedBodiesFailTheClientButTakeEffect() async throws {
        try await LatticeSimulator.with { simulator, client in
            let invitation = simulator.addInvitation(sender: Fixture.customer, shareName: "a", resources: [SharedResource(arn: Fixture.rcfgArn(1))])
            simulator.inject(SimulatorFault(.truncatedBody, on: .service(.ram), times: 1))
            await #expect(throws: (any Error).self) {
                try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": invitation.arn])
            }
            #expect(simulator.invitations.first?.status == .accepted)
        }
    }

    @Test func malformedBodiesAreCompleteResponsesThatDoNotParse() async throws {
        try await LatticeSimulator.with { simulator, client in
            simulator.inject(SimulatorFault(.malformedBody(.cutDocument), on: .service(.ec2), times: 1))
            let cutXML = try await client.ec2("DescribeVpcEndpoints")
            #expect(cutXML.status == 200)
            #expect(throws: XMLParseError.self) { try cutXML.xml() }

            simulator.inject(SimulatorFault(.malformedBody(.cutDocument), on: .service(.ram), times: 1))
            let cutJSON = try await client.ram("GetResourceShareInvitations")
            #expect(cutJSON.status == 200)
            #expect((try? JSONSerialization.jsonObject(with: Data(cutJSON.body))) == nil)

            simulator.inject(SimulatorFault(.malformedBody(.htmlPage(status: 502)), on: .service(.vpcLattice), times: 1))
            let html = try await client.getResourceConfiguration("rcfg-00000000000000001")
            #expect(html.status == 502)
            #expect(html.header("content-type") == "text/html")
            #expect(html.text.hasPrefix("<html>"))
        }
    }

    @Test func slowResponsesArriveLate() async throws {
        try await LatticeSimulator.with { simulator, client in
            simulator.inject(SimulatorFault(.delay(.milliseconds(300)), on: .operation(.ec2, "DescribeVpcEndpoints"), times: 1))
            let clock = ContinuousClock()
            let start = clock.now
            let slow = try await client.ec2("DescribeVpcEndpoints")
            #expect(slow.status == 200)
            #expect(clock.now - start >= .milliseconds(300))
            let fast = try await client.ec2("DescribeVpcEndpoints")
            #expect(fast.status == 200)
            // `times: 1`: the second call is not delayed (timing it would be at the mercy of a loaded machine).
            #expect(simulator.faultFirings == [1])
        }
    }

    @Test func errorEnvelopesParseWithAWSClientsParser() async throws {
        try await LatticeSimulator.with { simulator, client in
            simulator.inject(.throttle())
            let responses: [(AWSProtocol, WireResponse, String)] = [
                (.restJSON, try await client.ram("ListResources", ["resourceOwner": "OTHER-ACCOUNTS"]), "ThrottlingException"),
                (.ec2, try await client.ec2("DescribeVpcEndpoints"), "RequestLimitExceeded"),
                (.restJSON, try await client.getResourceConfiguration("rcfg-00000000000000001"), "ThrottlingException"),
            ]
            for (wireProtocol, response, code) in responses {
                let details = AWSErrorDetails.parse(protocol: wireProtocol, status: response.status,
                                                    headers: response.headers.map { HTTPHeader(name: $0.0, value: $0.1) },
                                                    body: response.body)
                #expect(details.code == code)
                #expect(details.message?.isEmpty == false)
                #expect(details.requestId != nil)
            }
        }
    }
}
