/// Fixed credentials, for tests, the simulator and the demo.
public struct StaticCredentialProvider: CredentialProvider {
    let value: AWSCredentials

    public init(_ credentials: AWSCredentials) {
        value = credentials
    }

    public func credentials() async throws(AWSClientError) -> AWSCredentials { value }
    public func invalidate() async {}
}
