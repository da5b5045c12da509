import AWSClient
import ConsumerStore
import Foundation
import Logging
import Synchronization

/// Does what the planner decided, one action at a time, and reports what came of it. Every write that must
/// precede an AWS call (ClientTokens) is committed before the call; every AWS call that changes something
/// goes through the lease checks (`LeaseGuard`); every destructive call is re-checked against the state
/// right before it is made. What an answer means is the planner's (`ReconcilePlanner.after`, `AWSOutcomes`).
struct ActionExecutor: Sendable {
    let config: ConsumerConfig
    let store: any StateStore
    let aws: any ReconcilerAWS
    let metrics: DaemonMetrics?
    let policy: ReconcilePolicy
    let pacer: MutationPacer
    let lease: LeaseGuard
    let now: @Sendable () -> Date
    let accountId: @Sendable () -> String?
    let logger: Logger
    let failures: FailureLog
    let capacity: CapacityBook
    let notes = NoteLog()

    enum Outcome {
        case done, deferred, failed
        /// Nothing to do after all (a customer still waiting for room in a full pool): not counted as an action.
        case skipped
    }

    /// What the shell knows within one region's pass: each customer as it last wrote it, and the
    /// customers whose plan turned out stale (their remaining actions are dropped; the next pass re-plans).
    struct PassRun {
        /// The pass's customers as the registry read them, by id: the snapshot's own storage, not a copy (a
        /// dictionary of 10,000 customers was 4.7 MB).
        private let customers: FirstByKey<Int64, Customer>
        /// The states this pass wrote.
        private var changedStates: [Int64: CustomerState] = [:]
        var stale: Set<Int64> = []
        /// The region's VPC pool as this pass found it, counting the endpoints it creates.
        var pool: [VpcCapacity] = []

        init(customers: [Customer], pool: [VpcCapacity]) {
            self.customers = FirstByKey(customers, key: \.id)
            self.pool = pool
        }

        /// The customer as this pass last wrote it.
        subscript(id: Int64) -> Customer? {
            customers[id].map(written)
        }

        /// A lifecycle step this pass wrote (a customer the pass did not read stays unknown).
        mutating func wrote(_ state: CustomerState, of id: Int64) {
            if customers.position(of: id) != nil { changedStates[id] = state }
        }

        /// Every customer (each id once, in the snapshot's order) as the pass leaves them.
        var current: LazyMapCollection<LazyFilterCollection<Range<Int>>, Customer> {
            let customers = self.customers
            return customers.elements.indices.lazy
                .filter { position in customers.elements[position].id.flatMap(customers.position(of:)) == position }
                .map { written(customers.elements[$0]) }
        }

        private func written(_ customer: Customer) -> Customer {
            guard let id = customer.id, let state = changedStates[id] else { return customer }
            var customer = customer
            customer.state = state
            return customer
        }
    }

    /// Creates before deletes (a customer is never left without an endpoint longer than needed).
    static func ordered(_ actions: [ReconcileAction]) -> [ReconcileAction] {
        let isDelete: (ReconcileAction) -> Bool = { action in
            switch action {
            case .deleteEndpoint, .deleteOrphan: true
            default: false
            }
        }
        return actions.filter { !isDelete($0) } + actions.filter(isDelete)
    }

