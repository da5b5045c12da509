import PostgresProbe

extension ProbeConfig {
    /// The per-stage budgets the prober uses.
    public var timeouts: ProbeTimeouts {
        func duration(_ seconds: Double?) -> Duration { .milliseconds(Int64((seconds ?? timeoutSeconds) * 1000)) }
        return ProbeTimeouts(dns: duration(dnsTimeoutSeconds), connect: duration(connectTimeoutSeconds),
                             postgres: duration(postgresTimeoutSeconds), login: duration(loginTimeoutSeconds))
    }
}
