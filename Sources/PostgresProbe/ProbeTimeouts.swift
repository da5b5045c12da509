/// Per-stage time budgets. A probe never takes longer than their sum (``total``).
public struct ProbeTimeouts: Sendable, Hashable {
    /// Resolving the DNS name.
    public var dns: Duration
    /// Establishing the TCP connection (shared by all resolved addresses, tried in order).
    public var connect: Duration
    /// Waiting for the answer to the SSLRequest.
    public var postgres: Duration
    /// Opening a second connection, authenticating and running `SELECT 1`.
    public var login: Duration
    /// How long the answer to the SSLRequest must stay the only byte before it counts as PostgreSQL's;
    /// it catches servers whose reply merely starts with `S` or `N`. Clamped to the `postgres` budget.
    public var answerSettle: Duration

    /// Budgets per stage.
    public init(dns: Duration, connect: Duration, postgres: Duration, login: Duration,
                answerSettle: Duration = .milliseconds(10)) {
        self.dns = dns
        self.connect = connect
        self.postgres = postgres
        self.login = login
        self.answerSettle = answerSettle
    }

    /// The same budget for every stage.
    public init(uniform timeout: Duration) {
        self.init(dns: timeout, connect: timeout, postgres: timeout, login: timeout)
    }

    /// The longest a probe with credentials can take.
    public var total: Duration { dns + connect + postgres + login }

    /// The budget of `stage`.
    public subscript(stage: ProbeStage) -> Duration {
        switch stage {
        case .dns: dns
        case .connect: connect
        case .postgres: postgres
        case .login: login
        }
    }
}
