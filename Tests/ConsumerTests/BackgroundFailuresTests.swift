import ConsumerStore
import Foundation
import Logging
import PostgresProbe
import Testing
import TestSupport
@testable import Consumer

/// Failures the daemon carries on through: said once, repeated at debug, their end said, all counted.
@Suite struct BackgroundFailuresTests {
    static func value(_ metrics: DaemonMetrics, _ series: String) -> Double? {
        metrics.render().split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func aFailureIsAWarningOnceThenDebugUntilItChangesOrEnds() {
        let collector = LogCollector()
        let metrics = DaemonMetrics(registry: .init())
        let failures = BackgroundFailures(metrics: metrics, logger: collector.logger(level: .trace))
        let counter = #"privatelink_consumer_background_failures_total{failure="registry_version"}"#
        let gauge = #"privatelink_consumer_background_failing{failure="registry_version"}"#
        #expect(Self.value(metrics, counter) == 0 && Self.value(metrics, gauge) == 0)

        for _ in 0..<3 { failures.failed(.registryVersion, "cannot read the registry version: down") }
        failures.failed(.registryVersion, "cannot read the registry version: refused")
        failures.succeeded(.registryVersion)
        failures.succeeded(.registryVersion)

        let lines = collector.all.filter { $0.contains("registry") || $0.contains("recovered") }
        let levels = lines.map { $0.split(separator: " ").first.map(String.init) ?? "" }
        #expect(levels == ["warning", "debug", "debug", "warning", "notice"], "\(lines)")
        #expect(Self.value(metrics, counter) == 4)
        #expect(Self.value(metrics, gauge) == 0)
        #expect(failures.failure(.registryVersion) == nil)
        failures.failed(.registryVersion, "cannot read the registry version: down")
        #expect(Self.value(metrics, gauge) == 1)
        #expect(collector.all.last?.hasPrefix("warning") == true, "a failure after a recovery is new")
    }

    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func customer(id: Int64?, state: CustomerState) -> Customer {
        Customer(id: id, name: "acme", resourceConfigurationArn: testARN(1), partition: "aws", region: "us-east-1",
                 accountId: "111122223333", port: 5432, note: nil, state: state, stateDetail: nil, hint: nil, keepEndpoint: false,
                 resourceShareArn: nil, invitationArn: nil, createdAt: now, updatedAt: now, stateChangedAt: now,
                 removedAt: nil, endpointFailures: 0, nextEndpointAttemptAt: nil)
    }

    static func endpoint(dns: String?) -> EndpointRecord {
        EndpointRecord(id: 1, customerId: 7, region: "us-east-1", clientToken: "plc-token-1", generation: 1,
                       vpcEndpointId: "vpce-0aaaaaaaaaaaaaaaa", state: .available, awsState: "available", dnsName: dns, lastError: nil,
                       createRequest: "{}", lastSeenAt: now, createdAt: now, updatedAt: now)
    }

    /// The probe's targets: a ready customer lacking what a ready customer always has is a fault (said and
    /// counted by `targets()`), never a probe of customer 0 or a guessed stage. `dns`: "-" for no endpoint.
    @Test(arguments: [
        (Int64?(7), CustomerState.ready, "vpce.example", "target"),
        (nil, .ready, "vpce.example", "missing: no id"),
        (7, .ready, "-", "missing: no live endpoint"),
        (7, .ready, nil, "missing: no DNS name on endpoint vpce-0aaaaaaaaaaaaaaaa"),
        (7, .endpointPending, "vpce.example", "not ready"),
    ] as [(Int64?, CustomerState, String?, String)])
    func probeTargets(id: Int64?, state: CustomerState, dns: String?, expected: String) {
        let endpoint = dns == "-" ? nil : Self.endpoint(dns: dns)
        let result = ProbeScheduler.Target.make(customer: Self.customer(id: id, state: state), endpoint: endpoint, lastTimedOut: false)
        let described = switch result {
        case .success(let target): target.customerId == 7 && target.dnsName == dns ? "target" : "wrong target"
        case .failure(.notReady): "not ready"
        case .failure(.missing(let what)): "missing: \(what)"
        }
        #expect(described == expected)
    }

    /// Through a real state file: a ready customer whose endpoint has no DNS name is left out of the sweep,
    /// said once (a warning naming it), counted on every sweep, and its end said when the name arrives.
    @Test func anUnprobeableReadyCustomerIsSaidOnceAndCounted() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("state.sqlite3"))
        try await StoreFixtures.readyCustomer(store, name: "fine", arn: testARN(801), vpcEndpointId: "vpce-0000000000000801")
        let broken = try await StoreFixtures.readyCustomer(store, name: "nameless", arn: testARN(802),
                                                           vpcEndpointId: "vpce-0000000000000802", dnsName: nil)
        let collector = LogCollector()
        let metrics = DaemonMetrics(registry: .init())
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: ProbeTimeouts(uniform: .seconds(1)),
                                                                            logger: Logger(label: "test")),
                                       concurrency: 1, healthLog: nil, metrics: metrics,
                                       failures: BackgroundFailures(metrics: metrics, logger: collector.logger()),
                                       logger: collector.logger())
        let counter = #"privatelink_consumer_background_failures_total{failure="probe_target"}"#
        let gauge = #"privatelink_consumer_background_failing{failure="probe_target"}"#

        for _ in 0..<3 { #expect(try await scheduler.targets().map(\.name) == ["fine"]) }
        let said = collector.all.filter { $0.contains("cannot be probed") }
        #expect(said.count == 3 && said.filter { $0.hasPrefix("warning") }.count == 1, "\(said)")
        #expect(said.first?.contains("nameless (no DNS name on endpoint vpce-0000000000000802)") == true)
        #expect(Self.value(metrics, counter) == 3 && Self.value(metrics, gauge) == 1)

        let brokenId = try #require(broken.id)
        let endpoint = try #require(try await store.liveEndpoint(customerId: brokenId))
        let rowId = try #require(endpoint.id)
        #expect(try await store.changeEndpoint(rowId, .init(from: [.available], to: .available, dnsName: "localhost")))
        #expect(try await scheduler.targets().map(\.name).sorted() == ["fine", "nameless"])
        #expect(Self.value(metrics, gauge) == 0 && Self.value(metrics, counter) == 3)
        #expect(collector.all.last { $0.contains("recovered") }?.contains("probe_target") == true)
    }

    @Test func everyProbeStageHasItsStoredName() {
        for stage in ProbeStage.allCases {
            #expect(ProbeResultRecord.Stage(stage).rawValue == stage.rawValue)
        }
    }
}
