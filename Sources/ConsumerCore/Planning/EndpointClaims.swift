/// What the state says, right before a delete, about an endpoint that a pass planned to delete as untracked
/// (a stray of a removed registration, a surplus duplicate, an orphan): whatever claims it now.
public struct EndpointClaims: Sendable, Equatable {
    /// A released (kept) generation holds this id, or (its id unknown) the endpoint's tag and ARN.
    public var released: Bool
    /// Customers whose open generation records this id.
    public var recordedBy: Set<Int64>
    /// Live customers (registered or being removed) named as the endpoint's tag says.
    public var liveNamed: [Customer]

    public init(released: Bool = false, recordedBy: Set<Int64> = [], liveNamed: [Customer] = []) {
        self.released = released
        self.recordedBy = recordedBy
        self.liveNamed = liveNamed
    }

    /// Why an untracked endpoint may no longer be deleted, or nil when the delete still holds. The same rules
    /// as the planner's, asked again of the state as it is now (another writer may have moved since the plan).
    public func refusal(deletingFor customer: Customer?, endpointArn: String?) -> String? {
        if released { return "it is a released (kept) endpoint" }
        if !recordedBy.isEmpty { return "a generation records it now" }
        guard let customer else {
            // An orphan: no live customer of its tag's name and its resource configuration may exist.
            return Self.owns(liveNamed, arn: endpointArn) ? "a registration of its name and resource configuration exists now" : nil
        }
        if customer.state == .removing,
           liveNamed.contains(where: { $0.id != customer.id && $0.state != .removing && $0.resourceConfigurationArn == customer.resourceConfigurationArn }) {
            return "a new registration of the same name and ARN owns it now"
        }
        return nil
    }

    /// Whether one of `customers` (live, of the endpoint's tag's name) owns an endpoint for `arn`: the same
    /// resource configuration, or any when EC2 did not say which.
    public static func owns(_ customers: [Customer], arn: String?) -> Bool {
        customers.contains { arn == nil || $0.resourceConfigurationArn == arn }
    }
}
