import AWSClient
import ConsumerStore
import PostgresProbe
import Foundation
import Logging
import ServiceLifecycle

/// `run [--once]`: the daemon process.
public enum Daemon {
    /// Test and benchmark knobs; production uses the defaults.
    public struct Options: Sendable {
        public var once: Bool
        public var environment: [String: String]
        /// Overrides the config's `ec2Pacing` (the benchmark switches pacing off).
        public var pacer: MutationPacer?
        public var policy: ReconcilePolicy?
        public var registryCheckInterval: Duration

        public init(once: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment,
                    pacer: MutationPacer? = nil, policy: ReconcilePolicy? = nil,
                    registryCheckInterval: Duration = .seconds(2)) {
            self.once = once
            self.environment = environment
            self.pacer = pacer
            self.policy = policy
            self.registryCheckInterval = registryCheckInterval
        }
    }

    /// One pass and one probe sweep (`run --once`). Exit 1 when either failed (an AWS refusal, the store),
    /// whatever the customers' health.
    static func once(reconciler: Reconciler, scheduler: ProbeScheduler) async throws -> String {
        let summary = await reconciler.pass()
        let probes: ProbeScheduler.SweepSummary
        do {
            probes = try await scheduler.sweep()
        } catch {
            throw CommandFailure.runtime("\(summary.line); probe sweep failed: \(error)")
        }
        let line = summary.line + (probes.probed == 0 ? "" : "; \(probes.healthy)/\(probes.probed) probes healthy")
        if summary.errors > 0 {
            throw CommandFailure.runtime("\(line) (the pass failed; the log above says why)")
        }
        return line
    }

    /// Runs until SIGTERM/SIGINT (or one pass with `once`). Returns what to print; throws `CommandFailure`.
    public static func run(_ app: ConsumerApp, options: Options, logger: Logger) async throws -> String {
        MemoryReclaimer.configureAllocator()
        let config = app.config
        var lock: StateLock?
        if let path = config.stateDatabase {
            do {
                lock = try StateLock.acquire(statePath: path)
            } catch {
                throw CommandFailure.runtime(error.message)
            }
        }
        defer { lock?.release() }
        let candidate = LeaseCandidate.thisProcess()
        let leadership: Leadership
        if case .postgres(let postgres) = config.state {
            leadership = .standby(leaseSeconds: postgres.leaseSeconds, holder: candidate.holder)
        } else {
            leadership = .solo
        }
        let parts = try await DaemonParts.make(app, environment: options.environment, pacer: options.pacer, policy: options.policy,
                                               metrics: config.metrics != nil && !options.once, leadership: leadership, logger: logger)
        let (store, reconciler, scheduler, metrics) = (parts.store, parts.reconciler, parts.scheduler, parts.metrics)
        let postgresStore = store as? PostgresStore
        if options.once {
            // With shared state, one pass only as the active daemon (never beside a running one), holding the
            // lease through the same claims as the service.
            guard let postgresStore else { return try await once(reconciler: reconciler, scheduler: scheduler) }
            let service = LeadershipService(store: postgresStore, leadership: leadership, candidate: candidate, metrics: nil, logger: logger)
            do {
                return try await service.holding { _ in try await once(reconciler: reconciler, scheduler: scheduler) }
            } catch LeadershipService.OnceRefusal.busy {
                throw CommandFailure.runtime("run --once: the leadership lease is busy (a write of the active daemon in flight); nothing was done, try again")
            } catch LeadershipService.OnceRefusal.unavailable {
                throw CommandFailure.runtime("run --once: the state database \(postgresStore.location) is unavailable (the log above says why)")
            } catch LeadershipService.OnceRefusal.anotherLeader(let leader) {
                throw CommandFailure.runtime("run --once: another daemon is active (\(leader.map { "\($0.host) pid \($0.pid), epoch \($0.epoch)" } ?? "unknown")); nothing was done")
            }
        }
        let notifier = SystemdNotifier(environment: options.environment)
        let service = ReconcilerService(reconciler: reconciler, store: store, notifier: notifier,
                                        pollInterval: .milliseconds(Int64(config.pollIntervalSeconds * 1000)),
                                        registryCheckInterval: options.registryCheckInterval, metrics: metrics,
                                        progress: reconciler.progress, leadership: leadership, logger: logger)
        let probing = ProbeService(scheduler: scheduler, interval: .milliseconds(Int64(config.probeIntervalSeconds * 1000)),
                                   leadership: leadership, logger: logger)
        var services: [any Service] = [service, probing]
        if let postgresStore {
            services.insert(LeadershipService(store: postgresStore, leadership: leadership, candidate: candidate, metrics: metrics,
                                              logger: logger), at: 0)
        } else {
            metrics?.recordLeader(true)
        }
        if let listen = config.metrics, let metrics {
            services.append(MetricsServer(config: listen, metrics: metrics,
                                          staleAfter: MetricsServer.staleAfter(pollInterval: .milliseconds(Int64(config.pollIntervalSeconds * 1000))),
                                          logger: logger))
        }
        if notifier.watchdogInterval != nil { services.append(WatchdogService(notifier: notifier, progress: reconciler.progress)) }
        logger.notice("daemon starting", metadata: [
            "state": "\(config.state)", "regions": "\(config.regionNames.joined(separator: ","))",
            "poll_interval_s": "\(config.pollIntervalSeconds)", "pid": "\(getpid())",
        ])
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            throw CommandFailure.runtime("daemon: \(error)")
        }
        return ""
    }
}

