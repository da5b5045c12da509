import Foundation
import Synchronization
import Testing
import TestSupport
@testable import ConsumerStore

/// The stored verdicts of the resource configuration checks: an event only for a change, the schedule the
/// pass reads, forgetting them, and nothing written for a customer being removed.
@Suite struct CheckStoreTests {
    static let fail = CheckResult(check: "definition", verdict: .fail, detail: "an IP resource", hint: "step 4")
    static let pass = CheckResult(check: "definition", verdict: .pass, detail: "DNS resource")

    @Test(arguments: Backend.allCases)
    func onlyAChangedVerdictIsAnEventAndTheScheduleFollowsTheClock(_ backend: Backend) async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let store = try await backend.open(now: { clock.withLock { $0 } }).store
        let acme = try await StoreFixtures.readyCustomer(store, name: "acme", arn: testARN(1), vpcEndpointId: "vpce-0aaaaaaaaaaaaaaaa")
        let globex = try await StoreFixtures.readyCustomer(store, name: "globex", arn: testARN(2), vpcEndpointId: "vpce-0bbbbbbbbbbbbbbbb")
        let waiting = try await store.addCustomer(NewCustomer(name: "initech", arn: try ResourceConfigurationARN.parse(testARN(3)).get()), by: StoreFixtures.actor)
        // Only a customer whose configuration is shared with us has verdicts.
        #expect(try await store.recordChecks(customerId: waiting.id!, [Self.fail]).isEmpty)
        #expect(try await store.checks()[waiting.id!] == nil)
        let start = clock.withLock { $0 }

        // A first `pass` is no news; a first `fail` is.
        let first = try await store.recordChecks([(acme.id!, [Self.fail]), (globex.id!, [Self.pass])])
        #expect(first.map(\.customerId) == [acme.id!])
        #expect(try await store.recordChecks(customerId: acme.id!, [Self.fail]).isEmpty, "the same verdict again writes no event")
        clock.withLock { $0 = $0.addingTimeInterval(3600) }
        #expect(try await store.recordChecks(customerId: acme.id!, [Self.pass]).map(\.verdict) == [.pass])
        let checkEvents = try await store.events(customerId: acme.id!).filter { $0.event == "check" }
        #expect(checkEvents.map(\.verdict) == [.fail, .pass])
        #expect(checkEvents.first?.checkName == "definition" && checkEvents.first?.hint == "step 4")

        // globex was read at `start`, acme an hour later: with a 30-minute interval only globex is due.
        let now = clock.withLock { $0 }
        let schedule = try await store.checkSchedule(dueBefore: now.addingTimeInterval(-1800), orAfter: now.addingTimeInterval(60))
        #expect(schedule.checked == [acme.id!, globex.id!])
        #expect(schedule.due == [globex.id!: start])
        // A reading in the future (a clock that jumped back) is due at once.
        let back = try await store.checkSchedule(dueBefore: start.addingTimeInterval(-1), orAfter: start.addingTimeInterval(-10))
        #expect(Set(back.due.keys) == [acme.id!, globex.id!])

        // Forgetting is decided on the state in the file: a customer still shared keeps its verdicts.
        try await store.clearChecks(customerId: acme.id!)
        #expect(try await store.checks()[acme.id!]?.isEmpty == false)
        let revoked = try await store.transition(TransitionRequest(customerId: acme.id!, from: .ready, event: .shareWithdrawn, detail: "gone"))
        guard case .applied = revoked else { Issue.record("\(revoked)"); return }
        try await store.clearChecks(customerId: acme.id!)
        #expect(try await store.checks()[acme.id!] == nil)
        #expect(try await store.checks()[globex.id!]?.map(\.verdict) == [.pass])

        // A customer being removed gets no verdicts.
        _ = try await store.requestRemoval(named: "globex", keepEndpoint: false, by: StoreFixtures.actor)
        #expect(try await store.recordChecks(customerId: globex.id!, [Self.fail]).isEmpty)
    }

    /// One pass's readings are written together (PostgreSQL: in three statements): a customer read twice in one
    /// pass keeps its later verdict and both changes as events, in order; an unchanged verdict keeps when it
    /// last changed while its reading time moves on.
    @Test(arguments: Backend.allCases)
    func aPassWritesItsReadingsTogether(_ backend: Backend) async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let store = try await backend.open(now: { clock.withLock { $0 } }).store
        let acme = try await StoreFixtures.readyCustomer(store, name: "acme", arn: testARN(4), vpcEndpointId: "vpce-0cccccccccccccccc")
        let globex = try await StoreFixtures.readyCustomer(store, name: "globex", arn: testARN(5), vpcEndpointId: "vpce-0dddddddddddddddd")
        let port = CheckResult(check: "port", verdict: .unknown, detail: "5433, registered 5432", hint: "the port")
        let start = clock.withLock { $0 }
        let first = try await store.recordChecks([(acme.id!, [Self.fail, port]), (globex.id!, [Self.pass]), (acme.id!, [Self.pass])])
        #expect(first.map(\.customerId) == [acme.id!, acme.id!, acme.id!])
        #expect(first.map(\.result.verdict) == [.fail, .unknown, .pass])
        let events = try await store.events(customerId: acme.id!).filter { $0.event == "check" }
        #expect(events.map(\.verdict) == [.fail, .unknown, .pass])
        let stored = try await store.checks()
        #expect(stored[acme.id!]?.map(\.verdict).sorted { $0.rawValue < $1.rawValue } == [.pass, .unknown])
        #expect(stored[globex.id!]?.map(\.verdict) == [.pass])

        clock.withLock { $0 = $0.addingTimeInterval(600) }
        #expect(try await store.recordChecks([(acme.id!, [port]), (globex.id!, [Self.pass])]).isEmpty)
        let again = try await store.checks()
        let portCheck = try #require(again[acme.id!]?.first { $0.name == "port" })
        #expect(portCheck.changedAt == start && portCheck.checkedAt == start.addingTimeInterval(600))
        #expect(portCheck.hint == "the port" && portCheck.detail == "5433, registered 5432")
    }
}
