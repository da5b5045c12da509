import ConsumerStore
import Foundation
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics, and the time of the last finished pass that `/healthz` reads.
///
/// Series (label values are bounded: customer names are validated short identifiers, states,
/// stages and reasons are fixed sets):
/// - `privatelink_consumer_customer_healthy{customer}`: 1 healthy, 0 unhealthy. A customer whose
///   health is unknown (never probed) has no series, so `min`/`avg` and `== 0` alerts see only
///   probed customers; `privatelink_consumer_customer_state` still lists it.
/// - `privatelink_consumer_customer_state{customer,state}`: 1 for the current state only; the old
///   state's series is removed when the state changes.
/// - `privatelink_consumer_customer_check{customer,check}`: 1 while the resource configuration check
///   fails, 0 when it passes or cannot tell; absent until the configuration was first read.
/// - `privatelink_consumer_probe_latency_seconds{stage}`: histogram, 1 ms – 10 s.
/// - `privatelink_consumer_pass_duration_seconds`: histogram, 10 ms – 5 min.
/// - `privatelink_consumer_last_pass_timestamp_seconds`: Unix time the last pass finished.
/// - `privatelink_consumer_invitations_refused_total{reason}`: every known reason starts at 0.
/// - `privatelink_consumer_leader`: 1 while this daemon is the active one, 0 while it stands by
///   (PostgreSQL state; a SQLite daemon is always 1).
/// - `privatelink_consumer_leadership_changes_total`: times this daemon took or lost the lease.
/// - `privatelink_consumer_state_database_up`: 1 while the state database answers, 0 while it does not.
/// - `privatelink_consumer_metrics_connections_closed_total{reason}`: connections the metrics listener
///   closed on its own (`MetricsConnectionClose`: evicted, request_timeout, idle_timeout, head_too_large,
///   refused); every reason starts at 0.
/// - `privatelink_consumer_metrics_connections_open`: connections the metrics listener holds open.
/// - `privatelink_consumer_background_failures_total{failure}`: failures of background work
///   (`BackgroundFailures.Kind`: sts_identity, registry_version, metrics_refresh, probe_target); every
///   kind starts at 0. `privatelink_consumer_background_failing{failure}`: 1 while it lasts.
/// - `privatelink_consumer_aws_calls_total{service,operation,outcome}`: written by the AWS layer
///   through swift-metrics once ``bootstrapMetricsSystem()`` has run.
public final class DaemonMetrics: Sendable {
    /// Where every series lives; `/metrics` renders it.
    public let registry: PrometheusCollectorRegistry

    private let passDuration: DurationHistogram
    private let lastPassTimestamp: Gauge
    private let state = Mutex(State())
    /// The probe latency histogram of each stage, made on its first probe: a probe records into it without the
    /// registry's name checks and lookups (about a tenth of a probe's own CPU when made per probe).
    private let probeLatency = Mutex<[String: ValueHistogram]>([:])

    private struct State {
        var lastPassFinished: Date?
        /// A standby's proof of life for `/healthz`: its last successful look at the lease.
        var lastStandbyCheck: Date?
        var customers: [String: CustomerSeries] = [:]
    }

    private struct CustomerSeries {
        var state: String
        var stateGauge: Gauge
        var healthGauge: Gauge?
        var checkGauges: [String: Gauge] = [:]
    }

