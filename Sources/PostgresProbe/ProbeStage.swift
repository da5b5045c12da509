/// One step of a probe, in the order a probe runs them.
public enum ProbeStage: String, Sendable, Codable, CaseIterable, Hashable {
    /// Resolving the endpoint's DNS name.
    case dns
    /// Opening a TCP connection to a resolved address.
    case connect
    /// Sending the SSLRequest and reading PostgreSQL's one-byte answer.
    case postgres
    /// Authenticating and running `SELECT 1` (only when credentials are configured).
    case login
}