    /// Actions written together, in one transaction (`ActionBatch`): a pass's consecutive invitation records, or
    /// its consecutive generation changes of distinct customers. When that write fails for anything but a lost
    /// lease or a cancellation, each is written again on its own, so that one refused row costs only itself and
    /// its failure is logged under its own key.
    func execute(together actions: [ReconcileAction], region: String, run: inout PassRun) async -> [Outcome] {
        guard actions.count > 1 else { return actions.isEmpty ? [] : [await execute(actions[0], region: region, run: &run)] }
        do {
            let records = actions.compactMap { action -> InvitationRecord? in
                if case .recordInvitation(let record) = action { record } else { nil }
            }
            if records.isEmpty { try await change(actions, run: &run) } else { try await record(records) }
            for action in actions { failures.clear(FailureLog.key(action)) }
            return Array(repeating: .done, count: actions.count)
        } catch let error as StoreError where error.code == .fenced {
            logger.debug("action refused: not the active daemon", metadata: ["error": "\(error)"])
            return Array(repeating: .failed, count: actions.count)
        } catch {
            if error is CancellationError || Task.isCancelled { return Array(repeating: .failed, count: actions.count) }
            // A database that cannot be reached fails each single write the same way, after its own timeout: the
            // group's failure stands for all of them. Only a refusal of a row is worth writing the others again.
            if let error = error as? StoreError, error.code == .unavailable || error.code == .busy {
                for action in actions { failures.report(FailureLog.key(action), error, metadata: [:]) }
                return Array(repeating: .failed, count: actions.count)
            }
            logger.debug("a write of several actions failed; each is written on its own", metadata: [
                "actions": "\(actions.count)", "error": "\(error)"])
            var outcomes: [Outcome] = []
            for action in actions {
                if let id = action.customerId, run.stale.contains(id) { continue }
                // The pass's own checks between actions: a daemon that stood down or is stopping writes no more.
                guard !Task.isCancelled, lease.mayAct() else {
                    outcomes.append(.failed)
                    continue
                }
                outcomes.append(await execute(action, region: region, run: &run))
            }
            return outcomes
        }
    }

    /// Writes `.changeEndpoint` actions, each its own compare-and-set with the step riding on it; a change the
    /// generation no longer takes leaves its customer out of the rest of the pass.
    func change(_ actions: [ReconcileAction], run: inout PassRun) async throws {
        var writes: [(customerId: Int64, name: String, write: EndpointWrite)] = []
        for action in actions {
            guard case .changeEndpoint(let id, let name, let rowId, let change, var step) = action else { continue }
            // This pass's own earlier moves of the customer are known here, as for `.transition`.
            if let current = run[id]?.state { step?.from = current }
            writes.append((id, name, EndpointWrite(rowId: rowId, change: change, then: step)))
        }
        let outcomes = try await store.changeEndpoints(writes.map(\.write), by: .daemon)
        for (written, outcome) in zip(writes, outcomes) {
            if let step = written.write.then, let transition = outcome.transition { _ = handle(transition, of: step, run: &run) }
            if !outcome.changed {
                logger.info("endpoint change dropped: the generation moved since the plan", metadata: [
                    "customer": "\(written.name)", "to": "\(written.write.change.to.rawValue)"])
                run.stale.insert(written.customerId)
            }
        }
    }

    /// Writes invitation records; each refusal that is new or changed is logged and counted.
    func record(_ records: [InvitationRecord]) async throws {
        for (record, changed) in zip(records, try await store.recordInvitations(records)) {
            guard changed, let reason = record.reason else { continue }
            metrics?.recordRefusal(reason: reason)
            logger.notice("invitation not accepted", metadata: [
                "ram.invitation": "\(record.invitationArn)", "ram.sender": "\(record.senderAccountId)",
                "reason": "\(reason.rawValue)", "decision": "\(record.decision.rawValue)",
                "resources": "\(record.resources.map(\.arn).joined(separator: ","))",
            ])
        }
    }

    func execute(_ action: ReconcileAction, region: String, run: inout PassRun) async -> Outcome {
        await attempt(FailureLog.key(action), customer: action.customerId, run: &run) { run in
            try await perform(action, region: region, run: &run)
        }
    }

    /// Runs `body`, and says what came of it: a failure is logged under `key` (once while it repeats), a lost
    /// lease or a cancellation quietly.
    private func attempt(_ key: String, customer: Int64?, run: inout PassRun,
                         _ body: (inout PassRun) async throws -> Outcome) async -> Outcome {
        do {
            let outcome = try await body(&run)
            failures.clear(key)
            return outcome
        } catch is CancellationError {
            return .failed
        } catch let error as StoreError where error.code == .fenced {
            // The lease is gone: the pass stops at the next action (one line there, not one per action).
            logger.debug("action refused: not the active daemon", metadata: ["error": "\(error)"])
            return .failed
        } catch {
            failures.report(key, error, metadata: ["customer": "\(customer.flatMap { run[$0]?.name } ?? "-")"])
            return .failed
        }
    }

