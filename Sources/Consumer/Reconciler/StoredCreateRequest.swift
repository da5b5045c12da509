import AWSClient
import Foundation

/// A CreateVpcEndpoint request as stored with its ClientToken, so that a call whose answer was lost is
/// repeated exactly: EC2 then returns the same endpoint, or `IdempotentParameterMismatch` only when the
/// token's endpoint is already deleted (never because today's config differs from the day of the call).
struct StoredCreateRequest: Codable, Equatable {
    struct Tag: Codable, Equatable {
        var key: String
        var value: String
    }

    var resourceConfigurationArn: String
    var vpcId: String
    var subnetIds: [String]
    var securityGroupIds: [String]
    var ipAddressType: String
    var privateDnsEnabled: Bool
    var tags: [Tag]

    init(_ request: ResourceEndpointRequest) {
        resourceConfigurationArn = request.resourceConfigurationArn
        vpcId = request.vpcId
        subnetIds = request.subnetIds
        securityGroupIds = request.securityGroupIds
        ipAddressType = request.ipAddressType
        privateDnsEnabled = request.privateDnsEnabled
        tags = request.tags.map { Tag(key: $0.key, value: $0.value) }
    }

    /// Nil for anything that is not a stored request (the state database's answers are untrusted too).
    init?(json: String) {
        guard let decoded = try? JSONDecoder().decode(Self.self, from: Data(json.utf8)),
              decoded.resourceConfigurationArn.hasPrefix("arn:"), decoded.vpcId.hasPrefix("vpc-") else { return nil }
        self = decoded
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func request(clientToken: String) -> ResourceEndpointRequest {
        ResourceEndpointRequest(resourceConfigurationArn: resourceConfigurationArn, vpcId: vpcId, subnetIds: subnetIds,
                                securityGroupIds: securityGroupIds, ipAddressType: ipAddressType, privateDnsEnabled: privateDnsEnabled,
                                clientToken: clientToken, tags: tags.map { ($0.key, $0.value) })
    }
}
