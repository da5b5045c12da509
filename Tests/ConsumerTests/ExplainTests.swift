import ConsumerStore
import Testing
@testable import Consumer

/// `explain`'s closing line as a table: the most likely cause for each situation, and whose side it is.
@Suite struct ExplainTests {
    @Test(arguments: [
        (CustomerState.awaitingShare, "ask the customer to RAM-share", [], nil, "customer side: ask the customer to RAM-share"),
        (.shareExpired, "share again (setup step 5)", [], nil, "customer side: share again (setup step 5)"),
        (.endpointFailed, "check regions.us-east-1", [], nil, "our side: check regions.us-east-1"),
        (.removing, nil, [], nil, "being removed (our side)"),
        (.ready, nil, [("definition", "recreate it as a DNS resource (setup step 4)")], (true, "postgres", nil),
         "customer side, resource configuration definition: recreate it as a DNS resource (setup step 4)"),
        (.ready, nil, [], (false, "connect", "the RDS security group must admit … (setup step 3)"),
         "probe fails at connect: the RDS security group must admit … (setup step 3)"),
        (.ready, nil, [], (true, "postgres", nil), "nothing to do"),
        (.ready, nil, [], nil, "ready; waiting for the first probe"),
        (.endpointPending, nil, [], nil, "in progress: endpoint pending"),
    ] as [(CustomerState, String?, [(String, String)], (Bool, String, String?)?, String)])
    func likelyCause(state: CustomerState, hint: String?, failing: [(String, String)], probe: (Bool, String, String?)?, expected: String) {
        let line = ExplainCommand.likelyCause(state: state, hint: hint, detail: state == .endpointPending ? "endpoint pending" : nil,
                                              failingChecks: failing.map { (check: $0.0, hint: $0.1) },
                                              probe: probe.map { (ok: $0.0, stage: $0.1, hint: $0.2) })
        #expect(line.hasPrefix(expected), "\(line)")
    }
}
