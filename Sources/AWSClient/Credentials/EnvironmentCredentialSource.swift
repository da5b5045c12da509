/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentialSource: CredentialSource {
    public let name = "environment"
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func load() async throws(AWSClientError) -> AWSCredentials? {
        let key = environment["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = environment["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (key, secret) {
        case (nil, nil):
            return nil
        case (let key?, let secret?):
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            let expiration = environment["AWS_CREDENTIAL_EXPIRATION"].flatMap(ExpirationParser.parse)
            return AWSCredentials(accessKeyId: key, secretAccessKey: secret, sessionToken: token, expiration: expiration)
        case (nil, _):
            throw .credentialFailure(name, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both or neither")
        case (_, nil):
            throw .credentialFailure(name, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both or neither")
        }
    }
}
