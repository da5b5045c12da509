import AWSModels
import Foundation

/// The knobs of the reconciler's decisions.
public struct ReconcilePolicy: Sendable, Equatable {
    public var unmatchedInvitations: UnmatchedInvitationPolicy
    /// How long an endpoint we created may be absent from DescribeVpcEndpoints (eventual consistency)
    /// before it is considered deleted out of band.
    public var missingGrace: TimeInterval
    /// Endpoint generations that may fail before the customer stays `endpoint_failed`.
    public var maxEndpointFailures: Int
    /// Backoff before the next generation: base × 2^(failures-1), capped.
    public var failureBackoffBase: TimeInterval
    public var failureBackoffCap: TimeInterval

    public init(unmatchedInvitations: UnmatchedInvitationPolicy = .ignore, missingGrace: TimeInterval = 120,
                maxEndpointFailures: Int = 5, failureBackoffBase: TimeInterval = 30, failureBackoffCap: TimeInterval = 3600) {
        self.unmatchedInvitations = unmatchedInvitations
        self.missingGrace = missingGrace
        self.maxEndpointFailures = maxEndpointFailures
        self.failureBackoffBase = failureBackoffBase
        self.failureBackoffCap = failureBackoffCap
    }

    public func backoff(afterFailures failures: Int) -> TimeInterval {
        min(failureBackoffCap, failureBackoffBase * pow(2, Double(max(0, failures - 1))))
    }
}

/// The reconciler's decisions as a pure function: observed AWS state + the store → actions; and the
/// rules that turn the outcomes of our own calls into lifecycle events and endpoint changes.
public enum ReconcilePlanner {
    public static func plan(_ observation: RegionObservation, snapshot: RegistrySnapshot, policy: ReconcilePolicy,
                            accountId: String?, now: Date) -> [ReconcileAction] {
        let customers = snapshot.customers.keeping { $0.region == observation.region }
        let registered = customers.keeping { $0.state != .removing }
        let invitationActions = planInvitations(observation, snapshot: snapshot, registered: registered, policy: policy, now: now)
        let accepting = Set(invitationActions.flatMap { action -> [Int64] in
            if case .accept(_, let ids, _) = action { return ids }
            return []
        })
        let match = observation.match ?? matchUnrecorded(observation, snapshot: snapshot, registered: registered)
        let observed = ListedEndpoints(observation.endpoints, key: \.vpcEndpointId)
        let removing = customers.filter { $0.state == .removing }
        let known = snapshot.knownEndpointIds
        // Endpoints EC2 lists that no generation records and no release claims: the only ones a pass may
        // adopt or delete as strays.
        let untracked = observation.endpoints.filter { !known.contains($0.vpcEndpointId) && !snapshot.released.contains($0.identity) }
        var customerActions: [ReconcileAction] = releasedEndpointsToRecord(observation, snapshot: snapshot)
        for customer in customers {
            guard let id = customer.id else { continue }
            let rows = snapshot.openEndpoints[id] ?? []
            let context = CustomerContext(customer: customer, id: id, rows: rows, observed: observed, observation: observation,
                                          snapshot: snapshot, policy: policy, accountId: accountId, now: now)
            customerActions += context.blinks()
            if customer.state == .removing {
                // Endpoints tagged for it that no generation records (one EC2 listed only after the window) are
                // its own to delete, unless a new registration of the same name and ARN now owns them (it adopts
                // them). A kept (released) endpoint is nobody's to delete.
                let strays = registered.contains { $0.name == customer.name && $0.resourceConfigurationArn == customer.resourceConfigurationArn } ? []
                    : untracked.filter { endpoint in
                        endpoint.tags[EndpointTags.customerKey] == customer.name
                            && ![.deleted, .deleting].contains(endpoint.state)
                            && (endpoint.resourceConfigurationArn == nil || endpoint.resourceConfigurationArn == customer.resourceConfigurationArn)
                    }
                customerActions += context.planRemoval(strays: strays)
                continue
            }
            // A new registration waits for an older one of the same name or ARN to finish its removal: the
            // older one's endpoints (even one whose create answer was lost) are its own to delete.
            let predecessor = removing.first { $0.name == customer.name || $0.resourceConfigurationArn == customer.resourceConfigurationArn }
            customerActions += context.plan(adoptable: match.kept[customer.name], surplus: match.surplus[customer.name] ?? [],
                                            accepting: accepting.contains(id), waitingFor: predecessor)
        }
        customerActions += orphans(untracked, snapshot: snapshot)
        // Records first, then the customers' moves, then the calls (`accepting` written with its accept, before the call).
        let isCall: (ReconcileAction) -> Bool = { action in
            switch action {
            case .accept, .reject: true
            default: false
            }
        }
        let (calls, moves) = withAcceptingSteps(invitationActions.filter(isCall), moves: customerActions)
        return invitationActions.filter { !isCall($0) } + foldingSteps(moves) + calls
    }