    /// Upper bounds for probe stage latency: DNS answers from cache take about a millisecond, a stage
    /// timeout is a few seconds.
    public static let probeLatencyBuckets: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    /// Upper bounds for a whole reconcile pass, which pages through three AWS services per region.
    public static let passDurationBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        .seconds(120), .seconds(300),
    ]

    /// Registers the daemon's series in `registry`. The default is the registry swift-metrics reports
    /// into after ``bootstrapMetricsSystem()``, so the AWS call counters appear on the same page.
    public init(registry: PrometheusCollectorRegistry = DaemonMetrics.processRegistry) {
        self.registry = registry
        passDuration = registry.makeDurationHistogram(descriptor: Names.passDuration, buckets: Self.passDurationBuckets)
        lastPassTimestamp = registry.makeGauge(descriptor: Names.lastPassTimestamp)
        // Present from the start at 0, so `rate()`/`increase()` see the first refusal.
        for reason in InvitationRecord.Reason.allCases {
            _ = registry.makeCounter(descriptor: Names.invitationsRefused, labels: [("reason", reason.rawValue)])
        }
        for kind in BackgroundFailures.Kind.allCases {
            _ = registry.makeCounter(descriptor: Names.backgroundFailures, labels: [("failure", kind.rawValue)])
            registry.makeGauge(descriptor: Names.backgroundFailing, labels: [("failure", kind.rawValue)]).set(to: 0)
        }
        for reason in MetricsConnectionClose.allCases {
            _ = registry.makeCounter(descriptor: Names.metricsConnectionsClosed, labels: [("reason", reason.rawValue)])
        }
    }

    /// When the last reconcile pass finished; nil before the first.
    public var lastPassFinished: Date? { state.withLock { $0.lastPassFinished } }

    /// A reconcile pass finished at `at` after `duration`.
    public func recordPass(duration: Duration, at: Date) {
        passDuration.record(duration)
        lastPassTimestamp.set(to: at.timeIntervalSince1970)
        state.withLock { $0.lastPassFinished = at }
    }

    /// Seconds since the last pass finished, or for a standby since it last saw the lease (never negative,
    /// should the wall clock step back); nil before either.
    public func lastPassAge(now: Date) -> TimeInterval? {
        let latest = state.withLock { state in [state.lastPassFinished, state.lastStandbyCheck].compactMap { $0 }.max() }
        return latest.map { max(0, now.timeIntervalSince($0)) }
    }

    /// Whether this daemon is the active one.
    public func recordLeader(_ leading: Bool) {
        registry.makeGauge(descriptor: Names.leader).set(to: leading ? 1 : 0)
    }

    /// This daemon took or lost the lease.
    public func recordLeadershipChange() {
        registry.makeCounter(descriptor: Names.leadershipChanges).increment()
    }

    /// A standby looked at the lease and the database answered: it is healthy though it runs no passes.
    public func recordStandbyCheck(at: Date) {
        state.withLock { $0.lastStandbyCheck = at }
    }

    /// Whether the state database answers.
    public func recordStateDatabase(up: Bool) {
        registry.makeGauge(descriptor: Names.stateDatabaseUp).set(to: up ? 1 : 0)
    }

    /// Removes every customer's series (a daemon that stood down: the active one reports them now).
    public func forgetAllCustomers() {
        let names = state.withLock { Array($0.customers.keys) }
        for name in names { forgetCustomer(name: name) }
    }

    /// A customer's current lifecycle state and health (`nil`: unknown, no probe yet).
    public func recordCustomer(name: String, state customerState: CustomerState, healthy: Bool?) {
        recordCustomer(name: name, state: customerState.rawValue, healthy: healthy)
    }

    /// A customer's resource configuration checks, all of them: check name → failing. Series of checks
    /// not in `checks` (none stored any more) are removed.
    public func recordChecks(name: String, _ checks: [String: Bool]) {
        state.withLock { state in
            guard var series = state.customers[name] else { return }
            for (check, gauge) in series.checkGauges where checks[check] == nil {
                registry.unregisterGauge(gauge)
                series.checkGauges[check] = nil
            }
            for (check, failing) in checks {
                let gauge = series.checkGauges[check]
                    ?? registry.makeGauge(descriptor: Names.customerCheck, labels: [("customer", name), ("check", check)])
                gauge.set(to: failing ? 1 : 0)
                series.checkGauges[check] = gauge
            }
            state.customers[name] = series
        }
    }

    /// A customer's current lifecycle state (a `CustomerState` raw value) and health (`nil`: unknown).
    public func recordCustomer(name: String, state customerState: String, healthy: Bool?) {
        state.withLock { state in
            var series: CustomerSeries
            if var existing = state.customers[name] {
                if existing.state != customerState {
                    registry.unregisterGauge(existing.stateGauge)
                    existing.state = customerState
                    existing.stateGauge = makeStateGauge(customer: name, state: customerState)
                }
                series = existing
            } else {
                series = CustomerSeries(state: customerState,
                                        stateGauge: makeStateGauge(customer: name, state: customerState))
            }
            switch healthy {
            case nil:
                if let gauge = series.healthGauge { registry.unregisterGauge(gauge) }
                series.healthGauge = nil
            case let healthy?:
                let gauge = series.healthGauge
                    ?? registry.makeGauge(descriptor: Names.customerHealthy, labels: [("customer", name)])
                gauge.set(to: healthy ? 1 : 0)
                series.healthGauge = gauge
            }
            state.customers[name] = series
        }
    }

    /// Removes every series of a customer that is no longer registered.
    public func forgetCustomer(name: String) {
        state.withLock { state in
            guard let series = state.customers.removeValue(forKey: name) else { return }
            registry.unregisterGauge(series.stateGauge)
            if let gauge = series.healthGauge { registry.unregisterGauge(gauge) }
            for gauge in series.checkGauges.values { registry.unregisterGauge(gauge) }
        }
    }

    /// How long one probe stage (`dns`, `connect`, `postgres`, `login`) took.
    public func recordProbe(stage: String, seconds: Double) {
        let histogram = probeLatency.withLock { made in
            if let histogram = made[stage] { return histogram }
            let histogram = registry.makeValueHistogram(descriptor: Names.probeLatency, labels: [("stage", stage)],
                                                        buckets: Self.probeLatencyBuckets)
            made[stage] = histogram
            return histogram
        }
        histogram.record(seconds)
    }

    /// An invitation was left pending or rejected for `reason`.
    public func recordRefusal(reason: InvitationRecord.Reason) {
        recordRefusal(reason: reason.rawValue)
    }

    /// A region's VPC pool as a pass left it: our endpoints and the limit of each VPC (a full VPC's limit is
    /// its count, so that the free room reads 0 until the quota is read again).
    public func recordCapacity(region: String, pool: [VpcCapacity]) {
        for vpc in pool {
            let labels = [("region", region), ("vpc", vpc.vpcId)]
            registry.makeGauge(descriptor: Names.vpcEndpoints, labels: labels).set(to: Double(vpc.endpoints))
            registry.makeGauge(descriptor: Names.vpcEndpointLimit, labels: labels)
                .set(to: Double(vpc.fullBecause == nil ? vpc.limit : min(vpc.limit, vpc.endpoints)))
        }
    }

    /// An invitation was left pending or rejected for `reason` (an `InvitationRecord.Reason` raw value).
    public func recordRefusal(reason: String) {
        registry.makeCounter(descriptor: Names.invitationsRefused, labels: [("reason", reason)]).increment()
    }

    /// Background work of `kind` failed once more (`failing`), or works again.
    public func recordBackgroundFailure(_ kind: BackgroundFailures.Kind, failing: Bool) {
        if failing {
            registry.makeCounter(descriptor: Names.backgroundFailures, labels: [("failure", kind.rawValue)]).increment()
        }
        registry.makeGauge(descriptor: Names.backgroundFailing, labels: [("failure", kind.rawValue)]).set(to: failing ? 1 : 0)
    }

    /// The metrics listener closed a connection on its own.
    public func recordMetricsConnectionClosed(_ reason: MetricsConnectionClose) {
        registry.makeCounter(descriptor: Names.metricsConnectionsClosed, labels: [("reason", reason.rawValue)]).increment()
    }

    /// The metrics listener holds `count` connections.
    public func recordMetricsConnectionsOpen(_ count: Int) {
        registry.makeGauge(descriptor: Names.metricsConnectionsOpen).set(to: Double(count))
    }

    /// The Prometheus text exposition (format 0.0.4) of every series.
    public func render() -> String {
        String(decoding: renderBytes(), as: UTF8.self)
    }

    /// ``render()`` as UTF-8 bytes, for the HTTP response.
    func renderBytes() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        registry.emit(into: &buffer)
        return buffer
    }

    private func makeStateGauge(customer: String, state: String) -> Gauge {
        let gauge = registry.makeGauge(descriptor: Names.customerState, labels: [("customer", customer), ("state", state)])
        gauge.set(to: 1)
        return gauge
    }

    /// Full metric names (greppable) with their help text.
    private enum Names {
        static var customerHealthy: MetricNameDescriptor {
            named("privatelink_consumer_customer_healthy",
                  "1 when the customer's latest probe succeeded, 0 when it failed; absent until probed.")
        }
        static var customerState: MetricNameDescriptor {
            named("privatelink_consumer_customer_state", "1 for the customer's current lifecycle state.")
        }
        static var customerCheck: MetricNameDescriptor {
            named("privatelink_consumer_customer_check", "1 while the customer's resource configuration check fails, else 0.")
        }
        static var probeLatency: MetricNameDescriptor {
            named("privatelink_consumer_probe_latency_seconds", "Time taken by each probe stage.")
        }
        static var passDuration: MetricNameDescriptor {
            named("privatelink_consumer_pass_duration_seconds", "Time taken by a reconcile pass.")
        }
        static var lastPassTimestamp: MetricNameDescriptor {
            named("privatelink_consumer_last_pass_timestamp_seconds", "Unix time at which the last reconcile pass finished.")
        }
        static var invitationsRefused: MetricNameDescriptor {
            named("privatelink_consumer_invitations_refused_total", "Resource share invitations not accepted, by reason.")
        }

        static var metricsConnectionsClosed: MetricNameDescriptor {
            named("privatelink_consumer_metrics_connections_closed_total",
                  "Connections the metrics listener closed on its own, by reason.")
        }

        static var backgroundFailures: MetricNameDescriptor {
            named("privatelink_consumer_background_failures_total", "Failures of background work that the daemon carries on through.")
        }
        static var backgroundFailing: MetricNameDescriptor {
            named("privatelink_consumer_background_failing", "1 while this background work fails, else 0.")
        }
        static var metricsConnectionsOpen: MetricNameDescriptor {
            named("privatelink_consumer_metrics_connections_open", "Connections the metrics listener holds open.")
        }

        static var leader: MetricNameDescriptor {
            named("privatelink_consumer_leader", "1 while this daemon is the active one, 0 while it stands by.")
        }
        static var leadershipChanges: MetricNameDescriptor {
            named("privatelink_consumer_leadership_changes_total", "Times this daemon took or lost the leadership lease.")
        }
        static var vpcEndpoints: MetricNameDescriptor {
            named("privatelink_consumer_vpc_endpoints", "Our Resource endpoints in the VPC (any state but deleted).")
        }
        static var vpcEndpointLimit: MetricNameDescriptor {
            named("privatelink_consumer_vpc_endpoint_limit",
                  "Resource endpoints the VPC may hold: the quota (L-CA6CC422) or maxEndpoints; its count while EC2 says it is full.")
        }
        static var stateDatabaseUp: MetricNameDescriptor {
            named("privatelink_consumer_state_database_up", "1 while the state database answers, 0 while it does not.")
        }

        private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
    }
}
