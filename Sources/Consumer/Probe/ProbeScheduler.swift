import ConsumerStore
import Foundation
import Logging
import PostgresProbe
import Synchronization

/// Probes every ready customer's database through its endpoint, with bounded concurrency: a hung
/// target holds a slot for a quarter of a second, never its whole timeout (``ThreadSweep``). Results go
/// to the store (latest + bounded history) and the health log, where repeated identical results are
/// written when they change and then once an hour, not every minute.
public final class ProbeScheduler: Sendable {
    let store: any StateStore
    let prober: PostgresProber
    let concurrency: Int
    /// How long a probe may hold a concurrency slot; past it, the probe runs on without one.
    let patience: Duration
    /// The most probes running at once, holding a slot or not.
    let inFlightLimit: Int
    let healthLog: HealthLogWriter?
    let metrics: DaemonMetrics?
    let now: @Sendable () -> Date
    let logger: Logger
    /// How often an unchanged result is written to the health log again.
    public let repeatInterval: TimeInterval
    private let lastLogged = Mutex<[String: (signature: String, time: Date)]>([:])
    /// Ready customers that cannot be probed are said once and counted here.
    let failures: BackgroundFailures

    /// - Parameters:
    ///   - concurrency: probes started and not yet past `patience` at once.
    ///   - patience: how long a probe holds its slot (a healthy probe finishes well within it).
    ///   - inFlightLimit: probes running at once in all; default 8 × `concurrency`, within the file limit.
    public init(store: any StateStore, prober: PostgresProber, concurrency: Int, patience: Duration = .milliseconds(250),
                inFlightLimit: Int? = nil, slice: Int = ProbeScheduler.sliceSize, healthLog: HealthLogWriter?,
                metrics: DaemonMetrics? = nil, repeatInterval: TimeInterval = 3600,
                now: @escaping @Sendable () -> Date = { Date() }, failures: BackgroundFailures? = nil, logger: Logger) {
        self.store = store
        self.prober = prober
        self.concurrency = max(1, concurrency)
        self.patience = patience
        self.inFlightLimit = max(self.concurrency, inFlightLimit ?? Self.defaultInFlightLimit(concurrency: self.concurrency))
        self.slice = max(1, slice)
        self.healthLog = healthLog
        self.metrics = metrics
        self.repeatInterval = repeatInterval
        self.now = now
        self.logger = logger
        self.failures = failures ?? BackgroundFailures(metrics: metrics, logger: logger)
    }

    /// A customer the probe can reach: ready, stored (it has an id), with a DNS name that came from our
    /// own endpoint. It keeps what a probe needs of the customer and its endpoint, and no more: a sweep holds
    /// 10,000 of these.
    public struct Target: Sendable {
        public var customerId: Int64
        public var name: String
        public var port: Int
        /// The login stage's user, password file and database, when the customer has a login.
        public var credentials: ProbeCredentials?
        public var vpcEndpointId: String?
        public var dnsName: String
        /// The last probe ran out of time: this one is expected to hang again.
        public var expectedSlow = false

        /// A target of `customer` (which has an id: it is stored) through `endpoint` at `dnsName`.
        public init(customer: Customer, endpoint: EndpointRecord, dnsName: String, expectedSlow: Bool = false) {
            self.init(row: ProbeTargetRow(customer: customer, endpoint: endpoint), dnsName: dnsName, expectedSlow: expectedSlow)
        }

        /// The target of a stored ready customer at `dnsName`, its live endpoint's name.
        init(row: ProbeTargetRow, dnsName: String, expectedSlow: Bool) {
            self.customerId = row.customerId
            self.name = row.name
            self.port = row.port
            self.credentials = row.probeUser.flatMap { user in
                row.probePasswordFile.map { ProbeCredentials(user: user, passwordFile: $0, database: row.probeDatabase ?? "postgres") }
            }
            self.vpcEndpointId = row.endpoint?.vpcEndpointId
            self.dnsName = dnsName
            self.expectedSlow = expectedSlow
        }

        /// What the prober is asked.
        var probeTarget: ProbeTarget {
            ProbeTarget(host: dnsName, port: port, credentials: credentials)
        }