    /// Each customer's `accepting` step goes with the first accept that names the customer: written with the
    /// call's ClientToken, one transaction right before the call, instead of a transaction of its own.
    static func withAcceptingSteps(_ calls: [ReconcileAction], moves: [ReconcileAction]) -> (calls: [ReconcileAction], moves: [ReconcileAction]) {
        let accepted = Set(calls.flatMap { action -> [Int64] in
            if case .accept(_, let ids, _) = action { return ids }
            return []
        })
        var steps: [Int64: TransitionRequest] = [:]
        var rest: [ReconcileAction] = []
        for action in moves {
            if case .transition(let step) = action, step.event == .invitationMatched, accepted.contains(step.customerId),
               steps[step.customerId] == nil {
                steps[step.customerId] = step
            } else {
                rest.append(action)
            }
        }
        let calls = calls.map { action -> ReconcileAction in
            guard case .accept(let arn, let ids, let earlier) = action else { return action }
            return .accept(invitationArn: arn, customers: ids, steps: earlier + ids.compactMap { steps.removeValue(forKey: $0) })
        }
        return (calls, rest)
    }

    /// A generation's change and the customer's step planned right after it are one outcome: the step rides
    /// on the change (`then`), taken in its transaction only when the change applies, as it was taken only
    /// when the change was not found stale.
    static func foldingSteps(_ actions: [ReconcileAction]) -> [ReconcileAction] {
        var folded: [ReconcileAction] = []
        folded.reserveCapacity(actions.count)
        for action in actions {
            if case .transition(let step) = action, case .changeEndpoint(let id, let name, let rowId, let change, nil)? = folded.last,
               id == step.customerId {
                folded[folded.count - 1] = .changeEndpoint(customerId: id, name: name, rowId: rowId, change: change, then: step)
            } else {
                folded.append(action)
            }
        }
        return folded
    }

    /// Endpoints no open generation records, matched to registered customers by tag or ARN.
    public static func matchUnrecorded(_ observation: RegionObservation, snapshot: RegistrySnapshot,
                                       registered: [Customer]) -> EndpointMatcher.Match {
        // Released endpoints are known: never adopted, whoever registers their name or ARN again.
        // Every listed endpoint is a candidate but the known ones (matched by id below) and those a release
        // without an id may own (rare: looked at only when there is one).
        let known = snapshot.knownEndpointIds
        let candidates = snapshot.released.unresolved.isEmpty ? observation.endpoints
            : observation.endpoints.keeping { known.contains($0.vpcEndpointId) || !snapshot.released.contains($0.identity) }
        return EndpointMatcher.match(candidates, customers: registered, recorded: known)
    }

    /// Endpoints tagged for an earlier registration (a removed customer of that name and resource
    /// configuration) that no live registration owns (no live customer, registered or being removed, in any
    /// region, of that name and ARN), that no generation records and no release claims: leaks of that
    /// registration, ours to delete. An endpoint tagged for a name the state never knew (a lost or restored
    /// state file, another installation) is not: it is adopted when its customer is registered again. Present
    /// in the listing (not inferred from an absence); the executor asks the store again right before the delete.
    static func orphans(_ untracked: [VpcEndpoint], snapshot: RegistrySnapshot) -> [ReconcileAction] {
        guard !untracked.isEmpty else { return [] }
        let live = Dictionary(grouping: snapshot.customers.filter { $0.state.isLive }, by: \.name)
        return untracked.compactMap { endpoint in
            guard let tag = endpoint.tags[EndpointTags.customerKey], let arn = endpoint.resourceConfigurationArn,
                  snapshot.removedRegistrations.contains(.init(name: tag, resourceConfigurationArn: arn)),
                  ![.deleted, .deleting].contains(endpoint.state),
                  !EndpointClaims.owns(live[tag] ?? [], arn: arn) else { return nil }
            return .deleteOrphan(vpcEndpointId: endpoint.vpcEndpointId, customerTag: tag, resourceConfigurationArn: endpoint.resourceConfigurationArn,
                                 reason: "tagged for \(tag), which no registration of its resource configuration owns and no generation records")
        }
    }

    /// An endpoint listed with the tag and ARN of a generation released before its id was known, and created
    /// no later than that generation's call could have, is recorded as that generation's (from then on known
    /// by id). Not while a live registration of the same name and ARN has a create unanswered too: the endpoint
    /// could be either's, and recording waits until that one is answered.
    static func releasedEndpointsToRecord(_ observation: RegionObservation, snapshot: RegistrySnapshot) -> [ReconcileAction] {
        var claimed: Set<Int64> = []
        var actions: [ReconcileAction] = []
        guard !snapshot.released.unresolved.isEmpty else { return [] }
        let known = snapshot.knownEndpointIds
        let unansweredNow = Set(snapshot.customers.filter { customer in
            (snapshot.openEndpoints[customer.id ?? -1] ?? []).contains { $0.state == .creating }
        }.map { RegistrySnapshot.Registration(name: $0.name, resourceConfigurationArn: $0.resourceConfigurationArn) })
        for endpoint in observation.endpoints where !known.contains(endpoint.vpcEndpointId) && endpoint.state != .deleted {
            guard endpoint.identity.createdAt != nil, let owner = snapshot.released.unresolvedOwner(of: endpoint.identity),
                  !claimed.contains(owner.rowId),
                  !unansweredNow.contains(.init(name: owner.customerName, resourceConfigurationArn: owner.resourceConfigurationArn)) else { continue }
            claimed.insert(owner.rowId)
            actions.append(.recordReleasedEndpoint(rowId: owner.rowId, vpcEndpointId: endpoint.vpcEndpointId))
        }
        return actions
    }

