import Foundation

/// VPC Lattice's GetResourceConfiguration response (botocore `vpc-lattice/2022-11-30`; timestamps ISO 8601).
struct LatticeResourceConfigurationWire: Encodable {
    struct DNSResource: Encodable {
        var domainName: String
        var ipAddressType: String
    }

    struct IPResource: Encodable {
        var ipAddress: String
    }

    struct ARNResource: Encodable {
        var arn: String
    }

    struct Definition: Encodable {
        var dnsResource: DNSResource?
        var ipResource: IPResource?
        var arnResource: ARNResource?
    }

    var arn: String
    var id: String
    var name: String
    var type: String
    var status: String
    var failureReason: String?
    var portRanges: [String]
    var `protocol` = "TCP"
    var resourceGatewayId: String
    var customDomainName: String?
    var resourceConfigurationDefinition: Definition?
    var allowAssociationToShareableServiceNetwork = true
    var amazonManaged = false
    var createdAt: Date
    var lastUpdatedAt: Date

    init(_ configuration: SimulatedResourceConfiguration) {
        arn = configuration.arn
        id = configuration.id
        name = configuration.name
        type = configuration.type
        status = configuration.status
        failureReason = configuration.failureReason
        portRanges = configuration.portRanges
        resourceGatewayId = configuration.resourceGatewayId
        customDomainName = configuration.customDomainName
        switch configuration.definition {
        case .dns(let domainName, let ipAddressType):
            resourceConfigurationDefinition = Definition(dnsResource: DNSResource(domainName: domainName, ipAddressType: ipAddressType))
        case .ip(let address):
            resourceConfigurationDefinition = Definition(ipResource: IPResource(ipAddress: address))
        case .arn(let arn):
            resourceConfigurationDefinition = Definition(arnResource: ARNResource(arn: arn))
        case .noDefinition:
            resourceConfigurationDefinition = nil
        }
        createdAt = configuration.createdAt
        lastUpdatedAt = configuration.createdAt
    }
}

extension LatticeSimulator {
    func handleLattice(_ route: Route, requestId: String) -> ServerResponse {
        do throws(SimulatorAPIError) {
            guard route.operation == "GetResourceConfiguration", let identifier = route.pathIdentifier else {
                throw SimulatorAPIError(400, "ValidationException", "\(route.operation) is not simulated")
            }
            let configuration = try state.withLock { state throws(SimulatorAPIError) in
                try state.resourceConfiguration(identifier: identifier)
            }
            return jsonResponse(LatticeResourceConfigurationWire(configuration), dates: .iso8601, requestId: requestId)
        } catch {
            return errorResponse(route, status: error.status, code: error.code, message: error.message, requestId: requestId)
        }
    }
}
