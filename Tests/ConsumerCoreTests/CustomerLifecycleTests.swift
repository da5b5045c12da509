import ConsumerCore
import Foundation
import Testing

/// The lifecycle as a table and a transcript: every allowed edge, every refused one.
@Suite struct CustomerLifecycleTests {
    /// Every (state, event, actor) the table allows leads to the edge's state; everything else is refused.
    @Test func everyEdgeIsAllowedAndEveryOtherIsRefused() {
        var allowed = 0
        var refused = 0
        for event in CustomerLifecycle.Event.allCases {
            let edge = CustomerLifecycle.table.first { $0.event == event }!
            for actor in LifecycleActor.Kind.allCases {
                for state in [nil] + CustomerState.allCases.map(Optional.some) {
                    let result = CustomerLifecycle.next(from: state, on: event, by: actor)
                    let inTable = actor == edge.by && (state.map { edge.from.contains($0) || ($0 == edge.to && $0 != .removed && !edge.from.isEmpty) }
                        ?? edge.from.isEmpty)
                    switch result {
                    case .success(let next):
                        #expect(inTable, "\(event) by \(actor) from \(state?.rawValue ?? "nil") was allowed")
                        #expect(next == edge.to)
                        allowed += 1
                    case .failure(let refusal):
                        #expect(!inTable, "\(event) by \(actor) from \(state?.rawValue ?? "nil") was refused")
                        #expect(refusal.description.contains(event.rawValue))
                        refused += 1
                    }
                }
            }
        }
        #expect(allowed > 60 && refused > 300, "\(allowed) allowed, \(refused) refused")
    }

    @Test func theRulesThatMatterMost() throws {
        // Removal is final: nothing leaves `removed`, not even a refresh.
        for event in CustomerLifecycle.Event.allCases {
            for actor in LifecycleActor.Kind.allCases {
                #expect((try? CustomerLifecycle.next(from: .removed, on: event, by: actor).get()) == nil, "\(event) left removed")
            }
        }
        // Only the CLI enters removing or removed from a registered state; only the removal path leaves removing.
        for edge in CustomerLifecycle.table {
            if edge.to == .removing || (edge.to == .removed && edge.from != [.removing]) { #expect(edge.by == .cli, "\(edge.event)") }
            if edge.from.contains(.removing) { #expect(edge.event == .removalFinished && edge.by == .daemon) }
        }
        #expect(try CustomerLifecycle.next(from: .removing, on: .removalFinished, by: .daemon).get() == .removed)
        #expect((try? CustomerLifecycle.next(from: .removing, on: .endpointAvailable, by: .daemon).get()) == nil)
        #expect((try? CustomerLifecycle.next(from: .ready, on: .removalRequested, by: .daemon).get()) == nil)
        #expect((try? CustomerLifecycle.next(from: .ready, on: .endpointAvailable, by: .cli).get()) == nil)
        // Every state but `removed` can be left, and every state can be reached.
        for state in CustomerState.allCases where state != .removed {
            #expect(CustomerLifecycle.table.contains { $0.from.contains(state) }, "\(state) is a dead end")
        }
        for state in CustomerState.allCases {
            #expect(CustomerLifecycle.table.contains { $0.to == state }, "\(state) is unreachable")
        }
    }

    /// A customer's onboarding, a problem and a removal, one event at a time.
    @Test func aTranscript() throws {
        let steps: [(CustomerLifecycle.Event, LifecycleActor.Kind, CustomerState)] = [
            (.registered, .cli, .awaitingShare),
            (.invitationMatched, .daemon, .accepting),
            (.shareAccepted, .daemon, .shareAccepted),
            (.endpointRequested, .daemon, .endpointPending),
            (.endpointAvailable, .daemon, .ready),
            (.endpointMissing, .daemon, .endpointMissing),
            (.endpointRequested, .daemon, .endpointPending),
            (.endpointFailed, .daemon, .endpointFailed),
            (.endpointFailed, .daemon, .endpointFailed),
            (.endpointAvailable, .daemon, .ready),
            (.shareWithdrawn, .daemon, .shareRevoked),
            (.removalRequested, .cli, .removing),
            (.removalFinished, .daemon, .removed),
        ]
        var state: CustomerState?
        for (event, actor, expected) in steps {
            state = try CustomerLifecycle.next(from: state, on: event, by: actor).get()
            #expect(state == expected, "\(event)")
        }
    }

    @Test func actorsAreStoredAndParsed() {
        #expect(LifecycleActor.daemon.description == "daemon")
        #expect(LifecycleActor.cli(environment: ["SUDO_USER": "alice"], processUser: "privatelink-consumer").description == "cli:alice")
        #expect(LifecycleActor.cli(environment: [:], processUser: "bob").description == "cli:bob")
        #expect(LifecycleActor.cli(environment: ["SUDO_USER": " "], processUser: "bob").description == "cli:bob")
        #expect(LifecycleActor(stored: "cli:alice") == .cli(user: "alice"))
        #expect(LifecycleActor(stored: "daemon") == .daemon)
        #expect(LifecycleActor(stored: "cli:") == nil)
        #expect(LifecycleActor(stored: "root") == nil)
    }

    /// README's "Customer lifecycle" table is the code's table, row for row.
    @Test func readmeShowsTheTable() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| `") && $0.hasSuffix(" |") && $0.contains("` | ") }
            .map(String.init).filter { line in CustomerLifecycle.Event.allCases.contains { line.hasPrefix("| `\($0.rawValue)` |") } }
        let expected = CustomerLifecycle.markdownTable.split(separator: "\n").dropFirst(2).map(String.init)
        #expect(rows == expected, "README.md's lifecycle table differs from CustomerLifecycle.table; paste CustomerLifecycle.markdownTable")
    }
}