    /// What the listings left out that a pass must look up before it may act on the absence: endpoints of
    /// open generations EC2 should list by now (settled) but did not, and resources of customers that had a
    /// share which ListResources did not list. At most `limit` of each (the rest wait for the next pass; an
    /// unconfirmed absence changes nothing).
    public static func absencesToConfirm(_ observation: RegionObservation, snapshot: RegistrySnapshot, policy: ReconcilePolicy,
                                         now: Date, limit: Int = 100) -> (endpointIds: [String], resourceArns: [String]) {
        let listed = Set(observation.endpoints.lazy.filter { $0.state != .deleted }.map(\.vpcEndpointId))
        var endpointIds: [String] = []
        var resourceArns: [String] = []
        for customer in snapshot.customers where customer.region == observation.region {
            for row in snapshot.openEndpoints[customer.id ?? -1] ?? [] {
                guard [.pending, .available, .deleting].contains(row.state), let id = row.vpcEndpointId, !listed.contains(id),
                      settled(row, policy: policy, now: now) else { continue }
                endpointIds.append(id)
            }
            if customer.state != .removing, observation.sharedResources[customer.resourceConfigurationArn] == nil,
               CustomerLifecycle.moves(.shareWithdrawn, from: customer.state) {
                resourceArns.append(customer.resourceConfigurationArn)
            }
        }
        return (Array(endpointIds.prefix(limit)), Array(resourceArns.prefix(limit)))
    }

    /// The endpoints whose DNS names this pass must read: available ones that a registered customer's
    /// current generation records without a name, or whose customer is about to become ready (its
    /// association must be accessible then), or that it is about to adopt. None in steady state.
    public static func dnsNamesNeeded(_ observation: RegionObservation, snapshot: RegistrySnapshot) -> [String] {
        let registered = snapshot.customers.keeping { $0.region == observation.region && $0.state != .removing }
        let match = observation.match ?? matchUnrecorded(observation, snapshot: snapshot, registered: registered)
        let available = Set(observation.endpoints.lazy.filter { $0.state == .available }.map(\.vpcEndpointId))
        var needed: [String] = []
        for customer in registered {
            if let current = snapshot.currentEndpoint(of: customer.id), let id = current.vpcEndpointId {
                if current.dnsName == nil || customer.state != .ready, available.contains(id) { needed.append(id) }
            } else if let adoptable = match.kept[customer.name], adoptable.state == .available {
                needed.append(adoptable.vpcEndpointId)
            }
        }
        return needed
    }

    // MARK: Invitations

    static func planInvitations(_ observation: RegionObservation, snapshot: RegistrySnapshot, registered customers: [Customer],
                                policy: ReconcilePolicy, now: Date) -> [ReconcileAction] {
        // The indexes of the registry only when an invitation is pending: a steady pass has none, and each index of
        // 10,000 customers is megabytes.
        let pending = observation.invitations.contains { $0.isPending && observation.pendingResources[$0.resourceShareInvitationArn] != nil }
        let registered = pending ? Dictionary(customers.map { ($0.resourceConfigurationArn, $0) }, uniquingKeysWith: { first, _ in first }) : [:]
        let ids = pending ? Dictionary(customers.compactMap { customer in customer.id.map { (customer.name, $0) } }, uniquingKeysWith: { first, _ in first }) : [:]
        var actions: [ReconcileAction] = []
        for invitation in observation.invitations {
            let existing = snapshot.invitations[invitation.resourceShareInvitationArn]
            guard invitation.isPending else {
                // Keep the record's status current (an invitation is never the record of a share, but its
                // final status tells why a customer's share never arrived).
                if let existing, existing.invitationStatus != invitation.invitationStatus {
                    var record = existing
                    record.invitationStatus = invitation.invitationStatus
                    record.lastSeen = now
                    actions.append(.recordInvitation(record))
                }
                continue
            }
            guard let resources = observation.pendingResources[invitation.resourceShareInvitationArn] else {
                // RAM will not list an expired invitation's resources, though it may still read PENDING:
                // remember it (by sender) so that the sender's customers are told to share again.
                if let code = observation.unlistable[invitation.resourceShareInvitationArn], code.contains("Expired"),
                   existing?.invitationStatus != .expired {
                    actions.append(.recordInvitation(InvitationRecord(
                        invitationArn: invitation.resourceShareInvitationArn, region: observation.region,
                        resourceShareArn: invitation.resourceShareArn, resourceShareName: invitation.resourceShareName,
                        senderAccountId: invitation.senderAccountId, status: ResourceShareInvitationStatus.expired.description, resources: existing?.resources ?? [],
                        decision: existing?.decision ?? .pending, reason: existing?.reason, acceptClientToken: existing?.acceptClientToken,
                        firstSeen: existing?.firstSeen ?? now, lastSeen: now, decidedAt: existing?.decidedAt)))
                }
                continue
            }
            var record = existing ?? InvitationRecord(
                invitationArn: invitation.resourceShareInvitationArn, region: observation.region,
                resourceShareArn: invitation.resourceShareArn, resourceShareName: invitation.resourceShareName,
                senderAccountId: invitation.senderAccountId, status: invitation.status,
                resources: resources.map { .init(arn: $0.arn, type: $0.type) },
                decision: .pending, reason: nil, acceptClientToken: nil, firstSeen: now, lastSeen: now, decidedAt: nil)
            record.invitationStatus = invitation.invitationStatus
            record.lastSeen = now
            switch InvitationMatcher.decide(senderAccountId: invitation.senderAccountId, resources: resources, registered: registered) {
            case .accept(let names):
                if existing == nil || existing?.decision != .pending || existing?.reason != nil {
                    record.decision = .pending
                    record.reason = nil
                    actions.append(.recordInvitation(record))
                }
                actions.append(.accept(invitationArn: invitation.resourceShareInvitationArn, customers: names.compactMap { ids[$0] }, steps: []))
            case .refuse(let reason, _):
                let decision: InvitationRecord.Decision = policy.unmatchedInvitations == .reject ? .rejected : .ignored
                if existing?.decision != decision || existing?.reason != reason {
                    record.decision = decision
                    record.reason = reason
                    actions.append(.recordInvitation(record))
                }
                if policy.unmatchedInvitations == .reject {
                    actions.append(.reject(invitationArn: invitation.resourceShareInvitationArn))
                }
            }
        }
        return actions
    }

