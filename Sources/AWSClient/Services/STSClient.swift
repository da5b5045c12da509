import Foundation

/// AWS STS (query protocol): who we are, and web-identity role assumption.
public struct STSClient: Sendable {
    public static let apiVersion = "2011-06-15"
    let executor: AWSRequestExecutor
    let credentials: (any CredentialProvider)?
    public let region: String

    /// `credentials` nil makes unsigned calls (AssumeRoleWithWebIdentity needs none).
    public init(executor: AWSRequestExecutor, credentials: (any CredentialProvider)?, region: String) {
        self.executor = executor
        self.credentials = credentials
        self.region = region
    }

    /// The result of GetCallerIdentity.
    public struct CallerIdentity: Sendable, Equatable {
        public var account: String
        public var arn: String
        public var userId: String
    }

    public func getCallerIdentity() async throws(AWSClientError) -> CallerIdentity {
        let operation = "GetCallerIdentity"
        let root = try await call(operation, QueryParameters(action: operation, version: Self.apiVersion))
        guard let result = root.path("GetCallerIdentityResult"),
              let account = result.childText("Account"), let arn = result.childText("Arn") else {
            throw malformed(operation, "has no GetCallerIdentityResult/Account and Arn")
        }
        return CallerIdentity(account: account, arn: arn, userId: result.childText("UserId") ?? "")
    }

    /// Exchanges a web identity token (EKS/IRSA, OIDC) for role credentials. Unsigned.
    public func assumeRoleWithWebIdentity(roleArn: String, sessionName: String, token: String) async throws(AWSClientError) -> AWSCredentials {
        let operation = "AssumeRoleWithWebIdentity"
        var parameters = QueryParameters(action: operation, version: Self.apiVersion)
        parameters.add("RoleArn", roleArn)
        parameters.add("RoleSessionName", sessionName)
        parameters.add("WebIdentityToken", token)
        let root = try await call(operation, parameters)
        guard let credentials = root.path("AssumeRoleWithWebIdentityResult", "Credentials"),
              let key = credentials.childText("AccessKeyId"), let secret = credentials.childText("SecretAccessKey"),
              let sessionToken = credentials.childText("SessionToken"),
              let expirationText = credentials.childText("Expiration"),
              let expiration = ExpirationParser.parse(expirationText) else {
            throw malformed(operation, "has no complete AssumeRoleWithWebIdentityResult/Credentials")
        }
        return AWSCredentials(accessKeyId: key, secretAccessKey: secret, sessionToken: sessionToken, expiration: expiration)
    }

    private func call(_ operation: String, _ parameters: QueryParameters) async throws(AWSClientError) -> XMLElement {
        let request = AWSRequest(service: .sts, operation: operation, region: region, method: "POST", path: "/",
                                 headers: [HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")],
                                 body: Array(parameters.body.utf8))
        let response = try await executor.send(request, credentials: credentials)
        do {
            return try XMLDocumentParser.parse(response.body)
        } catch {
            throw malformed(operation, "is not well-formed XML: \(error)")
        }
    }

    private func malformed(_ operation: String, _ what: String) -> AWSClientError {
        AWSClientError(.malformedResponse, service: "sts", operation: operation, message: "the response \(what)")
    }
}
