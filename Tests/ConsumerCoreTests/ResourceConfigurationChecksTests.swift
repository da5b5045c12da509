import AWSModels
@testable import ConsumerCore
import Foundation
import Testing

/// The resource configuration checks as a table: what GetResourceConfiguration answered → each verdict.
@Suite struct ResourceConfigurationChecksTests {
    static func configuration(type: String? = "SINGLE", definition: ResourceConfiguration.Definition? = .init(dnsResource: .init(domainName: "db.example.rds.amazonaws.com")),
                              ports: [String]? = ["5432"], protocol: String? = "TCP", status: String? = "ACTIVE") -> ResourceConfiguration {
        ResourceConfiguration(arn: "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-00000000000000001", id: "rcfg-00000000000000001",
                              name: "polytomic-rc", type: type, status: status, portRanges: ports, protocol: `protocol`, definition: definition)
    }

    static func verdicts(_ configuration: ResourceConfiguration, port: Int = 5432) -> [String: CheckVerdict] {
        Dictionary(uniqueKeysWithValues: ResourceConfigurationChecks.evaluate(.found(configuration), port: port).map { ($0.check, $0.verdict) })
    }

    @Test func theSetupGuidesConfigurationPassesEveryCheck() {
        let results = ResourceConfigurationChecks.evaluate(.found(Self.configuration()), port: 5432)
        #expect(results.map(\.check) == ResourceConfigurationChecks.names)
        #expect(results.allSatisfy { $0.verdict == .pass && $0.hint == nil })
    }

    @Test(arguments: [
        // (what differs, the check that fails, words its hint must contain)
        (configuration(definition: .init(ipResource: .init(ipAddress: "10.0.0.5"))), "definition", "DNS resource pointing at the RDS hostname (setup step 4; Troubleshooting 3)"),
        (configuration(definition: .init(arnResource: .init(arn: "arn:aws:rds:us-east-1:111122223333:db:x"))), "definition", "step 4"),
        (configuration(type: "GROUP", definition: nil), "type", "Single resource"),
        (configuration(type: "ARN"), "type", "step 4"),
        (configuration(type: "CHILD"), "type", "step 4"),
        (configuration(ports: ["3306"]), "port", "5432"),
        (configuration(ports: ["5000-5431", "5433-6000"]), "port", "5432"),
        (configuration(protocol: "UDP"), "port", "TCP"),
        (configuration(status: "CREATE_FAILED"), "status", "recreate"),
        (configuration(status: "UPDATE_IN_PROGRESS"), "status", "wait"),
    ] as [(ResourceConfiguration, String, String)])
    func aMistakeFailsItsCheckWithTheSetupStep(_ configuration: ResourceConfiguration, _ failing: String, _ hintWords: String) throws {
        let results = ResourceConfigurationChecks.evaluate(.found(configuration), port: 5432)
        let failed = results.filter { $0.verdict == .fail }
        #expect(failed.map(\.check).contains(failing))
        let result = try #require(failed.first { $0.check == failing })
        #expect(result.hint?.contains(hintWords) == true, "\(result.hint ?? "no hint")")
        // The other checks of a configuration with one mistake are not blamed for it.
        #expect(results.filter { $0.check != failing && $0.verdict == .fail }.isEmpty)
    }

    @Test func aPortRangeThatIncludesThePortPasses() {
        #expect(Self.verdicts(Self.configuration(ports: ["5000-6000"]))["port"] == .pass)
        #expect(Self.verdicts(Self.configuration(ports: ["5432"]), port: 5433)["port"] == .fail)
        #expect(Self.verdicts(Self.configuration(ports: nil))["port"] == .unknown)
    }

    @Test func anUnreadableConfigurationIsUnknownNeverAFailure() {
        let results = ResourceConfigurationChecks.evaluate(.unreadable("AccessDeniedException: not authorized"), port: 5432)
        #expect(results.map(\.check) == ResourceConfigurationChecks.names)
        #expect(results.allSatisfy { $0.verdict == .unknown && $0.detail.contains("AccessDeniedException") })
        #expect(Self.verdicts(Self.configuration(type: nil, definition: nil, ports: nil, protocol: nil, status: nil)).values.allSatisfy { $0 == .unknown })
    }

    @Test(arguments: [
        (10_000, 60.0, 6 * 3600.0, 20, 20),  // 10,000 customers every 6 h at one pass a minute: 28 due per pass, capped
        (1_000, 60.0, 6 * 3600.0, 20, 3),    // 1,000: 2.8 per pass
        (3, 60.0, 6 * 3600.0, 20, 1),        // a few: at least one per pass
        (0, 60.0, 6 * 3600.0, 20, 0),
    ] as [(Int, Double, Double, Int, Int)])
    func aPassChecksAFewSpreadOverTheInterval(customers: Int, passInterval: Double, interval: Double, cap: Int, expected: Int) {
        #expect(ResourceConfigurationChecks.budget(checkedCustomers: customers, passInterval: passInterval, interval: interval, cap: cap) == expected)
    }
}
