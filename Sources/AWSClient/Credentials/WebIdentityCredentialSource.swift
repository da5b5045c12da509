import Foundation

/// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` [+ `AWS_ROLE_SESSION_NAME`]: an unsigned STS
/// AssumeRoleWithWebIdentity, re-reading the token file on every refresh (EKS rotates it).
public struct WebIdentityCredentialSource: CredentialSource {
    public let name = "web-identity"
    let environment: [String: String]
    let sts: STSClient

    public init(environment: [String: String], executor: AWSRequestExecutor, region: String) {
        self.environment = environment
        sts = STSClient(executor: executor, credentials: nil, region: region)
    }

    public func load() async throws(AWSClientError) -> AWSCredentials? {
        let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let roleArn = environment["AWS_ROLE_ARN"].flatMap { $0.isEmpty ? nil : $0 }
        // AWS_ROLE_ARN alone is not a source (it may be meant for a profile); the chain moves on.
        guard let tokenFile else { return nil }
        guard let roleArn else {
            throw .credentialFailure(name, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not; set the role to assume")
        }
        guard let data = FileManager.default.contents(atPath: tokenFile), data.count <= 64 << 10 else {
            throw .credentialFailure(name, "AWS_WEB_IDENTITY_TOKEN_FILE \(tokenFile) cannot be read")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw .credentialFailure(name, "AWS_WEB_IDENTITY_TOKEN_FILE \(tokenFile) is empty")
        }
        let session = environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "privatelink-consumer-\(Int(Date().timeIntervalSince1970))"
        return try await sts.assumeRoleWithWebIdentity(roleArn: roleArn, sessionName: session, token: token)
    }
}
