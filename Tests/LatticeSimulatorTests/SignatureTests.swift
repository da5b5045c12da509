import AWSClient
import Foundation
@testable import LatticeSimulator
import Testing

/// Every call's signature is verified; failures come back in the service's own envelope and codes.
@Suite(.timeLimit(.minutes(1)))
struct SignatureTests {
    static let wrongSecret = AWSCredentials(accessKeyId: SimulatorConfiguration.defaultCredentials.accessKeyId,
                                            secretAccessKey: "not-the-secret")
    static let unknownKey = AWSCredentials(accessKeyId: "AKIANOTKNOWN00000000", secretAccessKey: "whatever")

    @Test func badSignaturesAre403SignatureDoesNotMatchInEachEnvelope() async throws {
        try await LatticeSimulator.with { simulator, client in
            var forged = client
            forged.credentials = Self.wrongSecret

            let ram = try await forged.ram("GetResourceShareInvitations")
            #expect(ram.status == 403)
            #expect(ram.restJSONErrorCode == "SignatureDoesNotMatch")
            #expect(try ram.json()["message"] is String)

            let ec2 = try await forged.ec2("DescribeVpcEndpoints")
            #expect(ec2.status == 403)
            let document = try ec2.xml()
            #expect(document.name == "Response")
            #expect(document.path("Errors", "Error", "Code")?.text == "SignatureDoesNotMatch")
            #expect(document.childText("RequestID") != nil)

            let lattice = try await forged.getResourceConfiguration("rcfg-00000000000000001")
            #expect(lattice.status == 403)
            #expect(lattice.restJSONErrorCode == "SignatureDoesNotMatch")

            let sts = try await forged.send(service: .sts, method: "POST", path: "/",
                                            body: Array("Action=GetCallerIdentity&Version=2011-06-15".utf8),
                                            contentType: "application/x-www-form-urlencoded; charset=utf-8")
            #expect(sts.status == 403)
            #expect(try sts.xml().path("Error", "Code")?.text == "SignatureDoesNotMatch")

            // Rejected calls are counted but change nothing.
            #expect(simulator.callCounts["ram:GetResourceShareInvitations"] == 1)
        }
    }

    @Test func unknownKeysAreInvalidClientTokenIdOrEC2sAuthFailure() async throws {
        try await LatticeSimulator.with { _, client in
            var stranger = client
            stranger.credentials = Self.unknownKey
            let ram = try await stranger.ram("ListResources", ["resourceOwner": "OTHER-ACCOUNTS"])
            #expect(ram.status == 403)
            #expect(ram.restJSONErrorCode == "InvalidClientTokenId")
            let ec2 = try await stranger.ec2("DescribeVpcEndpoints")
            #expect(ec2.status == 401)
            #expect(ec2.ec2ErrorCode == "AuthFailure")
        }
    }

    @Test func aSignatureForAnotherServiceIsRefused() async throws {
        try await LatticeSimulator.with { _, client in
            let response = try await client.send(service: .ram, method: "POST", path: "/listresources",
                                                 body: Array(#"{"resourceOwner":"OTHER-ACCOUNTS"}"#.utf8),
                                                 contentType: "application/json", signingService: "ec2")
            #expect(response.status == 403)
            #expect(response.restJSONErrorCode == "SignatureDoesNotMatch")
        }
    }

    @Test func temporaryCredentialsNeedTheirSessionToken() async throws {
        let temporary = AWSCredentials(accessKeyId: "ASIATEMPORARY0000001", secretAccessKey: "temporary-secret",
                                       sessionToken: "session-token-1", expiration: Date().addingTimeInterval(3600))
        try await LatticeSimulator.with(SimulatorConfiguration(credentials: [temporary])) { _, client in
            var signed = client
            signed.credentials = temporary
            #expect(try await signed.ec2("DescribeVpcEndpoints").status == 200)
            var tokenless = client
            tokenless.credentials = AWSCredentials(accessKeyId: temporary.accessKeyId, secretAccessKey: temporary.secretAccessKey)
            let refused = try await tokenless.ec2("DescribeVpcEndpoints")
            #expect(refused.status == 401)
            #expect(refused.ec2ErrorCode == "AuthFailure")
        }
    }

    @Test(arguments: [
        ("InvalidClientTokenId", AWSProtocol.ec2, 401, "AuthFailure"),
        ("ExpiredToken", .ec2, 400, "RequestExpired"),
        ("RequestExpired", .ec2, 400, "RequestExpired"),
        ("SignatureDoesNotMatch", .ec2, 403, "SignatureDoesNotMatch"),
        ("ExpiredToken", .restJSON, 403, "ExpiredTokenException"),
        ("InvalidClientTokenId", .restJSON, 403, "InvalidClientTokenId"),
        ("InvalidClientTokenId", .query, 403, "InvalidClientTokenId"),
    ])
    func verifierCodesMapToEachService(code: String, wireProtocol: AWSProtocol, status: Int, expected: String) {
        let failure = LatticeSimulator.authenticationFailure(code: code, message: "m", protocol: wireProtocol)
        #expect(failure.status == status)
        #expect(failure.code == expected)
    }
}
