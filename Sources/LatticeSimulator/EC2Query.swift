import AWSClient

/// The form parameters of one EC2 request, with EC2's list conventions (`Name.N`, `Filter.N.Value.M`).
struct EC2Query: Sendable {
    var fields: [QueryField]

    /// The first value of `name`.
    func value(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// Values of `prefix.1`, `prefix.2`, … in index order.
    func list(_ prefix: String) -> [String] {
        indexed(prefix).map(\.value)
    }

    /// `prefix.N` fields with their index, sorted by it.
    private func indexed(_ prefix: String) -> [(index: Int, value: String)] {
        let head = prefix + "."
        return fields.compactMap { field -> (index: Int, value: String)? in
            guard field.name.hasPrefix(head), let index = Int(field.name.dropFirst(head.count)) else { return nil }
            return (index, field.value)
        }.sorted { $0.index < $1.index }
    }

    /// `Filter.N.Name` with its `Filter.N.Value.M`, in index order.
    func filters() throws(SimulatorAPIError) -> [EC2Filter] {
        var names: [Int: String] = [:]
        var values: [Int: [(Int, String)]] = [:]
        for field in fields where field.name.hasPrefix("Filter.") {
            let parts = field.name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 3, let index = Int(parts[1]) else { continue }
            if parts.count == 3, parts[2] == "Name" {
                names[index] = field.value
            } else if parts.count == 4, parts[2] == "Value", let valueIndex = Int(parts[3]) {
                values[index, default: []].append((valueIndex, field.value))
            }
        }
        return try names.keys.sorted().map { index throws(SimulatorAPIError) -> EC2Filter in
            let filterValues = (values[index] ?? []).sorted { $0.0 < $1.0 }.map(\.1)
            guard !filterValues.isEmpty else {
                throw SimulatorAPIError(400, "InvalidParameterValue", "The filter '\(names[index]!)' must have at least one value.")
            }
            return EC2Filter(name: names[index]!, values: filterValues)
        }
    }

    /// `MaxResults` within `range`, or nil when absent.
    func maxResults(in range: ClosedRange<Int>) throws(SimulatorAPIError) -> Int? {
        guard let text = value("MaxResults") else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw SimulatorAPIError(400, "InvalidParameterValue",
                                    "Value ( \(text) ) for parameter maxResults is invalid. Expecting a value between \(range.lowerBound) and \(range.upperBound).")
        }
        return number
    }

    /// A boolean parameter (`true`/`false`), or `default` when absent.
    func bool(_ name: String, default defaultValue: Bool) throws(SimulatorAPIError) -> Bool {
        guard let text = value(name) else { return defaultValue }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default:
            throw SimulatorAPIError(400, "InvalidParameterValue", "Invalid value '\(text)' for \(name): expecting true or false.")
        }
    }

    /// Refuses parameters the action does not take, as EC2 does (`UnknownParameter`); `N` in a pattern
    /// stands for any index.
    func requireOnly(_ patterns: Set<String>) throws(SimulatorAPIError) {
        for field in fields {
            let pattern = field.name.split(separator: ".", omittingEmptySubsequences: false)
                .map { $0.allSatisfy(\.isNumber) && !$0.isEmpty ? "N" : String($0) }
                .joined(separator: ".")
            guard patterns.contains(pattern) || ["Action", "Version"].contains(field.name) else {
                throw SimulatorAPIError(400, "UnknownParameter", "The parameter \(field.name) is not recognized")
            }
        }
    }
}

/// One `Filter.N` of a Describe call.
struct EC2Filter: Sendable, Equatable {
    var name: String
    var values: [String]

    /// Whether `candidate` matches one of the values; EC2 filter values may use `*` and `?` wildcards.
    func matches(_ candidate: String?, caseInsensitive: Bool = false) -> Bool {
        guard let candidate else { return false }
        return values.contains { Self.glob($0, candidate, caseInsensitive: caseInsensitive) }
    }

    static func glob(_ pattern: String, _ text: String, caseInsensitive: Bool) -> Bool {
        if !pattern.utf8.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") }) {
            return caseInsensitive ? pattern.lowercased() == text.lowercased() : pattern == text
        }
        let pattern = Array(caseInsensitive ? pattern.lowercased() : pattern)
        let text = Array(caseInsensitive ? text.lowercased() : text)
        var p = 0, t = 0, star = -1, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1; t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p; mark = t; p += 1
            } else if star >= 0 {
                p = star + 1; mark += 1; t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}

/// The parameters of a CreateVpcEndpoint call that ClientToken idempotency compares.
struct CreateVpcEndpointInput: Sendable, Equatable {
    var vpcId: String
    var resourceConfigurationArn: String
    var subnetIds: [String]
    var securityGroupIds: [String]
    var ipAddressType: String
    var privateDnsEnabled: Bool
    /// Tags in request order.
    var tags: [EndpointTag]