        /// Why a customer cannot be probed now.
        enum Unprobeable: Error, Equatable {
            /// Not ready: nothing to probe yet, or any more (not a fault).
            case notReady
            /// Ready, but something a ready customer always has is missing: a fault worth saying.
            case missing(String)
        }

        /// Only names recorded from our endpoints' associations are ever probed.
        static func make(customer: Customer, endpoint: EndpointRecord?, lastTimedOut: Bool) -> Result<Target, Unprobeable> {
            guard customer.state == .ready else { return .failure(.notReady) }
            guard customer.id != nil else { return .failure(.missing("no id")) }
            return make(ProbeTargetRow(customer: customer, endpoint: endpoint, lastTimedOut: lastTimedOut))
        }

        /// The target of a ready customer as a sweep reads it.
        static func make(_ row: ProbeTargetRow) -> Result<Target, Unprobeable> {
            guard let endpoint = row.endpoint else { return .failure(.missing("no live endpoint")) }
            guard let dns = endpoint.dnsName else { return .failure(.missing("no DNS name on endpoint \(endpoint.vpcEndpointId ?? "?")")) }
            return .success(Target(row: row, dnsName: dns, expectedSlow: row.lastTimedOut))
        }
    }

    /// Every customer the probe can reach now. A ready customer that cannot be probed is said (once, until
    /// the set changes) and counted: its health would otherwise just stop changing.
    public func targets() async throws -> [Target] {
        let rows = try await store.probeTargetRows()
        var targets: [Target] = []
        targets.reserveCapacity(rows.count)
        var faults: [String] = []
        for row in rows {
            switch Target.make(row) {
            case .success(let target): targets.append(target)
            case .failure(.notReady): continue
            case .failure(.missing(let what)): faults.append("\(row.name) (\(what))")
            }
        }
        if faults.isEmpty {
            failures.succeeded(.probeTarget)
        } else {
            let listed = faults.prefix(10).joined(separator: ", ") + (faults.count > 10 ? " and \(faults.count - 10) more" : "")
            failures.failed(.probeTarget, "ready customers cannot be probed: \(listed); their health is not measured "
                                + "until a pass records their endpoint (privatelink-consumer explain NAME)",
                            metadata: ["customers": "\(faults.count)"])
        }
        return targets
    }

    /// `customer`'s target, or nil when it cannot be probed now.
    public func target(for customer: Customer) async throws -> Target? {
        guard let id = customer.id else { return nil }
        let endpoint = try await store.liveEndpoint(customerId: id)
        return try? Target.make(customer: customer, endpoint: endpoint, lastTimedOut: false).get()
    }

    /// What a sweep found.
    public struct SweepSummary: Sendable, Equatable {
        public var probed = 0
        public var healthy = 0
    }

    /// Results written a slice at a time: one store write and one health-log write per slice, and only a
    /// slice of results held at once.
    public static let sliceSize = 500
    /// This scheduler's slice (``sliceSize``; tests use smaller ones).
    let slice: Int

    /// One sweep over every target: the results are written (store and health log) a slice at a time, as they
    /// come; what is kept is the count.
    @discardableResult
    public func sweep() async throws -> SweepSummary {
        let targets = try await targets()
        var summary = SweepSummary()
        var failure: (any Error)?
        await probeAll(targets, slice: self.slice) { slice in
            summary.probed += slice.count
            summary.healthy += slice.count { $0.record.ok }
            // Once the store refused a slice (a daemon that lost the lease, a database gone), the sweep stops: no
            // more probes, nothing more written anywhere, health log included. The failure is thrown.
            do {
                try await store.recordProbes(slice.map(\.record))
            } catch {
                failure = error
                return false
            }
            await log(slice.map { ($0.record, $0.target.name) })
            return true
        }
        if let failure { throw failure }
        return summary
    }

