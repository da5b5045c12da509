import Foundation
import Testing
@testable import Consumer

/// `status`'s text fits a 120-column terminal, whatever the names (up to 20 characters), checks and hints: the
/// failing checks by name, the hint cut with `…`; `--wide` keeps every sentence whole.
@Suite struct StatusLayoutTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let longHint = "Nothing is listening on the registered port behind the endpoint: ask the customer to check that the "
        + "resource configuration's port (step 4) is the database's, and that the Resource Gateway's security group allows it (step 2)."

    static func worstCustomer() -> StatusCommand.CustomerRow {
        let checks = ["type", "definition", "port", "status"].map { name in
            StatusCommand.CheckView(check: name, verdict: "fail", detail: "a long sentence about what is wrong with \(name), and more",
                                    hint: "delete and recreate the resource configuration as setup step 4 says, then wait", checkedAt: now)
        }
        return StatusCommand.CustomerRow(
            name: String(repeating: "n", count: 20), resourceConfigurationArn: "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0",
            region: "us-east-1", accountId: "111122223333", port: 5432, state: "endpoint_pending", stateDetail: "waiting",
            hint: longHint, resourceShareArn: nil, vpcEndpointId: "vpce-0123456789abcdef0", vpcId: "vpc-0123456789abcdef0",
            dnsName: "vpce-0123456789abcdef0-snra6bwk.vpc-lattice-rsc.us-east-1.on.aws", health: "unhealthy",
            lastProbe: StatusCommand.ProbeView(time: now.addingTimeInterval(-125), ok: false, stage: "postgres", latencyMs: 1,
                                               error: "refused", hint: longHint),
            checks: checks)
    }

    static func invitation() -> StatusCommand.InvitationRow {
        StatusCommand.InvitationRow(
            invitationArn: "arn:aws:ram:us-east-1:555566667777:resource-share-invitation/0f1e2d3c-4b5a-6978-8899-aabbccddeeff",
            resourceShareArn: "arn:aws:ram:us-east-1:555566667777:resource-share/x", senderAccountId: "555566667777",
            resources: (1...3).map { "arn:aws:vpc-lattice:us-east-1:555566667777:resourceconfiguration/rcfg-0000000000000000\($0)" },
            decision: "ignored", reason: "unexpected_resource_type", firstSeen: now.addingTimeInterval(-7200))
    }

    static func capacity() -> [StatusCommand.CapacityRow] {
        [StatusCommand.CapacityRow(region: "ap-southeast-2", vpcId: "vpc-0123456789abcdef0", endpoints: 200, limit: 200,
                                   limitSource: "service-quotas", fullBecause: "InsufficientFreeAddressesInSubnet")]
    }

    @Test func everyLineFitsAndSaysWhatFails() {
        let lines = StatusCommand.text([Self.worstCustomer()], [Self.invitation()], Self.capacity(), now: Self.now)
            .joined(separator: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines {
            #expect(line.count <= StatusCommand.width, "\(line.count) columns: \(line)")
        }
        let row = try? #require(lines.first { $0.hasPrefix(String(repeating: "n", count: 20)) })
        #expect(row?.contains("type, definition, port, status") == true, "\(row ?? "")")
        #expect(row?.contains("postgres 2m") == true, "\(row ?? "")")
        #expect(row?.hasSuffix("…") == true && row?.contains("Nothing is listening") == true, "\(row ?? "")")
        // The sentences are not in the narrow table.
        #expect(!lines.joined().contains("a long sentence"))
        #expect(lines.contains { $0.contains("0f1e2d3c-4b5a-6978-8899-aabbccddeeff") && $0.contains("2h") })
    }

    @Test func wideKeepsEverySentence() {
        let text = StatusCommand.wideText([Self.worstCustomer()], [Self.invitation()], Self.capacity()).joined(separator: "\n")
        #expect(text.contains(Self.longHint))
        #expect(text.contains("definition: a long sentence about what is wrong with definition"))
        #expect(text.contains("vpce-0123456789abcdef0-snra6bwk.vpc-lattice-rsc.us-east-1.on.aws"))
        #expect(text.contains("vpc-0123456789abcdef0"))
        #expect(text.contains("InsufficientFreeAddressesInSubnet"))
    }

    static let ages: [(Double, String)] = [(0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"), (47 * 3600, "47h"),
                                           (48 * 3600, "2d"), (-5, "0s")]

    @Test(arguments: ages)
    func agesReadAsKubectlSaysThem(seconds: Double, expected: String) {
        #expect(StatusCommand.age(since: Self.now.addingTimeInterval(-seconds), now: Self.now) == expected)
    }

    @Test func theTableCutsOnlyItsLastColumnAndNeverBelowItsHeader() {
        var table = TextTable("A", "HINT")
        table.add(String(repeating: "a", count: 200), "a hint that does not fit")
        let rendered = table.render(maxWidth: 50)
        #expect(rendered.contains(String(repeating: "a", count: 200)))
        #expect(rendered.split(separator: "\n").last?.hasSuffix("a h…") == true, "\(rendered)")
    }
}
