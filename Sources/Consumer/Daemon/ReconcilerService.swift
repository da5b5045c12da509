import ConsumerStore
import Foundation
import Logging
import ServiceLifecycle

/// The daemon's main loop as a `Service`: a pass, then sleep until the poll interval elapses or the
/// registry changes (checked every couple of seconds, so registrations land within seconds).
struct ReconcilerService: Service {
    let reconciler: Reconciler
    let store: any StateStore
    let notifier: SystemdNotifier
    let pollInterval: Duration
    let registryCheckInterval: Duration
    let metrics: DaemonMetrics?
    let progress: ProgressMark
    /// Passes run only while this daemon may act (a standby waits here, ready and alive).
    var leadership: Leadership = .solo
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await loop()
            }
        } catch is CancellationError {
            // Graceful shutdown: the pass in flight was cancelled between store transactions.
        }
        notifier.stopping()
        logger.notice("daemon stopped")
    }

    private func loop() async throws {
        var first = true
        var known: Set<String> = []
        while !Task.isCancelled {
            guard leadership.mayAct else {
                // Standing by: the active daemon reports the customers; this one only shows it is alive.
                if !known.isEmpty {
                    metrics?.forgetAllCustomers()
                    known = []
                }
                // The active daemon tries (and reports) the background work now.
                reconciler.failures.standDown()
                if first {
                    notifier.ready()
                    notifier.status("standing by: another daemon holds the leadership lease")
                    first = false
                }
                progress.mark()
                try await Task.sleep(for: .milliseconds(250))
                continue
            }
            let version = await registryVersion()
            if first {
                notifier.ready()
                first = false
            }
            progress.mark()
            // The pass's writes carry the epoch it starts under (nil when solo).
            let summary = await LeaseFence.$current.withValue(leadership.fence) { await reconciler.pass() }
            progress.mark()
            if Task.isCancelled { break }
            known = await record(summary, known: known)
            await MemoryReclaimer.releaseFreedMemory(store)
            notifier.status(summary.line)
            logger.info("pass finished", metadata: [
                "customers": "\(summary.customers)", "ready": "\(summary.ready)", "actions": "\(summary.actions)",
                "errors": "\(summary.errors)", "duration_ms": "\(Int(summary.duration / .milliseconds(1)))",
            ])
            try await waitForNextPass(after: version, soon: summary.deferred)
        }
    }

    /// Feeds the metrics endpoint: pass time, and every customer's state and health.
    /// Returns the customers now in the metrics, so that removed ones can be dropped next time.
    private func record(_ summary: PassSummary, known: Set<String>) async -> Set<String> {
        guard let metrics else { return known }
        metrics.recordPass(duration: summary.duration, at: Date())
        let snapshot: StatusSnapshot
        do {
            snapshot = try await store.statusSnapshot()
            reconciler.failures.succeeded(.metricsRefresh)
        } catch {
            guard !Task.isCancelled else { return known }
            reconciler.failures.failed(.metricsRefresh, "cannot refresh the customer metrics from the state database: \(error); "
                                           + "they show the last pass that could read it")
            return known
        }
        for customer in snapshot.customers {
            let probe = customer.id.flatMap { snapshot.latestProbes[$0] }
            metrics.recordCustomer(name: customer.name, state: customer.state, healthy: probe?.ok)
            let checks = customer.id.flatMap { snapshot.checks[$0] } ?? []
            metrics.recordChecks(name: customer.name, Dictionary(checks.map { ($0.name, $0.verdict == .fail) }, uniquingKeysWith: { $1 }))
        }
        let current = Set(snapshot.customers.map(\.name))
        // A removed customer leaves the metrics as it leaves `status`.
        for name in known.subtracting(current) { metrics.forgetCustomer(name: name) }
        return current
    }

    /// The registry's version (it changes whenever the CLI changes a registration); nil when the store
    /// cannot say, which turns the early wake-up off until it can: said once, counted.
    private func registryVersion() async -> Int? {
        do {
            let version = try await store.registryVersion()
            reconciler.failures.succeeded(.registryVersion)
            return version
        } catch {
            guard !Task.isCancelled else { return nil }
            reconciler.failures.failed(.registryVersion, "cannot read the registry version: \(error); "
                                           + "registrations are picked up at the next poll instead of within seconds")
            return nil
        }
    }

    /// Sleeps until the next pass is due; returns early when the CLI changed the registry.
    private func waitForNextPass(after version: Int?, soon: Bool) async throws {
        let interval = soon ? min(pollInterval, .seconds(5)) : pollInterval
        let deadline = ContinuousClock.now + interval
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: min(registryCheckInterval, deadline - ContinuousClock.now))
            progress.mark()
            if let version, let current = await registryVersion(), current != version {
                logger.debug("registry changed; starting a pass early")
                return
            }
        }
    }
}

/// Pings systemd's watchdog at half of WATCHDOG_USEC while the daemon makes progress: a pass that hangs
/// (a call that never answers, a store that never returns) stops the pings, and systemd restarts it.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let progress: ProgressMark

    func run() async throws {
        guard let interval = notifier.watchdogInterval else { return }
        let progress = progress
        await cancelWhenGracefulShutdown {
            await notifier.runWatchdog(alive: { progress.isRecent(within: interval * 2) })
        }
    }
}

/// Probes every ready customer every `interval`, on its own schedule: a slow probe sweep never delays
/// reconciliation, and the other way round.
struct ProbeService: Service {
    let scheduler: ProbeScheduler
    let interval: Duration
    /// Sweeps run only while this daemon may act.
    var leadership: Leadership = .solo
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    guard leadership.mayAct else {
                        try await Task.sleep(for: .milliseconds(250))
                        continue
                    }
                    let start = ContinuousClock.now
                    do {
                        let swept = try await LeaseFence.$current.withValue(leadership.fence) { try await scheduler.sweep() }
                        let (probed, healthy) = (swept.probed, swept.healthy)
                        await MemoryReclaimer.releaseFreedMemory(scheduler.store)
                        logger.info("probe sweep finished", metadata: [
                            "probed": "\(probed)", "healthy": "\(healthy)",
                            "duration_ms": "\(Int((ContinuousClock.now - start) / .milliseconds(1)))",
                        ])
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.warning("probe sweep failed", metadata: ["error": "\(error)"])
                    }
                    try await Task.sleep(until: start + interval)
                }
            }
        } catch is CancellationError {}
    }
}