    static let parameters: Set<String> = [
        "DryRun", "VpcEndpointType", "VpcId", "ServiceName", "PolicyDocument", "RouteTableId.N", "SubnetId.N",
        "SecurityGroupId.N", "IpAddressType", "DnsOptions.DnsRecordIpType", "DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint",
        "DnsOptions.PrivateDnsPreference", "DnsOptions.PrivateDnsSpecifiedDomain.N", "ClientToken", "PrivateDnsEnabled",
        "TagSpecification.N.ResourceType", "TagSpecification.N.Tag.N.Key", "TagSpecification.N.Tag.N.Value",
        "SubnetConfiguration.N.SubnetId", "SubnetConfiguration.N.Ipv4", "SubnetConfiguration.N.Ipv6",
        "ServiceNetworkArn", "ResourceConfigurationArn", "ServiceRegion",
    ]

    /// Parses and validates a Resource-type CreateVpcEndpoint request.
    init(_ query: EC2Query) throws(SimulatorAPIError) {
        try query.requireOnly(Self.parameters)
        guard let type = query.value("VpcEndpointType"), type == "Resource" else {
            throw SimulatorAPIError(400, "InvalidParameter",
                                    "The simulator creates only VpcEndpointType=Resource endpoints, not '\(query.value("VpcEndpointType") ?? "Gateway")'.")
        }
        for refused in ["ServiceName", "ServiceNetworkArn", "PolicyDocument"] where query.value(refused) != nil {
            throw SimulatorAPIError(400, "InvalidParameter", "\(refused) is not supported for endpoints of type Resource.")
        }
        if !query.list("RouteTableId").isEmpty {
            throw SimulatorAPIError(400, "InvalidParameter", "Route tables are not supported for endpoints of type Resource.")
        }
        guard let vpcId = query.value("VpcId"), !vpcId.isEmpty else {
            throw SimulatorAPIError(400, "MissingParameter", "The request must contain the parameter VpcId")
        }
        guard vpcId.hasPrefix("vpc-") else {
            throw SimulatorAPIError(400, "InvalidVpcId.Malformed", "Invalid id: \"\(vpcId)\"")
        }
        guard let arn = query.value("ResourceConfigurationArn"), !arn.isEmpty else {
            throw SimulatorAPIError(400, "MissingParameter", "The request must contain the parameter ResourceConfigurationArn")
        }
        let subnetIds = query.list("SubnetId")
        guard !subnetIds.isEmpty else {
            throw SimulatorAPIError(400, "InvalidParameter", "At least one subnet is required for an endpoint of type Resource.")
        }
        if let bad = subnetIds.first(where: { !$0.hasPrefix("subnet-") }) {
            throw SimulatorAPIError(400, "InvalidSubnetID.Malformed", "Invalid id: \"\(bad)\"")
        }
        let groups = query.list("SecurityGroupId")
        if let bad = groups.first(where: { !$0.hasPrefix("sg-") }) {
            throw SimulatorAPIError(400, "InvalidGroupId.Malformed", "Invalid id: \"\(bad)\"")
        }
        let ipAddressType = query.value("IpAddressType") ?? "ipv4"
        guard ["ipv4", "dualstack", "ipv6"].contains(ipAddressType) else {
            throw SimulatorAPIError(400, "InvalidParameterValue", "Value (\(ipAddressType)) for parameter IpAddressType is invalid.")
        }
        var tags: [EndpointTag] = []
        var specification = 1
        while let resourceType = query.value("TagSpecification.\(specification).ResourceType") {
            guard resourceType == "vpc-endpoint" else {
                throw SimulatorAPIError(400, "InvalidParameterValue",
                                        "'\(resourceType)' is not a valid taggable resource type for this operation.")
            }
            var index = 1
            while let key = query.value("TagSpecification.\(specification).Tag.\(index).Key") {
                guard !key.lowercased().hasPrefix("aws:") else {
                    throw SimulatorAPIError(400, "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
                }
                tags.append(EndpointTag(key: key, value: query.value("TagSpecification.\(specification).Tag.\(index).Value") ?? ""))
                index += 1
            }
            specification += 1
        }
        self.vpcId = vpcId
        self.resourceConfigurationArn = arn
        self.subnetIds = subnetIds
        self.securityGroupIds = groups
        self.ipAddressType = ipAddressType
        self.privateDnsEnabled = try query.bool("PrivateDnsEnabled", default: true)
        self.tags = tags
    }
}

/// One EC2 tag.
struct EndpointTag: Sendable, Equatable {
    var key: String
    var value: String
}
