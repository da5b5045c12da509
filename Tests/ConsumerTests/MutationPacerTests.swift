import Foundation
import Testing
@testable import Consumer

@Suite struct MutationPacerTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 0)
    }

    @Test func burstOfFourThenThreeTenthsPerSecond() {
        let clock = Clock()
        let pacer = MutationPacer(capacity: 4, refillPerSecond: 0.3, now: { clock.now })
        for _ in 0..<4 { #expect(pacer.tryAcquire() == nil) }
        let wait = pacer.tryAcquire()
        #expect(wait == .milliseconds(3334))
        clock.now = clock.now.addingTimeInterval(3.34)
        #expect(pacer.tryAcquire() == nil)
        #expect(pacer.tryAcquire() != nil)
        clock.now = clock.now.addingTimeInterval(1000)
        for _ in 0..<4 { #expect(pacer.tryAcquire() == nil) }
        #expect(pacer.tryAcquire() != nil)
        #expect(MutationPacer.unpaced.tryAcquire() == nil)
    }
}
