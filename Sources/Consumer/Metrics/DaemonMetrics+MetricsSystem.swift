import Metrics
import Prometheus

extension DaemonMetrics {
    /// The registry swift-metrics reports into after ``bootstrapMetricsSystem()``; one per process,
    /// because `MetricsSystem` is.
    public static let processRegistry = PrometheusCollectorRegistry()

    /// Points swift-metrics (the AWS layer's `privatelink_consumer_aws_calls_total` counter) at
    /// ``processRegistry``. Safe to call any number of times: only the first call bootstraps, since
    /// `MetricsSystem.bootstrap` traps when called twice.
    public static func bootstrapMetricsSystem() {
        _ = bootstrapOnce
    }

    // A static's initialiser runs exactly once, thread-safely, on first use.
    private static let bootstrapOnce: Void = {
        // The factory registers its series with no help text, so nothing here may register
        // `privatelink_consumer_aws_calls_total` with help: the registry traps on a help mismatch.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: processRegistry))
    }()
}
