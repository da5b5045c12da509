import Foundation
import Testing
import TestSupport

/// The alert rules as Prometheus reads them: `promtool check rules` and `promtool test rules` (a unit test
/// per alert, firing and not firing). Debian's `prometheus` package has promtool; install-deps installs it.
@Suite struct AlertRulesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let promtool = "/usr/bin/promtool"

    @Test func theRulesAreValidAndEveryAlertIsTested() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.promtool), "promtool is missing: run Scripts/install-deps.sh")
        let rules = Self.root.appendingPathComponent("Deploy/prometheus/alerts.yml").path
        let check = try await ProcessRunner.run(Self.promtool, ["check", "rules", rules])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("SUCCESS: 10 rules found"), "\(check.stdout)")

        let tests = Self.root.appendingPathComponent("Deploy/prometheus/alerts.test.yml").path
        let run = try await ProcessRunner.run(Self.promtool, ["test", "rules", tests])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")

        // Every alert has a test case that expects it to fire.
        let ruleText = try String(contentsOfFile: rules, encoding: .utf8)
        let testText = try String(contentsOfFile: tests, encoding: .utf8)
        let alerts = ruleText.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
        #expect(alerts.count == 10)
        for alert in alerts {
            #expect(testText.contains("alertname: \(alert)\n    exp_alerts:\n    - exp_labels:"), "\(alert) has no firing test")
            #expect(testText.contains("alertname: \(alert)\n    exp_alerts: []"), "\(alert) has no not-firing test")
        }
    }
}