    // MARK: Outcomes of our own calls

    /// The lifecycle event an answer to AcceptResourceShareInvitation means for each customer it shares.
    public static func event(after outcome: AcceptOutcome, invitationArn: String, accountId: String?)
        -> (event: CustomerLifecycle.Event, detail: String, hint: String?) {
        switch outcome {
        case .accepted, .alreadyAccepted:
            (.shareAccepted, "invitation accepted; waiting for the shared resource", nil)
        case .expired:
            (.shareExpired, "invitation \(invitationArn) expired before it was accepted", Hints.shareAgain(accountId))
        case .rejected:
            (.shareRejected, "invitation \(invitationArn) was rejected", Hints.shareAgain(accountId))
        }
    }

    /// What an answer to CreateVpcEndpoint means for the generation, and for a registered customer.
    public static func after(_ outcome: CreateOutcome, row: EndpointRecord, customer: Customer, policy: ReconcilePolicy, now: Date)
        -> (change: EndpointChange, transition: (event: CustomerLifecycle.Event, detail: String, hint: String?)?) {
        switch outcome {
        case .created(let endpoint):
            // A resumed create can answer with an endpoint that has failed meanwhile: a failed generation, counted.
            let failed = recordState(endpoint.state) == .failed && customer.state != .removing
            let reason = endpoint.lastError?.description ?? endpoint.failureReason ?? "EC2 reports \(endpoint.state)"
            let change = EndpointChange(
                from: [.creating], to: recordState(endpoint.state), vpcEndpointId: endpoint.vpcEndpointId, awsState: endpoint.state.description,
                lastError: failed ? reason : nil, createAnswered: true,
                note: .init("endpoint_created", "\(endpoint.vpcEndpointId) (\(endpoint.state)), ClientToken \(row.clientToken)"),
                failureNextAttempt: failed ? now.addingTimeInterval(policy.backoff(afterFailures: customer.endpointFailures + 1)) : nil)
            return (change, failed ? (.endpointFailed, "endpoint \(endpoint.vpcEndpointId) \(endpoint.state): \(reason)",
                                      Hints.endpointFailed(region: customer.region)) : nil)
        case .idempotentMismatch(let message):
            guard row.storedRequest != nil else {
                // A generation from before requests were stored: the request was rebuilt from today's
                // configuration, so the mismatch may only mean that it differs. The generation closes; an
                // endpoint it made carries our tag and is adopted (or, for a removal, deleted) as any untracked one.
                let change = EndpointChange(
                    from: [.creating], to: .deleted, lastError: "IdempotentParameterMismatch: \(message)",
                    note: .init("endpoint_unresolved", "ClientToken \(row.clientToken): the original request was not stored; "
                                + "an endpoint made with it is found by its tag"))
                return (change, nil)
            }
            // The same request with the same token: EC2 says the token's endpoint is already deleted.
            let change = EndpointChange(
                from: [.creating], to: .deleted, lastError: "IdempotentParameterMismatch: \(message)",
                note: .init("endpoint_deleted", "ClientToken \(row.clientToken): EC2 says its endpoint is already deleted"))
            return (change, nil)
        case .noRoom(let code, let message):
            // The VPC has no room (its quota, or its subnets' addresses): not the customer's failure. The
            // generation closes; the endpoint is placed in the next VPC of the pool.
            let vpc = row.storedRequest.map { " in \($0.vpcId)" } ?? ""
            let change = EndpointChange(from: [.creating], to: .deleted, lastError: "\(code): \(message)",
                                        note: .init("endpoint_no_room", "CreateVpcEndpoint refused\(vpc): \(code); placed in the next VPC of the pool"))
            return (change, nil)
        case .refused(let code, let message):
            let reason = "\(code): \(message)"
            let counts = customer.state != .removing
            let change = EndpointChange(
                from: [.creating], to: .deleted, lastError: reason,
                note: .init("endpoint_refused", "CreateVpcEndpoint refused: \(reason)"),
                failureNextAttempt: counts ? now.addingTimeInterval(policy.backoff(afterFailures: customer.endpointFailures + 1)) : nil)
            return (change, counts ? (.endpointFailed, "CreateVpcEndpoint failed: \(reason)", Hints.endpointFailed(region: customer.region)) : nil)
        }
    }

