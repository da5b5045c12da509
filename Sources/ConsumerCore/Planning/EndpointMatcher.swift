import AWSModels

/// Which endpoint that no generation records is which registered customer's: our tag first, else the
/// resource configuration ARN (an endpoint from a lost state file, or one made by hand, is adopted, not
/// duplicated; a kept one never reaches here). Extra endpoints tagged for the same customer are surplus.
public enum EndpointMatcher {
    public struct Match: Sendable, Equatable {
        /// The endpoint kept for each customer, by customer name.
        public var kept: [String: VpcEndpoint] = [:]
        /// Endpoints tagged as ours beyond the kept one, by customer name.
        public var surplus: [String: [VpcEndpoint]] = [:]
    }

    /// - Parameters:
    ///   - customers: registered customers (not removing) of the region.
    ///   - recorded: endpoint ids held by open generations: they belong to their rows, never matched here.
    public static func match(_ endpoints: [VpcEndpoint], customers: [Customer], recorded: Set<String>) -> Match {
        let unrecorded = endpoints.filter { ![.deleted, .deleting].contains($0.state) && !recorded.contains($0.vpcEndpointId) }
        // The usual pass: every endpoint is recorded, and no index of the customers is built.
        guard !unrecorded.isEmpty else { return Match() }
        // Positions in `customers`, not copies of them (a pass over 10,000 customers would copy each twice).
        var byName: [String: Int] = [:]
        var byArn: [String: Int] = [:]
        for (index, customer) in customers.enumerated() {
            byName[customer.name] = index
            byArn[customer.resourceConfigurationArn] = index
        }
        var candidates: [String: [VpcEndpoint]] = [:]
        for endpoint in unrecorded {
            let owner: Customer?
            if let tagged = endpoint.tags[EndpointTags.customerKey] {
                // A tag naming a customer whose ARN differs is someone else's endpoint: leave it alone.
                owner = byName[tagged].map { customers[$0] }.flatMap { customer in
                    endpoint.resourceConfigurationArn == nil || endpoint.resourceConfigurationArn == customer.resourceConfigurationArn ? customer : nil
                }
            } else {
                owner = endpoint.resourceConfigurationArn.flatMap { byArn[$0] }.map { customers[$0] }
            }
            if let owner { candidates[owner.name, default: []].append(endpoint) }
        }
        var match = Match()
        for (name, found) in candidates {
            let ranked = found.sorted { lhs, rhs in
                rank(lhs) < rank(rhs) || (rank(lhs) == rank(rhs) && lhs.vpcEndpointId < rhs.vpcEndpointId)
            }
            match.kept[name] = ranked[0]
            let extra = ranked.dropFirst().filter { $0.tags[EndpointTags.customerKey] == name }
            if !extra.isEmpty { match.surplus[name] = Array(extra) }
        }
        return match
    }

    /// Lower is better: a working one, then a pending one, then the rest.
    private static func rank(_ endpoint: VpcEndpoint) -> Int {
        switch endpoint.state {
        case .available: return 1
        case .pending, .pendingAcceptance: return 2
        default: return 3
        }
    }
}