/// The daemon's parts, wired from the configuration: `run`, `run --once` and `demo` share them.
public struct DaemonParts: Sendable {
    public let store: any StateStore
    public let aws: AWSContext
    public let reconciler: Reconciler
    public let scheduler: ProbeScheduler
    public let metrics: DaemonMetrics?

    public static func make(_ app: ConsumerApp, environment: [String: String], pacer: MutationPacer? = nil,
                            policy: ReconcilePolicy? = nil, metrics withMetrics: Bool = false, leadership: Leadership = .solo,
                            logger: Logger) async throws -> DaemonParts {
        let config = app.config
        let store = try await app.openDaemonStore()
        // Their errors name the file or the AWS setting already; `CommandFailure(error)` reports them.
        let healthLog = try HealthLogWriter(path: config.healthLog, maxBytes: config.healthLogRotation.maxBytes,
                                            files: config.healthLogRotation.files)
        let aws = try await AWSContext.make(config: config, environment: environment, logger: logger)
        var metrics: DaemonMetrics?
        if withMetrics {
            DaemonMetrics.bootstrapMetricsSystem()
            metrics = DaemonMetrics()
        }
        let prober = PostgresProber(timeouts: config.probe.timeouts, logger: logger)
        // One record of background failures for the whole daemon: a standby clears it all.
        let failures = BackgroundFailures(metrics: metrics, logger: logger)
        let scheduler = ProbeScheduler(store: store, prober: prober, concurrency: config.probe.concurrency,
                                       healthLog: healthLog, metrics: metrics, failures: failures, logger: logger)
        let reconciler = Reconciler(config: config, store: store, aws: aws, events: HealthLogOutbox(store: store, writer: healthLog), metrics: metrics,
                                    policy: policy ?? ReconcilePolicy(unmatchedInvitations: config.unmatchedInvitations),
                                    pacer: pacer ?? MutationPacer(capacity: config.ec2Pacing.burst,
                                                                  refillPerSecond: config.ec2Pacing.refillPerSecond),
                                    mayAct: { leadership.mayAct }, leaseRemaining: { leadership.remaining }, failures: failures,
                                    logger: logger)
        return DaemonParts(store: store, aws: aws, reconciler: reconciler, scheduler: scheduler, metrics: metrics)
    }
}
