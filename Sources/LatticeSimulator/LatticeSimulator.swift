/// An AWS stand-in (RAM, EC2, VPC Lattice and STS subsets) over real loopback HTTP that verifies every
/// request's SigV4 signature, for tests, the benchmark and `demo`.
///
/// The server arrives with the clients issue; this namespace fixes the target's place in the graph
/// (it depends on AWSClient for the signature verifier; only tests and the executable depend on it).
public enum LatticeSimulator {}
