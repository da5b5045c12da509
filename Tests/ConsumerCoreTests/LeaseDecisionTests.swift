import Foundation
import Testing
@testable import ConsumerCore

/// Who gets the lease, as a table: the stored lease, the candidate's belief, the database's clock.
@Suite struct LeaseDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let me = LeaseCandidate(holder: "a:1:x", host: "a", pid: 1)
    static func held(by holder: String, epoch: Int64, expiresIn seconds: Double) -> LeaderInfo {
        LeaderInfo(holder: holder, host: String(holder.prefix(1)), pid: 1, since: now.addingTimeInterval(-60), epoch: epoch,
                   expiresAt: now.addingTimeInterval(seconds))
    }

    @Test(arguments: [
        // (stored lease, stored epoch, the epoch the candidate believes it holds, expected)
        (nil, 0, nil, LeaseDecision.takeOver(epoch: 1)),
        (nil, 7, nil, .takeOver(epoch: 8)),
        (held(by: "a:1:x", epoch: 3, expiresIn: 5), 3, 3, .renew(epoch: 3)),
        // Ours, but we do not know it (an answer lost): a new epoch, so nothing of the old one is written.
        (held(by: "a:1:x", epoch: 3, expiresIn: 5), 3, nil, .takeOver(epoch: 4)),
        (held(by: "a:1:x", epoch: 3, expiresIn: 5), 3, 2, .takeOver(epoch: 4)),
        // Ours but lapsed (we were paused): a new epoch too.
        (held(by: "a:1:x", epoch: 3, expiresIn: -1), 3, 3, .takeOver(epoch: 4)),
        (held(by: "a:1:x", epoch: 3, expiresIn: 0), 3, 3, .takeOver(epoch: 4)),
        (held(by: "b:2:y", epoch: 5, expiresIn: 0.5), 5, nil, .standby(held(by: "b:2:y", epoch: 5, expiresIn: 0.5))),
        (held(by: "b:2:y", epoch: 5, expiresIn: 0.5), 5, 4, .standby(held(by: "b:2:y", epoch: 5, expiresIn: 0.5))),
        (held(by: "b:2:y", epoch: 5, expiresIn: -0.001), 5, nil, .takeOver(epoch: 6)),
    ] as [(LeaderInfo?, Int64, Int64?, LeaseDecision)])
    func decides(_ current: LeaderInfo?, _ storedEpoch: Int64, _ held: Int64?, _ expected: LeaseDecision) {
        #expect(LeaseDecision.decide(current: current, storedEpoch: storedEpoch, candidate: Self.me, held: held, now: Self.now) == expected)
    }

    @Test func aCandidateIsNewAtEveryStart() {
        let first = LeaseCandidate.thisProcess(host: "h")
        let second = LeaseCandidate.thisProcess(host: "h")
        #expect(first.pid == second.pid && first.host == "h")
        #expect(first.holder.hasPrefix("h:\(first.pid):"))
        #expect(first.holder != second.holder, "a 32-bit nonce told them apart")
    }
}
