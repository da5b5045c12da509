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

/// The reconciler's shell: observes AWS and the store, asks `ReconcilePlanner` what to do, does it.
/// Every write that must precede an AWS call (ClientTokens) is committed before the call.
public final class Reconciler: Sendable {
    let config: ConsumerConfig
    let store: any StateStore
    let aws: any ReconcilerAWS
    let events: HealthLogOutbox
    let metrics: DaemonMetrics?
    public let policy: ReconcilePolicy
    let pacer: MutationPacer
    /// Whether this daemon may act now (it holds the leadership lease); checked before each action and
    /// just before each AWS call that changes something.
    let mayAct: @Sendable () -> Bool
    /// How long this daemon may still act (nil: no lease, no limit); an AWS call that changes something
    /// is cancelled, retries and all, when it runs out.
    let leaseRemaining: @Sendable () -> Duration?
    let now: @Sendable () -> Date
    let logger: Logger
    /// Background failures the daemon carries on through, logged once and counted.
    public let failures: BackgroundFailures
    /// Marked after each region observed and each action done: what the watchdog calls progress.
    public let progress = ProgressMark()
    /// When history was last pruned (at most hourly; the first pass prunes).
    private let lastPruned = Mutex<Date?>(nil)
    /// The last error logged per key, so that a persisting failure is logged once, not every pass.
    private let lastErrors = Mutex<[String: String]>([:])
    private let accountId = Mutex<String?>(nil)

