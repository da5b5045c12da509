import AWSClient
import Foundation

extension LatticeSimulator {
    func handleSTS(_ route: Route, requestId: String) -> ServerResponse {
        let namespace = "https://sts.amazonaws.com/doc/2011-06-15/"
        switch route.operation {
        case "GetCallerIdentity":
            var xml = XMLWriter(root: "GetCallerIdentityResponse", namespace: namespace)
            xml.element("GetCallerIdentityResult") { result in
                result.element("Arn", configuration.callerArn)
                result.element("UserId", "AROASIMULATOR:privatelink-consumer")
                result.element("Account", configuration.accountId)
            }
            xml.element("ResponseMetadata") { $0.element("RequestId", requestId) }
            return xmlResponse(xml.finish(), requestId: requestId)
        case "AssumeRoleWithWebIdentity":
            guard let roleArn = route.field("RoleArn"), let session = route.field("RoleSessionName"),
                  let token = route.field("WebIdentityToken") else {
                return errorResponse(route, status: 400, code: "MissingParameter",
                                     message: "RoleArn, RoleSessionName and WebIdentityToken are required", requestId: requestId)
            }
            guard let expected = configuration.webIdentityToken, token == expected else {
                return errorResponse(route, status: 400, code: "InvalidIdentityToken",
                                     message: "The web identity token that was passed could not be validated by AWS.", requestId: requestId)
            }
            let serial = state.withLock { state -> Int in
                state.issuedCredentials += 1
                return state.issuedCredentials
            }
            let expiration = configuration.now().addingTimeInterval(configuration.issuedCredentialLifetime)
            let issued = AWSCredentials(accessKeyId: String(format: "ASIAWEBIDENTITY%05d", serial),
                                        secretAccessKey: "web/identity/secret/\(serial)/\(UUID().uuidString)",
                                        sessionToken: "web-identity-session-\(serial)-\(UUID().uuidString)",
                                        expiration: expiration)
            accept(issued)
            let formatter = ISO8601DateFormatter()
            var xml = XMLWriter(root: "AssumeRoleWithWebIdentityResponse", namespace: namespace)
            xml.element("AssumeRoleWithWebIdentityResult") { result in
                result.element("Credentials") { credentials in
                    credentials.element("AccessKeyId", issued.accessKeyId)
                    credentials.element("SecretAccessKey", issued.secretAccessKey)
                    credentials.element("SessionToken", issued.sessionToken)
                    credentials.element("Expiration", formatter.string(from: expiration))
                }
                result.element("AssumedRoleUser") { user in
                    user.element("Arn", "\(roleArn.replacingOccurrences(of: ":role/", with: ":assumed-role/"))/\(session)")
                }
            }
            xml.element("ResponseMetadata") { $0.element("RequestId", requestId) }
            return xmlResponse(xml.finish(), requestId: requestId)
        default:
            return errorResponse(route, status: 400, code: "InvalidAction", message: "\(route.operation) is not simulated", requestId: requestId)
        }
    }
}
