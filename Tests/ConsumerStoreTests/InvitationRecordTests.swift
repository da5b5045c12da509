import ConsumerCore
import Foundation
import Testing
import TestSupport
@testable import ConsumerStore

/// A pass's invitation records, written together, on both backends: the same answers and the same rows as
/// writing them one at a time.
@Suite struct InvitationRecordTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func record(_ id: String, _ decision: InvitationRecord.Decision, reason: InvitationRecord.Reason? = nil, status: String = "PENDING",
                       token: String? = nil, seen: Date = t0) -> InvitationRecord {
        InvitationRecord(invitationArn: "arn:aws:ram:us-east-1:111122223333:resource-share-invitation/\(id)", region: "us-east-1",
                         resourceShareArn: "arn:aws:ram:us-east-1:111122223333:resource-share/\(id)", resourceShareName: id,
                         senderAccountId: "111122223333", status: status,
                         resources: [.init(arn: testARN(1), type: "vpc-lattice:ResourceConfiguration")],
                         decision: decision, reason: reason, acceptClientToken: token, firstSeen: seen, lastSeen: seen, decidedAt: nil)
    }

    @Test(arguments: Backend.allCases) func aPassesRecordsAreWrittenTogether(_ backend: Backend) async throws {
        let store = try await backend.open().store
        #expect(try await store.recordInvitations([]) == [])
        let t1 = Self.t0.addingTimeInterval(60)
        // New ones, and one named twice: the second merges into the first (its decision changed: reported).
        let first = try await store.recordInvitations([
            Self.record("a", .pending, token: "token-a"),
            Self.record("b", .ignored, reason: .unregisteredResource),
            Self.record("a", .accepted, status: "ACCEPTED", seen: t1),
        ])
        #expect(first == [true, true, true])
        let arns = Set(["a", "b", "c"].map { Self.record($0, .pending).invitationArn })
        var stored = try await store.invitationRecords(invitationArns: arns, resourceArns: [], senders: [])
        let a = try #require(stored[Self.record("a", .pending).invitationArn])
        #expect(a.decision == .accepted && a.status == "ACCEPTED")
        #expect(a.firstSeen == Self.t0 && a.lastSeen == t1)
        #expect(a.acceptClientToken == "token-a")
        #expect(a.decidedAt == t1)
        #expect(stored[Self.record("b", .pending).invitationArn]?.reason == .unregisteredResource)

        // Stored ones: unchanged (only seen again), changed, and a new one beside them.
        let t2 = Self.t0.addingTimeInterval(120)
        let second = try await store.recordInvitations([
            Self.record("a", .accepted, status: "ACCEPTED", seen: t2),
            Self.record("b", .rejected, reason: .unregisteredResource, seen: t2),
            Self.record("c", .pending, seen: t2),
        ])
        #expect(second == [false, true, true])
        stored = try await store.invitationRecords(invitationArns: arns, resourceArns: [], senders: [])
        #expect(stored.count == 3)
        let a2 = try #require(stored[Self.record("a", .pending).invitationArn])
        #expect(a2.lastSeen == t2 && a2.decidedAt == t1 && a2.acceptClientToken == "token-a" && a2.resources.count == 1)
        let b2 = try #require(stored[Self.record("b", .pending).invitationArn])
        #expect(b2.decision == .rejected && b2.decidedAt == t2 && b2.firstSeen == Self.t0)
        #expect(stored[Self.record("c", .pending).invitationArn]?.firstSeen == t2)
        // One at a time gives the same answer.
        #expect(try await store.recordInvitation(Self.record("c", .pending, seen: t2)) == false)
    }

    /// The schema's rules hold for a batch as for one record: a refused row refuses the whole write.
    @Test(arguments: Backend.allCases) func aRecordTheSchemaRefusesWritesNothing(_ backend: Backend) async throws {
        let store = try await backend.open().store
        await #expect(throws: (any Error).self) {
            // An ignored invitation must say why.
            try await store.recordInvitations([Self.record("d", .pending), Self.record("e", .ignored)])
        }
        let arns = Set(["d", "e"].map { Self.record($0, .pending).invitationArn })
        #expect(try await store.invitationRecords(invitationArns: arns, resourceArns: [], senders: []).isEmpty)
    }
}
