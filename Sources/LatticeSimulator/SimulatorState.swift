import AWSClient

/// Everything the simulator knows; guarded by the simulator's mutex.
struct SimulatorState: Sendable {
    /// Accepted credentials by access key id.
    var credentials: [String: AWSCredentials]
    var callCounts: [String: Int] = [:]
    var issuedCredentials = 0

    init(credentials: [AWSCredentials]) {
        self.credentials = Dictionary(credentials.map { ($0.accessKeyId, $0) }, uniquingKeysWith: { _, last in last })
    }
}
