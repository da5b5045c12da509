import Foundation
import Synchronization
import Testing
import TestSupport
@testable import ConsumerStore

/// Bounded history, in both stores.
@Suite struct HistoryTests {
    @Test(arguments: Backend.allCases)
    func historyIsPrunedByAgeAndCountButNeverBeforeTheHealthLogHasIt(_ backend: Backend) async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let store = try await backend.open(now: { clock.withLock { $0 } }).store
        let acme = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(testARN(1)).get()), by: StoreFixtures.actor)
        let old = InvitationRecord(invitationArn: "arn:aws:ram:us-east-1:1:resource-share-invitation/old", region: "us-east-1", resourceShareArn: "s",
                                   resourceShareName: nil, senderAccountId: "1", status: "ACCEPTED", resources: [], decision: .accepted,
                                   reason: nil, acceptClientToken: nil, firstSeen: clock.withLock { $0 }, lastSeen: clock.withLock { $0 }, decidedAt: nil)
        try await store.recordInvitation(old)
        clock.withLock { $0 = $0.addingTimeInterval(40 * 86_400) }
        let now = clock.withLock { $0 }
        // 1 event 40 days old (registered), 30 of today.
        for n in 0..<30 {
            _ = try await store.setProbeLogin(named: "acme", user: n % 2 == 0 ? "u" : nil, passwordFile: "/p", database: nil, by: StoreFixtures.actor)
        }
        // Nothing written to the health log yet: the events stay, whatever their age.
        let first = try await store.pruneHistory(invitationsBefore: now.addingTimeInterval(-30 * 86_400), eventsBefore: now, eventsPerCustomer: 10)
        #expect(first.invitations == 1 && first.events == 0)
        try await store.advanceHealthLogCursor(to: 1_000_000)
        let second = try await store.pruneHistory(invitationsBefore: now.addingTimeInterval(-30 * 86_400), eventsBefore: now.addingTimeInterval(-86_400),
                                                  eventsPerCustomer: 10)
        #expect(second.events == 21)
        #expect(try await store.events(customerId: acme.id!, limit: 100).count == 10)
    }
}