    /// What an answer to DeleteVpcEndpoints means for the generation: nil when nothing is learned yet
    /// (NotFound for an endpoint EC2 may simply not list yet).
    public static func after(_ outcome: DeleteOutcome, row: EndpointRecord, policy: ReconcilePolicy, now: Date) -> EndpointChange? {
        let open: Set<EndpointRecord.State> = [.pending, .available, .failed, .deleting]
        switch outcome {
        case .accepted:
            // EC2 accepted the delete, so it knows the endpoint: from now on its absence from the listing is real.
            return .init(from: open, to: .deleting, awsState: "deleting", seen: true, deleteRequested: true)
        case .notFound:
            guard settled(row, policy: policy, now: now) else { return nil }
            return .init(from: open, to: .deleting, awsState: "not found", deleteRequested: true)
        }
    }

    /// Whether EC2's listing can be trusted about this generation: it listed it once, or CreateVpcEndpoint
    /// answered (a resumed call may create it long after the row began) longer ago than the window in
    /// which EC2 may not list a new endpoint yet.
    static func settled(_ row: EndpointRecord, policy: ReconcilePolicy, now: Date) -> Bool {
        row.lastSeenAt != nil || now.timeIntervalSince(row.createAnsweredAt ?? row.createdAt) >= policy.missingGrace
    }

    package static func recordState(_ state: VpcEndpointState) -> EndpointRecord.State {
        switch state {
        case .available: .available
        case .failed, .rejected, .expired: .failed
        case .deleting: .deleting
        case .deleted: .deleted
        default: .pending
        }
    }
}

/// The endpoints EC2 listed, found by id (the first listed wins).
typealias ListedEndpoints = FirstByKey<String, VpcEndpoint>

/// One customer's plan: everything the planner knows about it, and the decisions.
struct CustomerContext {
    let customer: Customer
    let id: Int64
    /// Its open generations, oldest first.
    let rows: [EndpointRecord]
    /// Every endpoint EC2 listed in the region, by id.
    let observed: ListedEndpoints
    let observation: RegionObservation
    let snapshot: RegistrySnapshot
    let policy: ReconcilePolicy
    let accountId: String?
    let now: Date

    var name: String { customer.name }

    func transition(_ event: CustomerLifecycle.Event, _ detail: String, hint: String? = nil, share: String? = nil) -> [ReconcileAction] {
        // Nothing to write when the event keeps the customer where it is with the same words.
        if case .success(let next) = CustomerLifecycle.next(from: customer.state, on: event, by: .daemon), next == customer.state,
           customer.stateDetail == detail, customer.hint == hint, share == nil || share == customer.resourceShareArn {
            return []
        }
        return [.transition(TransitionRequest(customerId: id, from: customer.state, event: event, detail: detail, hint: hint,
                                              resourceShareArn: share))]
    }

    func note(_ event: String, _ detail: String) -> ReconcileAction {
        .note(customerId: id, name: name, event: event, detail: detail)
    }

    /// What a listing left out of this customer's and a lookup found: said, so that on-call can tell a
    /// blink of an eventually consistent listing from a loss. Nothing else changes.
    func blinks() -> [ReconcileAction] {
        var actions: [ReconcileAction] = []
        if observation.foundByLookup.contains(customer.resourceConfigurationArn) {
            actions.append(note("share_unconfirmed", "ListResources did not list \(customer.resourceConfigurationArn); a lookup of that ARN found it "
                                + "shared (a blink of RAM's listing): nothing changed"))
        }
        for row in rows {
            guard let endpointId = row.vpcEndpointId, observation.foundByLookup.contains(endpointId) else { continue }
            let state = observed[endpointId]?.state.description ?? "listed"
            actions.append(note("endpoint_unconfirmed", "DescribeVpcEndpoints did not list \(endpointId); its lookup by id found it \(state) "
                                + "(a blink of EC2's listing): nothing changed"))
        }
        return actions
    }

    func change(_ row: EndpointRecord, _ change: EndpointChange) -> ReconcileAction {
        .changeEndpoint(customerId: id, name: name, rowId: row.id!, change: change, then: nil)
    }

    func delete(_ row: EndpointRecord, reason: String) -> ReconcileAction {
        .deleteEndpoint(customerId: id, name: name, row: row, vpcEndpointId: row.vpcEndpointId!, reason: reason)
    }

    // MARK: Removal

    /// Every generation ever created is resolved and deleted; only then is the customer removed.
    func planRemoval(strays: [VpcEndpoint] = []) -> [ReconcileAction] {
        var actions: [ReconcileAction] = strays.map {
            .deleteEndpoint(customerId: id, name: name, row: nil, vpcEndpointId: $0.vpcEndpointId, reason: "customer removed (endpoint no generation recorded)")
        }
        var closing = 0
        for row in rows {
            switch row.state {
            case .creating:
                // The create may have reached EC2: ask again with the same token and request, then delete.
                actions.append(.resumeCreate(customerId: id, name: name, endpoint: row))
            case .pending, .available:
                actions.append(delete(row, reason: "customer removed"))
            case .failed, .deleting:
                let retiring = retire(row)
                if retiring.contains(where: { if case .changeEndpoint(_, _, _, let change, _) = $0 { change.to == .deleted } else { false } }) {
                    closing += 1
                }
                actions += retiring
            case .deleted, .released:
                break
            }
        }
        // When this pass confirms the last ones gone, the removal finishes in it too; the store refuses the
        // move if any generation is still open at that moment (a confirmation that did not apply).
        if closing == rows.count && strays.isEmpty {
            actions += transition(.removalFinished, "removed; every endpoint is confirmed deleted")
        }
        return actions
    }

