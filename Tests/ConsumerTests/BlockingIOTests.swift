import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Consumer

/// Blocking system calls reached from async code run on `BlockingIO`'s threads: Swift's cooperative pool
/// has as many threads as cores (two here), and two calls stuck in the kernel would stall everything else.
@Suite(.timeLimit(.minutes(1)))
struct BlockingIOTests {
    /// The health log rotates under `flock`. With the lock held from another descriptor, sixteen writes
    /// wait in the kernel; ordinary async work started after all of them must finish while they still wait.
    /// Were the writes made on cooperative threads, the first two would hold the whole pool until a plain
    /// thread releases the lock three seconds later, and the work would finish only after that.
    @Test func writesWaitingOnTheHealthLogLockLeaveTheCooperativePoolFree() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("health.jsonl")
        let writer = try HealthLogWriter(path: path, maxBytes: 2048, files: 2)
        // Nearly full: the next write rotates, under the lock (the others queue behind it).
        try writer.append(.event(time: Date(), customer: "acme", event: "filler", detail: String(repeating: "x", count: 1900)))
        let holder = open(path, O_RDWR)
        #expect(holder >= 0)
        #expect(flock(holder, LOCK_EX) == 0)

        let clock = ContinuousClock()
        let released = Mutex<ContinuousClock.Instant?>(nil)
        let release = Thread {
            Thread.sleep(forTimeInterval: 3)
            released.withLock { $0 = clock.now }
            flock(holder, LOCK_UN)
            close(holder)
        }
        release.start()

        let writes = 16
        let counts = Counts()
        let writing = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<writes {
                    group.addTask {
                        counts.started.add(1, ordering: .relaxed)
                        try await writer.write(.event(time: Date(), customer: "acme", event: "tick", detail: String(index)))
                        counts.finished.add(1, ordering: .relaxed)
                    }
                }
                try await group.waitForAll()
            }
        }
        // Every write has begun (and, made inline, two of them would now block both cooperative threads).
        while counts.started.load(ordering: .relaxed) < writes { await Task.yield() }

        // Ordinary work: a thousand small tasks.
        let sum = await withTaskGroup(of: Int.self) { group in
            for value in 1...1000 { group.addTask { await Task.yield(); return value } }
            return await group.reduce(0, +)
        }
        let workDone = clock.now
        #expect(sum == 500_500)
        #expect(counts.finished.load(ordering: .relaxed) == 0, "the writes did not wait for the lock: the test proves nothing")
        #expect(released.withLock { $0 } == nil, "the work finished only after the lock was released: the writes held the pool")

        try await writing.value
        #expect(counts.finished.load(ordering: .relaxed) == writes)
        #expect(try #require(released.withLock { $0 }) > workDone)
        let ticks = try HealthLogReader(path: path).entries().filter {
            if case .event(_, _, "tick", _, _) = $0 { return true }
            return false
        }
        #expect(ticks.count == writes)
    }
}

private final class Counts: Sendable {
    let started = Atomic(0)
    let finished = Atomic(0)
}
