/// How a pass writes its plan: consecutive invitation records together, consecutive generation changes of
/// distinct customers together (one transaction each, every change its own compare-and-set), everything else
/// one action at a time. A customer's second change starts a new group: it waits for what its first says.
public enum ActionBatch: Sendable, Equatable {
    /// Written in one transaction (records only, or changes only).
    case together([ReconcileAction])
    case one(ReconcileAction)

    public static func batches(_ actions: [ReconcileAction]) -> [ActionBatch] {
        var batches: [ActionBatch] = []
        var group: [ReconcileAction] = []
        var changing: Set<Int64> = []
        func close() {
            if !group.isEmpty { batches.append(.together(group)) }
            group = []
            changing = []
        }
        for action in actions {
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
