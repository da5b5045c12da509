/// How a pass writes its plan: consecutive invitation records together, consecutive generation changes of
/// distinct customers together (one transaction each, every change its own compare-and-set), everything else
/// one action at a time. A customer's second change starts a new batch: it waits for what its first says.
public enum ActionBatch: Sendable, Equatable {
    case records([InvitationRecord])
    case changes([ReconcileAction])
    case one(ReconcileAction)

    public static func batches(_ actions: [ReconcileAction]) -> [ActionBatch] {
        var batches: [ActionBatch] = []
        var records: [InvitationRecord] = []
        var changes: [ReconcileAction] = []
        var changing: Set<Int64> = []
        func close() {
            if !records.isEmpty { batches.append(.records(records)) }
            if !changes.isEmpty { batches.append(.changes(changes)) }
            records = []
            changes = []
            changing = []
        }
        for action in actions {
            switch action {
            case .recordInvitation(let record):
                if !changes.isEmpty { close() }
                records.append(record)
            case .changeEndpoint(let id, _, _, _, _):
                if !records.isEmpty || changing.contains(id) { close() }
                changes.append(action)
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
