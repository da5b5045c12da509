import Foundation
import Testing
import TestSupport
@testable import AWSClient

/// Our EC2 client against moto, an AWS emulator we did not write: the wire format is AWS's, not ours.
@Suite(.serialized) struct MotoContractTests {
    let credentials = StaticCredentialProvider(AWSCredentials(accessKeyId: "AKIAMOTOTEST", secretAccessKey: "moto-secret"))

    func executor(_ moto: MotoServer) -> AWSRequestExecutor {
        AWSRequestExecutor(endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": moto.endpoint]),
                           retryPolicy: RetryPolicy(maxAttempts: 1))
    }

    /// Plain EC2 calls our client does not offer (the VPC scaffolding a test needs).
    func ec2Call(_ executor: AWSRequestExecutor, _ action: String, _ fields: [(String, String)]) async throws -> XMLElement {
        var parameters = QueryParameters(action: action, version: EC2Client.apiVersion)
        for (name, value) in fields { parameters.add(name, value) }
        let response = try await executor.send(
            AWSRequest(service: .ec2, operation: action, region: "us-east-1",
                       headers: [HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")],
                       body: Array(parameters.body.utf8)),
            credentials: credentials)
        return try XMLDocumentParser.parse(response.body)
    }

    @Test func resourceEndpointLifecycleAgainstMoto() async throws {
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let executor = executor(moto)
        let vpc = try #require(try await ec2Call(executor, "CreateVpc", [("CidrBlock", "10.0.0.0/16")]).path("vpc")?.childText("vpcId"))
        var subnets: [String] = []
        for (index, zone) in ["us-east-1a", "us-east-1b"].enumerated() {
            let subnet = try await ec2Call(executor, "CreateSubnet", [("VpcId", vpc), ("CidrBlock", "10.0.\(index + 1).0/24"),
                                                                       ("AvailabilityZone", zone)])
            subnets.append(try #require(subnet.path("subnet")?.childText("subnetId")))
        }
        let group = try #require(try await ec2Call(executor, "CreateSecurityGroup", [("GroupName", "plc"), ("GroupDescription", "plc"),
                                                                                     ("VpcId", vpc)]).childText("groupId"))
        let ec2 = EC2Client(executor: executor, credentials: credentials, region: "us-east-1")
        let request = ResourceEndpointRequest(
            resourceConfigurationArn: "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0",
            vpcId: vpc, subnetIds: subnets, securityGroupIds: [group], ipAddressType: "ipv4", privateDnsEnabled: true,
            clientToken: "contract-token-1", tags: [("Name", "privatelink-consumer/acme"), ("privatelink-consumer:customer", "acme")])
        let created = try await ec2.createResourceEndpoint(request)
        #expect(created.vpcEndpointId.hasPrefix("vpce-"))
        #expect(created.vpcEndpointType == "Resource")
        #expect(created.subnetIds == subnets)
        #expect(created.tags["privatelink-consumer:customer"] == "acme")

        // moto answers state in lower case ("available"); the client compares case-insensitively.
        let listed = try await ec2.vpcEndpoints(filters: [EC2Filter("tag:privatelink-consumer:customer", ["acme"]),
                                                          EC2Filter("vpc-id", [vpc])]).collectAll()
        #expect(listed.map(\.vpcEndpointId) == [created.vpcEndpointId])
        #expect(listed.first?.state == .available)
        #expect(try await ec2.vpcEndpoints(filters: [EC2Filter("tag:privatelink-consumer:customer", ["nobody"])]).collectAll().isEmpty)
        #expect(try await ec2.vpcEndpoints(ids: [created.vpcEndpointId]).collectAll().count == 1)

        // moto has no DescribeVpcEndpointAssociations and answers with an HTML 500 page: a clear error.
        let error = await #expect(throws: AWSClientError.self) {
            try await ec2.vpcEndpointAssociations(ids: [created.vpcEndpointId]).collectAll()
        }
        #expect(error?.httpStatus == 500)
        #expect(error?.kind == .service)
        #expect(error?.message.isEmpty == false)

        let failures = try await ec2.deleteVpcEndpoints(ids: [created.vpcEndpointId])
        #expect(failures.isEmpty)
        let after = try await ec2.vpcEndpoints(filters: [EC2Filter("vpc-id", [vpc])]).collectAll()
        #expect(after.allSatisfy { $0.vpcEndpointId != created.vpcEndpointId || [.deleted, .deleting].contains($0.state) })
    }
}
