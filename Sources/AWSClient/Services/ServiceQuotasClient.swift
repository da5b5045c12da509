import Foundation

/// AWS Service Quotas (awsJson1_1): the value of one quota, such as the Resource VPC endpoints a VPC may
/// hold (`vpc` / `L-CA6CC422`).
public struct ServiceQuotasClient: Sendable {
    /// The JSON protocol's target prefix (botocore `targetPrefix`).
    public static let targetPrefix = "ServiceQuotasV20190624"
    let executor: AWSRequestExecutor
    let credentials: any CredentialProvider
    public let region: String

    public init(executor: AWSRequestExecutor, credentials: any CredentialProvider, region: String) {
        self.executor = executor
        self.credentials = credentials
        self.region = region
    }

    /// GetServiceQuota: the quota's applied value (`Quota.Value`), e.g. 200 for `vpc` / `L-CA6CC422`.
    public func serviceQuota(serviceCode: String, quotaCode: String) async throws(AWSClientError) -> Double {
        struct Body: Encodable {
            var ServiceCode: String
            var QuotaCode: String
        }
        struct Response: Decodable {
            struct Quota: Decodable { var Value: Double? }
            var Quota: Quota?
        }
        let operation = "GetServiceQuota"
        let request = AWSRequest(service: .serviceQuotas, operation: operation, region: region, method: "POST", path: "/",
                                 headers: [HTTPHeader(name: "Content-Type", value: "application/x-amz-json-1.1"),
                                           HTTPHeader(name: "X-Amz-Target", value: "\(Self.targetPrefix).\(operation)")],
                                 body: RestJSON.encode(Body(ServiceCode: serviceCode, QuotaCode: quotaCode)))
        let response = try await executor.send(request, credentials: credentials)
        let decoded = try RestJSON.decode(Response.self, from: response.body, service: AWSService.serviceQuotas.name, operation: operation)
        // botocore: QuotaValue is a double between 0 and 10,000,000,000.
        guard let value = decoded.Quota?.Value, value.isFinite, (0...10_000_000_000).contains(value) else {
            throw AWSClientError(.malformedResponse, service: AWSService.serviceQuotas.name, operation: operation,
                                 message: "the response has no Quota.Value between 0 and 10,000,000,000")
        }
        return value
    }
}
