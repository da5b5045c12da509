/// What to probe: the DNS name and port of one of our own VPC endpoints.
public struct ProbeTarget: Sendable, Hashable {
    /// The endpoint's DNS name. The caller guarantees it came from our own endpoint.
    public var host: String
    /// The customer's PostgreSQL port.
    public var port: Int
    /// Credentials for the optional login stage; `nil` stops the probe after the SSLRequest.
    public var credentials: ProbeCredentials?

    /// A target at `host`:`port`, logging in with `credentials` when given.
    public init(host: String, port: Int, credentials: ProbeCredentials? = nil) {
        self.host = host
        self.port = port
        self.credentials = credentials
    }
}
