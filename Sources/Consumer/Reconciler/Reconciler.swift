import AWSClient
import ConsumerStore
import Foundation
import Logging
import Synchronization

/// What one pass did, for systemd's STATUS line, `run --once` and the benchmark.
public struct PassSummary: Sendable, Equatable {
    public var customers = 0
    public var ready = 0
    public var actions = 0
    public var errors = 0
    /// A mutation was deferred by pacing: the next pass should come soon.
    public var deferred = false
    public var duration: Duration = .zero

    public var line: String {
        "\(ready)/\(customers) customers ready; \(actions) actions, \(errors) errors in the last pass"
    }
}

/// The reconciler: one pass per region, observe (`RegionObserver`) → plan (`ReconcilePlanner`, pure) →
/// execute (`ActionExecutor`), then the resource configuration checks, the history's pruning and the
/// health log's outbox.
public final class Reconciler: Sendable {
    let config: ConsumerConfig
    let store: any StateStore
    let aws: any ReconcilerAWS
    let events: HealthLogOutbox
    let metrics: DaemonMetrics?
    public let policy: ReconcilePolicy
    /// Whether this daemon may act now (it holds the leadership lease); checked before each action and
    /// just before each AWS call that changes something.
    let mayAct: @Sendable () -> Bool
    let now: @Sendable () -> Date
    let logger: Logger
    /// Background failures the daemon carries on through, logged once and counted.
    public let failures: BackgroundFailures
    /// Marked after each region observed and each action done: what the watchdog calls progress.
    public let progress = ProgressMark()
    let failureLog: FailureLog
    let observer: RegionObserver
    let executor: ActionExecutor
    let checks: ResourceConfigurationCheckRunner
    let pruner: HistoryPruner
    /// The regions' VPC pools between passes: the quota read, the VPCs EC2 said are full.
    let capacity = CapacityBook()
    private let accountId = OwnAccount()

    public init(config: ConsumerConfig, store: any StateStore, aws: any ReconcilerAWS, events: HealthLogOutbox, metrics: DaemonMetrics? = nil,
                policy: ReconcilePolicy? = nil, pacer: MutationPacer = MutationPacer(),
                mayAct: @escaping @Sendable () -> Bool = { true }, leaseRemaining: @escaping @Sendable () -> Duration? = { nil },
                now: @escaping @Sendable () -> Date = { Date() }, failures: BackgroundFailures? = nil, logger: Logger) {
        let policy = policy ?? ReconcilePolicy(unmatchedInvitations: config.unmatchedInvitations)
        let failureLog = FailureLog(logger: logger)
        let accountId = self.accountId
        self.mayAct = mayAct
        self.config = config
        self.store = store
        self.aws = aws
        self.events = events
        self.metrics = metrics
        self.policy = policy
        self.now = now
        self.logger = logger
        self.failures = failures ?? BackgroundFailures(metrics: metrics, logger: logger)
        self.failureLog = failureLog
        let capacity = self.capacity
        observer = RegionObserver(aws: aws, capacity: capacity, store: store, config: config, policy: policy, now: now, logger: logger)
        executor = ActionExecutor(config: config, store: store, aws: aws, metrics: metrics, policy: policy, pacer: pacer,
                                  lease: LeaseGuard(mayAct: mayAct, leaseRemaining: leaseRemaining, store: store), now: now,
                                  accountId: { accountId.value }, logger: logger, failures: failureLog, capacity: capacity)
        checks = ResourceConfigurationCheckRunner(store: store, aws: aws, config: config, now: now, logger: logger, failures: failureLog,
                                                  progress: progress)
        pruner = HistoryPruner(store: store, retention: config.retention, now: now, logger: logger, failures: failureLog)
    }

