import Foundation
import LatticeSimulator
import Testing
import TestSupport

extension DaemonEndToEnd {
/// Background work the daemon carries on through must not fail unseen (issue 14): through the binary,
/// an STS outage is one warning (however many passes it lasts), a counter and a gauge, and its end a
/// notice.
@Suite struct BackgroundFailureEndToEndTests {
    static func value(_ page: String, _ series: String) -> Double? {
        page.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func anSTSOutageIsSaidOnceCountedAndItsEndSaid() async throws {
        let port = try freeLoopbackPort()
        let harness = try await DaemonHarness(pollIntervalSeconds: 1, extra: ["metrics": "{\"listen\": \"127.0.0.1:\(port)\"}"])
        defer { Task { await harness.shutdown() } }
        harness.simulator.inject(.serverError(on: .operation(.sts, "GetCallerIdentity")))
        let daemon = try harness.startDaemon()
        let failures = #"privatelink_consumer_background_failures_total{failure="sts_identity"}"#
        let failing = #"privatelink_consumer_background_failing{failure="sts_identity"}"#
        var page = ""
        try await harness.waitUntil(timeout: .seconds(60), "three passes failing to learn the account id") {
            page = (try? await httpGet(port: port, path: "/metrics").body) ?? ""
            return (Self.value(page, failures) ?? 0) >= 3
        }
        #expect(Self.value(page, failing) == 1)
        #expect(Self.value(page, #"privatelink_consumer_background_failures_total{failure="registry_version"}"#) == 0)
        let warnings = harness.daemonLog(0).components(separatedBy: "\n").filter { $0.contains("cannot learn this account's id") }
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.contains("check the daemon's AWS credentials") == true)

        harness.simulator.clearFaults()
        try await harness.waitUntil(timeout: .seconds(30), "the lookup answering again") {
            page = (try? await httpGet(port: port, path: "/metrics").body) ?? ""
            return Self.value(page, failing) == 0
        }
        #expect(harness.daemonLog(0).components(separatedBy: "\n").contains { $0.contains("recovered") && $0.contains("sts_identity") })
        kill(daemon.processIdentifier, SIGTERM)
        #expect(await waitForExit(daemon, timeout: .seconds(10)) == 0)
    }
}
}
