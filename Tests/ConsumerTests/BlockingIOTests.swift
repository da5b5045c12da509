import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Consumer

/// Blocking system calls reached from async code run on `BlockingIO`'s threads: Swift's cooperative pool
/// has as many threads as cores (two here), and two calls stuck in the kernel would stall everything else.
@Suite(.timeLimit(.minutes(1)))
struct BlockingIOTests {
    /// The health log rotates under `flock`. With the lock held from another descriptor, four writes
    /// wait in the kernel; ordinary async work started after all of them must still finish, and only then
    /// does the test release the lock. Were the writes made on cooperative threads, the first two would
    /// hold the whole pool and the work could never finish: a plain thread releases the lock after 30 s as
    /// a failsafe, and the test fails if it had to. No wall-clock figure decides the outcome.
    @Test func writesWaitingOnTheHealthLogLockLeaveTheCooperativePoolFree() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("health.jsonl")
        let writer = try HealthLogWriter(path: path, maxBytes: 2048, files: 2)
        // Nearly full: the next write rotates, under the lock (the others queue behind it).
        try writer.append(.event(time: Date(), customer: "acme", event: "filler", detail: String(repeating: "x", count: 1900)))
        let holder = open(path, O_RDWR)
        #expect(holder >= 0)
        defer { close(holder) }
        #expect(flock(holder, LOCK_EX) == 0)

        let workDone = DispatchSemaphore(value: 0)
        let counts = Counts()
        let failsafe = Thread {
            if workDone.wait(timeout: .now() + 30) == .timedOut {
                counts.failsafeFired.store(true, ordering: .relaxed)
                flock(holder, LOCK_UN)
            }
        }
        failsafe.start()

        // More than the cooperative pool's two threads; fewer than BlockingIO's eight, so that the rest of
        // the suite (other tests open SQLite and write logs through the same pool) is not held up.
        let writes = 4
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

        // Ordinary work: a hundred small tasks.
        let sum = await withTaskGroup(of: Int.self) { group in
            for value in 1...100 { group.addTask { await Task.yield(); return value } }
            return await group.reduce(0, +)
        }
        #expect(sum == 5050)
        let failsafeFired = counts.failsafeFired.load(ordering: .relaxed)
        #expect(!failsafeFired, "the work finished only after the failsafe released the lock: the writes held the pool")
        #expect(counts.finished.load(ordering: .relaxed) == 0, "the writes did not wait for the lock: the test proves nothing")
        flock(holder, LOCK_UN)
        workDone.signal()

        try await writing.value
        #expect(counts.finished.load(ordering: .relaxed) == writes)
        let ticks = try HealthLogReader(path: path).entries().filter {
            if case .event(_, _, "tick", _, _) = $0 { return true }
            return false
        }
        #expect(ticks.count == writes)
    }
}

extension BlockingIOTests {
    /// Work handed to BlockingIO runs even when the task asking for it is already cancelled: a health-log
    /// line written during shutdown is still written.
    @Test func cancellationNeitherSkipsNorInterruptsTheWork() async throws {
        let counts = Counts()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            #expect(Task.isCancelled)
            return try await BlockingIO.run {
                counts.finished.add(1, ordering: .relaxed)
                return 42
            }
        }
        #expect(try await task.value == 42)
        #expect(counts.finished.load(ordering: .relaxed) == 1)
    }
}

private final class Counts: Sendable {
    let started = Atomic(0)
    let finished = Atomic(0)
    let failsafeFired = Atomic(false)
}