    /// A failed generation is deleted; a deleting one is confirmed gone once EC2 stops listing it (or
    /// lists it Deleted), and deleted again if EC2 still shows it alive after the window.
    func retire(_ row: EndpointRecord) -> [ReconcileAction] {
        guard let endpointId = row.vpcEndpointId else { return [] }
        let listed = observed[endpointId]
        switch row.state {
        case .failed:
            return [delete(row, reason: "endpoint generation \(row.generation) failed")]
        case .deleting:
            if listed == nil || listed?.state == .deleted {
                // Gone only when EC2 says so: Deleted in the listing, or NotFound to a lookup by id.
                guard ReconcilePlanner.settled(row, policy: policy, now: now),
                      listed?.state == .deleted || observation.confirmedGone.contains(endpointId) else { return [] }
                return [change(row, .init(from: [.deleting], to: .deleted, awsState: listed?.state.description ?? "gone",
                                          note: .init("endpoint_deleted", "\(endpointId) is gone from EC2")))]
            }
            if let listed, listed.state != .deleting,
               now.timeIntervalSince(row.deleteRequestedAt ?? row.updatedAt) >= policy.missingGrace {
                return [delete(row, reason: "still \(listed.state) after DeleteVpcEndpoints")]
            }
            if row.lastSeenAt == nil {
                return [change(row, .init(from: [.deleting], to: .deleting, awsState: listed?.state.description, seen: true))]
            }
            return []
        default:
            return []
        }
    }

    // MARK: A registered customer

    func plan(adoptable: VpcEndpoint?, surplus: [VpcEndpoint], accepting: Bool, waitingFor predecessor: Customer?) -> [ReconcileAction] {
        var actions: [ReconcileAction] = rows.filter { !$0.state.isCurrent }.flatMap(retire)
        let current = rows.last { $0.state.isCurrent }
        guard let shared = observation.sharedResources[customer.resourceConfigurationArn] else {
            return actions + planWithoutShare(current: current, accepting: accepting)
        }
        let share = shared.resourceShareArn
        guard shared.isAvailable else {
            let event: CustomerLifecycle.Event = CustomerLifecycle.moves(.shareUnavailable, from: customer.state)
                ? .shareUnavailable : .shareAccepted
            return actions + transition(event, "share accepted; waiting for the resource to become AVAILABLE (RAM says \(shared.status ?? "no status"))",
                                        share: share)
        }
        if let predecessor, current == nil {
            return actions + transition(.shareAccepted, "waiting for the removal of the previous registration (\(predecessor.name), \(predecessor.resourceConfigurationArn)) to finish",
                                        share: share)
        }
        if let current {
            // Endpoints tagged for this customer that no generation records are duplicates once it has one.
            let strays = (adoptable.map { [$0] } ?? []).filter { $0.tags[EndpointTags.customerKey] == name } + surplus
            for extra in strays where current.state == .available {
                actions.append(.deleteEndpoint(customerId: id, name: name, row: nil, vpcEndpointId: extra.vpcEndpointId,
                                               reason: "duplicate endpoint for the same customer"))
            }
            return actions + planCurrent(current, share: share)
        }
        // Ready (or provisioning) with no current generation: its endpoint went away between two writes
        // of an interrupted pass. Say so first, so that the next move is an edge of the table.
        if customer.state == .ready {
            actions += transition(.endpointMissing, "no endpoint generation is current; recreating it", share: share)
        }
        if let adoptable {
            return actions + planAdoption(adoptable, share: share)
        }
        return actions + planCreate(share: share, why: "creating the endpoint")
    }

