import Foundation
import Testing
@testable import ConsumerCore

/// The planner's folds of a lifecycle step into the write beside it, as tables: which steps ride on which
/// action, and what stays on its own.
@Suite struct StepFoldingTests {
    static func step(_ customer: Int64, _ event: CustomerLifecycle.Event, from: CustomerState = .awaitingShare) -> TransitionRequest {
        TransitionRequest(customerId: customer, from: from, event: event, detail: nil)
    }

    static func change(_ customer: Int64, then: TransitionRequest? = nil) -> ReconcileAction {
        .changeEndpoint(customerId: customer, name: "c\(customer)", rowId: customer * 10,
                        change: EndpointChange(from: [.pending], to: .available, awsState: "available"), then: then)
    }

    static let available1 = step(1, .endpointAvailable, from: .endpointPending)
    static let available2 = step(2, .endpointAvailable, from: .endpointPending)
    static let note1 = ReconcileAction.note(customerId: 1, name: "c1", event: "endpoint_unconfirmed", detail: "-")

    @Test(arguments: [
        // A change and the same customer's step right after it: one action.
        ([change(1), .transition(available1)], [change(1, then: available1)]),
        // Another customer's step stays on its own.
        ([change(1), .transition(available2)], [change(1), .transition(available2)]),
        // Something between them: both stay.
        ([change(1), note1, .transition(available1)], [change(1), note1, .transition(available1)]),
        // A step with no change before it, and a change that carries a step already.
        ([.transition(available1), change(1)], [.transition(available1), change(1)]),
        ([change(1, then: available1), .transition(available1)], [change(1, then: available1), .transition(available1)]),
        // Only the first step after a change rides on it.
        ([change(1), .transition(available1), .transition(available1)], [change(1, then: available1), .transition(available1)]),
    ] as [([ReconcileAction], [ReconcileAction])])
    func aStepRidesOnTheChangeRightBeforeIt(_ plan: [ReconcileAction], _ folded: [ReconcileAction]) {
        #expect(ReconcilePlanner.foldingSteps(plan) == folded)
    }

    @Test func eachAcceptingStepGoesWithTheFirstAcceptThatNamesItsCustomer() {
        let matched1 = Self.step(1, .invitationMatched)
        let matched2 = Self.step(2, .invitationMatched)
        let matched3 = Self.step(3, .invitationMatched)
        let other = Self.step(1, .shareAccepted, from: .accepting)
        let calls: [ReconcileAction] = [
            .accept(invitationArn: "a", customers: [1, 2], steps: []),
            .reject(invitationArn: "r"),
            .accept(invitationArn: "b", customers: [2], steps: []),
        ]
        let moves: [ReconcileAction] = [.transition(matched1), .transition(other), .transition(matched2), .transition(matched3), Self.note1]
        let (withSteps, rest) = ReconcilePlanner.withAcceptingSteps(calls, moves: moves)
        #expect(withSteps == [
            .accept(invitationArn: "a", customers: [1, 2], steps: [matched1, matched2]),
            .reject(invitationArn: "r"),
            // Customer 2's step went with the first accept: none is taken twice.
            .accept(invitationArn: "b", customers: [2], steps: []),
        ])
        // Not an `accepting` move, or a customer no accept names: left where it was, in order.
        #expect(rest == [.transition(other), .transition(matched3), Self.note1])
        // Every step is somewhere, exactly once.
        #expect((withSteps + rest).flatMap(\.steps).count == moves.flatMap(\.steps).count)
    }
}

/// How a pass's plan is grouped into writes, as a table.
@Suite struct ActionBatchTests {
    static func record(_ id: String) -> InvitationRecord {
        InvitationRecord(invitationArn: "arn:aws:ram:us-east-1:1:resource-share-invitation/\(id)", region: "us-east-1", resourceShareArn: "s",
                         resourceShareName: nil, senderAccountId: "1", status: "PENDING", resources: [], decision: .pending, reason: nil,
                         acceptClientToken: nil, firstSeen: .distantPast, lastSeen: .distantPast, decidedAt: nil)
    }

    static let a = ReconcileAction.recordInvitation(record("a"))
    static let b = ReconcileAction.recordInvitation(record("b"))
    static let change1 = StepFoldingTests.change(1)
    static let change1Again = StepFoldingTests.change(1, then: StepFoldingTests.available1)
    static let change2 = StepFoldingTests.change(2)
    static let accept = ReconcileAction.accept(invitationArn: "a", customers: [1], steps: [])

    @Test(arguments: [
        ([], []),
        // Consecutive records: one write; consecutive changes of distinct customers: one write.
        ([a, b, change1, change2], [.together([a, b]), .together([change1, change2])]),
        // A customer's second change waits for its first.
        ([change1, change2, change1Again], [.together([change1, change2]), .together([change1Again])]),
        // Anything else on its own, and it ends a group.
        ([a, accept, b, change1, StepFoldingTests.note1, change2],
         [.together([a]), .one(accept), .together([b]), .together([change1]), .one(StepFoldingTests.note1), .together([change2])]),
    ] as [([ReconcileAction], [ActionBatch])])
    func aPlanIsWrittenInTheseGroups(_ plan: [ReconcileAction], _ batches: [ActionBatch]) {
        #expect(ActionBatch.batches(plan) == batches)
        // Nothing is lost or reordered.
        let flattened = ActionBatch.batches(plan).flatMap { batch -> [ReconcileAction] in
            switch batch {
            case .together(let actions): actions
            case .one(let action): [action]
            }
        }
        #expect(flattened == plan)
    }

    /// A long run of records or changes is written a bounded group at a time, in order.
    @Test func aGroupHoldsAtMostMaxGroupActions() {
        let records = (0..<5).map { ReconcileAction.recordInvitation(Self.record("r\($0)")) }
        let changes = (1...5).map { StepFoldingTests.change(Int64($0)) }
        let expected: [ActionBatch] = [[0, 1], [2, 3], [4]].map { group in .together(group.map { records[$0] }) }
            + [[0, 1], [2, 3], [4]].map { group in .together(group.map { changes[$0] }) }
        let grouped = ActionBatch.batches(records + changes, maxGroup: 2)
        #expect(grouped == expected)
        #expect(ActionBatch.batches(changes).count == 1, "under the default cap: one group")
    }
}

extension ReconcileAction {
    /// The lifecycle steps an action takes: a transition's own, an accept's `accepting` moves, the step that
    /// rides on an endpoint change.
    var steps: [TransitionRequest] {
        switch self {
        case .transition(let request): [request]
        case .accept(_, _, let steps): steps
        case .changeEndpoint(_, _, _, _, let then): then.map { [$0] } ?? []
        default: []
        }
    }
}
