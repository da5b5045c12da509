import Foundation
@testable import LatticeSimulator
import Testing

@Suite(.timeLimit(.minutes(1)))
struct RAMSimulatorTests {
    @Test func getResourceShareInvitationsHasRAMsExactShape() async throws {
        try await LatticeSimulator.with { simulator, client in
            let arn = Fixture.rcfgArn(1)
            let invitation = simulator.addInvitation(sender: Fixture.customer, shareName: "acme-db",
                                                     resources: [SharedResource(arn: arn)])
            let response = try await client.ram("GetResourceShareInvitations")
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("x-amzn-RequestId") != nil)
            let body = try response.json()
            #expect(Set(body.keys) == ["resourceShareInvitations"])
            let items = try #require(body["resourceShareInvitations"] as? [[String: Any]])
            try #require(items.count == 1)
            let item = items[0]
            #expect(Set(item.keys) == ["resourceShareInvitationArn", "resourceShareName", "resourceShareArn", "senderAccountId",
                                       "receiverAccountId", "invitationTimestamp", "status"])
            #expect(item["resourceShareInvitationArn"] as? String == invitation.arn)
            #expect(invitation.arn.hasPrefix("arn:aws:ram:us-east-1:111122223333:resource-share-invitation/"))
            #expect(item["resourceShareArn"] as? String == invitation.resourceShareArn)
            #expect(invitation.resourceShareArn.hasPrefix("arn:aws:ram:us-east-1:111122223333:resource-share/"))
            #expect(item["resourceShareName"] as? String == "acme-db")
            #expect(item["senderAccountId"] as? String == Fixture.customer)
            #expect(item["receiverAccountId"] as? String == "999999999999")
            #expect(item["status"] as? String == "PENDING")
            // A JSON number of epoch seconds, not a string.
            let seconds = try #require((item["invitationTimestamp"] as? NSNumber)?.doubleValue)
            #expect(abs(seconds - invitation.timestamp.timeIntervalSince1970) < 0.001)
            #expect(!response.text.contains("\"invitationTimestamp\":\""))
        }
    }

    @Test(arguments: [1, 2])
    func invitationPagesFollowNextTokenChains(pageSize: Int) async throws {
        try await LatticeSimulator.with(SimulatorConfiguration(pageSize: pageSize)) { simulator, client in
            let expected = (1...5).map {
                simulator.addInvitation(sender: Fixture.customer, shareName: "share-\($0)", resources: [SharedResource(arn: Fixture.rcfgArn($0))]).arn
            }
            var seen: [String] = []
            var token: String?
            var pages = 0
            repeat {
                var body: [String: any Sendable] = [:]
                if let token { body["nextToken"] = token }
                let page = try await client.ram("GetResourceShareInvitations", body).json()
                let items = try #require(page["resourceShareInvitations"] as? [[String: Any]])
                #expect(items.count <= pageSize)
                seen += items.compactMap { $0["resourceShareInvitationArn"] as? String }
                token = page["nextToken"] as? String
                pages += 1
            } while token != nil && pages < 20
            #expect(seen == expected)
            #expect(pages == (5 + pageSize - 1) / pageSize)

            // maxResults narrows a page further; the chain still covers everything.
            let first = try await client.ram("GetResourceShareInvitations", ["maxResults": 1]).json()
            #expect((first["resourceShareInvitations"] as? [Any])?.count == 1)
            #expect(first["nextToken"] is String)
        }
    }

    @Test func garbledOrForeignNextTokensAreInvalid() async throws {
        try await LatticeSimulator.with(SimulatorConfiguration(pageSize: 1)) { simulator, client in
            for index in 1...2 {
                simulator.addInvitation(sender: Fixture.customer, shareName: "s\(index)", resources: [SharedResource(arn: Fixture.rcfgArn(index))])
            }
            let page = try await client.ram("GetResourceShareInvitations").json()
            let token = try #require(page["nextToken"] as? String)
            let foreignOperation = try await client.ram("GetResourceShares", ["resourceOwner": "OTHER-ACCOUNTS", "nextToken": token])
            #expect(foreignOperation.status == 400)
            #expect(foreignOperation.restJSONErrorCode == "InvalidNextTokenException")
            let garbled = try await client.ram("GetResourceShareInvitations", ["nextToken": "not-a-token"])
            #expect(garbled.status == 400)
            #expect(garbled.restJSONErrorCode == "InvalidNextTokenException")
            #expect(try garbled.json()["message"] is String)
        }
    }

    @Test func emptyPagesCanCarryANextToken() async throws {
        let provisioning = ProvisioningSettings(emptyPageEvery: 2)
        try await LatticeSimulator.with(SimulatorConfiguration(pageSize: 1, provisioning: provisioning)) { simulator, client in
            for index in 1...3 {
                simulator.addInvitation(sender: Fixture.customer, shareName: "s\(index)", resources: [SharedResource(arn: Fixture.rcfgArn(index))])
            }
            var seen = 0
            var emptyPagesWithToken = 0
            var token: String?
            var calls = 0
            repeat {
                var body: [String: any Sendable] = [:]
                if let token { body["nextToken"] = token }
                let page = try await client.ram("GetResourceShareInvitations", body).json()
                let count = (page["resourceShareInvitations"] as? [Any])?.count ?? 0
                token = page["nextToken"] as? String
                if count == 0, token != nil { emptyPagesWithToken += 1 }
                seen += count
                calls += 1
            } while token != nil && calls < 20
            #expect(seen == 3)
            #expect(emptyPagesWithToken >= 1)
        }
    }

    @Test func listPendingInvitationResourcesAndItsErrors() async throws {
        try await LatticeSimulator.with { simulator, client in
            let arn = Fixture.rcfgArn(7)
            let invitation = simulator.addInvitation(sender: Fixture.customer, shareName: "acme", resources: [SharedResource(arn: arn)])
            let response = try await client.ram("ListPendingInvitationResources", ["resourceShareInvitationArn": invitation.arn])
            #expect(response.status == 200)
            let resources = try #require(try response.json()["resources"] as? [[String: Any]])
            try #require(resources.count == 1)
            #expect(resources[0]["arn"] as? String == arn)
            #expect(resources[0]["type"] as? String == "vpc-lattice:ResourceConfiguration")
            #expect(resources[0]["resourceShareArn"] as? String == invitation.resourceShareArn)
            #expect(resources[0]["resourceRegionScope"] as? String == "REGIONAL")
            #expect(resources[0]["status"] as? String == "AVAILABLE")

            let unknown = "arn:aws:ram:us-east-1:111122223333:resource-share-invitation/00000000-0000-0000-0000-000000000000"
            let cases: [([String: any Sendable], String)] = [
                (["resourceShareInvitationArn": unknown], "ResourceShareInvitationArnNotFoundException"),
                (["resourceShareInvitationArn": "not-an-arn"], "MalformedArnException"),
                ([:], "MissingRequiredParameterException"),
                (["resourceShareInvitationArn": 42], "SerializationException"),
            ]
            for (body, code) in cases {
                let failure = try await client.ram("ListPendingInvitationResources", body)
                #expect(failure.status == 400)
                #expect(failure.restJSONErrorCode == code)
            }

            _ = try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": invitation.arn])
            let accepted = try await client.ram("ListPendingInvitationResources", ["resourceShareInvitationArn": invitation.arn])
            #expect(accepted.restJSONErrorCode == "ResourceShareInvitationAlreadyAcceptedException")
        }
    }

    /// RAM drops answered invitations after about 7 days; the share stays.
    @Test func agingDropsAnsweredInvitationsButKeepsPendingOnesAndTheShare() async throws {
        try await LatticeSimulator.with { simulator, client in
            let answered = simulator.addInvitation(sender: Fixture.customer, shareName: "a", resources: [SharedResource(arn: Fixture.rcfgArn(1))])
            let pending = simulator.addInvitation(sender: Fixture.customer, shareName: "b", resources: [SharedResource(arn: Fixture.rcfgArn(2))])
            let accept = try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": answered.arn])
            #expect(accept.status == 200)
            #expect(simulator.ageAnsweredInvitations() == 1)
            #expect(simulator.ageAnsweredInvitations() == 0)
            let listed = try #require(try await client.ram("GetResourceShareInvitations").json()["resourceShareInvitations"] as? [[String: Any]])
            #expect(listed.compactMap { $0["resourceShareInvitationArn"] as? String } == [pending.arn])
            let resources = try await client.ram("ListResources", ["resourceOwner": "OTHER-ACCOUNTS"])
            #expect(resources.text.contains(Fixture.rcfgArn(1)))
        }
    }

    @Test func acceptIsIdempotentPerClientTokenAndThenRefusesRepeats() async throws {
        try await LatticeSimulator.with { simulator, client in
            let first = simulator.addInvitation(sender: Fixture.customer, shareName: "a", resources: [SharedResource(arn: Fixture.rcfgArn(1))])
            let second = simulator.addInvitation(sender: Fixture.customer, shareName: "b", resources: [SharedResource(arn: Fixture.rcfgArn(2))])
            let accept = try await client.ram("AcceptResourceShareInvitation",
                                              ["resourceShareInvitationArn": first.arn, "clientToken": "t-1"])
            #expect(accept.status == 200)
            let body = try accept.json()
            #expect(Set(body.keys) == ["resourceShareInvitation", "clientToken"])
            #expect(body["clientToken"] as? String == "t-1")
            let answered = try #require(body["resourceShareInvitation"] as? [String: Any])
            #expect(answered["status"] as? String == "ACCEPTED")
            #expect(answered["resourceShareInvitationArn"] as? String == first.arn)

            let retry = try await client.ram("AcceptResourceShareInvitation",
                                             ["resourceShareInvitationArn": first.arn, "clientToken": "t-1"])
            #expect(retry.status == 200)
            #expect((try retry.json()["resourceShareInvitation"] as? [String: Any])?["status"] as? String == "ACCEPTED")

            let mismatch = try await client.ram("AcceptResourceShareInvitation",
                                                ["resourceShareInvitationArn": second.arn, "clientToken": "t-1"])
            #expect(mismatch.status == 400)
            #expect(mismatch.restJSONErrorCode == "IdempotentParameterMismatchException")

            let again = try await client.ram("AcceptResourceShareInvitation",
                                             ["resourceShareInvitationArn": first.arn, "clientToken": "t-2"])
            #expect(again.status == 400)
            #expect(again.restJSONErrorCode == "ResourceShareInvitationAlreadyAcceptedException")
            // RAM's Coral front end suffixes the code; clients cut it at the first ':'.
            #expect(again.header("x-amzn-ErrorType")?.hasPrefix("ResourceShareInvitationAlreadyAcceptedException:http") == true)

            #expect(simulator.invitations.map(\.status) == [.accepted, .pending])
            #expect(simulator.shares.map(\.status) == [.active, .awaitingAcceptance])
        }
    }

    @Test func rejectedAndExpiredInvitationsRefuseAcceptance() async throws {
        try await LatticeSimulator.with { simulator, client in
            let rejected = simulator.addInvitation(sender: Fixture.customer, shareName: "r", resources: [SharedResource(arn: Fixture.rcfgArn(1))])
            let expired = simulator.addInvitation(sender: Fixture.customer, shareName: "e", resources: [SharedResource(arn: Fixture.rcfgArn(2))])
            let hidden = simulator.addInvitation(sender: Fixture.customer, shareName: "h", resources: [SharedResource(arn: Fixture.rcfgArn(3))])
            #expect(simulator.expireInvitation(expired.arn))
            #expect(simulator.expireInvitation(hidden.arn, stillReadsPending: true))

            let reject = try await client.ram("RejectResourceShareInvitation", ["resourceShareInvitationArn": rejected.arn])
            #expect((try reject.json()["resourceShareInvitation"] as? [String: Any])?["status"] as? String == "REJECTED")

            let statuses = try await client.ram("GetResourceShareInvitations").json()["resourceShareInvitations"] as? [[String: Any]]
            #expect(statuses?.compactMap { $0["status"] as? String } == ["REJECTED", "EXPIRED", "PENDING"])

            for (arn, code) in [(rejected.arn, "ResourceShareInvitationAlreadyRejectedException"),
                                (expired.arn, "ResourceShareInvitationExpiredException"),
                                (hidden.arn, "ResourceShareInvitationExpiredException")] {
                let accept = try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": arn])
                #expect(accept.status == 400)
                #expect(accept.restJSONErrorCode == code)
            }
            let filtered = try await client.ram("GetResourceShareInvitations", ["resourceShareArns": [hidden.resourceShareArn]]).json()
            #expect((filtered["resourceShareInvitations"] as? [Any])?.count == 1)
        }
    }

    @Test func getResourceSharesListsAcceptedAndOrganizationShares() async throws {
        try await LatticeSimulator.with { simulator, client in
            let accepted = simulator.addInvitation(sender: Fixture.customer, shareName: "accepted", resources: [SharedResource(arn: Fixture.rcfgArn(1))])
            simulator.addInvitation(sender: Fixture.customer, shareName: "pending", resources: [SharedResource(arn: Fixture.rcfgArn(2))])
            let organization = simulator.addOrganizationShare(owner: Fixture.otherCustomer, shareName: "org",
                                                              resources: [SharedResource(arn: Fixture.rcfgArn(Fixture.otherCustomer, 3))])
            _ = try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": accepted.arn])

            let others = try await client.ram("GetResourceShares", ["resourceOwner": "OTHER-ACCOUNTS"]).json()
            let shares = try #require(others["resourceShares"] as? [[String: Any]])
            #expect(shares.compactMap { $0["resourceShareArn"] as? String } == [accepted.resourceShareArn, organization.arn])
            #expect(shares.allSatisfy { $0["status"] as? String == "ACTIVE" })
            #expect(shares.first?["owningAccountId"] as? String == Fixture.customer)
            #expect(shares.first?["name"] as? String == "accepted")

            let mine = try await client.ram("GetResourceShares", ["resourceOwner": "SELF"]).json()
            #expect((mine["resourceShares"] as? [Any])?.isEmpty == true)
            let missing = try await client.ram("GetResourceShares")
            #expect(missing.restJSONErrorCode == "MissingRequiredParameterException")
            let wrong = try await client.ram("GetResourceShares", ["resourceOwner": "EVERYONE"])
            #expect(wrong.restJSONErrorCode == "InvalidParameterException")
        }
    }

    @Test func listResourcesFiltersAndSeesOrganizationSharesWithoutInvitation() async throws {
        try await LatticeSimulator.with { simulator, client in
            let invited = simulator.addInvitation(sender: Fixture.customer, shareName: "a",
                                                  resources: [SharedResource(arn: Fixture.rcfgArn(1)),
                                                              SharedResource(arn: "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-1", type: "ec2:Subnet")])
            let organization = simulator.addOrganizationShare(owner: Fixture.otherCustomer, shareName: "org",
                                                              resources: [SharedResource(arn: Fixture.rcfgArn(Fixture.otherCustomer, 2))])
            func arns(_ body: [String: any Sendable]) async throws -> [String] {
                var request = body
                request["resourceOwner"] = "OTHER-ACCOUNTS"
                let response = try await client.ram("ListResources", request)
                #expect(response.status == 200, "\(response.text)")
                return (try response.json()["resources"] as? [[String: Any]])?.compactMap { $0["arn"] as? String } ?? []
            }
            #expect(try await arns([:]) == [Fixture.rcfgArn(Fixture.otherCustomer, 2)])
            _ = try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": invited.arn])
            #expect(try await arns([:]).count == 3)
            #expect(try await arns(["resourceType": "VPC-LATTICE:resourceconfiguration"])
                    == [Fixture.rcfgArn(1), Fixture.rcfgArn(Fixture.otherCustomer, 2)])
            #expect(try await arns(["resourceArns": [Fixture.rcfgArn(1)]]) == [Fixture.rcfgArn(1)])
            #expect(try await arns(["resourceShareArns": [organization.arn]]) == [Fixture.rcfgArn(Fixture.otherCustomer, 2)])
            let mine = try await client.ram("ListResources", ["resourceOwner": "SELF"]).json()
            #expect((mine["resources"] as? [Any])?.isEmpty == true)

            #expect(simulator.withdrawShare(organization.arn))
            #expect(try await arns(["resourceType": "vpc-lattice:ResourceConfiguration"]) == [Fixture.rcfgArn(1)])
            let shares = try await client.ram("GetResourceShares", ["resourceOwner": "OTHER-ACCOUNTS"]).json()
            #expect((shares["resourceShares"] as? [Any])?.count == 1)
        }
    }

    @Test func resourcesBecomeAvailableAfterConfiguredListCalls() async throws {
        let provisioning = ProvisioningSettings(resourcesAvailableAfterListCalls: 2)
        try await LatticeSimulator.with(SimulatorConfiguration(provisioning: provisioning)) { simulator, client in
            let invitation = simulator.addInvitation(sender: Fixture.customer, shareName: "a", resources: [SharedResource(arn: Fixture.rcfgArn(1))])
            _ = try await client.ram("AcceptResourceShareInvitation", ["resourceShareInvitationArn": invitation.arn])
            var statuses: [String] = []
            for _ in 1...3 {
                let body = try await client.ram("ListResources", ["resourceOwner": "OTHER-ACCOUNTS"]).json()
                statuses += (body["resources"] as? [[String: Any]])?.compactMap { $0["status"] as? String } ?? []
            }
            #expect(statuses == ["PENDING", "PENDING", "AVAILABLE"])
        }
    }
}
