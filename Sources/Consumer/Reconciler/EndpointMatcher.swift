import AWSClient
import ConsumerStore

/// Which observed endpoint is which customer's: our tag first, else the resource configuration ARN
/// (an endpoint someone made by hand is adopted, not duplicated). Extra endpoints of ours for the same
/// customer are surplus, to be deleted once the kept one exists.
public enum EndpointMatcher {
    public struct Match: Sendable, Equatable {
        /// The endpoint kept for each customer, by customer name.
        public var kept: [String: VpcEndpoint] = [:]
        /// Endpoints tagged as ours beyond the kept one, by customer name.
        public var surplus: [String: [VpcEndpoint]] = [:]
    }

    public static func match(_ endpoints: [VpcEndpoint], customers: [Customer], records: [Int64: EndpointRecord]) -> Match {
        var byName: [String: Customer] = [:]
        var byArn: [String: Customer] = [:]
        for customer in customers {
            byName[customer.name] = customer
            byArn[customer.resourceConfigurationArn] = customer
        }
        var candidates: [String: [VpcEndpoint]] = [:]
        for endpoint in endpoints where ![.deleted, .deleting].contains(endpoint.state) {
            let owner: Customer?
            if let tagged = endpoint.tags[EndpointTags.customerKey] {
                // A tag naming a customer whose ARN differs is someone else's endpoint: leave it alone.
                owner = byName[tagged].flatMap { customer in
                    endpoint.resourceConfigurationArn == nil || endpoint.resourceConfigurationArn == customer.resourceConfigurationArn ? customer : nil
                }
            } else {
                owner = endpoint.resourceConfigurationArn.flatMap { byArn[$0] }
            }
            if let owner { candidates[owner.name, default: []].append(endpoint) }
        }
        var match = Match()
        for (name, found) in candidates {
            let recorded = byName[name]?.id.flatMap { records[$0]?.vpcEndpointId }
            let ranked = found.sorted { lhs, rhs in
                rank(lhs, recorded: recorded) < rank(rhs, recorded: recorded)
                    || (rank(lhs, recorded: recorded) == rank(rhs, recorded: recorded) && lhs.vpcEndpointId < rhs.vpcEndpointId)
            }
            match.kept[name] = ranked[0]
            let extra = ranked.dropFirst().filter { $0.tags[EndpointTags.customerKey] == name }
            if !extra.isEmpty { match.surplus[name] = Array(extra) }
        }
        return match
    }

    /// Lower is better: the recorded endpoint, then a working one, then a pending one, then the rest.
    private static func rank(_ endpoint: VpcEndpoint, recorded: String?) -> Int {
        if endpoint.vpcEndpointId == recorded { return 0 }
        switch endpoint.state {
        case .available: return 1
        case .pending, .pendingAcceptance: return 2
        default: return 3
        }
    }
}
