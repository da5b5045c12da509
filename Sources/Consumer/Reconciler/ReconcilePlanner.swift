import AWSClient
import ConsumerStore
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

/// The reconciler's decisions as a pure function: observed AWS state + the store → actions.
public enum ReconcilePlanner {
    public static func plan(_ observation: RegionObservation, snapshot: RegistrySnapshot, policy: ReconcilePolicy,
                            accountId: String?, now: Date) -> [ReconcileAction] {
        let customers = snapshot.customers.filter { $0.region == observation.region }
        let invitationActions = planInvitations(observation, snapshot: snapshot, customers: customers, policy: policy, now: now)
        let accepting = Set(invitationActions.flatMap { action -> [String] in
            if case .accept(_, let names) = action { return names }
            return []
        })
        let match = observation.match ?? EndpointMatcher.match(observation.endpoints, customers: customers, records: snapshot.endpoints)
        var customerActions: [ReconcileAction] = []
        for customer in customers {
            customerActions += planCustomer(customer, record: customer.id.flatMap { snapshot.endpoints[$0] }, observation: observation,
                                            snapshot: snapshot, match: match, accepting: accepting.contains(customer.name),
                                            policy: policy, accountId: accountId, now: now)
        }
        // Records first, then the customers' moves (`accepting` before the accept call), then the calls.
        let isCall: (ReconcileAction) -> Bool = { action in
            switch action {
            case .accept, .reject: true
            default: false
            }
        }
        return invitationActions.filter { !isCall($0) } + customerActions + invitationActions.filter(isCall)
    }

    // MARK: Invitations