    /// The current generation against what EC2 lists.
    func planCurrent(_ row: EndpointRecord, share: String?) -> [ReconcileAction] {
        guard row.state != .creating, let endpointId = row.vpcEndpointId else {
            return [.resumeCreate(customerId: id, name: name, endpoint: row)]
                + transition(.endpointRequested, "creating the endpoint (ClientToken \(row.clientToken))", share: share)
        }
        guard let listed = observed[endpointId], listed.state != .deleted else {
            guard ReconcilePlanner.settled(row, policy: policy, now: now) else {
                // A new endpoint EC2 does not list yet; a ready customer's is settled by construction and never
                // leaves `ready` for a listing's silence.
                return customer.state == .ready ? [] : transition(.endpointRequested, "endpoint \(endpointId) not listed by EC2 yet", share: share)
            }
            // One listing's silence is not a deletion: only EC2's NotFound to a lookup by id (or a listing that
            // says Deleted) is. Until then nothing is deleted, recreated or moved.
            guard observation.confirmedGone.contains(endpointId) || observed[endpointId]?.state == .deleted else {
                return [note("endpoint_unconfirmed", "\(endpointId) was not listed by DescribeVpcEndpoints and its lookup by id did not answer; "
                             + "nothing changes until EC2 confirms it is gone")]
            }
            return [change(row, .init(from: [.pending, .available], to: .deleted, awsState: "gone",
                                      note: .init("endpoint_deleted", "\(endpointId) was deleted outside the daemon "
                                                  + "(confirmed: DescribeVpcEndpoints by id answers InvalidVpcEndpointId.NotFound)")))]
                + missing(endpointId, share: share)
        }
        var actions: [ReconcileAction] = []
        // A row from before generations recorded their VPC learns it from the listing once.
        let firstSighting = row.lastSeenAt == nil || (row.vpcId == nil && listed.vpcId != nil)
        let vpc = row.vpcId == nil ? listed.vpcId : nil
        switch listed.state {
        case .available where observation.inaccessible[endpointId] != nil:
            let reason = observation.inaccessible[endpointId] ?? ""
            if row.state != .available || row.awsState != listed.state.description || firstSighting {
                actions.append(change(row, .init(from: [.pending, .available], to: .available, awsState: listed.state.description, seen: true,
                                                 vpcId: vpc)))
            }
            return actions + transition(customer.state == .ready ? .endpointProvisioning : .endpointRequested,
                                        "endpoint \(endpointId) available, but its association is \(reason)",
                                        hint: Hints.associationInaccessible, share: share)
        case .available:
            let dns = observation.dnsNames[endpointId] ?? row.dnsName
            if row.state != .available || row.dnsName != dns || row.awsState != listed.state.description || firstSighting {
                actions.append(change(row, .init(from: [.pending, .available], to: .available, awsState: listed.state.description,
                                                 dnsName: dns, seen: true, vpcId: vpc)))
            }
            guard let dns else {
                return actions + transition(customer.state == .ready ? .endpointProvisioning : .endpointRequested,
                                            "endpoint \(endpointId) available; waiting for its DNS name", share: share)
            }
            // The step right after the change (one outcome with it), then the failures forgotten.
            actions += transition(.endpointAvailable, "endpoint \(endpointId) available at \(dns)", share: share)
            if customer.endpointFailures > 0 { actions.append(.resetFailures(customerId: id)) }
            return actions
        case .failed, .rejected, .expired:
            let reason = listed.lastError?.description ?? listed.failureReason ?? "EC2 reports \(listed.state)"
            actions.append(change(row, .init(from: [.pending, .available], to: .failed, awsState: listed.state.description, lastError: reason,
                                             seen: true,
                                             failureNextAttempt: now.addingTimeInterval(policy.backoff(afterFailures: customer.endpointFailures + 1)))))
            actions.append(delete(row, reason: "endpoint \(listed.state): \(reason)"))
            return actions + transition(.endpointFailed, "endpoint \(endpointId) \(listed.state): \(reason)",
                                        hint: Hints.endpointFailed(region: customer.region), share: share)
        case .deleting:
            return [change(row, .init(from: [.pending, .available], to: .deleting, awsState: listed.state.description, seen: true,
                                      note: .init("endpoint_deleting", "\(endpointId) is being deleted outside the daemon")))]
                + missing(endpointId, share: share)
        default:
            if row.state != .pending || row.awsState != listed.state.description || firstSighting {
                actions.append(change(row, .init(from: [.pending, .available], to: .pending, awsState: listed.state.description, seen: true,
                                                 vpcId: vpc)))
            }
            return actions + transition(customer.state == .ready ? .endpointProvisioning : .endpointRequested,
                                        "endpoint \(endpointId) is \(listed.state)", share: share)
        }
    }

    /// The current endpoint went away without our asking: say so, and start a new generation.
    func missing(_ endpointId: String, share: String?) -> [ReconcileAction] {
        var actions: [ReconcileAction] = []
        if CustomerLifecycle.moves(.endpointMissing, from: customer.state) {
            actions += transition(.endpointMissing, "endpoint \(endpointId) was deleted outside the daemon; recreating it", share: share)
        }
        return actions + [.createEndpoint(customerId: id, name: name, resourceConfigurationArn: customer.resourceConfigurationArn,
                                          detail: "recreating the endpoint deleted outside the daemon", share: share)]
    }

    /// An endpoint for this customer that no generation records: adopted, and ready in the same pass
    /// when it is Available with a DNS name.
    func planAdoption(_ endpoint: VpcEndpoint, share: String?) -> [ReconcileAction] {
        let dns = endpoint.state == .available ? observation.dnsNames[endpoint.vpcEndpointId] : nil
        var actions: [ReconcileAction] = [.adoptEndpoint(customerId: id, name: name, endpoint: endpoint, dnsName: dns)]
        if let dns {
            if customer.endpointFailures > 0 { actions.append(.resetFailures(customerId: id)) }
            actions += transition(.endpointAvailable, "endpoint \(endpoint.vpcEndpointId) found in EC2 and adopted; available at \(dns)", share: share)
        } else if let reason = observation.inaccessible[endpoint.vpcEndpointId] {
            actions += transition(.endpointRequested, "endpoint \(endpoint.vpcEndpointId) found in EC2 and adopted, but its association is \(reason)",
                                  hint: Hints.associationInaccessible, share: share)
        } else {
            actions += transition(.endpointRequested, "endpoint \(endpoint.vpcEndpointId) found in EC2 (\(endpoint.state)); adopted", share: share)
        }
        return actions
    }

    /// A new generation, unless failures are spent or the backoff is still running.
    func planCreate(share: String?, why: String) -> [ReconcileAction] {
        if customer.endpointFailures >= policy.maxEndpointFailures {
            return transition(.endpointFailed, "\(customer.endpointFailures) endpoint attempts failed; not retrying",
                              hint: Hints.endpointFailed(region: customer.region) + " Then `customer remove` and `customer add` the customer to try again.",
                              share: share)
        }
        if let next = customer.nextEndpointAttemptAt, next > now {
            return transition(.endpointFailed, "endpoint failed \(customer.endpointFailures) time(s); next attempt at \(Timestamp.string(next))",
                              hint: Hints.endpointFailed(region: customer.region), share: share)
        }
        // The share ARN is recorded by the move the create makes (`endpoint_requested`).
        return [.createEndpoint(customerId: id, name: name, resourceConfigurationArn: customer.resourceConfigurationArn,
                                detail: why, share: share)]
    }

