/// The PostgreSQL reachability probe: DNS → TCP → PostgreSQL protocol (→ optional login), each stage
/// timed, each failure mapped to the customer-side mistake behind it.
///
/// Start at ``PostgresProber/probe(_:)``; the outcome is a ``ProbeResult``.
public enum PostgresProbe {}
