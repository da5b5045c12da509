import Foundation
import Testing
@testable import Consumer

/// `status --json`'s rows, in their `Encodable` form (the reference `JSONWriter` is held to): every stored
/// property is a key and an absent value is `null`.
@Suite struct StatusEncodingTests {
    static func keys<T>(_ value: T) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }

    static func object(_ value: some Encodable) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(JSONOutput.encode(value).utf8)) as? [String: Any])
    }

    @Test func everyFieldIsAKeyAndAbsentOnesAreNull() throws {
        let date = Date(timeIntervalSince1970: 1_800_000_000.123)
        let check = StatusCommand.CheckView(check: "port", verdict: "fail", detail: "5433", hint: nil, checkedAt: date)
        let probe = StatusCommand.ProbeView(time: date, ok: false, stage: "connect", latencyMs: 1.5, error: "refused", hint: nil)
        let row = StatusCommand.CustomerRow(name: "acme", resourceConfigurationArn: "arn", region: "us-east-1", accountId: "111122223333",
                                            port: 5432, state: "ready", stateDetail: nil, hint: nil, resourceShareArn: nil,
                                            vpcEndpointId: "vpce-1", vpcId: "vpc-1", dnsName: nil, health: "unhealthy", lastProbe: probe, checks: [check])
        let invitation = StatusCommand.InvitationRow(invitationArn: "i", resourceShareArn: "s", senderAccountId: "1", resources: ["r"],
                                                     decision: "ignored", reason: nil, firstSeen: date)
        let capacity = StatusCommand.CapacityRow(region: "us-east-1", vpcId: "vpc-1", endpoints: 3, limit: 200, limitSource: "default",
                                                 fullBecause: nil)
        for (value, encoded) in [(Self.keys(row), try Self.object(row)), (Self.keys(check), try Self.object(check)),
                                 (Self.keys(probe), try Self.object(probe)), (Self.keys(invitation), try Self.object(invitation)),
                                 (Self.keys(capacity), try Self.object(capacity))] {
            #expect(Set(encoded.keys) == value)
        }
        let encoded = try Self.object(row)
        #expect(encoded["stateDetail"] is NSNull && encoded["dnsName"] is NSNull)
        #expect((encoded["lastProbe"] as? [String: Any])?["hint"] is NSNull)
        #expect((encoded["checks"] as? [[String: Any]])?.first?["checkedAt"] as? String == "2027-01-15T08:00:00.123Z")
        #expect(try Self.object(invitation)["reason"] is NSNull)
        #expect(try Self.object(capacity)["fullBecause"] is NSNull)
    }
}
