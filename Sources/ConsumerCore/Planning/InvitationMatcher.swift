import AWSModels

/// The matching rule (DESIGN.md): accept an invitation only when it lists at least one resource,
/// every resource is a VPC Lattice resource configuration, every ARN is registered, and the sender is
/// the account in each ARN. Accepting something unregistered is the one unforgivable bug, so this is
/// a pure function with a table of tests.
public enum InvitationMatcher {
    public enum Decision: Sendable, Equatable {
        /// Accept: these registered customers are what the invitation shares.
        case accept(customers: [String])
        /// Do not accept, for this reason (recorded once, reported in `status`).
        case refuse(InvitationRecord.Reason, detail: String)
    }

    /// - Parameters:
    ///   - registered: live customers by resource configuration ARN.
    public static func decide(senderAccountId: String, resources: [RAMResource],
                              registered: [String: Customer]) -> Decision {
        guard !resources.isEmpty else {
            return .refuse(.emptyShare, detail: "the share lists no resources")
        }
        if let other = resources.first(where: { !$0.isResourceConfiguration }) {
            return .refuse(.unexpectedResourceType, detail: "\(other.arn) is a \(other.type), not a vpc-lattice:ResourceConfiguration")
        }
        var customers: [String] = []
        for resource in resources {
            guard let customer = registered[resource.arn], customer.state.isLive, customer.state != .removing else {
                return .refuse(.unregisteredResource, detail: "\(resource.arn) is not registered (customer add NAME --arn …)")
            }
            guard customer.accountId == senderAccountId else {
                return .refuse(.senderMismatch, detail: "sent by account \(senderAccountId), but \(resource.arn) belongs to account \(customer.accountId)")
            }
            customers.append(customer.name)
        }
        return .accept(customers: customers)
    }
}
