/// The customer lifecycle as one table: every state, every event that moves a customer, and the only
/// edges allowed between them. Nothing else decides a customer's next state: the planner names the
/// event it observed, the reconciler the outcome of its calls, the CLI the SE's request; this type
/// answers with the next state or refuses. The store holds the same edges (table `lifecycle_edge`)
/// and refuses any other change, whoever writes.
public enum CustomerLifecycle {
    /// Something that happened to a customer: an observation of AWS, the outcome of one of our calls,
    /// or a request from the CLI. Each event leads to exactly one state.
    public enum Event: String, Sendable, CaseIterable, Codable {
        /// The SE registered the customer (`customer add`).
        case registered
        /// A pending invitation shares exactly this customer's registered resource, from its account.
        case invitationMatched = "invitation_matched"
        /// The pending invitation we were accepting disappeared before it was accepted.
        case invitationGone = "invitation_gone"
        /// RAM says the invitation expired (or AcceptResourceShareInvitation answered Expired).
        case shareExpired = "share_expired"
        /// The invitation was rejected (by us under `unmatchedInvitations: reject`, or by someone else).
        case shareRejected = "share_rejected"
        /// The resource is shared with us (accepted, already accepted, or a same-organization share).
        case shareAccepted = "share_accepted"
        /// The shared resource is listed but no longer AVAILABLE.
        case shareUnavailable = "share_unavailable"
        /// The resource is no longer shared with us.
        case shareWithdrawn = "share_withdrawn"
        /// A new endpoint generation was started (ClientToken stored, CreateVpcEndpoint called).
        case endpointRequested = "endpoint_requested"
        /// A ready customer's endpoint is provisioning again, or lost its DNS name.
        case endpointProvisioning = "endpoint_provisioning"
        /// The endpoint is Available and its DNS name known (also an endpoint adopted in the same pass).
        case endpointAvailable = "endpoint_available"
        /// The endpoint ended Failed/Rejected/Expired, EC2 refused to create it, or the tries are spent.
        case endpointFailed = "endpoint_failed"
        /// An endpoint EC2 had listed is gone without our asking.
        case endpointMissing = "endpoint_missing"
        /// The SE deregistered a customer that has endpoints to delete (`customer remove`).
        case removalRequested = "removal_requested"
        /// The SE deregistered a customer with nothing to delete (or `--keep-endpoint`): removed at once.
        case removed
        /// Every endpoint ever created for a customer being removed is confirmed gone.
        case removalFinished = "removal_finished"
    }

    /// One row of the table: `event` moves a customer from any of `from` to `to`, and only `by` may say so.
    public struct Edge: Sendable, Hashable {
        public var event: Event
        /// The states the event applies in; empty for `registered` (a customer that did not exist).
        public var from: [CustomerState]
        public var to: CustomerState
        public var by: LifecycleActor.Kind
    }

