import Foundation

/// Service Quotas (awsJson1_1): GetServiceQuota answers the applied value of a quota this account has, such
/// as the Resource VPC endpoints per VPC (`vpc` / `L-CA6CC422`, AWS's default 200).
extension LatticeSimulator {
    func handleServiceQuotas(_ route: Route, _ request: ServerRequest, requestId: String) -> ServerResponse {
        guard route.operation == "GetServiceQuota" else {
            return errorResponse(route, status: 400, code: "UnknownOperationException", message: "\(route.operation) is not simulated",
                                 requestId: requestId)
        }
        struct Input: Decodable {
            var ServiceCode: String?
            var QuotaCode: String?
        }
        guard let input = try? JSONDecoder().decode(Input.self, from: Data(request.body)),
              let service = input.ServiceCode, let code = input.QuotaCode, !service.isEmpty, !code.isEmpty else {
            return errorResponse(route, status: 400, code: "IllegalArgumentException",
                                 message: "ServiceCode and QuotaCode are required", requestId: requestId)
        }
        let (denied, value) = state.withLock { ($0.serviceQuotasAccessDenied, $0.serviceQuotas["\(service)/\(code)"]) }
        if denied {
            return errorResponse(route, status: 400, code: "AccessDeniedException",
                                 message: "You do not have sufficient access to perform this action.", requestId: requestId)
        }
        guard let value else {
            return errorResponse(route, status: 400, code: "NoSuchResourceException",
                                 message: "The request failed because the specified service quota does not exist.", requestId: requestId)
        }
        let body = """
            {"Quota":{"Adjustable":true,"GlobalQuota":false,"QuotaArn":"arn:aws:servicequotas:\(configuration.region):\(configuration.accountId):\(service)/\(code)",\
            "QuotaCode":\(jsonString(code)),"QuotaName":"Resource VPC endpoints per VPC","ServiceCode":\(jsonString(service)),\
            "ServiceName":"Amazon Virtual Private Cloud (Amazon VPC)","Unit":"None","Value":\(value)}}
            """
        return .respond(status: 200, headers: [ServerHeader("Content-Type", "application/x-amz-json-1.1"), ServerHeader("x-amzn-RequestId", requestId)],
                        body: Array(body.utf8))
    }
}
