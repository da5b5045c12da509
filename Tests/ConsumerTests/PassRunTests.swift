import ConsumerStore
import Foundation
import Testing
import TestSupport
@testable import Consumer

/// What the executor knows of the pass's customers: the snapshot as read, with the states the pass wrote.
struct PassRunTests {
    static func customer(_ id: Int64?, _ name: String, _ state: CustomerState) -> Customer {
        let time = Date(timeIntervalSince1970: 1_780_000_000)
        return Customer(id: id, name: name, resourceConfigurationArn: testARN(Int(id ?? 99)), partition: "aws", region: "us-east-1",
                        accountId: "111122223333", port: 5432, note: nil, state: state, stateDetail: nil, hint: nil, keepEndpoint: false,
                        resourceShareArn: nil, invitationArn: nil, createdAt: time, updatedAt: time, stateChangedAt: time, removedAt: nil,
                        endpointFailures: 0, nextEndpointAttemptAt: nil)
    }

    @Test func customersAreFoundByIdWithTheStatesThePassWrote() {
        // A repeated id (an answer the store should never give) is the first one, as the planner reads it; a
        // customer without an id is nobody's to find.
        let customers = [Self.customer(1, "a", .ready), Self.customer(2, "b", .awaitingShare), Self.customer(1, "a-again", .removing),
                         Self.customer(nil, "unsaved", .ready), Self.customer(3, "c", .endpointPending)]
        var run = ActionExecutor.PassRun(customers: customers, pool: [])
        #expect(run[1]?.name == "a" && run[1]?.state == .ready)
        #expect(run[4] == nil)
        run.wrote(.accepting, of: 2)
        run.wrote(.ready, of: 3)
        run.wrote(.ready, of: 4)
        #expect(run[2]?.state == .accepting && run[2]?.name == "b")
        #expect(run[4] == nil)
        #expect(run.current.map(\.name) == ["a", "b", "c"])
        #expect(run.current.map(\.state) == [.ready, .accepting, .ready])
        // The snapshot itself is as it was read.
        #expect(customers[1].state == .awaitingShare)
    }
}
