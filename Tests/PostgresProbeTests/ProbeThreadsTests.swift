import NIOCore
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import PostgresProbe

/// The threads under the probe's blocking work: reused when idle, a new one when none is (a hung job never holds
/// up another), and deadlines that fire unless cancelled.
@Suite struct ProbeThreadsTests {
    @Test func anIdleThreadIsReusedAndAHungJobHoldsUpNoOther() async throws {
        let threads = ProbeThreads(idleSeconds: 5)
        let done = Atomic<Int>(0)
        // One job that hangs (until released), then one that must still run at once on another thread.
        let release = Atomic<Bool>(false)
        #expect(threads.run { while !release.load(ordering: .acquiring) { usleep(1000) } })
        #expect(threads.run { done.wrappingAdd(1, ordering: .relaxed) })
        try await waitFor { done.load(ordering: .relaxed) == 1 }
        // That thread is idle now: the next job takes it instead of a new one (a new thread would leave two idle).
        try await waitFor { threads.idleCount == 1 }
        #expect(threads.run { done.wrappingAdd(1, ordering: .relaxed) })
        try await waitFor { done.load(ordering: .relaxed) == 2 }
        try await waitFor { threads.idleCount == 1 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(threads.idleCount == 1, "the idle thread was not reused")
        release.store(true, ordering: .releasing)
        try await waitFor { threads.idleCount == 2 }
    }

    @Test func aDeadlineFiresAndACancelledOneDoesNot() async throws {
        let fired = Atomic<Int>(0)
        let late = DeadlineThread.shared.schedule(at: .now() + .milliseconds(50)) { fired.wrappingAdd(1, ordering: .relaxed) }
        let cancelled = DeadlineThread.shared.schedule(at: .now() + .milliseconds(20)) { fired.wrappingAdd(100, ordering: .relaxed) }
        #expect(late != nil && cancelled != nil)
        DeadlineThread.shared.cancel(cancelled!)
        try await waitFor { fired.load(ordering: .relaxed) >= 1 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(fired.load(ordering: .relaxed) == 1)
        // An earlier deadline set after a later one still fires first.
        let order = Mutex<[Int]>([])
        _ = DeadlineThread.shared.schedule(at: .now() + .milliseconds(200)) { order.withLock { $0.append(2) } }
        _ = DeadlineThread.shared.schedule(at: .now() + .milliseconds(30)) { order.withLock { $0.append(1) } }
        try await waitFor { order.withLock { $0.count } == 2 }
        #expect(order.withLock { $0 } == [1, 2])
    }
}
