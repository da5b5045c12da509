import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// `EC2Client` against a real `LatticeSimulator`: Resource endpoints, their associations and deletion,
/// across pages of 1 and 2, with every fault the simulator can inject.
@Suite(.timeLimit(.minutes(1)))
struct EC2ClientTests {
    static let owner = "111122223333"
    static let vpc = "vpc-0123456789abcdef0"

    /// Shares `count` resource configurations within the organization, so endpoints can be created on them.
    @discardableResult
    static func share(_ simulator: LatticeSimulator, _ count: Int) -> [String] {
        let arns = (1...count).map { testARN($0) }
        simulator.addOrganizationShare(owner: owner, shareName: "org", resources: arns.map { SharedResource(arn: $0) })
        return arns
    }

    // MARK: CreateVpcEndpoint

    @Test func createSendsAResourceEndpointAndIsIdempotentPerClientToken() async throws {
        try await withSimulator { simulator, clients in
            let arn = Self.share(simulator, 1)[0]
            let request = ResourceEndpointRequest.test(arn, clientToken: "create-acme-1")
            let created = try await clients.ec2.createResourceEndpoint(request)
            #expect(created.vpcEndpointId.hasPrefix("vpce-"))
            #expect(created.vpcEndpointType == "Resource")
            #expect(created.vpcId == Self.vpc)
            #expect(created.state == .pending)
            #expect(created.subnetIds == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
            #expect(created.securityGroupIds == ["sg-0123456789abcdef0"])
            #expect(created.ipAddressType == "IPV4")
            #expect(created.privateDnsEnabled == true)
            #expect(created.resourceConfigurationArn == arn)
            #expect(created.tags == ["Name": "privatelink-consumer/acme", "privatelink-consumer:customer": "acme"])
            #expect(created.lastError == nil)

            // The same token again: the same endpoint, not a second one.
            let again = try await clients.ec2.createResourceEndpoint(request)
            #expect(again.vpcEndpointId == created.vpcEndpointId)
            #expect(simulator.endpoints.map(\.id) == [created.vpcEndpointId])
            #expect(simulator.endpoints.first?.clientToken == "create-acme-1")

            // The same token with other parameters: refused, not retried.
            var changed = request
            changed.subnetIds = ["subnet-0aaaaaaaaaaaaaaaa"]
            let mismatch = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.createResourceEndpoint(changed)
            }
            #expect(mismatch?.code == "IdempotentParameterMismatch")
            #expect(mismatch?.httpStatus == 400)
            #expect(mismatch?.attempts == 1)
            #expect(simulator.endpoints.count == 1)
            #expect(simulator.callCounts["ec2:CreateVpcEndpoint"] == 3)
        }
    }

    @Test func createOnAResourceNotSharedIsRefused() async throws {
        try await withSimulator { simulator, clients in
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.createResourceEndpoint(.test(testARN(99), clientToken: "t"))
            }
            #expect(error?.code == "InvalidParameterValue")
            #expect(simulator.endpoints.isEmpty)
        }
    }

    // MARK: DescribeVpcEndpoints

    @Test(arguments: [1, 2])
    func describeListsEveryEndpointAcrossPagesAndSeesPendingTurnAvailable(pageSize: Int) async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: pageSize)) { simulator, clients in
            let arns = Self.share(simulator, 4)
            var ids: [String] = []
            for (index, arn) in arns.prefix(3).enumerated() {
                ids.append(try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "t\(index)", customer: "c\(index)")).vpcEndpointId)
            }
            // Another VPC's endpoint is filtered out.
            let elsewhere = try await clients.ec2.createResourceEndpoint(.test(arns[3], clientToken: "t3", vpcId: "vpc-0fffffffffffffff0"))
            let filters = [EC2Filter("vpc-id", [Self.vpc]), EC2Filter("vpc-endpoint-type", ["Resource"])]

            let first = try await clients.ec2.vpcEndpoints(filters: filters).collectAll()
            #expect(first.map(\.vpcEndpointId) == ids)
            #expect(first.map(\.state) == [.pending, .pending, .pending])
            #expect(first.map { $0.tags["privatelink-consumer:customer"] } == ["c0", "c1", "c2"])
            #expect(simulator.callCounts["ec2:DescribeVpcEndpoints"] == pageCount(3, pageSize: pageSize))

            let second = try await clients.ec2.vpcEndpoints(filters: filters).collectAll()
            #expect(second.map(\.state) == [.available, .available, .available])
            #expect(simulator.callCounts["ec2:DescribeVpcEndpoints"] == 2 * pageCount(3, pageSize: pageSize))

            let all = try await clients.ec2.vpcEndpoints().collectAll()
            #expect(all.map(\.vpcEndpointId) == ids + [elsewhere.vpcEndpointId])
            let byId = try await clients.ec2.vpcEndpoints(ids: [ids[2], ids[0]]).collectAll()
            #expect(Set(byId.map(\.vpcEndpointId)) == [ids[0], ids[2]])
            let byTag = try await clients.ec2.vpcEndpoints(filters: [EC2Filter("tag:privatelink-consumer:customer", ["c1"])]).collectAll()
            #expect(byTag.map(\.vpcEndpointId) == [ids[1]])
        }
    }

    /// A page's endpoints share the storage of the values every item repeats (their VPC's id, subnets and security
    /// groups, our tags' keys): 10,000 endpoints are not 60,000 copies of a few hundred strings. What each endpoint
    /// reads is unchanged.
    @Test func aPagesEndpointsShareTheValuesTheyRepeat() async throws {
        try await withSimulator { simulator, clients in
            let arns = Self.share(simulator, 3)
            for (index, arn) in arns.enumerated() {
                _ = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "t\(index)", customer: "c\(index)"))
            }
            let listed = try await clients.ec2.resourceEndpoints(inVpc: Self.vpc).collectAll()
            try #require(listed.count == 3)
            func storage(_ text: String?) -> UnsafeRawPointer? {
                text?.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
            }
            func key(_ endpoint: VpcEndpoint) -> String? { endpoint.tags.keys.first { $0 == "privatelink-consumer:customer" } }
            #expect(listed.allSatisfy { $0.vpcId == Self.vpc })
            #expect(listed.allSatisfy { $0.subnetIds == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] && $0.securityGroupIds == ["sg-0123456789abcdef0"] })
            #expect(listed.map { $0.tags["privatelink-consumer:customer"] } == ["c0", "c1", "c2"])
            #expect(Set(listed.map { storage($0.vpcId) }).count == 1)
            #expect(Set(listed.map { storage($0.subnetIds[1]) }).count == 1)
            #expect(Set(listed.map { storage($0.securityGroupIds[0]) }).count == 1)
            #expect(Set(listed.map { storage(key($0)) }).count == 1)
            #expect(storage(listed[0].vpcId) != nil)
            // Values each endpoint has of its own stay its own.
            #expect(Set(listed.map { storage($0.resourceConfigurationArn) }).count == 3)
        }
    }

    @Test(arguments: [EndpointStateCasing.mixed, .lowercase, .model])
    func statesAreReadWhateverTheirCasing(_ casing: EndpointStateCasing) async throws {
        let provisioning = ProvisioningSettings(endpointStateCasing: casing)
        try await withSimulator(SimulatorConfiguration(provisioning: provisioning)) { simulator, clients in
            let arns = Self.share(simulator, 2)
            let pending = try await clients.ec2.createResourceEndpoint(.test(arns[0], clientToken: "a"))
            let failing = try await clients.ec2.createResourceEndpoint(.test(arns[1], clientToken: "b"))
            #expect(pending.state == .pending)
            simulator.failEndpoint(failing.vpcEndpointId, code: "ResourceConfigurationNotShared", message: "no longer shared")
            _ = try await clients.ec2.vpcEndpoints().collectAll()
            let endpoints = try await clients.ec2.vpcEndpoints().collectAll()
            #expect(endpoints.map(\.state) == [.available, .failed])
            #expect(endpoints[1].state.isTerminalFailure)
            #expect(endpoints[1].lastError?.code == "ResourceConfigurationNotShared")
            #expect(endpoints[1].lastError?.description == "ResourceConfigurationNotShared: no longer shared")
            #expect(endpoints[1].failureReason == "no longer shared")
        }
    }

    @Test func stateParsingIgnoresCaseAndKeepsUnknownStates() async throws {
        #expect(VpcEndpointState("available") == .available)
        #expect(VpcEndpointState("Pending") == .pending)
        #expect(VpcEndpointState("PENDINGACCEPTANCE") == .pendingAcceptance)
        #expect(VpcEndpointState("Rejected").isTerminalFailure)
        #expect(VpcEndpointState("Hibernating") == .unknown("Hibernating"))
        #expect(VpcEndpointState("Hibernating").description == "Hibernating")
        #expect(VpcEndpointState("") == .unknown(""))

        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <DescribeVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcEndpointSet>
            <item><vpcEndpointId>vpce-00000000000000001</vpcEndpointId><state>available</state></item>
            <item><vpcEndpointId>vpce-00000000000000002</vpcEndpointId><state>Pending</state></item>
            <item><vpcEndpointId>vpce-00000000000000003</vpcEndpointId><state>Hibernating</state></item>
            </vpcEndpointSet></DescribeVpcEndpointsResponse>
            """
        let server = try await LoopbackHTTPServer.start { _ in .text(xml, contentType: "text/xml") }
        let endpoints = try await SimulatorClients(baseURL: server.baseURL).ec2.vpcEndpoints().collectAll()
        #expect(endpoints.map(\.state) == [.available, .pending, .unknown("Hibernating")])
        try await server.shutdown()
    }

    // MARK: DescribeVpcEndpointAssociations

    @Test(arguments: [1, 2])
    func associationsGiveTheDNSNamePreferringThePrivateOne(pageSize: Int) async throws {
        let configuration = SimulatorConfiguration(pageSize: pageSize, provisioning: .instant, awsStyleDNSNames: true)
        try await withSimulator(configuration) { simulator, clients in
            let arns = Self.share(simulator, 3)
            simulator.setAssociationDNSName(nil, privateDNSName: "db.acme.internal", forResource: arns[0])
            simulator.setAssociationDNSName(nil, privateDNSName: "db.globex.internal", forResource: arns[1])
            let privateName = try await clients.ec2.createResourceEndpoint(.test(arns[0], clientToken: "a"))
            // Private DNS off: the private name is not reported, the endpoint's own name is used.
            let privateDNSOff = try await clients.ec2.createResourceEndpoint(.test(arns[1], clientToken: "b", privateDnsEnabled: false))
            let plain = try await clients.ec2.createResourceEndpoint(.test(arns[2], clientToken: "c"))
            let ids = [privateName, privateDNSOff, plain].map(\.vpcEndpointId)

            let associations = try await clients.ec2.vpcEndpointAssociations(ids: ids).collectAll()
            #expect(simulator.callCounts["ec2:DescribeVpcEndpointAssociations"] == pageCount(3, pageSize: pageSize))
            #expect(associations.map(\.vpcEndpointId) == ids)
            #expect(associations.map(\.associatedResourceArn) == arns)
            #expect(associations.allSatisfy { $0.accessibility == "Accessible" && $0.id?.hasPrefix("vpce-rsc-asc-") == true })
            let names = Dictionary(uniqueKeysWithValues: associations.map { ($0.vpcEndpointId, $0) })
            #expect(names[ids[0]]?.privateDnsName == "db.acme.internal")
            #expect(names[ids[0]]?.preferredDnsName == "db.acme.internal")
            #expect(names[ids[0]]?.dnsName?.hasSuffix(".vpc-lattice-rsc.us-east-1.on.aws") == true)
            for id in ids.dropFirst() {
                #expect(names[id]?.privateDnsName == nil)
                #expect(names[id]?.preferredDnsName == simulator.associationDNSName(endpoint: id))
                #expect(names[id]?.preferredDnsName?.hasPrefix(id + ".rcfg-") == true)
            }

            // Without ids: every association, the same pages.
            #expect(try await clients.ec2.vpcEndpointAssociations().collectAll().count == 3)
        }
    }

    @Test func aWithdrawnShareShowsAsAnInaccessibleAssociation() async throws {
        try await withSimulator(SimulatorConfiguration(provisioning: .instant)) { simulator, clients in
            let arn = testARN(1)
            let share = simulator.addOrganizationShare(owner: Self.owner, shareName: "org", resources: [SharedResource(arn: arn)])
            let endpoint = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "a"))
            simulator.withdrawShare(share.arn)
            let associations = try await clients.ec2.vpcEndpointAssociations(ids: [endpoint.vpcEndpointId]).collectAll()
            #expect(associations.map(\.accessibility) == ["Inaccessible"])
            #expect(associations.first?.failureCode == "ResourceConfigurationNotShared")
        }
    }

    // MARK: DeleteVpcEndpoints

    @Test func deleteReportsPerItemFailuresForUnknownIds() async throws {
        try await withSimulator { simulator, clients in
            let arn = Self.share(simulator, 1)[0]
            let endpoint = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "a"))
            let unknown = "vpce-0000000000000dead"
            let failures = try await clients.ec2.deleteVpcEndpoints(ids: [endpoint.vpcEndpointId, unknown])
            #expect(failures.map(\.vpcEndpointId) == [unknown])
            #expect(failures.first?.error.code == "InvalidVpcEndpoint.NotFound")
            #expect(failures.first?.error.message?.contains(unknown) == true)
            #expect(simulator.endpoint(endpoint.vpcEndpointId)?.state == .deleting)
            // Deleting, then gone.
            #expect(try await clients.ec2.vpcEndpoints().collectAll().map(\.state) == [.deleting])
            #expect(try await clients.ec2.vpcEndpoints().collectAll().isEmpty)
            #expect(try await clients.ec2.deleteVpcEndpoints(ids: [endpoint.vpcEndpointId]).map(\.vpcEndpointId) == [endpoint.vpcEndpointId])
        }
    }

    @Test func describingAnUnknownIdIsAnError() async throws {
        try await withSimulator { _, clients in
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.vpcEndpoints(ids: ["vpce-0000000000000dead"]).collectAll()
            }
            #expect(error?.code == "InvalidVpcEndpointId.NotFound")
            #expect(error?.attempts == 1)
        }
    }

    // MARK: Faults

    @Test func throttlingEverySecondCallIsRetriedTransparently() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1, provisioning: .instant)) { simulator, clients in
            let arns = Self.share(simulator, 3)
            for (index, arn) in arns.enumerated() { _ = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "t\(index)")) }
            simulator.inject(.throttle(every: 2, on: .operation(.ec2, "DescribeVpcEndpoints")))
            simulator.inject(.throttle(every: 2, on: .operation(.ec2, "DescribeVpcEndpointAssociations")))
            let endpoints = try await clients.ec2.vpcEndpoints().collectAll()
            #expect(endpoints.count == 3)
            #expect(simulator.callCounts["ec2:DescribeVpcEndpoints"] == 5)
            let associations = try await clients.ec2.vpcEndpointAssociations().collectAll()
            #expect(associations.count == 3)
            #expect(simulator.callCounts["ec2:DescribeVpcEndpointAssociations"] == 5)
            #expect(simulator.faultFirings == [2, 2])
            #expect(clients.backoffs.count == 4)
        }
    }

    @Test func serverErrorsEveryThirdCallAreRetriedTransparently() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1, provisioning: .instant)) { simulator, clients in
            let arns = Self.share(simulator, 4)
            for (index, arn) in arns.enumerated() { _ = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "t\(index)")) }
            simulator.inject(.serverError(every: 3, on: .operation(.ec2, "DescribeVpcEndpoints")))
            simulator.inject(SimulatorFault(.unavailable, on: .operation(.ec2, "DeleteVpcEndpoints"), times: 1))
            #expect(try await clients.ec2.vpcEndpoints().collectAll().count == 4)
            #expect(simulator.callCounts["ec2:DescribeVpcEndpoints"] == 5)
            #expect(try await clients.ec2.deleteVpcEndpoints(ids: [simulator.endpoints[0].id]).isEmpty)
            #expect(simulator.callCounts["ec2:DeleteVpcEndpoints"] == 2)
            #expect(simulator.faultFirings == [1, 1])
        }
    }

    @Test func truncatedBodiesAreRetried() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1)) { simulator, clients in
            let arns = Self.share(simulator, 2)
            for (index, arn) in arns.enumerated() { _ = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "t\(index)")) }
            simulator.inject(SimulatorFault(.truncatedBody, on: .operation(.ec2, "DescribeVpcEndpoints"), every: 2))
            #expect(try await clients.ec2.vpcEndpoints().collectAll().count == 2)
            #expect(simulator.callCounts["ec2:DescribeVpcEndpoints"] == 3)
        }
    }

    @Test func aLostCreateAnswerIsRetriedWithTheSameClientTokenAndYieldsTheOneEndpoint() async throws {
        try await withSimulator { simulator, clients in
            let arn = Self.share(simulator, 1)[0]
            simulator.inject(.lostResponse(on: .operation(.ec2, "CreateVpcEndpoint")))
            let created = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "create-acme-1"))
            #expect(simulator.callCounts["ec2:CreateVpcEndpoint"] == 2)
            #expect(simulator.faultFirings == [1])
            #expect(simulator.endpoints.map(\.id) == [created.vpcEndpointId])
            #expect(clients.backoffs.count == 1)
        }
    }

    @Test func aMalformedBodyIsAClearErrorNeverAnEmptyList() async throws {
        try await withSimulator { simulator, clients in
            let arn = Self.share(simulator, 1)[0]
            _ = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "a"))
            simulator.inject(SimulatorFault(.malformedBody(.cutDocument), on: .service(.ec2), times: 2))
            let cut = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.vpcEndpoints().collectAll()
            }
            #expect(cut?.kind == .malformedResponse)
            #expect(cut?.message.contains("not well-formed XML") == true, "\(String(describing: cut))")
            let cutAssociations = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.vpcEndpointAssociations().collectAll()
            }
            #expect(cutAssociations?.kind == .malformedResponse)
        }
    }

    @Test func aWellFormedDocumentOfAnotherKindIsNotAnEmptyList() async throws {
        try await withSimulator { simulator, clients in
            let arn = Self.share(simulator, 1)[0]
            _ = try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "a"))
            // A proxy's page that happens to be well-formed XML, with status 200.
            simulator.inject(SimulatorFault(.malformedBody(.htmlPage(status: 200)), on: .service(.ec2)))
            for operation in ["DescribeVpcEndpoints", "DescribeVpcEndpointAssociations", "DeleteVpcEndpoints"] {
                let error = await #expect(throws: AWSClientError.self) {
                    switch operation {
                    case "DescribeVpcEndpoints": _ = try await clients.ec2.vpcEndpoints().collectAll()
                    case "DescribeVpcEndpointAssociations": _ = try await clients.ec2.vpcEndpointAssociations().collectAll()
                    default: _ = try await clients.ec2.deleteVpcEndpoints(ids: ["vpce-0000000000000dead"])
                    }
                }
                #expect(error?.kind == .malformedResponse, "\(operation)")
                #expect(error?.operation == operation)
            }
            simulator.clearFaults()
            #expect(simulator.endpoints.map(\.state) == [.pending])
        }
    }

    @Test func aLoadBalancersErrorPageIsAServiceErrorWithItsStatus() async throws {
        try await withSimulator { simulator, clients in
            simulator.inject(SimulatorFault(.malformedBody(.htmlPage(status: 502)), on: .service(.ec2)))
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.vpcEndpoints().collectAll()
            }
            #expect(error?.kind == .service)
            #expect(error?.httpStatus == 502)
            #expect(error?.code == nil)
            #expect(error?.attempts == 3)
        }
    }

    @Test func aWrongSecretIsSignatureDoesNotMatchNeverAnEmptyList() async throws {
        try await withSimulator { simulator, _ in
            let clients = SimulatorClients(simulator, credentials: wrongSecretCredentials)
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.vpcEndpoints().collectAll()
            }
            #expect(error?.code == "SignatureDoesNotMatch")
            #expect(error?.httpStatus == 403)
            #expect(error?.attempts == 1)
            let create = await #expect(throws: AWSClientError.self) {
                try await clients.ec2.createResourceEndpoint(.test(testARN(1), clientToken: "a"))
            }
            #expect(create?.code == "SignatureDoesNotMatch")
            #expect(simulator.endpoints.isEmpty)
        }
    }

    @Test func anEmptyPageWithANextTokenIsFollowed() async throws {
        let provisioning = ProvisioningSettings(endpoints: .instant, emptyPageEvery: 2)
        try await withSimulator(SimulatorConfiguration(pageSize: 1, provisioning: provisioning)) { simulator, clients in
            let arns = Self.share(simulator, 2)
            var ids: [String] = []
            for (index, arn) in arns.enumerated() { ids.append(try await clients.ec2.createResourceEndpoint(.test(arn, clientToken: "t\(index)")).vpcEndpointId) }
            var pages: [[String]] = []
            try await clients.ec2.vpcEndpoints().forEachPage { page in pages.append(page.map(\.vpcEndpointId)) }
            #expect(pages == [[ids[0]], [], [ids[1]]])
            #expect(simulator.callCounts["ec2:DescribeVpcEndpoints"] == 3)
        }
    }

    @Test func aRepeatedNextTokenStopsPagingWithAnError() async throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <DescribeVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcEndpointSet>
            <item><vpcEndpointId>vpce-00000000000000001</vpcEndpointId><state>available</state></item>
            </vpcEndpointSet><nextToken>same-token</nextToken></DescribeVpcEndpointsResponse>
            """
        let server = try await LoopbackHTTPServer.start { _ in .text(xml, contentType: "text/xml") }
        let error = await #expect(throws: AWSClientError.self) {
            try await SimulatorClients(baseURL: server.baseURL).ec2.vpcEndpoints().collectAll()
        }
        #expect(error?.kind == .malformedResponse)
        #expect(error?.operation == "DescribeVpcEndpoints")
        #expect(server.requests.count == 2)
        #expect(server.requests.last?.bodyText.contains("NextToken=same-token") == true)
        try await server.shutdown()
    }
}