    public init(config: ConsumerConfig, store: any StateStore, aws: any ReconcilerAWS, events: HealthLogOutbox, metrics: DaemonMetrics? = nil,
                policy: ReconcilePolicy? = nil, pacer: MutationPacer = MutationPacer(),
                mayAct: @escaping @Sendable () -> Bool = { true }, leaseRemaining: @escaping @Sendable () -> Duration? = { nil },
                now: @escaping @Sendable () -> Date = { Date() }, failures: BackgroundFailures? = nil, logger: Logger) {
        self.mayAct = mayAct
        self.leaseRemaining = leaseRemaining
        self.config = config
        self.store = store
        self.aws = aws
        self.events = events
        self.metrics = metrics
        self.policy = policy ?? ReconcilePolicy(unmatchedInvitations: config.unmatchedInvitations)
        self.pacer = pacer
        self.now = now
        self.logger = logger
        self.failures = failures ?? BackgroundFailures(metrics: metrics, logger: logger)
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
                snapshot.invitations = try await invitationRecords(for: invitations, customers: snapshot.customers.filter { $0.region == region })
                let observation = try await observe(region, snapshot: snapshot, invitations: invitations)
                let actions = ReconcilePlanner.plan(observation, snapshot: snapshot, policy: policy,
                                                    accountId: accountId.withLock { $0 }, now: now())
                clearError("observe \(region)")
                progress.mark()
                var run = PassRun(states: Dictionary(snapshot.customers.compactMap { c in c.id.map { ($0, c) } }, uniquingKeysWith: { a, _ in a }))
                for action in Self.ordered(actions) {
                    if Task.isCancelled { break }
                    // A daemon that lost the lease stops here: the rest of the plan is the new leader's.
                    guard mayAct() else {
                        summary.errors += 1
                        logger.warning("pass stopped: this daemon no longer holds the leadership lease")
                        break
                    }
                    if let id = action.customerId, run.stale.contains(id) { continue }
                    defer { progress.mark() }
                    switch await execute(action, region: region, run: &run) {
                    case .done: summary.actions += 1
                    case .deferred: summary.deferred = true
                    case .failed: summary.errors += 1
                    }
                }
                if mayAct() { await checkResourceConfigurations(region: region, customers: Array(run.states.values)) }
            } catch {
                summary.errors += 1
                report("observe \(region)", error, metadata: ["aws.region": "\(region)"])
            }
        }
        // Removed customers leave the memory of logged failures as they leave the store's live set.
        if !Task.isCancelled {
            lastErrors.withLock { errors in errors = errors.filter { !$0.key.hasPrefix("customer ") || live.contains($0.key) } }
        }
        // A daemon that stood down leaves the history and the health log to the active one (its writes would
        // be refused, and a line written before the refusal would be written again by the active daemon).
        if mayAct() {
            await pruneHistoryHourly()
            do {
                try await events.flush()
            } catch {
                summary.errors += 1
                report("health log", error, metadata: [:])
            }
        }
        do {
            let counts = try await store.customerCounts()
            summary.customers = counts.live
            summary.ready = counts.ready
            clearError("customer counts")
        } catch where !Task.isCancelled {
            // The pass's own reads already failed the same way, or this is the first: said once either way.
            report("customer counts", error, metadata: [:])
        } catch {
            // Shutdown: the pass is being cancelled.
        }
        summary.duration = ContinuousClock.now - start
        return summary
    }

    /// What the shell knows within one region's pass: each customer as it last wrote it, and the
    /// customers whose plan turned out stale (their remaining actions are dropped; the next pass re-plans).
    struct PassRun {
        var states: [Int64: Customer]
        var stale: Set<Int64> = []
    }

    /// Keeps the state's history bounded (`retention`): answered invitations and old events go, at most
    /// once an hour, so that no pass reads history it does not need.
    func pruneHistoryHourly() async {
        let time = now()
        guard lastPruned.withLock({ $0.map { time.timeIntervalSince($0) >= 3600 } ?? true }) else { return }
        let retention = config.retention
        do {
            let pruned = try await store.pruneHistory(invitationsBefore: time.addingTimeInterval(-Double(retention.invitationDays) * 86_400),
                                                      eventsBefore: time.addingTimeInterval(-Double(retention.eventDays) * 86_400),
                                                      eventsPerCustomer: retention.eventsPerCustomer)
            lastPruned.withLock { $0 = time }
            if pruned.invitations + pruned.events > 0 {
                logger.info("history pruned", metadata: ["invitations": "\(pruned.invitations)", "events": "\(pruned.events)"])
            }
        } catch {
            report("prune history", error, metadata: [:])
        }
    }

    /// Reads the resource configurations of customers whose share is accepted and checks them: at once for
    /// one never checked (its acceptance), and again every `checks.resourceConfigurationHours`, a few per
    /// pass. A configuration that cannot be read gives `unknown` verdicts; nothing here holds onboarding back.
    func checkResourceConfigurations(region: String, customers: [Customer]) async {
        let shared = ResourceConfigurationChecks.sharedStates
        let inRegion = customers.filter { $0.region == region && $0.id != nil }
        let candidates = inRegion.filter { shared.contains($0.state) }
        let interval = Double(config.checks.resourceConfigurationHours) * 3600
        let time = now()
        let schedule: CheckSchedule
        do {
            // Only the ids of checked customers, and the times of the few that are due: a steady pass reads no dates.
            schedule = try await store.checkSchedule(dueBefore: time.addingTimeInterval(-interval), orAfter: time.addingTimeInterval(60))
            // Verdicts describe a configuration shared with us: once the share is gone they go too, and a
            // share accepted again is read again in the pass that accepts it.
            for customer in inRegion where !shared.contains(customer.state) && schedule.checked.contains(customer.id!) {
                try await store.clearChecks(customerId: customer.id!)
            }
        } catch {
            report("checks \(region)", error, metadata: ["aws.region": "\(region)"])
            return
        }
        guard !candidates.isEmpty else { return }
        let never = candidates.filter { !schedule.checked.contains($0.id!) }.sorted { $0.stateChangedAt < $1.stateChangedAt }
        let due = candidates.compactMap { customer in schedule.due[customer.id!].map { (customer, $0) } }
            .sorted { $0.1 < $1.1 }.map(\.0)
        let budget = ResourceConfigurationChecks.budget(checkedCustomers: candidates.count, passInterval: config.pollIntervalSeconds,
                                                        interval: interval, cap: 20)
        let chosen = Array(never.prefix(200) + due.prefix(budget))
        guard !chosen.isEmpty else { return }
        // A few calls in flight (each is a round trip to VPC Lattice), the verdicts written in one transaction.
        let aws = self.aws
        var readings: [(customer: Customer, results: [CheckResult])] = []
        await withTaskGroup(of: (Customer, ResourceConfigurationChecks.Lookup).self) { group in
            var next = 0
            func launch() {
                guard next < chosen.count else { return }
                let customer = chosen[next]
                next += 1
                group.addTask { (customer, await aws.resourceConfiguration(region: region, arn: customer.resourceConfigurationArn)) }
            }
            for _ in 0..<min(8, chosen.count) { launch() }
            while let (customer, lookup) = await group.next() {
                if case .failed(let reason) = lookup {
                    // No answer: the stored verdicts stay, and the next pass asks again.
                    logger.debug("resource configuration not read", metadata: ["customer": "\(customer.name)", "reason": "\(reason)"])
                } else {
                    readings.append((customer, ResourceConfigurationChecks.evaluate(lookup, port: customer.port)))
                }
                progress.mark()
                if !Task.isCancelled { launch() }
            }
        }
        do {
            let changed = try await store.recordChecks(readings.map { ($0.customer.id!, $0.results) })
            for (customerId, result) in changed {
                logger.notice("resource configuration check", metadata: [
                    "customer": "\(readings.first { $0.customer.id == customerId }?.customer.name ?? "-")", "check": "\(result.check)",
                    "verdict": "\(result.verdict.rawValue)", "detail": "\(result.detail)"])
            }
        } catch {
            report("checks \(region)", error, metadata: ["aws.region": "\(region)"])
        }
    }

    /// Creates before deletes (a customer is never left without an endpoint longer than needed).
    static func ordered(_ actions: [ReconcileAction]) -> [ReconcileAction] {
        actions.filter { if case .deleteEndpoint = $0 { false } else { true } }
            + actions.filter { if case .deleteEndpoint = $0 { true } else { false } }
    }

    // MARK: Observing

    /// The invitation records this pass needs: those of the invitations RAM lists, and for customers still
    /// waiting for a share, the ones that tell why (expired, rejected). None of the rest of the history.
    func invitationRecords(for invitations: [ResourceShareInvitation], customers: [Customer]) async throws -> [String: InvitationRecord] {
        let waiting = customers.filter { [.awaitingShare, .accepting, .shareExpired, .shareRejected].contains($0.state) }
        return try await store.invitationRecords(invitationArns: Set(invitations.map(\.resourceShareInvitationArn)),
                                                 resourceArns: Set(waiting.map(\.resourceConfigurationArn)),
                                                 senders: Set(waiting.map(\.accountId)))
    }

    func observe(_ region: String, snapshot: RegistrySnapshot, invitations: [ResourceShareInvitation]) async throws -> RegionObservation {
        var observation = RegionObservation(region: region)
        observation.invitations = invitations
        for invitation in observation.invitations where invitation.isPending {
            let arn = invitation.resourceShareInvitationArn
            if let record = snapshot.invitations[arn] {
                // A pending invitation's resources do not change: ask RAM once, remember them.
                observation.pendingResources[arn] = record.resources.map {
                    RAMResource(arn: $0.arn, type: $0.type, resourceShareArn: invitation.resourceShareArn, status: "AVAILABLE")
                }
                continue
            }
            switch try await pendingResources(arn, region: region) {
            case .success(let resources): observation.pendingResources[arn] = resources
            case .failure(let error): observation.unlistable[arn] = error.code ?? error.message
            }
        }
        let shared = try await aws.sharedResourceConfigurations(region: region)
        for resource in shared {
            observation.sharedResources[resource.arn] = resource
        }
        let vpcId = config.regions[region]!.vpcId
        observation.endpoints = try await aws.resourceEndpoints(region: region, vpcId: vpcId)
        let registered = snapshot.customers.filter { $0.region == region && $0.state != .removing }
        observation.match = ReconcilePlanner.matchUnrecorded(observation, snapshot: snapshot, registered: registered)
        // DNS names only for available endpoints whose name we do not know yet: none in steady state.
        let needed = ReconcilePlanner.dnsNamesNeeded(observation, snapshot: snapshot)
        if !needed.isEmpty {
            observation.record(associations: try await aws.associations(region: region, endpointIds: needed))
        }
        return observation
    }

    /// A pending invitation's resources; nil when RAM will not list them (expired while still reading
    /// PENDING, or answered meanwhile): there is nothing to decide about it then.
    func pendingResources(_ arn: String, region: String) async throws -> Result<[RAMResource], AWSClientError> {
        do {
            return .success(try await aws.invitationResources(region: region, invitationArn: arn))
        } catch {
            guard error.isRefusal else { throw error }
            logger.debug("invitation resources unavailable", metadata: ["ram.invitation": "\(arn)", "aws.error": "\(error.code ?? error.message)"])
            return .failure(error)
        }
    }

    func learnAccountId() async {
        guard accountId.withLock({ $0 }) == nil else { return }
        do {
            let account = try await aws.accountId()
            accountId.withLock { $0 = account }
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

    // MARK: Acting

    /// Throws unless this daemon may act now, by its own clock and then by the database's: called right
    /// before every AWS call that changes something.
    func requireLease() async throws {
        guard mayAct() else {
            throw StoreError(.fenced, "this daemon no longer holds the leadership lease; the AWS call was not made")
        }
        try await store.confirmLease()
    }

    /// Runs an AWS call that changes something, cancelled (with its retries) when the lease runs out.
    func withinLease<T: Sendable>(_ call: @escaping @Sendable () async throws(AWSClientError) -> T) async throws(AWSClientError) -> T {
        guard leaseRemaining() != nil else { return try await call() }
        let leaseRemaining = leaseRemaining
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await call() }
                group.addTask {
                    // Renewals extend it: read it again until it is spent.
                    while let remaining = leaseRemaining(), remaining > .zero {
                        try await Task.sleep(for: min(remaining, .milliseconds(500)))
                    }
                    return nil
                }
                while let next = try await group.next() {
                    if let value = next {
                        group.cancelAll()
                        return value
                    }
                    // The lease ran out first: the call is cancelled between attempts and gives its error.
                    group.cancelAll()
                }
                throw CancellationError()
            }
        } catch let error as AWSClientError {
            throw error
        } catch {
            // The sleeper's own cancellation (the daemon stopping) or the lease running out.
            throw AWSClientError(.cancelled, service: "lease", operation: "call", code: nil,
                                 message: Task.isCancelled ? "cancelled: the daemon is stopping"
                                     : "not finished before this daemon's leadership lease ran out")
        }
    }

    enum Outcome { case done, deferred, failed }

    func execute(_ action: ReconcileAction, region: String, run: inout PassRun) async -> Outcome {
        do {
            switch action {
            case .recordInvitation(let record):
                if try await store.recordInvitation(record), let reason = record.reason {
                    metrics?.recordRefusal(reason: reason)
                    logger.notice("invitation not accepted", metadata: [
                        "ram.invitation": "\(record.invitationArn)", "ram.sender": "\(record.senderAccountId)",
                        "reason": "\(reason.rawValue)", "decision": "\(record.decision.rawValue)",
                        "resources": "\(record.resources.map(\.arn).joined(separator: ","))",
                    ])
                }
            case .accept(let arn, let customers):
                try await accept(arn, customers: customers, region: region, run: &run)
            case .reject(let arn):
                try await reject(arn, region: region)
            case .transition(var request):
                // Planned from the snapshot; this pass's own earlier moves of the customer are known here (a
                // move by another writer still fails the compare-and-set).
                if let current = run.states[request.customerId]?.state { request.from = current }
                try await apply(request, run: &run)
            case .createEndpoint(let id, let name, let arn, let detail, let share):
                guard let customer = run.states[id] else { return .failed }
                guard try await apply(TransitionRequest(customerId: id, from: customer.state, event: .endpointRequested, detail: detail,
                                                        resourceShareArn: share), run: &run),
                      let current = run.states[id] else { return .done }
                guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
                let request = endpointRequest(customer: name, arn: arn, region: region, clientToken: Self.newToken())
                guard let row = try await store.beginEndpoint(customerId: id, expecting: current.state, region: region,
                                                              clientToken: request.clientToken, request: StoredCreateRequest(request).json) else {
                    run.stale.insert(id)
                    return .done
                }
                try await create(request, row: row, run: &run)
            case .resumeCreate(let id, let name, let row):
                guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
                // Re-checked just before the call: a generation released or closed since the plan is not touched.
                guard try await store.endpointGeneration(row.id!)?.state == .creating else {
                    run.stale.insert(id)
                    return .done
                }
                let request = row.storedRequest?.request(clientToken: row.clientToken)
                    ?? endpointRequest(customer: name, arn: run.states[id]?.resourceConfigurationArn ?? "", region: region, clientToken: row.clientToken)
                try await create(request, row: row, run: &run)
            case .adoptEndpoint(let id, let name, let endpoint, let dns):
                guard let customer = run.states[id] else { return .failed }
                guard try await store.adoptEndpoint(customerId: id, expecting: customer.state, region: region, vpcEndpointId: endpoint.vpcEndpointId,
                                                    state: ReconcilePlanner.recordState(endpoint.state), awsState: endpoint.state.description,
                                                    dnsName: dns) != nil else {
                    run.stale.insert(id)
                    return .done
                }
                logger.info("endpoint adopted", metadata: ["customer": "\(name)", "ec2.endpoint": "\(endpoint.vpcEndpointId)"])
            case .changeEndpoint(let id, let name, let rowId, let change):
                if !(try await store.changeEndpoint(rowId, change)) {
                    logger.info("endpoint change dropped: the generation moved since the plan", metadata: [
                        "customer": "\(name)", "to": "\(change.to.rawValue)"])
                    run.stale.insert(id)
                }
            case .resetFailures(let id):
                try await store.resetEndpointFailures(customerId: id)
            case .deleteEndpoint(let id, let name, let row, let endpointId, let reason):
                guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
                // Re-checked just before the call: a generation released (kept) or closed since the plan is not deleted.
                if let row, let current = try await store.endpointGeneration(row.id!), current.state.isClosed || current.state == .creating {
                    logger.info("delete dropped: the generation moved since the plan", metadata: [
                        "customer": "\(name)", "ec2.endpoint": "\(endpointId)", "now": "\(current.state.rawValue)"])
                    run.stale.insert(id)
                    return .done
                }
                let outcome = try await delete(endpointId, region: region)
                logger.info("endpoint delete requested", metadata: [
                    "customer": "\(name)", "ec2.endpoint": "\(endpointId)", "reason": "\(reason)", "outcome": "\(outcome)"])
                if let row, let change = ReconcilePlanner.after(outcome, row: row, policy: policy, now: now()) {
                    try await store.changeEndpoint(row.id!, change)
                }
            }
            clearError(Self.key(action))
            return .done
        } catch is CancellationError {
            return .failed
        } catch let error as StoreError where error.code == .fenced {
            // The lease is gone: the pass stops at the next action (one line there, not one per action).
            logger.debug("action refused: not the active daemon", metadata: ["error": "\(error)"])
            return .failed
        } catch {
            report(Self.key(action), error, metadata: ["customer": "\(action.customerId.flatMap { run.states[$0]?.name } ?? "-")"])
            return .failed
        }
    }

    /// Applies one lifecycle event; returns whether the customer is where the plan expected afterwards.
    @discardableResult
    func apply(_ request: TransitionRequest, run: inout PassRun) async throws -> Bool {
        let name = run.states[request.customerId]?.name ?? "-"
        switch try await store.transition(request) {
        case .applied(let event):
            run.states[request.customerId]?.state = event.toState ?? request.from
            logger.info("customer state changed", metadata: [
                "customer": "\(name)", "event": "\(event.event)", "from": "\(request.from.rawValue)",
                "to": "\(event.toState?.rawValue ?? "-")", "detail": "\(request.detail ?? "")",
            ])
            return true
        case .refreshed:
            return true
        case .stale(let current):
            logger.info("plan dropped: the customer changed since the pass read it", metadata: [
                "customer": "\(name)", "planned_from": "\(request.from.rawValue)", "now": "\(current?.rawValue ?? "gone")",
                "event": "\(request.event.rawValue)"])
            run.stale.insert(request.customerId)
            return false
        case .refused(let refusal):
            logger.error("lifecycle refused a planned event", metadata: ["customer": "\(name)", "refusal": "\(refusal)"])
            run.stale.insert(request.customerId)
            return false
        }
    }

    func accept(_ arn: String, customers: [Int64], region: String, run: inout PassRun) async throws {
        let token = try await store.acceptToken(for: arn, proposed: Self.newToken())
        let outcome: AcceptOutcome
        var status = "ACCEPTED"
        try await requireLease()
        do {
            status = try await withinLease { [aws] () async throws(AWSClientError) -> String in
                try await aws.acceptInvitation(region: region, invitationArn: arn, clientToken: token)
            }
            outcome = .accepted
        } catch {
            // AlreadyAccepted is success (an earlier attempt's answer was lost); Expired and AlreadyRejected
            // are final: the customer must share again.
            switch error.code {
            case "ResourceShareInvitationAlreadyAcceptedException": outcome = .alreadyAccepted
            case "ResourceShareInvitationExpiredException": outcome = .expired; status = "EXPIRED"
            case "ResourceShareInvitationAlreadyRejectedException": outcome = .rejected; status = "REJECTED"
            default: throw error
            }
        }
        let accepted = outcome == .accepted || outcome == .alreadyAccepted
        try await store.markInvitation(arn, status: status, decision: accepted ? .accepted : .pending)
        if accepted {
            logger.notice("invitation accepted", metadata: ["ram.invitation": "\(arn)", "customers": "\(customers.compactMap { run.states[$0]?.name }.joined(separator: ","))"])
        }
        let next = ReconcilePlanner.event(after: outcome, invitationArn: arn, accountId: accountId.withLock { $0 })
        for id in customers where !run.stale.contains(id) {
            guard let customer = run.states[id] else { continue }
            try await apply(TransitionRequest(customerId: id, from: customer.state, event: next.event, detail: next.detail, hint: next.hint),
                            run: &run)
        }
    }

    func reject(_ arn: String, region: String) async throws {
        let token = try await store.acceptToken(for: arn, proposed: Self.newToken())
        try await requireLease()
        do {
            try await withinLease { [aws] () async throws(AWSClientError) in
                try await aws.rejectInvitation(region: region, invitationArn: arn, clientToken: token)
            }
            logger.notice("invitation rejected", metadata: ["ram.invitation": "\(arn)"])
        } catch {
            let answered = ["ResourceShareInvitationAlreadyRejectedException", "ResourceShareInvitationExpiredException",
                            "ResourceShareInvitationAlreadyAcceptedException"]
            guard answered.contains(error.code ?? "") else { throw error }
            logger.debug("invitation already answered", metadata: ["ram.invitation": "\(arn)"])
        }
    }

    /// The CreateVpcEndpoint request for a customer from the region's placement.
    func endpointRequest(customer: String, arn: String, region: String, clientToken: String) -> ResourceEndpointRequest {
        let placement = config.regions[region]!
        return ResourceEndpointRequest(
            resourceConfigurationArn: arn, vpcId: placement.vpcId, subnetIds: placement.subnetIds,
            securityGroupIds: placement.securityGroupIds, ipAddressType: placement.ipAddressType.rawValue,
            privateDnsEnabled: placement.privateDnsEnabled, clientToken: clientToken, tags: EndpointTags.tags(customer: customer))
    }

    /// Calls CreateVpcEndpoint and feeds its outcome to the planner's rule for the generation and customer.
    func create(_ request: ResourceEndpointRequest, row: EndpointRecord, run: inout PassRun) async throws {
        let region = row.region
        let outcome: CreateOutcome
        try await requireLease()
        do {
            outcome = .created(try await withinLease { [aws] () async throws(AWSClientError) in
                try await aws.createResourceEndpoint(region: region, request)
            })
        } catch {
            // Throttling, 5xx, lost answers and refusals that say nothing about the endpoint are thrown: the
            // row stays `creating` and the next pass repeats the call with the same token.
            guard error.isRefusal, let code = error.code, !Self.saysNothingAboutTheEndpoint(code) else { throw error }
            // What a mismatch means depends on whether the exact request was stored: the planner's rule decides.
            outcome = code == "IdempotentParameterMismatch"
                ? .idempotentMismatch(message: error.message) : .refused(code: code, message: error.message)
        }
        guard let customer = run.states[row.customerId] else { return }
        let (change, next) = ReconcilePlanner.after(outcome, row: row, customer: customer, policy: policy, now: now())
        if try await store.changeEndpoint(row.id!, change) {
            logger.info("endpoint create answered", metadata: ["customer": "\(customer.name)", "outcome": "\(outcome)"])
        }
        if let next, let current = run.states[row.customerId] {
            try await apply(TransitionRequest(customerId: row.customerId, from: current.state, event: next.event, detail: next.detail,
                                              hint: next.hint), run: &run)
        }
    }

    /// Calls DeleteVpcEndpoints for one endpoint; EC2 answers 200 with per-item failures.
    func delete(_ endpointId: String, region: String) async throws -> DeleteOutcome {
        try await requireLease()
        let failures = try await withinLease { [aws] () async throws(AWSClientError) in
            try await aws.deleteVpcEndpoints(region: region, ids: [endpointId])
        }
        guard let failure = failures.first else { return .accepted }
        if (failure.error.code ?? "").contains("NotFound") { return .notFound }
        throw AWSClientError(.service, service: "ec2", operation: "DeleteVpcEndpoints", code: failure.error.code,
                             message: failure.error.message ?? "could not delete \(endpointId)")
    }

    /// Refusals that are about us (credentials, permissions), not about the endpoint: no conclusion.
    static func saysNothingAboutTheEndpoint(_ code: String) -> Bool {
        ["UnauthorizedOperation", "AuthFailure", "AccessDenied", "SignatureDoesNotMatch", "InvalidClientTokenId",
         "RequestExpired", "DryRunOperation", "OptInRequired", "Blocked"].contains { code.hasPrefix($0) }
    }

    // MARK: Helpers

    static func newToken() -> String { "plc-" + UUID().uuidString.lowercased() }

    static func key(_ action: ReconcileAction) -> String {
        switch action {
        case .recordInvitation(let record): "invitation \(record.invitationArn)"
        case .accept(let arn, _): "accept \(arn)"
        case .reject(let arn): "reject \(arn)"
        default: "customer \(action.customerId.map(String.init) ?? "-")"
        }
    }

    /// Logs a failure at warning level when it is new for `key`, at debug level when it repeats.
    func report(_ key: String, _ error: any Error, metadata: Logger.Metadata) {
        let text = "\(error)"
        let repeated = lastErrors.withLock { errors -> Bool in
            defer { errors[key] = text }
            return errors[key] == text
        }
        var metadata = metadata
        metadata["error"] = "\(text)"
        if let error = error as? AWSClientError {
            metadata["aws.operation"] = "\(error.operation ?? "-")"
            metadata["aws.request_id"] = "\(error.requestId ?? "-")"
        }
        if repeated {
            logger.debug("still failing: \(key)", metadata: metadata)
        } else {
            logger.warning("failed: \(key)", metadata: metadata)
        }
    }

    func clearError(_ key: String) {
        _ = lastErrors.withLock { $0.removeValue(forKey: key) }
    }
}