    private func perform(_ action: ReconcileAction, region: String, run: inout PassRun) async throws -> Outcome {
        switch action {
        case .recordInvitation(let record):
            try await self.record([record])
        case .accept(let arn, let customers, let steps):
            try await accept(arn, customers: customers, steps: steps, region: region, run: &run)
        case .reject(let arn):
            try await reject(arn, region: region)
        case .transition(var request):
            // Planned from the snapshot; this pass's own earlier moves of the customer are known here (a
            // move by another writer still fails the compare-and-set).
            if let current = run[request.customerId]?.state { request.from = current }
            try await apply(request, run: &run)
        case .createEndpoint(let id, let name, let arn, let detail, let share):
            guard let customer = run[id] else { return .failed }
            // The first VPC of the pool with room; none: the customer waits, which is not a failure.
            guard var vpcId = VpcCapacity.place(in: run.pool) else {
                if Self.waitsForRoom(customer, region: region, pool: run.pool) { return .skipped }
                try await waitForRoom(id, region: region, share: share, run: &run)
                return .done
            }
            // The customer's step and its new generation are one write; a VPC EC2 says is full is marked so, and
            // the endpoint goes to the next one in this pass (a generation of its own, the step taken already).
            var step: TransitionRequest? = TransitionRequest(customerId: id, from: customer.state, event: .endpointRequested,
                                                             detail: detail, resourceShareArn: share)
            for _ in run.pool.indices {
                guard let current = run[id] else { return .done }
                guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
                let request = endpointRequest(customer: name, arn: arn, region: region, vpcId: vpcId, clientToken: Self.newToken())
                let begun: EndpointRecord?
                if let first = step {
                    step = nil
                    let written = try await store.beginEndpoint(after: first, region: region, clientToken: request.clientToken,
                                                                request: StoredCreateRequest(request).json, by: .daemon)
                    guard handle(written.transition, of: first, run: &run) else { return .done }
                    begun = written.row
                } else {
                    begun = try await store.beginEndpoint(customerId: id, expecting: current.state, region: region,
                                                          clientToken: request.clientToken, request: StoredCreateRequest(request).json)
                }
                guard let row = begun else {
                    run.stale.insert(id)
                    return .done
                }
                let outcome = try await create(request, row: row, run: &run)
                guard case .noRoom(let code, _) = outcome else {
                    if case .created = outcome, let index = run.pool.firstIndex(where: { $0.vpcId == vpcId }) { run.pool[index].endpoints += 1 }
                    break
                }
                noRoom(in: vpcId, code: code, region: region, customer: name, run: &run)
                guard let next = VpcCapacity.place(in: run.pool) else {
                    try await waitForRoom(id, region: region, share: share, run: &run)
                    return .done
                }
                vpcId = next
            }
        case .resumeCreate(let id, let name, let row):
            guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
            // Re-checked just before the call: a generation released or closed since the plan is not touched.
            guard try await store.endpointGeneration(row.id!)?.state == .creating else {
                run.stale.insert(id)
                return .done
            }
            let request = row.storedRequest?.request(clientToken: row.clientToken)
                ?? endpointRequest(customer: name, arn: run[id]?.resourceConfigurationArn ?? "", region: region,
                                   vpcId: config.regions[region]!.first.vpcId, clientToken: row.clientToken)
            // The generation closes (not a failure) and the next pass places the customer anew: not in this VPC again.
            if case .noRoom(let code, _) = try await create(request, row: row, run: &run) {
                noRoom(in: request.vpcId, code: code, region: region, customer: name, run: &run)
            }
        case .adoptEndpoint(let id, let name, let endpoint, let dns):
            guard let customer = run[id] else { return .failed }
            guard try await store.adoptEndpoint(customerId: id, expecting: customer.state, region: region, vpcEndpointId: endpoint.vpcEndpointId,
                                                vpcId: endpoint.vpcId,
                                                state: ReconcilePlanner.recordState(endpoint.state), awsState: endpoint.state.description,
                                                dnsName: dns) != nil else {
                run.stale.insert(id)
                return .done
            }
            logger.info("endpoint adopted", metadata: ["customer": "\(name)", "ec2.endpoint": "\(endpoint.vpcEndpointId)"])
            // Made before the deployment tag existed (so the default deployment's): tagged now, so that another
            // deployment beside this one never takes it for its own.
            if endpoint.tags[EndpointTags.deploymentKey] == nil {
                do {
                    try await lease.require()
                    try await lease.call { [aws, deployment = config.deployment] () async throws(AWSClientError) in
                        try await aws.tagEndpoint(region: region, id: endpoint.vpcEndpointId, key: EndpointTags.deploymentKey, value: deployment)
                    }
                } catch {
                    // The adoption stands (untagged endpoints are the default deployment's); the tag is a courtesy
                    // to other deployments, and the role may lack ec2:CreateTags on it (Deploy/iam-policy.json).
                    logger.warning("adopted endpoint not tagged with the deployment", metadata: [
                        "customer": "\(name)", "ec2.endpoint": "\(endpoint.vpcEndpointId)", "error": "\(error)"])
                }
            }
        case .changeEndpoint:
            try await change([action], run: &run)
        case .resetFailures(let id):
            try await store.resetEndpointFailures(customerId: id)
        case .deleteEndpoint(let id, let name, let row, let endpointId, let reason):
            guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
            // The lease first (a round trip): the state's last word comes after it, right before the call.
            try await lease.require()
            if let row {
                // Re-checked just before the call: a generation released (kept) or closed since the plan is not deleted.
                if let current = try await store.endpointGeneration(row.id!), current.state.isClosed || current.state == .creating {
                    logger.info("delete dropped: the generation moved since the plan", metadata: [
                        "customer": "\(name)", "ec2.endpoint": "\(endpointId)", "now": "\(current.state.rawValue)"])
                    run.stale.insert(id)
                    return .done
                }
            } else if let refusal = try await untrackedDeleteRefusal(endpointId, customer: run[id], name: name,
                                                                      arn: run[id]?.resourceConfigurationArn) {
                logger.info("delete dropped", metadata: ["customer": "\(name)", "ec2.endpoint": "\(endpointId)", "why": "\(refusal)"])
                run.stale.insert(id)
                return .done
            }
            let outcome = try await delete(endpointId, region: region)
            logger.info("endpoint delete requested", metadata: [
                "customer": "\(name)", "ec2.endpoint": "\(endpointId)", "reason": "\(reason)", "outcome": "\(outcome)"])
            if let row, let change = ReconcilePlanner.after(outcome, row: row, policy: policy, now: now()) {
                try await store.changeEndpoint(row.id!, change)
            }
        case .deleteOrphan(let endpointId, let tag, let arn, let reason):
            guard try await pacer.acquire(maxWait: .seconds(10)) else { return .deferred }
            try await lease.require()
            if let refusal = try await untrackedDeleteRefusal(endpointId, customer: nil, name: tag, arn: arn) {
                logger.info("orphan delete dropped", metadata: ["ec2.endpoint": "\(endpointId)", "tag": "\(tag)", "why": "\(refusal)"])
                return .done
            }
            let outcome = try await delete(endpointId, region: region)
            logger.notice("orphan endpoint delete requested", metadata: [
                "ec2.endpoint": "\(endpointId)", "tag": "\(tag)", "reason": "\(reason)", "outcome": "\(outcome)"])
        case .recordReleasedEndpoint(let rowId, let endpointId):
            if try await store.recordReleasedEndpoint(rowId: rowId, vpcEndpointId: endpointId) {
                logger.info("kept endpoint found", metadata: ["ec2.endpoint": "\(endpointId)", "generation": "\(rowId)"])
            }
        case .note(let id, let name, let event, let detail):
            // Said once while it lasts: the same note again for the same customer is not written again.
            guard notes.isNew(customerId: id, event: event, detail: detail) else { return .done }
            try await store.recordNote(customerId: id, event: event, detail: detail)
            logger.info("listing disagreed", metadata: ["customer": "\(name)", "event": "\(event)", "detail": "\(detail)"])
        }
        return .done
    }

