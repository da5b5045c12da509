import ConsumerStore
import Foundation
import Logging
import PostgresProbe

/// `probe NAME`: probe one customer now and print each stage with its latency; exit 0 only when
/// every stage passed. The result is recorded like the daemon's.
public enum ProbeCommand {
    public static func run(_ app: ConsumerApp, name: String, logger: Logger) async throws -> (output: String, ok: Bool) {
        let store = try await app.openStore()
        let customer = try await store.requireCustomer(named: name)
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: app.config.probe.timeouts, logger: logger),
                                       concurrency: 1, healthLog: nil, logger: logger)
        guard let target = try await scheduler.target(for: customer) else {
            throw CommandFailure.runtime("\(name) is \(customer.state.rawValue)\(customer.stateDetail.map { " (\($0))" } ?? ""): there is no endpoint DNS name to probe yet")
        }
        let record = await scheduler.probe(target)
        try await store.recordProbes([record])
        var lines = ["probe \(name): \(target.dnsName):\(customer.port) via \(target.vpcEndpointId ?? "?")"]
        let attempted = ProbeStage.allCases.filter { record.latencyMs[$0.rawValue] != nil }
        for stage in attempted {
            let failed = !record.ok && stage.rawValue == record.stage.rawValue
            let latency = String(format: "%8.1f ms", record.latencyMs[stage.rawValue] ?? 0)
            lines.append("  \(stage.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(latency)  \(failed ? "FAILED: \(record.error ?? "")" : "ok")")
        }
        if customer.probeUser == nil {
            lines.append("  login     (not configured: `customer set \(name) --probe-user USER --probe-password-file PATH`)")
        }
        if let hint = record.hint, !record.ok { lines.append("hint: \(hint)") }
        return (lines.joined(separator: "\n"), record.ok)
    }
}