    static func planInvitations(_ observation: RegionObservation, snapshot: RegistrySnapshot, customers: [Customer],
                                policy: ReconcilePolicy, now: Date) -> [ReconcileAction] {
        let registered = Dictionary(customers.map { ($0.resourceConfigurationArn, $0) }, uniquingKeysWith: { first, _ in first })
        var actions: [ReconcileAction] = []
        for invitation in observation.invitations {
            let existing = snapshot.invitations[invitation.resourceShareInvitationArn]
            guard invitation.isPending else {
                // Keep the record's status current (an invitation is never the record of a share, but its
                // final status tells why a customer's share never arrived).
                if let existing, existing.status != invitation.status {
                    var record = existing
                    record.status = invitation.status
                    record.lastSeen = now
                    actions.append(.recordInvitation(record))
                }
                continue
            }
            guard let resources = observation.pendingResources[invitation.resourceShareInvitationArn] else {
                // RAM will not list an expired invitation's resources, though it may still read PENDING:
                // remember it (by sender) so that the sender's customers are told to share again.
                if let code = observation.unlistable[invitation.resourceShareInvitationArn], code.contains("Expired"),
                   existing?.status != "EXPIRED" {
                    actions.append(.recordInvitation(InvitationRecord(
                        invitationArn: invitation.resourceShareInvitationArn, region: observation.region,
                        resourceShareArn: invitation.resourceShareArn, resourceShareName: invitation.resourceShareName,
                        senderAccountId: invitation.senderAccountId, status: "EXPIRED", resources: existing?.resources ?? [],
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
            record.status = invitation.status
            record.lastSeen = now
            switch InvitationMatcher.decide(senderAccountId: invitation.senderAccountId, resources: resources, registered: registered) {
            case .accept(let names):
                if existing == nil || existing?.decision != .pending || existing?.reason != nil {
                    record.decision = .pending
                    record.reason = nil
                    actions.append(.recordInvitation(record))
                }
                actions.append(.accept(invitationArn: invitation.resourceShareInvitationArn, customers: names))
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

    // MARK: Customers

    static func planCustomer(_ customer: Customer, record: EndpointRecord?, observation: RegionObservation,
                             snapshot: RegistrySnapshot, match: EndpointMatcher.Match, accepting: Bool,
                             policy: ReconcilePolicy, accountId: String?, now: Date) -> [ReconcileAction] {
        let name = customer.name
        let observed = match.kept[name]
        var actions: [ReconcileAction] = []
        func move(_ state: CustomerState, _ detail: String?, hint: String? = nil, share: String? = nil) {
            if customer.state != state || customer.stateDetail != detail || customer.hint != hint
                || (share != nil && share != customer.resourceShareArn) {
                actions.append(.transition(customer: name, to: state, detail: detail, hint: hint, resourceShareArn: share))
            }
        }

        if customer.state == .removing {
            if let observed {
                actions.append(.deleteEndpoint(customer: name, vpcEndpointId: observed.vpcEndpointId, reason: "customer removed"))
            } else if record?.state == .creating, let record, let id = record.id {
                // A create may have reached EC2 before the removal: resolve it first, then delete.
                actions.append(.resumeCreate(customer: name, resourceConfigurationArn: customer.resourceConfigurationArn, endpointRowId: id, clientToken: record.clientToken))
            } else {
                actions.append(.finishRemoval(customer: name, detail: "removed; endpoint deleted"))
            }
            return actions
        }

        for surplus in match.surplus[name] ?? [] where observed != nil {
            actions.append(.deleteEndpoint(customer: name, vpcEndpointId: surplus.vpcEndpointId, reason: "duplicate endpoint for the same customer"))
        }

        guard let shared = observation.sharedResources[customer.resourceConfigurationArn] else {
            actions += planWithoutShare(customer, record: record, observed: observed, observation: observation,
                                        snapshot: snapshot, accepting: accepting, accountId: accountId, move: move)
            return actions
        }
        let share = shared.resourceShareArn
        guard shared.isAvailable else {
            move(.shareAccepted, "share accepted; waiting for the resource to become AVAILABLE (RAM says \(shared.status ?? "no status"))", share: share)
            return actions
        }

        if let observed {
            if record?.vpcEndpointId != observed.vpcEndpointId {
                actions.append(.adoptEndpoint(customer: name, endpoint: observed))
                move(.endpointPending, "endpoint \(observed.vpcEndpointId) found in EC2 (\(observed.state)); adopted", share: share)
                return actions
            }
            guard let record, let rowId = record.id else { return actions }
            switch observed.state {
            case .available:
                let dns = observation.dnsNames[observed.vpcEndpointId] ?? record.dnsName
                if record.state != .available || record.dnsName != dns || record.awsState != observed.state.description {
                    actions.append(.updateEndpoint(customer: name, endpointRowId: rowId, state: .available,
                                                   awsState: observed.state.description, dnsName: dns, lastError: nil))
                }
                if let dns {
                    if customer.endpointFailures > 0 { actions.append(.resetFailures(customer: name)) }
                    move(.ready, "endpoint \(observed.vpcEndpointId) available at \(dns)", share: share)
                } else {
                    move(.endpointPending, "endpoint \(observed.vpcEndpointId) available; waiting for its DNS name", share: share)
                }
            case .failed, .rejected, .expired:
                let reason = observed.lastError?.description ?? observed.failureReason ?? "EC2 reports \(observed.state)"
                actions.append(.endpointFailed(customer: name, endpointRowId: rowId, reason: reason))
                actions.append(.deleteEndpoint(customer: name, vpcEndpointId: observed.vpcEndpointId, reason: "endpoint \(observed.state): \(reason)"))
                move(.endpointFailed, "endpoint \(observed.vpcEndpointId) \(observed.state): \(reason)",
                     hint: Hints.endpointFailed(region: customer.region), share: share)
            default:
                if record.state != .pending || record.awsState != observed.state.description {
                    actions.append(.updateEndpoint(customer: name, endpointRowId: rowId, state: .pending,
                                                   awsState: observed.state.description, dnsName: nil, lastError: nil))
                }
                move(.endpointPending, "endpoint \(observed.vpcEndpointId) is \(observed.state)", share: share)
            }
            return actions
        }

        // No endpoint in EC2 for this customer.
        if let record, let rowId = record.id {
            switch record.state {
            case .creating:
                actions.append(.resumeCreate(customer: name, resourceConfigurationArn: customer.resourceConfigurationArn, endpointRowId: rowId, clientToken: record.clientToken))
                move(.endpointPending, "creating the endpoint (ClientToken \(record.clientToken))", share: share)
                return actions
            case .pending, .available:
                if now.timeIntervalSince(record.updatedAt) < policy.missingGrace && record.state == .pending {
                    move(.endpointPending, "endpoint \(record.vpcEndpointId ?? "?") not listed by EC2 yet", share: share)
                    return actions
                }
                actions.append(.endpointGone(customer: name, endpointRowId: rowId))
                move(.endpointMissing, "endpoint \(record.vpcEndpointId ?? "?") was deleted outside the daemon; recreating it", share: share)
                actions.append(.createEndpoint(customer: name, resourceConfigurationArn: customer.resourceConfigurationArn))
                return actions
            case .failed, .deleting, .deleted:
                actions.append(.endpointGone(customer: name, endpointRowId: rowId))
            }
        }
        if customer.endpointFailures >= policy.maxEndpointFailures {
            move(.endpointFailed, "\(customer.endpointFailures) endpoint attempts failed; not retrying",
                 hint: Hints.endpointFailed(region: customer.region) + " Then `customer remove` and `customer add` the customer to try again.",
                 share: share)
            return actions
        }
        if let next = customer.nextEndpointAttemptAt, next > now {
            move(.endpointFailed, "endpoint failed \(customer.endpointFailures) time(s); next attempt at \(Timestamp.string(next))",
                 hint: Hints.endpointFailed(region: customer.region), share: share)
            return actions
        }
        actions.append(.createEndpoint(customer: name, resourceConfigurationArn: customer.resourceConfigurationArn))
        move(.endpointPending, "creating the endpoint", share: share)
        return actions
    }

    /// The customer's resource is not (or no longer) shared with us.
    static func planWithoutShare(_ customer: Customer, record: EndpointRecord?, observed: VpcEndpoint?,
                                 observation: RegionObservation, snapshot: RegistrySnapshot, accepting: Bool, accountId: String?,
                                 move: (CustomerState, String?, String?, String?) -> Void) -> [ReconcileAction] {
        let arn = customer.resourceConfigurationArn
        if accepting {
            let invitation = observation.invitations.first { invitation in
                invitation.isPending && (observation.pendingResources[invitation.resourceShareInvitationArn] ?? []).contains { $0.arn == arn }
            }
            move(.accepting, "accepting invitation \(invitation?.resourceShareInvitationArn ?? "")", nil, invitation?.resourceShareArn)
            return []
        }
        let hadShare: Set<CustomerState> = [.shareAccepted, .endpointPending, .ready, .endpointMissing, .endpointFailed, .shareRevoked]
        if hadShare.contains(customer.state) {
            var actions: [ReconcileAction] = []
            if let observed {
                actions.append(.deleteEndpoint(customer: customer.name, vpcEndpointId: observed.vpcEndpointId,
                                               reason: "the customer withdrew the share"))
            } else if let record, let id = record.id, record.state != .deleted {
                actions.append(.endpointGone(customer: customer.name, endpointRowId: id))
            }
            move(.shareRevoked, "\(arn) is no longer shared with this account", Hints.shareRevoked, nil)
            return actions
        }
        // The latest invitation we know for this ARN tells why no share is visible; failing that, an
        // expired invitation from the customer's account whose resources RAM would no longer list.
        let known = snapshot.invitations.values
            .filter { $0.resources.contains { $0.arn == arn } && $0.senderAccountId == customer.accountId }
            .max { $0.lastSeen < $1.lastSeen }
            ?? snapshot.invitations.values
            .filter { $0.resources.isEmpty && $0.status == "EXPIRED" && $0.senderAccountId == customer.accountId }
            .max { $0.lastSeen < $1.lastSeen }
        // What we learned (EXPIRED from a refused call) wins over RAM's listing, which may still read PENDING.
        let status = known.flatMap { record in
            ["EXPIRED", "REJECTED"].contains(record.status.uppercased()) ? record.status
                : observation.invitations.first { $0.resourceShareInvitationArn == record.invitationArn }?.status ?? record.status
        }?.uppercased()
        switch status {
        case "EXPIRED":
            move(.shareExpired, "invitation \(known?.invitationArn ?? "") expired before it was accepted", Hints.shareAgain(accountId), nil)
        case "REJECTED":
            move(.shareRejected, "invitation \(known?.invitationArn ?? "") was rejected", Hints.shareAgain(accountId), nil)
        case "ACCEPTED":
            move(.shareAccepted, "invitation accepted; waiting for the shared resource to appear in RAM", nil, known?.resourceShareArn)
        default:
            // share_expired / share_rejected stay until a new share arrives (it is then accepted above).
            if [.accepting, .awaitingShare].contains(customer.state) {
                move(.awaitingShare, "waiting for the customer's RAM share", Hints.awaitingShare(arn: arn, accountId: accountId), nil)
            }
        }
        return []
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

    static let shareRevoked = "the customer removed the share or deleted the resource configuration; ask them to share it again (setup steps 4–5), then the endpoint is recreated"

    static func endpointFailed(region: String) -> String {
        "EC2 could not create the endpoint: check regions.\(region) in the config (VPC, subnets in 2+ AZs, security groups) and the account's VPC endpoint quota; the daemon retries with backoff."
    }
}