    /// The customer's resource is not (or no longer) shared with us.
    func planWithoutShare(current: EndpointRecord?, accepting: Bool) -> [ReconcileAction] {
        let arn = customer.resourceConfigurationArn
        if accepting {
            let invitation = observation.invitations.first { invitation in
                invitation.isPending && (observation.pendingResources[invitation.resourceShareInvitationArn] ?? []).contains { $0.arn == arn }
            }
            return transition(.invitationMatched, "accepting invitation \(invitation?.resourceShareInvitationArn ?? "")",
                              share: invitation?.resourceShareArn)
        }
        // RAM lists a share it has just accepted a little later (eventual consistency): within the window
        // after the acceptance that is not a withdrawal.
        if customer.state == .shareAccepted, current == nil, now.timeIntervalSince(customer.stateChangedAt) < policy.missingGrace {
            return transition(.shareAccepted, "share accepted; waiting for RAM to list \(arn)")
        }
        if CustomerLifecycle.allows(.shareWithdrawn, from: customer.state) {
            // One ListResources that leaves the resource out is not a withdrawal: only a lookup of that ARN that
            // finds nothing is. Until then the customer keeps its state and its endpoint.
            if CustomerLifecycle.moves(.shareWithdrawn, from: customer.state), !observation.confirmedUnshared.contains(arn) {
                return [note("share_unconfirmed", "ListResources did not list \(arn) and the lookup of that ARN did not answer; "
                             + "nothing changes until RAM confirms the share is gone")]
            }
            var actions: [ReconcileAction] = []
            if let current {
                switch current.state {
                case .creating:
                    actions.append(.resumeCreate(customerId: id, name: name, endpoint: current))
                case .pending, .available:
                    actions.append(delete(current, reason: "the customer withdrew the share"))
                default:
                    break
                }
            }
            return actions + transition(.shareWithdrawn, "\(arn) is no longer shared with this account", hint: Hints.shareRevoked)
        }
        // The latest invitation we know for this ARN tells why no share is visible; failing that, an
        // expired invitation from the customer's account whose resources RAM would no longer list.
        let known = snapshot.invitations.values
            .filter { $0.resources.contains { $0.arn == arn } && $0.senderAccountId == customer.accountId }
            .max { $0.lastSeen < $1.lastSeen }
            ?? snapshot.invitations.values
            .filter { $0.resources.isEmpty && $0.invitationStatus == .expired && $0.senderAccountId == customer.accountId }
            .max { $0.lastSeen < $1.lastSeen }
        // What we learned (EXPIRED from a refused call) wins over RAM's listing, which may still read PENDING.
        let status: ResourceShareInvitationStatus? = known.map { record in
            let stored = record.invitationStatus
            return [.expired, .rejected].contains(stored) ? stored
                : observation.invitations.first { $0.resourceShareInvitationArn == record.invitationArn }?.invitationStatus ?? stored
        }
        switch status {
        case .expired where CustomerLifecycle.allows(.shareExpired, from: customer.state):
            return transition(.shareExpired, "invitation \(known?.invitationArn ?? "") expired before it was accepted", hint: Hints.shareAgain(accountId))
        case .rejected where CustomerLifecycle.allows(.shareRejected, from: customer.state):
            return transition(.shareRejected, "invitation \(known?.invitationArn ?? "") was rejected", hint: Hints.shareAgain(accountId))
        case .accepted:
            return transition(.shareAccepted, "invitation accepted; waiting for the shared resource to appear in RAM", share: known?.resourceShareArn)
        default:
            // share_expired / share_rejected stay until a new share arrives (it is then accepted above).
            // `invitation_gone` leads to awaiting_share: from accepting a move, in awaiting_share a refresh.
            if CustomerLifecycle.allows(.invitationGone, from: customer.state) {
                return transition(.invitationGone, "waiting for the customer's RAM share", hint: Hints.awaitingShare(arn: arn, accountId: accountId))
            }
            return []
        }
    }
}

/// What on-call should tell the customer or check, per state.
enum Hints {
    static func awaitingShare(arn: String, accountId: String?) -> String {
        "ask the customer to RAM-share \(arn) with account \(accountId ?? "<our account>") (setup step 5, allowing principals outside their organization)"
    }

    static func shareAgain(_ accountId: String?) -> String {
        "the customer must share the resource configuration again: RAM → Resource shares → add principal \(accountId ?? "<our account>") (setup step 5)"
    }

    static let associationInaccessible = "EC2 says the resource is not reachable through the endpoint: the customer's resource configuration is not AVAILABLE or no longer shared with us; ask them to check it and its resource gateway (setup steps 2, 4 and 5)"

    static let shareRevoked = "the customer removed the share or deleted the resource configuration; ask them to share it again (setup steps 4–5), then the endpoint is recreated"

    static func endpointFailed(region: String) -> String {
        "EC2 could not create the endpoint: check regions.\(region) in the config (VPC, subnets in 2+ AZs, security groups) and the account's VPC endpoint quota; the daemon retries with backoff."
    }
}
