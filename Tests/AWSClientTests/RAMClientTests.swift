import AWSClient
import Foundation
import LatticeSimulator
import Synchronization
import Testing
import TestSupport

/// `RAMClient` against a real `LatticeSimulator`: every operation across pages of 1 and 2, the
/// invitation answers and their error codes, and every fault the simulator can inject.
@Suite(.timeLimit(.minutes(1)))
struct RAMClientTests {
    static let sender = "111122223333"
    static let otherSender = "444455556666"

    // MARK: Listings across pages

    @Test(arguments: [1, 2])
    func invitationsAcrossAllPages(pageSize: Int) async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: pageSize)) { simulator, clients in
            let sent = (1...5).map { n in
                simulator.addInvitation(sender: n.isMultiple(of: 2) ? Self.otherSender : Self.sender, shareName: "share-\(n)",
                                        resources: [SharedResource(arn: testARN(n))])
            }
            let listed = try await clients.ram.resourceShareInvitations().collectAll()
            #expect(listed.map(\.resourceShareInvitationArn) == sent.map(\.arn))
            #expect(listed.map(\.resourceShareArn) == sent.map(\.resourceShareArn))
            #expect(listed.map(\.resourceShareName) == (1...5).map { "share-\($0)" })
            #expect(listed.map(\.senderAccountId) == sent.map(\.senderAccountId))
            #expect(listed.allSatisfy { $0.isPending && $0.status == "PENDING" && $0.receiverAccountId == "999999999999" })
            #expect(listed.allSatisfy { $0.invitationTimestamp != nil })
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == pageCount(5, pageSize: pageSize))

            // The same listing as an async sequence, fetched lazily page by page.
            var arns: [String] = []
            for try await invitation in clients.ram.resourceShareInvitations() { arns.append(invitation.resourceShareInvitationArn) }
            #expect(arns == sent.map(\.arn))
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 2 * pageCount(5, pageSize: pageSize))
        }
    }

    @Test(arguments: [1, 2])
    func pendingInvitationResourcesAcrossAllPages(pageSize: Int) async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: pageSize)) { simulator, clients in
            let arns = (1...3).map { testARN($0) }
            let invitation = simulator.addInvitation(sender: Self.sender, shareName: "acme",
                                                     resources: arns.map { SharedResource(arn: $0) })
            let resources = try await clients.ram.pendingInvitationResources(invitationArn: invitation.arn).collectAll()
            #expect(resources.map(\.arn) == arns)
            #expect(resources.allSatisfy { $0.isResourceConfiguration && $0.resourceShareArn == invitation.resourceShareArn })
            #expect(simulator.callCounts["ram:ListPendingInvitationResources"] == pageCount(3, pageSize: pageSize))
        }
    }

    @Test(arguments: [1, 2])
    func sharesAndResourcesOfAcceptedAndOrganizationSharesAcrossAllPages(pageSize: Int) async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: pageSize)) { simulator, clients in
            let invitations = (1...3).map { n in
                simulator.addInvitation(sender: Self.sender, shareName: "invited-\(n)", resources: [SharedResource(arn: testARN(n))])
            }
            for invitation in invitations {
                _ = try await clients.ram.acceptInvitation(invitation.arn, clientToken: "accept-\(invitation.arn.suffix(8))")
            }
            let organization = simulator.addOrganizationShare(owner: Self.otherSender, shareName: "org",
                                                              resources: [SharedResource(arn: testARN(10, account: Self.otherSender)),
                                                                          SharedResource(arn: testARN(11, account: Self.otherSender))])
            // Never accepted: invisible to GetResourceShares and ListResources.
            simulator.addInvitation(sender: Self.sender, shareName: "still-pending", resources: [SharedResource(arn: testARN(20))])

            let shares = try await clients.ram.resourceShares(owner: .otherAccounts).collectAll()
            #expect(Set(shares.map(\.resourceShareArn)) == Set(invitations.map(\.resourceShareArn) + [organization.arn]))
            #expect(shares.count == 4)
            #expect(shares.allSatisfy { $0.status == "ACTIVE" })
            #expect(simulator.callCounts["ram:GetResourceShares"] == pageCount(4, pageSize: pageSize))

            let resources = try await clients.ram.resources(owner: .otherAccounts).collectAll()
            #expect(Set(resources.map(\.arn)) == Set([1, 2, 3].map { testARN($0) } + [testARN(10, account: Self.otherSender),
                                                                                     testARN(11, account: Self.otherSender)]))
            #expect(resources.count == 5)
            #expect(resources.allSatisfy { $0.isResourceConfiguration && $0.isAvailable })
            #expect(simulator.callCounts["ram:ListResources"] == pageCount(5, pageSize: pageSize))

            // Filtered to some shares, and by type (RAM compares it case-insensitively).
            let bySome = try await clients.ram.resources(owner: .otherAccounts,
                                                         resourceShareArns: [invitations[0].resourceShareArn, organization.arn]).collectAll()
            #expect(bySome.map(\.arn).sorted() == [testARN(1), testARN(10, account: Self.otherSender), testARN(11, account: Self.otherSender)].sorted())
            let byType = try await clients.ram.resources(owner: .otherAccounts, resourceType: "VPC-Lattice:ResourceConfiguration").collectAll()
            #expect(byType.count == 5)
            let byArn = try await clients.ram.resources(owner: .otherAccounts, resourceArns: [testARN(2)]).collectAll()
            #expect(byArn.map(\.resourceShareArn) == [invitations[1].resourceShareArn])

            // Our own shares: none.
            #expect(try await clients.ram.resourceShares(owner: .selfAccount).collectAll().isEmpty)
            #expect(try await clients.ram.resources(owner: .selfAccount).collectAll().isEmpty)
        }
    }

    @Test func sameOrganizationSharesAppearInListResourcesWithoutAnInvitation() async throws {
        let provisioning = ProvisioningSettings(resourcesAvailableAfterListCalls: 1)
        try await withSimulator(SimulatorConfiguration(pageSize: 1, provisioning: provisioning)) { simulator, clients in
            let share = simulator.addOrganizationShare(owner: Self.sender, shareName: "org-acme",
                                                       resources: [SharedResource(arn: testARN(1))])
            #expect(try await clients.ram.resourceShareInvitations().collectAll().isEmpty)
            let first = try await clients.ram.resources(owner: .otherAccounts).collectAll()
            #expect(first == [RAMResource(arn: testARN(1), type: "vpc-lattice:ResourceConfiguration",
                                          resourceShareArn: share.arn, status: "PENDING")])
            // The resource shows as AVAILABLE a little later.
            let later = try await clients.ram.resources(owner: .otherAccounts).collectAll()
            #expect(later.map(\.isAvailable) == [true])
            let shares = try await clients.ram.resourceShares(owner: .otherAccounts).collectAll()
            #expect(shares.map(\.resourceShareArn) == [share.arn])
            #expect(shares.first?.owningAccountId == Self.sender)
            #expect(shares.first?.name == "org-acme")
        }
    }

    // MARK: Answering invitations

    @Test func acceptIsIdempotentPerClientTokenAndAnAcceptedInvitationSaysSo() async throws {
        try await withSimulator { simulator, clients in
            let invitation = simulator.addInvitation(sender: Self.sender, shareName: "acme", resources: [SharedResource(arn: testARN(1))])
            let accepted = try await clients.ram.acceptInvitation(invitation.arn, clientToken: "token-1")
            #expect(accepted.status == "ACCEPTED")
            #expect(accepted.resourceShareInvitationArn == invitation.arn)
            #expect(accepted.resourceShareArn == invitation.resourceShareArn)
            // A retry with the same token (after a crash, a lost answer) gets the same answer.
            #expect(try await clients.ram.acceptInvitation(invitation.arn, clientToken: "token-1") == accepted)
            // A new token: RAM says it was already accepted, which callers treat as success.
            let again = await #expect(throws: AWSClientError.self) {
                try await clients.ram.acceptInvitation(invitation.arn, clientToken: "token-2")
            }
            #expect(again?.code == "ResourceShareInvitationAlreadyAcceptedException")
            #expect(again?.kind == .service)
            #expect(again?.httpStatus == 400)
            #expect(again?.attempts == 1)
            #expect(simulator.callCounts["ram:AcceptResourceShareInvitation"] == 3)
            #expect(simulator.invitations.map(\.status) == [.accepted])
            #expect(simulator.shares.map(\.status) == [.active])
        }
    }

    @Test func rejectIsIdempotentPerClientTokenAndARejectedInvitationSaysSo() async throws {
        try await withSimulator { simulator, clients in
            let invitation = simulator.addInvitation(sender: Self.sender, shareName: "mallory", resources: [SharedResource(arn: testARN(1))])
            let rejected = try await clients.ram.rejectInvitation(invitation.arn, clientToken: "reject-1")
            #expect(rejected.status == "REJECTED")
            #expect(try await clients.ram.rejectInvitation(invitation.arn, clientToken: "reject-1") == rejected)
            let again = await #expect(throws: AWSClientError.self) {
                try await clients.ram.rejectInvitation(invitation.arn, clientToken: "reject-2")
            }
            #expect(again?.code == "ResourceShareInvitationAlreadyRejectedException")
            // Accepting a rejected invitation fails the same way.
            let accept = await #expect(throws: AWSClientError.self) {
                try await clients.ram.acceptInvitation(invitation.arn, clientToken: "accept-1")
            }
            #expect(accept?.code == "ResourceShareInvitationAlreadyRejectedException")
            #expect(try await clients.ram.resources(owner: .otherAccounts).collectAll().isEmpty)
        }
    }

    @Test(arguments: [false, true])
    func anExpiredInvitationCannotBeAccepted(stillReadsPending: Bool) async throws {
        try await withSimulator { simulator, clients in
            let invitation = simulator.addInvitation(sender: Self.sender, shareName: "late", resources: [SharedResource(arn: testARN(1))])
            simulator.expireInvitation(invitation.arn, stillReadsPending: stillReadsPending)
            let listed = try await clients.ram.resourceShareInvitations().collectAll()
            #expect(listed.map(\.status) == [stillReadsPending ? "PENDING" : "EXPIRED"])
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ram.acceptInvitation(invitation.arn, clientToken: "token-1")
            }
            #expect(error?.code == "ResourceShareInvitationExpiredException")
            #expect(error?.attempts == 1)
            let resources = await #expect(throws: AWSClientError.self) {
                try await clients.ram.pendingInvitationResources(invitationArn: invitation.arn).collectAll()
            }
            #expect(resources?.code == "ResourceShareInvitationExpiredException")
        }
    }

    @Test func anUnknownOrMalformedInvitationArnIsRefusedWithRAMsCode() async throws {
        try await withSimulator { _, clients in
            let unknown = await #expect(throws: AWSClientError.self) {
                try await clients.ram.acceptInvitation("arn:aws:ram:us-east-1:111122223333:resource-share-invitation/00000000-0000-0000-0000-000000000000",
                                                       clientToken: "t")
            }
            #expect(unknown?.code == "ResourceShareInvitationArnNotFoundException")
            let malformed = await #expect(throws: AWSClientError.self) {
                try await clients.ram.acceptInvitation("not-an-arn", clientToken: "t")
            }
            #expect(malformed?.code == "MalformedArnException")
        }
    }

    // MARK: Faults

    @Test func throttlingEverySecondCallIsRetriedTransparently() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1)) { simulator, clients in
            let sent = (1...4).map { simulator.addInvitation(sender: Self.sender, shareName: "s\($0)", resources: [SharedResource(arn: testARN($0))]) }
            simulator.inject(.throttle(every: 2, on: .operation(.ram, "GetResourceShareInvitations")))
            let listed = try await clients.ram.resourceShareInvitations().collectAll()
            #expect(listed.map(\.resourceShareInvitationArn) == sent.map(\.arn))
            // 4 pages, each call after a good one throttled: 4 + 3 calls, 3 backoffs.
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 7)
            #expect(simulator.faultFirings == [3])
            #expect(clients.backoffs.count == 3)
        }
    }

    @Test func serverErrorsEveryThirdCallAreRetriedTransparently() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1)) { simulator, clients in
            simulator.addOrganizationShare(owner: Self.sender, shareName: "org", resources: (1...4).map { SharedResource(arn: testARN($0)) })
            simulator.inject(.serverError(every: 3, on: .operation(.ram, "ListResources")))
            simulator.inject(SimulatorFault(.unavailable, on: .operation(.ram, "GetResourceShares"), every: 1, times: 2))
            let resources = try await clients.ram.resources(owner: .otherAccounts).collectAll()
            #expect(resources.map(\.arn) == (1...4).map { testARN($0) })
            #expect(simulator.callCounts["ram:ListResources"] == 5)
            // Two 503s in a row, then the answer on the third and last attempt.
            #expect(try await clients.ram.resourceShares(owner: .otherAccounts).collectAll().count == 1)
            #expect(simulator.callCounts["ram:GetResourceShares"] == 3)
            #expect(simulator.faultFirings == [1, 2])
        }
    }

    @Test func persistentServerErrorsEndInTheServicesError() async throws {
        try await withSimulator { simulator, clients in
            simulator.inject(.serverError(on: .service(.ram)))
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ram.resourceShareInvitations().collectAll()
            }
            #expect(error?.code == "ServerInternalException")
            #expect(error?.httpStatus == 500)
            #expect(error?.attempts == 3)
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 3)
        }
    }

    @Test func truncatedBodiesAreRetried() async throws {
        try await withSimulator(SimulatorConfiguration(pageSize: 1)) { simulator, clients in
            let invitation = simulator.addInvitation(sender: Self.sender, shareName: "acme",
                                                     resources: (1...3).map { SharedResource(arn: testARN($0)) })
            simulator.inject(SimulatorFault(.truncatedBody, on: .operation(.ram, "ListPendingInvitationResources"), every: 2))
            let resources = try await clients.ram.pendingInvitationResources(invitationArn: invitation.arn).collectAll()
            #expect(resources.map(\.arn) == (1...3).map { testARN($0) })
            #expect(simulator.callCounts["ram:ListPendingInvitationResources"] == 5)
            #expect(clients.backoffs.count == 2)
        }
    }

    @Test func aDroppedConnectionIsRetried() async throws {
        try await withSimulator { simulator, clients in
            simulator.addInvitation(sender: Self.sender, shareName: "acme", resources: [SharedResource(arn: testARN(1))])
            simulator.inject(SimulatorFault(.dropConnection, on: .service(.ram), times: 1))
            let invitations = try await clients.ram.resourceShareInvitations().collectAll()
            #expect(invitations.count == 1)
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 2)
        }
    }

    @Test func aLostAcceptAnswerIsRetriedWithTheSameClientTokenAndSucceeds() async throws {
        try await withSimulator { simulator, clients in
            let invitation = simulator.addInvitation(sender: Self.sender, shareName: "acme", resources: [SharedResource(arn: testARN(1))])
            simulator.inject(.lostResponse(on: .operation(.ram, "AcceptResourceShareInvitation")))
            let accepted = try await clients.ram.acceptInvitation(invitation.arn, clientToken: "token-1")
            #expect(accepted.status == "ACCEPTED")
            #expect(simulator.callCounts["ram:AcceptResourceShareInvitation"] == 2)
        }
    }

    @Test(arguments: [SimulatorFault.MalformedBody.cutDocument, .htmlPage(status: 200)])
    func aMalformedBodyIsAClearErrorNeverAnEmptyList(_ body: SimulatorFault.MalformedBody) async throws {
        try await withSimulator { simulator, clients in
            simulator.addInvitation(sender: Self.sender, shareName: "acme", resources: [SharedResource(arn: testARN(1))])
            simulator.inject(SimulatorFault(.malformedBody(body), on: .service(.ram)))
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ram.resourceShareInvitations().collectAll()
            }
            #expect(error?.kind == .malformedResponse)
            #expect(error?.operation == "GetResourceShareInvitations")
            #expect(error?.message.contains("not the expected JSON") == true, "\(String(describing: error))")
            let accept = await #expect(throws: AWSClientError.self) {
                try await clients.ram.acceptInvitation(simulator.invitations[0].arn, clientToken: "t")
            }
            #expect(accept?.kind == .malformedResponse)
        }
    }

    @Test func aLoadBalancersErrorPageIsAServiceErrorWithItsStatus() async throws {
        try await withSimulator { simulator, clients in
            simulator.inject(SimulatorFault(.malformedBody(.htmlPage(status: 502)), on: .service(.ram)))
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ram.resourceShareInvitations().collectAll()
            }
            #expect(error?.kind == .service)
            #expect(error?.httpStatus == 502)
            #expect(error?.code == nil)
            #expect(error?.message.contains("502 Bad Gateway") == true, "\(String(describing: error))")
            #expect(error?.attempts == 3)
        }
    }

    @Test func aWrongSecretIsSignatureDoesNotMatchNeverAnEmptyList() async throws {
        try await withSimulator { simulator, _ in
            let clients = SimulatorClients(simulator, credentials: wrongSecretCredentials)
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.ram.resourceShareInvitations().collectAll()
            }
            #expect(error?.code == "SignatureDoesNotMatch")
            #expect(error?.httpStatus == 403)
            #expect(error?.attempts == 1)
            let resources = await #expect(throws: AWSClientError.self) {
                try await clients.ram.resources(owner: .otherAccounts).collectAll()
            }
            #expect(resources?.code == "SignatureDoesNotMatch")
        }
    }

    @Test func anEmptyPageWithANextTokenIsFollowed() async throws {
        let provisioning = ProvisioningSettings(emptyPageEvery: 2)
        try await withSimulator(SimulatorConfiguration(pageSize: 1, provisioning: provisioning)) { simulator, clients in
            let sent = (1...3).map { simulator.addInvitation(sender: Self.sender, shareName: "s\($0)", resources: [SharedResource(arn: testARN($0))]) }
            var pages: [[String]] = []
            try await clients.ram.resourceShareInvitations().forEachPage { page in pages.append(page.map(\.resourceShareInvitationArn)) }
            #expect(pages == [[sent[0].arn], [], [sent[1].arn], [], [sent[2].arn]])
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 5)
        }
    }

    @Test func emptyPagesThatKeepHandingBackTheSameTokenStopPagingWithAnError() async throws {
        let server = try await LoopbackHTTPServer.start { _ in .json("{\"resourceShareInvitations\":[],\"nextToken\":\"again\"}") }
        let clients = SimulatorClients(baseURL: server.baseURL)
        let error = await #expect(throws: AWSClientError.self) {
            try await clients.ram.resourceShareInvitations().collectAll()
        }
        #expect(error?.kind == .malformedResponse)
        #expect(error?.message.contains("nextToken it had already returned") == true)
        // The first page, then the token once: asked a second time, it is refused.
        #expect(server.requests.count == 2)
        try await server.shutdown()
    }

    @Test func aRepeatedNextTokenStopsPagingWithAnError() async throws {
        let page = """
            {"resourceShareInvitations":[{"resourceShareInvitationArn":"arn:aws:ram:us-east-1:111122223333:resource-share-invitation/a",\
            "resourceShareArn":"arn:aws:ram:us-east-1:111122223333:resource-share/b","senderAccountId":"111122223333",\
            "status":"PENDING"}],"nextToken":"same-token"}
            """
        let server = try await LoopbackHTTPServer.start { _ in .json(page) }
        let clients = SimulatorClients(baseURL: server.baseURL)
        let error = await #expect(throws: AWSClientError.self) {
            try await clients.ram.resourceShareInvitations().collectAll()
        }
        #expect(error?.kind == .malformedResponse)
        #expect(error?.message.contains("nextToken it had already returned") == true)
        // The first page, then the page for the token, which hands the same token back.
        #expect(server.requests.count == 2)
        #expect(server.requests.last?.bodyText.contains("\"nextToken\":\"same-token\"") == true)
        try await server.shutdown()
    }
}
