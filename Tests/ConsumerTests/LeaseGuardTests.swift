import AWSClient
import ConsumerStore
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Consumer

/// The lease checks around an AWS call that changes something reach the send itself: the guard the executor
/// checks before each attempt is set for the call's task and the task group that bounds it by the lease.
@Suite struct LeaseGuardTests {
    @Test func theSendGuardFollowsTheCallIntoTheLeaseBoundTask() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let holds = Atomic<Bool>(true)
        // A lease (so the call runs in a task group beside the lease's sleeper) that runs out during the call.
        let lease = LeaseGuard(mayAct: { holds.load(ordering: .relaxed) }, leaseRemaining: { .seconds(60) }, store: store)
        try await lease.require()
        let seen = try await lease.call { () async throws(AWSClientError) -> [String?] in
            let before = AWSRequestExecutor.sendGuard?.refusal()
            holds.store(false, ordering: .relaxed)
            let after = AWSRequestExecutor.sendGuard?.refusal() ?? "no guard in the call's task"
            return [before, after]
        }
        #expect(seen[0] == nil, "the guard refused while the lease held")
        #expect(seen[1]?.contains("no longer holds the leadership lease") == true, "\(seen)")
        // And `require` refuses once the local lease is gone, before any round trip.
        await #expect(throws: StoreError.self) { try await lease.require() }
    }
}
