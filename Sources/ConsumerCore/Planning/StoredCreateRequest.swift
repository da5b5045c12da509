import AWSModels
import Foundation

/// A CreateVpcEndpoint request as stored with its ClientToken, so that a call whose answer was lost is
/// repeated exactly: EC2 then returns the same endpoint, or `IdempotentParameterMismatch` only when the
/// token's endpoint is already deleted (never because today's config differs from the day of the call).
package struct StoredCreateRequest: Codable, Equatable {
    package struct Tag: Codable, Equatable {
        package var key: String
        package var value: String
    }

    package var resourceConfigurationArn: String
    package var vpcId: String
    package var subnetIds: [String]
    package var securityGroupIds: [String]
    package var ipAddressType: String
    package var privateDnsEnabled: Bool
    package var tags: [Tag]

    package init(_ request: ResourceEndpointRequest) {
        resourceConfigurationArn = request.resourceConfigurationArn
        vpcId = request.vpcId
        subnetIds = request.subnetIds
        securityGroupIds = request.securityGroupIds
        ipAddressType = request.ipAddressType
        privateDnsEnabled = request.privateDnsEnabled
        tags = request.tags.map { Tag(key: $0.key, value: $0.value) }
    }

    /// Nil for anything that is not a stored request (the state database's answers are untrusted too).
    package init?(json: String) {
        guard let decoded = try? JSONDecoder().decode(Self.self, from: Data(json.utf8)),
              decoded.resourceConfigurationArn.hasPrefix("arn:"), decoded.vpcId.hasPrefix("vpc-") else { return nil }
        self = decoded
    }

    package var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    package func request(clientToken: String) -> ResourceEndpointRequest {
        ResourceEndpointRequest(resourceConfigurationArn: resourceConfigurationArn, vpcId: vpcId, subnetIds: subnetIds,
                                securityGroupIds: securityGroupIds, ipAddressType: ipAddressType, privateDnsEnabled: privateDnsEnabled,
                                clientToken: clientToken, tags: tags.map { ($0.key, $0.value) })
    }
}

extension EndpointRecord {
    /// The exact request stored with the generation's token, when there is a usable one (nil for rows from
    /// before requests were stored, and for anything that does not parse).
    package var storedRequest: StoredCreateRequest? { createRequest.flatMap(StoredCreateRequest.init(json:)) }
}
