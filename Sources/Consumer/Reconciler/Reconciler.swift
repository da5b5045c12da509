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
    let store: ConsumerStore
    let aws: AWSContext
    let events: EventSink
    let metrics: DaemonMetrics?
    public let policy: ReconcilePolicy
    let pacer: MutationPacer
    let now: @Sendable () -> Date
    let logger: Logger
    /// The last error logged per key, so that a persisting failure is logged once, not every pass.
    private let lastErrors = Mutex<[String: String]>([:])
    private let accountId = Mutex<String?>(nil)

    public init(config: ConsumerConfig, store: ConsumerStore, aws: AWSContext, events: EventSink, metrics: DaemonMetrics? = nil,
                policy: ReconcilePolicy? = nil, pacer: MutationPacer = MutationPacer(),
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.config = config
        self.store = store
        self.aws = aws
        self.events = events
        self.metrics = metrics
        self.policy = policy ?? ReconcilePolicy(unmatchedInvitations: config.unmatchedInvitations)
        self.pacer = pacer
        self.now = now
        self.logger = logger
    }

    /// One full pass over every configured region. Failures are logged and counted, never thrown:
    /// one region's outage must not stop the others.
    public func pass() async -> PassSummary {
        let start = ContinuousClock.now
        var summary = PassSummary()
        await learnAccountId()
        for region in config.regionNames {
            if Task.isCancelled { break }
            do {
                let snapshot = try await store.snapshot()
                let observation = try await observe(region, snapshot: snapshot)
                let actions = ReconcilePlanner.plan(observation, snapshot: snapshot, policy: policy,
                                                    accountId: accountId.withLock { $0 }, now: now())
                clearError("observe \(region)")
                for action in Self.ordered(actions) {
                    if Task.isCancelled { break }
                    switch await execute(action, region: region) {
                    case .done: summary.actions += 1
                    case .deferred: summary.deferred = true
                    case .failed: summary.errors += 1
                    }
                }
            } catch {
                summary.errors += 1
                report("observe \(region)", error, metadata: ["aws.region": "\(region)"])
            }
        }
        if let counts = try? await store.customerCounts() {
            summary.customers = counts.live
            summary.ready = counts.ready
        }
        summary.duration = ContinuousClock.now - start
        return summary
    }

    /// Creates before deletes (a customer is never left without an endpoint longer than needed).
    static func ordered(_ actions: [ReconcileAction]) -> [ReconcileAction] {
        actions.filter { if case .deleteEndpoint = $0 { false } else { true } }
            + actions.filter { if case .deleteEndpoint = $0 { true } else { false } }
    }

    // MARK: Observing

    func observe(_ region: String, snapshot: RegistrySnapshot) async throws -> RegionObservation {
        let ram = aws.ram(region)
        let ec2 = aws.ec2(region)
        var observation = RegionObservation(region: region)
        observation.invitations = try await ram.resourceShareInvitations().collectAll()
        for invitation in observation.invitations where invitation.isPending {
            let arn = invitation.resourceShareInvitationArn
            if let record = snapshot.invitations[arn] {
                // A pending invitation's resources do not change: ask RAM once, remember them.
                observation.pendingResources[arn] = record.resources.map {
                    RAMResource(arn: $0.arn, type: $0.type, resourceShareArn: invitation.resourceShareArn, status: "AVAILABLE")
                }
                continue
            }
            switch try await pendingResources(arn, ram: ram) {
            case .success(let resources): observation.pendingResources[arn] = resources
            case .failure(let error): observation.unlistable[arn] = error.code ?? error.message
            }
        }
        let shared = try await ram.resources(owner: .otherAccounts, resourceType: RAMResource.resourceConfigurationType).collectAll()
        for resource in shared {
            observation.sharedResources[resource.arn] = resource
        }
        let vpcId = config.regions[region]!.vpcId
        observation.endpoints = try await ec2.resourceEndpoints(inVpc: vpcId).collectAll()
        // DNS names only for available endpoints whose name we do not know yet: none in steady state.
        let customers = snapshot.customers.filter { $0.region == region }
        let match = EndpointMatcher.match(observation.endpoints, customers: customers, records: snapshot.endpoints)
        observation.match = match
        var needed: [String] = []
        for customer in customers {
            guard let endpoint = match.kept[customer.name], endpoint.state == .available else { continue }
            let record = customer.id.flatMap { snapshot.endpoints[$0] }
            if record?.vpcEndpointId != endpoint.vpcEndpointId || record?.dnsName == nil { needed.append(endpoint.vpcEndpointId) }
        }
        observation.dnsNames = try await ec2.dnsNames(ofEndpoints: needed)
        return observation
    }

    /// A pending invitation's resources; nil when RAM will not list them (expired while still reading
    /// PENDING, or answered meanwhile): there is nothing to decide about it then.
    func pendingResources(_ arn: String, ram: RAMClient) async throws -> Result<[RAMResource], AWSClientError> {
        do {
            return .success(try await ram.pendingInvitationResources(invitationArn: arn).collectAll())
        } catch {
            guard error.isRefusal else { throw error }
            logger.debug("invitation resources unavailable", metadata: ["ram.invitation": "\(arn)", "aws.error": "\(error.code ?? error.message)"])
            return .failure(error)
        }
    }

    func learnAccountId() async {
        guard accountId.withLock({ $0 }) == nil else { return }
        let sts = STSClient(executor: aws.executor, credentials: aws.credentials, region: aws.defaultRegion)
        if let identity = try? await sts.getCallerIdentity() {
            accountId.withLock { $0 = identity.account }
        }
    }

    // MARK: Acting

    enum Outcome { case done, deferred, failed }

    func execute(_ action: ReconcileAction, region: String) async -> Outcome {
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
                try await accept(arn, customers: customers, region: region)
            case .reject(let arn):
                try await reject(arn, region: region)
            case .transition(let customer, let state, let detail, let hint, let share):
                try await transition(customer, to: state, detail: detail, hint: hint, share: share)
            case .createEndpoint(let customer, let arn):
                guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
                let token = Self.newToken()
                let record = try await store.beginEndpoint(customer: customer, region: region, clientToken: token)
                try await create(customer, arn: arn, rowId: record.id!, clientToken: token, region: region)
            case .resumeCreate(let customer, let arn, let rowId, let token):
                guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
                try await create(customer, arn: arn, rowId: rowId, clientToken: token, region: region)
            case .adoptEndpoint(let customer, let endpoint):
                try await store.adoptEndpoint(customer: customer, region: region, vpcEndpointId: endpoint.vpcEndpointId,
                                              state: Self.recordState(endpoint.state), awsState: endpoint.state.description)
                logger.info("endpoint adopted", metadata: ["customer": "\(customer)", "ec2.endpoint": "\(endpoint.vpcEndpointId)"])
            case .updateEndpoint(_, let rowId, let state, let awsState, let dns, let lastError):
                try await store.updateEndpoint(rowId, state: state, awsState: awsState, dnsName: dns, lastError: lastError)
            case .endpointGone(_, let rowId):
                try await store.updateEndpoint(rowId, state: .deleted, awsState: "gone", dnsName: nil, lastError: nil)
            case .endpointFailed(let customer, let rowId, let reason):
                try await store.updateEndpoint(rowId, state: .failed, awsState: "failed", dnsName: nil, lastError: reason)
                try await countFailure(customer, reason: reason)
            case .resetFailures(let customer):
                try await store.resetEndpointFailures(customer: customer)
            case .deleteEndpoint(let customer, let id, let reason):
                guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
                let failures = try await aws.ec2(region).deleteVpcEndpoints(ids: [id])
                if let failure = failures.first, !(failure.error.code ?? "").contains("NotFound") {
                    throw AWSClientError(.service, service: "ec2", operation: "DeleteVpcEndpoints", code: failure.error.code,
                                         message: failure.error.message ?? "could not delete \(id)")
                }
                logger.info("endpoint deleted", metadata: ["customer": "\(customer)", "ec2.endpoint": "\(id)", "reason": "\(reason)"])
                try await events.event(customer: customer, event: "endpoint_deleted", detail: "\(id): \(reason)")
            case .finishRemoval(let customer, let detail):
                if let transition = try await store.finishRemoval(customer: customer, detail: detail) {
                    try await events.transition(transition)
                }
            }
            clearError(Self.key(action))
            return .done
        } catch is CancellationError {
            return .failed
        } catch {
            report(Self.key(action), error, metadata: ["customer": "\(Self.customer(of: action) ?? "-")"])
            return .failed
        }
    }

    func accept(_ arn: String, customers: [String], region: String) async throws {
        let token = try await store.acceptToken(for: arn, proposed: Self.newToken())
        var status = "ACCEPTED"
        do {
            status = try await aws.ram(region).acceptInvitation(arn, clientToken: token).status
        } catch {
            // AlreadyAccepted is success (an earlier attempt's answer was lost); Expired and AlreadyRejected
            // are final: the customer must share again.
            switch error.code {
            case "ResourceShareInvitationAlreadyAcceptedException":
                status = "ACCEPTED"
            case "ResourceShareInvitationExpiredException", "ResourceShareInvitationAlreadyRejectedException":
                let expired = error.code == "ResourceShareInvitationExpiredException"
                try await store.markInvitation(arn, status: expired ? "EXPIRED" : "REJECTED", decision: .pending)
                for customer in customers {
                    try await transition(customer, to: expired ? .shareExpired : .shareRejected,
                                         detail: "invitation \(arn) \(expired ? "expired before it was accepted" : "was rejected")",
                                         hint: Hints.shareAgain(accountId.withLock { $0 }), share: nil)
                }
                return
            default:
                throw error
            }
        }
        try await store.markInvitation(arn, status: status, decision: .accepted)
        logger.notice("invitation accepted", metadata: ["ram.invitation": "\(arn)", "customers": "\(customers.joined(separator: ","))"])
        for customer in customers {
            try await transition(customer, to: .shareAccepted, detail: "invitation accepted; waiting for the shared resource",
                                 hint: nil, share: nil)
        }
    }

    func reject(_ arn: String, region: String) async throws {
        let token = try await store.acceptToken(for: arn, proposed: Self.newToken())
        do {
            _ = try await aws.ram(region).rejectInvitation(arn, clientToken: token)
            logger.notice("invitation rejected", metadata: ["ram.invitation": "\(arn)"])
        } catch {
            let answered = ["ResourceShareInvitationAlreadyRejectedException", "ResourceShareInvitationExpiredException",
                            "ResourceShareInvitationAlreadyAcceptedException"]
            guard answered.contains(error.code ?? "") else { throw error }
            logger.debug("invitation already answered", metadata: ["ram.invitation": "\(arn)"])
        }
    }

    func create(_ customer: String, arn: String, rowId: Int64, clientToken: String, region: String) async throws {
        let placement = config.regions[region]!
        let request = ResourceEndpointRequest(
            resourceConfigurationArn: arn, vpcId: placement.vpcId, subnetIds: placement.subnetIds,
            securityGroupIds: placement.securityGroupIds, ipAddressType: placement.ipAddressType.rawValue,
            privateDnsEnabled: placement.privateDnsEnabled, clientToken: clientToken, tags: EndpointTags.tags(customer: customer))
        do {
            let endpoint = try await aws.ec2(region).createResourceEndpoint(request)
            try await store.updateEndpoint(rowId, vpcEndpointId: endpoint.vpcEndpointId, state: Self.recordState(endpoint.state),
                                           awsState: endpoint.state.description, dnsName: nil, lastError: nil)
            logger.info("endpoint created", metadata: ["customer": "\(customer)", "ec2.endpoint": "\(endpoint.vpcEndpointId)"])
            try await events.event(customer: customer, event: "endpoint_created", detail: "\(endpoint.vpcEndpointId) (\(endpoint.state))")
        } catch let error as AWSClientError {
            // EC2 refused this generation (parameters, quota, a token reused with other parameters after a
            // config change): close it, count the failure, and let the backoff decide when to try again.
            // Throttling, 5xx and lost answers leave the row `creating`: the next pass resumes with the same token.
            guard error.isRefusal else { throw error }
            let reason = "\(error.code ?? "HTTP \(error.httpStatus ?? 0)"): \(error.message)"
            try await store.updateEndpoint(rowId, state: .failed, awsState: nil, dnsName: nil, lastError: reason)
            try await countFailure(customer, reason: reason)
            try await transition(customer, to: .endpointFailed, detail: "CreateVpcEndpoint failed: \(reason)",
                                 hint: Hints.endpointFailed(region: region), share: nil)
        }
    }

    func countFailure(_ customer: String, reason: String) async throws {
        let time = now()
        let policy = policy
        let failures = try await store.recordEndpointFailure(customer: customer) { count in
            time.addingTimeInterval(policy.backoff(afterFailures: count))
        }
        logger.warning("endpoint failed", metadata: ["customer": "\(customer)", "reason": "\(reason)", "failures": "\(failures)"])
    }

    func transition(_ customer: String, to state: CustomerState, detail: String?, hint: String?, share: String?) async throws {
        if let transition = try await store.transition(customer: customer, to: state, detail: detail, hint: hint, resourceShareArn: share) {
            logger.info("customer state changed", metadata: [
                "customer": "\(customer)", "from": "\(transition.event.fromState?.rawValue ?? "-")", "to": "\(state.rawValue)",
                "detail": "\(detail ?? "")",
            ])
            try await events.transition(transition)
        }
    }

    // MARK: Helpers

    static func newToken() -> String { "plc-" + UUID().uuidString.lowercased() }

    static func recordState(_ state: VpcEndpointState) -> EndpointRecord.State {
        switch state {
        case .available: .available
        case .failed, .rejected, .expired: .failed
        case .deleting: .deleting
        case .deleted: .deleted
        default: .pending
        }
    }

    static func key(_ action: ReconcileAction) -> String {
        switch action {
        case .recordInvitation(let record): "invitation \(record.invitationArn)"
        case .accept(let arn, _): "accept \(arn)"
        case .reject(let arn): "reject \(arn)"
        default: "customer \(customer(of: action) ?? "-")"
        }
    }

    static func customer(of action: ReconcileAction) -> String? {
        switch action {
        case .transition(let customer, _, _, _, _), .createEndpoint(let customer, _), .resumeCreate(let customer, _, _, _),
             .adoptEndpoint(let customer, _), .updateEndpoint(let customer, _, _, _, _, _), .endpointGone(let customer, _),
             .endpointFailed(let customer, _, _), .resetFailures(let customer), .deleteEndpoint(let customer, _, _),
             .finishRemoval(let customer, _):
            customer
        case .accept(_, let customers): customers.joined(separator: ",")
        case .recordInvitation, .reject: nil
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