    /// Why an endpoint no generation records may no longer be deleted, asked of the state right before the
    /// call (the planner's rule, against what the state says now), or nil when the delete still holds.
    func untrackedDeleteRefusal(_ endpointId: String, customer: Customer?, name: String, arn: String?) async throws -> String? {
        let claims = try await store.endpointClaims(vpcEndpointId: endpointId, customerTag: name, resourceConfigurationArn: arn)
        return claims.refusal(deletingFor: customer, endpointArn: arn)
    }

    /// Applies one lifecycle event; returns whether the customer is where the plan expected afterwards.
    @discardableResult
    func apply(_ request: TransitionRequest, run: inout PassRun) async throws -> Bool {
        handle(try await store.transition(request), of: request, run: &run)
    }

    /// What a lifecycle step's outcome means for the rest of the pass (and the log).
    func handle(_ outcome: TransitionOutcome, of request: TransitionRequest, run: inout PassRun) -> Bool {
        let name = run[request.customerId]?.name ?? "-"
        switch outcome {
        case .applied(let event):
            run.wrote(event.toState ?? request.from, of: request.customerId)
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

    func accept(_ arn: String, customers: [Int64], steps: [TransitionRequest], region: String, run: inout PassRun) async throws {
        // The customers' `accepting` steps (planned from the snapshot; this pass's own moves known here) and the
        // call's ClientToken, one transaction before the call.
        let moves = steps.filter { !run.stale.contains($0.customerId) }.map { step in
            var step = step
            if let current = run[step.customerId]?.state { step.from = current }
            return step
        }
        let (token, moved) = try await store.acceptToken(for: arn, proposed: Self.newToken(), then: moves, by: .daemon)
        for (step, outcome) in zip(moves, moved) { _ = handle(outcome, of: step, run: &run) }
        let outcome: AcceptOutcome
        var status: ResourceShareInvitationStatus
        try await lease.require()
        do {
            // RAM's own word for the invitation's status after the call.
            status = ResourceShareInvitationStatus(try await lease.call { [aws] () async throws(AWSClientError) -> String in
                try await aws.acceptInvitation(region: region, invitationArn: arn, clientToken: token)
            })
            outcome = .accepted
        } catch {
            guard let answered = AWSOutcomes.accept(errorCode: error.code) else { throw error }
            outcome = answered
            status = switch answered {
            case .accepted, .alreadyAccepted: .accepted
            case .expired: .expired
            case .rejected: .rejected
            }
        }
        let accepted = outcome == .accepted || outcome == .alreadyAccepted
        let next = ReconcilePlanner.event(after: outcome, invitationArn: arn, accountId: accountId())
        let requests = customers.filter { !run.stale.contains($0) }.compactMap { id in
            run[id].map { TransitionRequest(customerId: id, from: $0.state, event: next.event, detail: next.detail, hint: next.hint) }
        }
        // RAM's answer and the lifecycle steps it means, in one transaction.
        let outcomes = try await store.markInvitation(arn, status: status.description, decision: accepted ? .accepted : .pending,
                                                      then: requests, by: .daemon)
        if accepted {
            logger.notice("invitation accepted", metadata: ["ram.invitation": "\(arn)", "customers": "\(customers.compactMap { run[$0]?.name }.joined(separator: ","))"])
        }
        for (request, outcome) in zip(requests, outcomes) { _ = handle(outcome, of: request, run: &run) }
    }

    /// RejectResourceShareInvitation, the one AWS call that cannot be undone: the invitation is matched once
    /// more against the registry as the state holds it now, right before the call (an SE may have just
    /// registered its resource).
    func reject(_ arn: String, region: String) async throws {
        guard let record = try await store.invitationRecords(invitationArns: [arn], resourceArns: [], senders: []).values.first else { return }
        let registered = try await store.customers().filter { $0.state != .removing }
        let byArn = Dictionary(registered.map { ($0.resourceConfigurationArn, $0) }, uniquingKeysWith: { first, _ in first })
        let resources = record.resources.map { RAMResource(arn: $0.arn, type: $0.type, resourceShareArn: record.resourceShareArn, status: nil) }
        if case .accept = InvitationMatcher.decide(senderAccountId: record.senderAccountId, resources: resources, registered: byArn) {
            logger.notice("reject dropped: the invitation matches a registration now; the next pass accepts it", metadata: ["ram.invitation": "\(arn)"])
            return
        }
        let token = try await store.acceptToken(for: arn, proposed: Self.newToken())
        try await lease.require()
        do {
            try await lease.call { [aws] () async throws(AWSClientError) in
                try await aws.rejectInvitation(region: region, invitationArn: arn, clientToken: token)
            }
            logger.notice("invitation rejected", metadata: ["ram.invitation": "\(arn)"])
        } catch {
            guard AWSOutcomes.rejectAlreadyAnswered(errorCode: error.code) else { throw error }
            logger.debug("invitation already answered", metadata: ["ram.invitation": "\(arn)"])
        }
    }

    /// Whether the customer already waits for room, with the hint of the region's full pool.
    static func waitsForRoom(_ customer: Customer, region: String, pool: [VpcCapacity]) -> Bool {
        customer.state == .endpointPending && (customer.hint == VpcCapacity.fullHint(region: region)
            || pool.contains { customer.hint == VpcCapacity.addressesHint(region: region, vpcId: $0.vpcId) })
    }

    /// EC2 refused an endpoint in `vpcId` for want of room: full until the quota is read again (or it holds fewer).
    func noRoom(in vpcId: String, code: String, region: String, customer name: String, run: inout PassRun) {
        capacity.markFull(vpcId, region: region, code: code, endpoints: run.pool.first { $0.vpcId == vpcId }?.endpoints ?? 0)
        if let index = run.pool.firstIndex(where: { $0.vpcId == vpcId }) { run.pool[index].fullBecause = code }
        logger.notice("VPC full: EC2 refused an endpoint there", metadata: ["aws.region": "\(region)", "ec2.vpc": "\(vpcId)",
                                                                           "aws.error": "\(code)", "customer": "\(name)"])
    }

    /// The customer waits in `endpoint_pending` with a hint naming the region, the quota and the two fixes; its
    /// failures are not counted, and the next pass places it when a VPC has room.
    func waitForRoom(_ id: Int64, region: String, share: String?, run: inout PassRun) async throws {
        guard let customer = run[id] else { return }
        // Still waiting for the same reason: nothing to write (a full pool costs no write per customer per pass).
        if Self.waitsForRoom(customer, region: region, pool: run.pool) { return }
        let pool = run.pool.map { "\($0.vpcId) \($0.fullBecause ?? "\($0.endpoints)/\($0.limit)")" }.joined(separator: ", ")
        let addresses = run.pool.first { $0.fullBecause == "InsufficientFreeAddressesInSubnet" }
        try await apply(TransitionRequest(customerId: id, from: customer.state, event: .endpointRequested,
                                          detail: "waiting for room in regions.\(region)'s VPC pool (\(pool))",
                                          hint: addresses.map { VpcCapacity.addressesHint(region: region, vpcId: $0.vpcId) }
                                              ?? VpcCapacity.fullHint(region: region),
                                          resourceShareArn: share), run: &run)
    }

    /// The CreateVpcEndpoint request for a customer in one VPC of the region's pool.
    func endpointRequest(customer: String, arn: String, region: String, vpcId: String, clientToken: String) -> ResourceEndpointRequest {
        let region = config.regions[region]!
        let placement = region.placement(vpcId) ?? region.first
        return ResourceEndpointRequest(
            resourceConfigurationArn: arn, vpcId: placement.vpcId, subnetIds: placement.subnetIds,
            securityGroupIds: placement.securityGroupIds, ipAddressType: region.ipAddressType.rawValue,
            privateDnsEnabled: region.privateDnsEnabled, clientToken: clientToken,
            tags: EndpointTags.tags(customer: customer, deployment: config.deployment))
    }

    /// Calls CreateVpcEndpoint and feeds its outcome to the planner's rule for the generation and customer;
    /// returns the outcome (nil when the customer is gone from this pass, or another writer moved the generation).
    @discardableResult
    func create(_ request: ResourceEndpointRequest, row: EndpointRecord, run: inout PassRun) async throws -> CreateOutcome? {
        let region = row.region
        let outcome: CreateOutcome
        try await lease.require()
        do {
            outcome = .created(try await lease.call { [aws] () async throws(AWSClientError) in
                try await aws.createResourceEndpoint(region: region, request)
            })
        } catch {
            // Throttling, 5xx, lost answers and refusals that say nothing about the endpoint are thrown: the
            // row stays `creating` and the next pass repeats the call with the same token.
            guard error.isRefusal, let code = error.code, let refused = AWSOutcomes.create(refusalCode: code, message: error.message) else { throw error }
            outcome = refused
        }
        guard let customer = run[row.customerId] else { return nil }
        let (change, next) = ReconcilePlanner.after(outcome, row: row, customer: customer, policy: policy, now: now())
        // The answer and the lifecycle step it means, in one transaction.
        let changed: Bool
        if let next, let current = run[row.customerId] {
            let request = TransitionRequest(customerId: row.customerId, from: current.state, event: next.event, detail: next.detail,
                                            hint: next.hint)
            let written = try await store.changeEndpoint(row.id!, change, then: request)
            changed = written.changed
            if let outcome = written.transition { _ = handle(outcome, of: request, run: &run) }
        } else {
            changed = try await store.changeEndpoint(row.id!, change)
        }
        guard changed else {
            // Another writer moved the generation since it was begun: neither the answer nor its step is written,
            // and the customer sits out the rest of the pass (the next one plans from the state).
            logger.info("create answer dropped: the generation moved since it was begun", metadata: [
                "customer": "\(customer.name)", "generation": "\(row.id ?? 0)"])
            run.stale.insert(row.customerId)
            return nil
        }
        logger.info("endpoint create answered", metadata: ["customer": "\(customer.name)"].merging(outcome.logMetadata) { a, _ in a })
        return outcome
    }

    /// Calls DeleteVpcEndpoints for one endpoint (the lease was required just before the state's last check);
    /// EC2 answers 200 with per-item failures.
    func delete(_ endpointId: String, region: String) async throws -> DeleteOutcome {
        let failures = try await lease.call { [aws] () async throws(AWSClientError) in
            try await aws.deleteVpcEndpoints(region: region, ids: [endpointId])
        }
        guard let failure = failures.first else { return .accepted }
        if let outcome = AWSOutcomes.delete(failureCode: failure.error.code) { return outcome }
        throw AWSClientError(.service, service: "ec2", operation: "DeleteVpcEndpoints", code: failure.error.code,
                             message: failure.error.message ?? "could not delete \(endpointId)")
    }

    static func newToken() -> String { "plc-" + UUID().uuidString.lowercased() }
}

extension CreateOutcome {
    /// Flat log fields (never a dump of a Swift value).
    var logMetadata: Logger.Metadata {
        switch self {
        case .created(let endpoint):
            ["outcome": "created", "ec2.endpoint": "\(endpoint.vpcEndpointId)", "state": "\(endpoint.state.description)"]
        case .idempotentMismatch(let message):
            ["outcome": "idempotent_mismatch", "message": "\(message)"]
        case .refused(let code, let message):
            ["outcome": "refused", "aws.error": "\(code)", "message": "\(message)"]
        case .noRoom(let code, let message):
            ["outcome": "no_room", "aws.error": "\(code)", "message": "\(message)"]
        }
    }
}

/// The notes this process wrote last, per customer: a note that repeats pass after pass (a lookup that keeps
/// not answering) is written once while it lasts.
final class NoteLog: Sendable {
    private let last = Mutex<[Int64: String]>([:])

    func isNew(customerId: Int64, event: String, detail: String) -> Bool {
        last.withLock { last in
            let key = event + "\u{0}" + detail
            defer { last[customerId] = key }
            return last[customerId] != key
        }
    }
}
