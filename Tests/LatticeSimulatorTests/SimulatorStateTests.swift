import AWSClient
import Foundation
@testable import LatticeSimulator
import Testing

/// The simulator's decisions as plain values, without HTTP.
struct SimulatorStateTests {
    @Test func pagesCoverEveryItemOnceAndRefuseForeignTokens() throws {
        var state = SimulatorState(configuration: SimulatorConfiguration(pageSize: 2))
        let invalid = SimulatorAPIError(400, "Invalid", "bad")
        var collected: [Int] = []
        var token: String?
        repeat {
            let page = try state.paginate(Array(1...5), operation: "Op", token: token, maxResults: nil, invalidToken: invalid)
            collected += page.items
            token = page.nextToken
        } while token != nil
        #expect(collected == [1, 2, 3, 4, 5])

        let first = try state.paginate(Array(1...5), operation: "Op", token: nil, maxResults: 1, invalidToken: invalid)
        #expect(first.items == [1])
        let next = try #require(first.nextToken)
        #expect(throws: invalid) { try state.paginate([1], operation: "Other", token: next, maxResults: nil, invalidToken: invalid) }
        var otherRun = SimulatorState(configuration: SimulatorConfiguration(pageSize: 2))
        #expect(throws: invalid) { try otherRun.paginate([1], operation: "Op", token: next, maxResults: nil, invalidToken: invalid) }
        #expect(PageToken(decoding: "%%%") == nil)
        #expect(PageToken(decoding: Data("v1|Op|-1|x".utf8).base64EncodedString()) == nil)
    }

    @Test func faultsFireOnEveryNthMatchingCallUpToTheirLimit() {
        var state = SimulatorState(configuration: SimulatorConfiguration())
        state.faults = [ActiveFault(fault: .throttle(every: 2, on: .operation(.ec2, "CreateVpcEndpoint"), times: 2))]
        let fired = (1...8).map { _ in state.nextFault(service: .ec2, operation: "CreateVpcEndpoint") != nil }
        #expect(fired == [false, true, false, true, false, false, false, false])
        #expect(state.nextFault(service: .ram, operation: "CreateVpcEndpoint") == nil)
    }

    @Test(arguments: [
        ("privatelink-consumer:*", "privatelink-consumer:customer", true),
        ("vpce-?bc", "vpce-abc", true),
        ("*", "", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b", "aXXc", false),
        ("exact", "exact!", false),
    ])
    func filterValuesUseEC2Wildcards(pattern: String, text: String, matches: Bool) {
        #expect(EC2Filter.glob(pattern, text, caseInsensitive: false) == matches)
    }

    @Test func createParsingReadsListsAndTagsInIndexOrder() throws {
        let fields = FormDecoder.decode(
            "Action=CreateVpcEndpoint&Version=2016-11-15&VpcEndpointType=Resource&VpcId=vpc-1&ResourceConfigurationArn=arn%3Ax"
                + "&SubnetId.2=subnet-b&SubnetId.1=subnet-a&SecurityGroupId.1=sg-1&PrivateDnsEnabled=false"
                + "&TagSpecification.1.ResourceType=vpc-endpoint&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v")
        let input = try CreateVpcEndpointInput(EC2Query(fields: fields))
        #expect(input.subnetIds == ["subnet-a", "subnet-b"])
        #expect(input.securityGroupIds == ["sg-1"])
        #expect(input.ipAddressType == "ipv4")
        #expect(input.privateDnsEnabled == false)
        #expect(input.tags == [EndpointTag(key: "k", value: "v")])
        #expect(input.resourceConfigurationArn == "arn:x")
    }

    @Test func acceptingMakesTheShareVisibleAndTheResourceUsable() throws {
        var state = SimulatorState(configuration: SimulatorConfiguration(provisioning: ProvisioningSettings(resourcesAvailableAfterListCalls: 1)))
        let now = Date()
        let arn = "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-00000000000000001"
        let invitation = state.addInvitation(sender: "111122223333", shareName: "s", resources: [SharedResource(arn: arn)], region: nil, now: now)
        #expect(state.resourceVisibility(arn) == .notShared)
        _ = try state.respondToInvitation(arn: invitation.arn, accept: true, clientToken: "t", now: now)
        #expect(state.resourceVisibility(arn) == .pending)
        #expect(try state.listResources(owner: "OTHER-ACCOUNTS", resourceType: nil, resourceArns: nil, shareArns: nil).map(\.status) == ["PENDING"])
        #expect(state.resourceVisibility(arn) == .available)
        let error = #expect(throws: SimulatorAPIError.self) {
            _ = try state.respondToInvitation(arn: invitation.arn, accept: false, clientToken: nil, now: now)
        }
        #expect(error?.code == "ResourceShareInvitationAlreadyAcceptedException")
    }
}