    /// Probes `targets` back to back on probe threads (``ThreadSweep``: slots, patience, the in-flight bound,
    /// expected-slow targets first), handing the results to `consume` `slice` at a time as they come (not in
    /// target order; a probe the sweep's cancellation cut short hands nothing over). `consume` returns false to
    /// stop: no more probes start. Nothing is written.
    public func probeAll(_ targets: [Target], slice: Int,
                         _ consume: ([(target: Target, record: ProbeResultRecord)]) async -> Bool) async {
        let prober = self.prober
        let sweep = ThreadSweep<ProbeResultRecord>(
            count: targets.count, expectedSlow: { targets[$0].expectedSlow }, concurrency: concurrency, patience: patience,
            inFlightLimit: inFlightLimit, timers: prober.eventLoopGroup,
            unavailable: { self.record(targets[$0], started: self.now(), prober.unavailableResult(targets[$0].probeTarget)) }
        ) { job in
            let target = targets[job.index]
            let started = self.now()
            let result = prober.probeOnThisThread(target.probeTarget, wanted: { !job.isSettled }) {
                job.complete(self.record(target, started: started, $0))
            }
            return result.map { self.record(target, started: started, $0) }
        }
        await sweep.run(batch: slice) { batch in
            await consume(batch.map { (targets[$0.index], $0.result) })
        }
    }

    /// Probes one target now.
    public func probe(_ target: Target) async -> ProbeResultRecord {
        let started = now()
        return record(target, started: started, await prober.probe(target.probeTarget))
    }

    /// A probe's record, its stages' latencies counted in the metrics.
    func record(_ target: Target, started: Date, _ result: ProbeResult) -> ProbeResultRecord {
        for (stage, milliseconds) in result.latencyMs { metrics?.recordProbe(stage: stage.rawValue, seconds: milliseconds / 1000) }
        return ProbeResultRecord(
            id: nil, customerId: target.customerId, time: started, ok: result.ok,
            stage: ProbeResultRecord.Stage(result.stage),
            errorKind: result.failure?.kind.name, error: result.failure?.message, hint: result.failure?.hint,
            latencyMs: result.latencyMsByStageName, vpcEndpointId: target.vpcEndpointId, dnsName: target.dnsName,
            port: target.port)
    }

    /// 8 × `concurrency`, but leaving 256 descriptors of the process's file limit for everything else
    /// (a probe holds one socket, two while logging in).
    static func defaultInFlightLimit(concurrency: Int) -> Int {
        var limit = rlimit()
        let files = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0
            ? Int(clamping: limit.rlim_cur) : Int.max
        return max(concurrency, min(concurrency * 8, (files - 256) / 2))
    }

    /// Writes the result to the health log when it differs from the last one written, or an hour passed.
    func log(_ record: ProbeResultRecord, customer: String) async {
        await log([(record, customer)])
    }

    /// Writes the results that are due (see ``log(_:customer:)``) in one trip to a blocking-work thread.
    func log(_ results: [(record: ProbeResultRecord, customer: String)]) async {
        var entries: [HealthLogEntry] = []
        for (record, customer) in results {
            let signature = record.ok ? "ok" : "\(record.stage.rawValue)/\(record.errorKind ?? "")"
            let time = record.time
            let due = lastLogged.withLock { memory -> Bool in
                if let last = memory[customer], last.signature == signature, time.timeIntervalSince(last.time) < repeatInterval {
                    return false
                }
                memory[customer] = (signature, time)
                return true
            }
            guard due else { continue }
            entries.append(.probe(HealthLogProbe(time: record.time, customer: customer, vpcEndpointId: record.vpcEndpointId,
                                                 dnsName: record.dnsName, port: record.port, ok: record.ok,
                                                 stage: record.stage.rawValue, error: record.error, hint: record.hint,
                                                 latencyMs: record.latencyMs)))
            if !record.ok {
                logger.warning("probe failed", metadata: ["customer": "\(customer)", "probe.stage": "\(record.stage.rawValue)",
                                                          "probe.error": "\(record.error ?? "")"])
            }
        }
        guard !entries.isEmpty, let healthLog else { return }
        do {
            try await healthLog.write(entries)
        } catch {
            logger.warning("cannot write the health log", metadata: ["error": "\(error)"])
        }
    }
}

extension ProbeResultRecord.Stage {
    /// The stored name of a probe stage: every stage has one (a new stage fails to compile here, instead
    /// of being recorded as another).
    init(_ stage: ProbeStage) {
        switch stage {
        case .dns: self = .dns
        case .connect: self = .connect
        case .postgres: self = .postgres
        case .login: self = .login
        }
    }
}
