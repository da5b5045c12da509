/// The PostgreSQL reachability probe: DNS → TCP → PostgreSQL protocol (→ optional login), each stage
/// timed, each failure mapped to the customer-side mistake behind it.
///
/// The stages arrive with the probe issue; this namespace fixes the target's place in the graph
/// (Consumer depends on it; it depends on nothing of ours).
public enum PostgresProbe {}
