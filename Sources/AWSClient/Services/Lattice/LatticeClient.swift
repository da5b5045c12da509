import Foundation

/// VPC Lattice (rest-json) in one region: reading a shared resource configuration, to enrich and warn.
public struct LatticeClient: Sendable {
    let executor: AWSRequestExecutor
    let credentials: any CredentialProvider
    public let region: String

    public init(executor: AWSRequestExecutor, credentials: any CredentialProvider, region: String) {
        self.executor = executor
        self.credentials = credentials
        self.region = region
    }

    /// What GetResourceConfiguration tells. The consumer account may not be allowed to read a shared
    /// configuration: that is a normal answer, not a failure.
    public enum Lookup: Sendable, Equatable {
        case found(ResourceConfiguration)
        case accessDenied(String)
        case notFound(String)
    }

    public func resourceConfiguration(_ idOrArn: String) async throws(AWSClientError) -> Lookup {
        let operation = "GetResourceConfiguration"
        let request = AWSRequest(service: .vpcLattice, operation: operation, region: region, method: "GET",
                                 path: "/resourceconfigurations/" + QueryParameters.percentEncode(idOrArn))
        let response: TransportResponse
        do {
            response = try await executor.send(request, credentials: credentials)
        } catch {
            if error.code == "AccessDeniedException" { return .accessDenied(error.message) }
            if error.code == "ResourceNotFoundException" { return .notFound(error.message) }
            throw error
        }
        return .found(try RestJSON.decode(ResourceConfiguration.self, from: response.body,
                                          service: AWSService.vpcLattice.name, operation: operation))
    }
}