    /// Why the lifecycle refused an event.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var event: Event
        public var from: CustomerState?
        public var by: LifecycleActor.Kind
        public var description: String {
            "lifecycle: \(event.rawValue) by \(by.rawValue) is not allowed from \(from?.rawValue ?? "no customer")"
        }
    }

    private static let beforeShare: [CustomerState] = [.awaitingShare, .shareExpired, .shareRejected, .shareRevoked]
    private static let withoutEndpoint: [CustomerState] = [.awaitingShare, .accepting, .shareAccepted, .shareExpired,
                                                           .shareRejected, .shareRevoked, .endpointMissing, .endpointFailed]
    private static let withShare: [CustomerState] = [.shareAccepted, .endpointPending, .ready, .endpointMissing, .endpointFailed]
    private static let registered: [CustomerState] = CustomerState.allCases.filter { ![.removing, .removed].contains($0) }

    /// Every allowed edge. README's "Customer lifecycle" table is this table; a test keeps them equal.
    public static let table: [Edge] = [
        Edge(event: .registered, from: [], to: .awaitingShare, by: .cli),
        Edge(event: .invitationMatched, from: beforeShare + withShare, to: .accepting, by: .daemon),
        Edge(event: .invitationGone, from: [.accepting], to: .awaitingShare, by: .daemon),
        Edge(event: .shareExpired, from: [.awaitingShare, .accepting], to: .shareExpired, by: .daemon),
        Edge(event: .shareRejected, from: [.awaitingShare, .accepting], to: .shareRejected, by: .daemon),
        Edge(event: .shareAccepted, from: [.awaitingShare, .accepting, .shareExpired, .shareRejected, .shareRevoked],
             to: .shareAccepted, by: .daemon),
        Edge(event: .shareUnavailable, from: [.endpointPending, .ready, .endpointMissing, .endpointFailed], to: .shareAccepted, by: .daemon),
        Edge(event: .shareWithdrawn, from: withShare, to: .shareRevoked, by: .daemon),
        Edge(event: .endpointRequested, from: withoutEndpoint, to: .endpointPending, by: .daemon),
        Edge(event: .endpointProvisioning, from: [.ready], to: .endpointPending, by: .daemon),
        Edge(event: .endpointAvailable, from: withoutEndpoint + [.endpointPending], to: .ready, by: .daemon),
        Edge(event: .endpointFailed, from: withoutEndpoint.filter { $0 != .endpointFailed } + [.endpointPending, .ready],
             to: .endpointFailed, by: .daemon),
        Edge(event: .endpointMissing, from: [.endpointPending, .ready], to: .endpointMissing, by: .daemon),
        Edge(event: .removalRequested, from: registered, to: .removing, by: .cli),
        Edge(event: .removed, from: registered, to: .removed, by: .cli),
        Edge(event: .removalFinished, from: [.removing], to: .removed, by: .daemon),
    ]

    private static let edges: [Event: Edge] = Dictionary(uniqueKeysWithValues: table.map { ($0.event, $0) })

    /// The state `event` leads to from `state` (nil: a customer not registered yet), or why not.
    ///
    /// An event whose target is the current state is allowed wherever the event is (a detail refresh,
    /// not an edge); `removed` is final, and only the removal path leaves `removing`.
    public static func next(from state: CustomerState?, on event: Event, by actor: LifecycleActor.Kind) -> Result<CustomerState, Refusal> {
        let refusal = Refusal(event: event, from: state, by: actor)
        guard let edge = edges[event], edge.by == actor else { return .failure(refusal) }
        guard let state else { return edge.from.isEmpty ? .success(edge.to) : .failure(refusal) }
        if edge.from.contains(state) || (state == edge.to && state != .removed && !edge.from.isEmpty) {
            return .success(edge.to)
        }
        return .failure(refusal)
    }

    /// Whether `event` (said by the daemon, unless `by` says otherwise) applies to a customer in `state`: an edge
    /// of the table from it, or a refresh of the state it leads to. The planner asks this rather than keep
    /// its own lists of states.
    public static func allows(_ event: Event, from state: CustomerState, by actor: LifecycleActor.Kind = .daemon) -> Bool {
        if case .success = next(from: state, on: event, by: actor) { return true }
        return false
    }

    /// Whether `event` moves a customer out of `state` (an edge, not a refresh of the state it is in).
    public static func moves(_ event: Event, from state: CustomerState, by actor: LifecycleActor.Kind = .daemon) -> Bool {
        if case .success(let next) = next(from: state, on: event, by: actor) { return next != state }
        return false
    }

    /// The table as (from, to, by) triples: what the store's `lifecycle_edge` table holds.
    public static var storedEdges: Set<StoredEdge> {
        Set(table.flatMap { edge in
            edge.from.filter { $0 != edge.to }.map { StoredEdge(from: $0.rawValue, to: edge.to.rawValue, by: edge.by.rawValue) }
        })
    }

    /// One state change the store allows, as it stores it.
    public struct StoredEdge: Sendable, Hashable {
        public var from: String
        public var to: String
        public var by: String
        public init(from: String, to: String, by: String) {
            self.from = from
            self.to = to
            self.by = by
        }
    }

    /// The table as Markdown, one row per event (README shows exactly this).
    public static var markdownTable: String {
        var lines = ["| event | from | to | by |", "|---|---|---|---|"]
        for edge in table {
            let from = edge.from.isEmpty ? "—" : edge.from.map { "`\($0.rawValue)`" }.joined(separator: ", ")
            lines.append("| `\(edge.event.rawValue)` | \(from) | `\(edge.to.rawValue)` | \(edge.by.rawValue) |")
        }
        return lines.joined(separator: "\n")
    }
}
