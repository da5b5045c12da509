/// How a pass writes its plan: consecutive invitation records together, consecutive generation changes of
/// distinct customers together (one transaction each, every change its own compare-and-set), everything else
/// one action at a time. A customer's second change starts a new group: it waits for what its first says. A group
/// holds at most `maxGroup` actions: a transaction holds the write lock and the lease row while it runs, so a pass
/// with thousands of changes (the first after an upgrade, a bulk onboarding) writes them a few hundred at a time
/// rather than in one transaction that would keep the lease from being renewed.
public enum ActionBatch: Sendable, Equatable {
    /// Written in one transaction (records only, or changes only).
    case together([ReconcileAction])
    case one(ReconcileAction)

    public static let maxGroup = 200

    public static func batches(_ actions: [ReconcileAction], maxGroup: Int = ActionBatch.maxGroup) -> [ActionBatch] {
        var batches: [ActionBatch] = []
        var group: [ReconcileAction] = []
        var changing: Set<Int64> = []
        func close() {
            if !group.isEmpty { batches.append(.together(group)) }
            group = []
            changing = []
        }
        for action in actions {
            if group.count >= max(1, maxGroup) { close() }
            switch action {
            case .recordInvitation:
                if !changing.isEmpty { close() }
                group.append(action)
            case .changeEndpoint(let id, _, _, _, _):
                if (!group.isEmpty && changing.isEmpty) || changing.contains(id) { close() }
                group.append(action)
                changing.insert(id)
            default:
                close()
                batches.append(.one(action))
            }
        }
        close()
        return batches
    }
}