    /// One full pass over every configured region. Failures are logged and counted, never thrown:
    /// one region's outage must not stop the others.
    public func pass() async -> PassSummary {
        let start = ContinuousClock.now
        var summary = PassSummary()
        await learnAccountId()
        var live: Set<String> = []
        for region in config.regionNames {
            if Task.isCancelled || !mayAct() { break }
            do {
                var snapshot = try await store.snapshot()
                live.formUnion(snapshot.customers.compactMap { $0.id.map { "customer \($0)" } })
                let invitations = try await aws.invitations(region: region)
                snapshot.invitations = try await observer.invitationRecords(for: invitations, customers: snapshot.customers, region: region)
                let observation = try await observer.observe(region, snapshot: snapshot, invitations: invitations)
                let actions = ReconcilePlanner.plan(observation, snapshot: snapshot, policy: policy,
                                                    accountId: accountId.value, now: now())
                failureLog.clear("observe \(region)")
                progress.mark()
                // Both listings in place: joined, they were a copy of EC2's whole listing (3 MB at 10,000).
                let pool = capacity.pool(region: region, config: config.regions[region]!,
                                         listed: [observation.endpoints, observation.othersInPool].joined())
                await execute(actions, region: region, snapshot: snapshot, pool: pool, summary: &summary)
            } catch {
                summary.errors += 1
                failureLog.report("observe \(region)", error, metadata: ["aws.region": "\(region)"])
            }
        }
        // Removed customers leave the memory of logged failures as they leave the store's live set.
        if !Task.isCancelled { failureLog.keepCustomers(live) }
        // A daemon that stood down leaves the history and the health log to the active one (its writes would
        // be refused, and a line written before the refusal would be written again by the active daemon).
        if mayAct() {
            await recordCapacity()
            await pruner.pruneHourly()
            do {
                try await events.flush()
            } catch {
                summary.errors += 1
                failureLog.report("health log", error, metadata: [:])
            }
        }
        do {
            let counts = try await store.customerCounts()
            summary.customers = counts.live
            summary.ready = counts.ready
            failureLog.clear("customer counts")
        } catch where !Task.isCancelled {
            // The pass's own reads already failed the same way, or this is the first: said once either way.
            failureLog.report("customer counts", error, metadata: [:])
        } catch {
            // Shutdown: the pass is being cancelled.
        }
        summary.duration = ContinuousClock.now - start
        return summary
    }

    /// The plan of one region, in order, then the region's resource configuration checks.
    private func execute(_ actions: [ReconcileAction], region: String, snapshot: RegistrySnapshot, pool: [VpcCapacity],
                         summary: inout PassSummary) async {
        var run = ActionExecutor.PassRun(customers: snapshot.customers, pool: pool)
        defer {
            capacity.keep(run.pool, region: region)
            metrics?.recordCapacity(region: region, pool: run.pool)
        }
        for batch in ActionBatch.batches(ActionExecutor.ordered(actions)) {
            if Task.isCancelled { break }
            // A daemon that lost the lease stops here: the rest of the plan is the new leader's.
            guard mayAct() else {
                summary.errors += 1
                logger.warning("pass stopped: this daemon no longer holds the leadership lease")
                break
            }
            defer { progress.mark() }
            let outcomes: [ActionExecutor.Outcome]
            switch batch {
            case .together(let actions):
                let live = actions.filter { $0.customerId.map { !run.stale.contains($0) } ?? true }
                if live.isEmpty { continue }
                outcomes = await executor.execute(together: live, region: region, run: &run)
            case .one(let action):
                if let id = action.customerId, run.stale.contains(id) { continue }
                outcomes = [await executor.execute(action, region: region, run: &run)]
            }
            for outcome in outcomes {
                switch outcome {
                case .done: summary.actions += 1
                case .deferred: summary.deferred = true
                case .failed: summary.errors += 1
                case .skipped: break
                }
            }
        }
        if mayAct() { await checks.run(region: region, customers: run.current) }
    }

    /// The pools as this pass left them, for `status` (written only when they changed).
    private func recordCapacity() async {
        guard let rows = capacity.rowsToWrite(regions: config.regionNames, at: now()) else { return }
        do {
            try await store.recordCapacity(rows)
            capacity.wrote(rows)
            failureLog.clear("capacity")
        } catch {
            failureLog.report("capacity", error, metadata: [:])
        }
    }

    func learnAccountId() async {
        guard accountId.value == nil else { return }
        do {
            let account = try await aws.accountId()
            accountId.value = account
            failures.succeeded(.stsIdentity)
        } catch {
            // Asked again every pass until it answers. The code, not the message: a request id would make
            // every repeat look new.
            guard error.kind != .cancelled else { return }
            failures.failed(.stsIdentity, "cannot learn this account's id (STS GetCallerIdentity): \(error.code ?? error.kind.description); "
                                + "check the daemon's AWS credentials and that STS is reachable",
                            metadata: ["aws.operation": "GetCallerIdentity"])
        }
    }
}

/// This daemon's AWS account id, learned once from STS.
final class OwnAccount: Sendable {
    private let id = Mutex<String?>(nil)
    var value: String? {
        get { id.withLock { $0 } }
        set { id.withLock { $0 = newValue } }
    }
}
