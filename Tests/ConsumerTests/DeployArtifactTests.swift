import ConsumerStore
import Foundation
import Prometheus
import Testing
@testable import Consumer

/// The Grafana dashboard and the alert rules name only series the daemon exports.
@Suite struct DeployArtifactTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The metric families a daemon's /metrics page has once it has seen a pass, customers, checks, probes and
    /// a refusal, read from its own rendering; plus the AWS call counter, which the AWS layer reports
    /// through swift-metrics under this name (`AWSRequestExecutor`).
    static func exported() -> Set<String> {
        let metrics = DaemonMetrics(registry: PrometheusCollectorRegistry())
        metrics.recordPass(duration: .seconds(1), at: Date())
        metrics.recordCustomer(name: "acme", state: .ready, healthy: false)
        metrics.recordChecks(name: "acme", ["definition": true])
        metrics.recordProbe(stage: "dns", seconds: 0.001)
        metrics.recordRefusal(reason: .senderMismatch)
        metrics.recordLeader(true)
        metrics.recordLeadershipChange()
        metrics.recordStateDatabase(up: true)
        metrics.recordCapacity(region: "us-east-1", pool: [VpcCapacity(vpcId: "vpc-0a000000000000001", endpoints: 3, limit: 200,
                                                                      limitSource: .serviceQuotas)])
        var families: Set<String> = ["privatelink_consumer_aws_calls_total", "up"]
        for line in metrics.render().split(separator: "\n") where line.hasPrefix("# TYPE ") {
            families.insert(String(line.split(separator: " ")[2]))
        }
        return families
    }

    /// Metric names in a PromQL text, histogram series mapped to their family.
    static func names(in text: String) -> Set<String> {
        let pattern = try! Regex(#"privatelink_consumer_[a-z_]+"#)
        var names = Set(text.matches(of: pattern).map { String(text[$0.range]) })
        names = Set(names.map { name in
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && !name.hasSuffix("_total") {
                return String(name.dropLast(suffix.count))
            }
            return name
        })
        return names
    }

    @Test func theDashboardParsesAndNamesOnlyExportedMetrics() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("Deploy/grafana/privatelink-consumer.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(panels.count >= 6 && expressions.count >= panels.count)
        let titles = panels.compactMap { $0["title"] as? String }.joined(separator: "\n").lowercased()
        for subject in ["state", "unhealthy", "probe latency", "aws calls", "pass duration", "checks"] {
            #expect(titles.contains(subject), "no panel about \(subject)")
        }
        let exported = Self.exported()
        let named = Self.names(in: expressions.joined(separator: "\n"))
        #expect(!named.isEmpty)
        #expect(named.subtracting(exported).isEmpty, "not exported: \(named.subtracting(exported).sorted())")
    }

    @Test func theAlertRulesNameOnlyExportedMetrics() throws {
        let rules = try String(contentsOf: Self.root.appendingPathComponent("Deploy/prometheus/alerts.yml"), encoding: .utf8)
        let exprs = rules.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }.joined(separator: "\n")
        let named = Self.names(in: exprs)
        #expect(named.count >= 5)
        #expect(named.subtracting(Self.exported()).isEmpty, "not exported: \(named.subtracting(Self.exported()).sorted())")
    }
}
