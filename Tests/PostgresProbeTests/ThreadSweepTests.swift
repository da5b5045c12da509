import Foundation
import NIOPosix
import Synchronization
import Testing
import TestSupport
@testable import PostgresProbe

/// The sweep's launch policy with stand-in blocking work on real probe threads: slots, patience, the in-flight
/// bound, slow jobs first, results from elsewhere, cancellation, and jobs run back to back on a thread.
@Suite struct ThreadSweepTests {
    /// Counts jobs running at once and remembers the most, and the order they started in.
    final class Gauge: Sendable {
        let state = Mutex<(now: Int, most: Int, order: [Int])>((0, 0, []))
        func enter(_ index: Int) {
            state.withLock { $0.now += 1; $0.most = max($0.most, $0.now); $0.order.append(index) }
        }
        func leave() { state.withLock { $0.now -= 1 } }
        var most: Int { state.withLock { $0.most } }
        var order: [Int] { state.withLock { $0.order } }
    }

    /// Opens once, for every blocked thread at once, or by itself after `limit`.
    final class Gate: Sendable {
        private let condition = NSCondition()
        private let opened = Atomic<Bool>(false)
        func open() {
            condition.lock()
            opened.store(true, ordering: .releasing)
            condition.broadcast()
            condition.unlock()
        }
        var isOpen: Bool { opened.load(ordering: .acquiring) }
        func wait(limit: TimeInterval) {
            let until = Date().addingTimeInterval(limit)
            condition.lock()
            while !isOpen, condition.wait(until: until) {}
            condition.unlock()
        }
    }

    func sweep<R: Sendable>(_ count: Int, slow: @escaping (Int) -> Bool = { _ in false }, concurrency: Int, patience: Duration,
                            inFlightLimit: Int = 100, threads: ProbeThreads = ProbeThreads(idleSeconds: 2),
                            work: @escaping ThreadSweep<R>.Work, notRun: @escaping @Sendable (Int) -> R) -> ThreadSweep<R> {
        ThreadSweep(count: count, expectedSlow: slow, concurrency: concurrency, patience: patience, inFlightLimit: inFlightLimit,
                    timers: MultiThreadedEventLoopGroup.singleton, threads: threads, unavailable: notRun, work: work)
    }

    /// The caller stops the sweep (the store refused a slice): no more jobs start, and `run` returns. With one
    /// slot, the third job is held until the caller has stopped: the fourth may start only if the stop was ignored.
    @Test func aCallerThatStopsTheSweepStartsNoMoreJobs() async {
        let ran = Mutex(0)
        let released = Gate()
        let stopping = sweep(40, concurrency: 1, patience: .seconds(30), work: { job in
            ran.withLock { $0 += 1 }
            if job.index >= 2 { released.wait(limit: 20) }
            return job.index
        }, notRun: { _ in -1 })
        var batches = 0
        await stopping.run(batch: 2) { _ in
            batches += 1
            return false
        }
        released.open()
        try? await Task.sleep(for: .milliseconds(200))
        #expect(batches == 1)
        #expect(ran.withLock { $0 } == 3, "\(ran.withLock { $0 }) of 40 jobs ran")
    }

    @Test func eachResultComesBackForItsJobWhereverItCameFromAndNoWorkMeansNoResults() async {
        // Inline, from a task (an asynchronous stage), and from another thread.
        let results = await sweep(50, slow: { $0 % 7 == 0 }, concurrency: 3, patience: .seconds(1), work: { job in
            usleep(UInt32(job.index % 5) * 200)
            switch job.index % 3 {
            case 0: return job.index * 2
            case 1:
                Task { job.complete(job.index * 2) }
                return nil
            default:
                Thread.detachNewThread { job.complete(job.index * 2) }
                return nil
            }
        }, notRun: { _ in -1 }).collect()
        #expect(results == (0..<50).map { $0 * 2 as Int? })
        let none = await sweep(0, concurrency: 3, patience: .seconds(1), work: { $0.index }, notRun: { _ in -1 }).collect()
        #expect(none.isEmpty)
    }

    @Test func quickWorkNeverRunsMoreThanConcurrencyAtOnceAndRunsBackToBack() async {
        let gauge = Gauge()
        let threads = ProbeThreads(idleSeconds: 2)
        let before = threads.jobsHandedOver
        _ = await sweep(40, concurrency: 4, patience: .seconds(30), threads: threads, work: { job in
            gauge.enter(job.index)
            usleep(2_000)
            gauge.leave()
            return job.index
        }, notRun: { _ in -1 }).collect()
        #expect(gauge.most <= 4 && gauge.most >= 2, "\(gauge.most) at once")
        // One hand-over per slot: each thread took its next job itself, never a thread per job.
        #expect(threads.jobsHandedOver - before == 4, "\(threads.jobsHandedOver - before) hand-overs for 40 jobs")
    }

    /// Four hung jobs first in line, two slots: the quick ones behind them must all run while the hung ones
    /// still hang (released only once all quick work is done, or after 20 s).
    @Test func hungWorkGivesItsSlotUpAfterPatience() async {
        let quickDone = Mutex(0)
        let released = Gate()
        let started = ContinuousClock.now
        let results = await sweep(12, concurrency: 2, patience: .milliseconds(50), work: { job in
            if job.index < 4 {
                released.wait(limit: 20)
                return false
            }
            if quickDone.withLock({ $0 += 1; return $0 }) == 8 { released.open() }
            return true
        }, notRun: { _ in false }).collect()
        #expect(results.filter { $0 == true }.count == 8)
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(15), "the sweep took \(elapsed)")
    }

    @Test func inFlightLimitBoundsWorkThatHasGivenItsSlotUp() async {
        let gauge = Gauge()
        let released = Gate()
        _ = await sweep(9, concurrency: 1, patience: .milliseconds(5), inFlightLimit: 3, work: { job in
            gauge.enter(job.index)
            if gauge.most >= 3 && !released.isOpen {
                // Leave time for a fourth to start, were the limit not kept.
                Thread.detachNewThread {
                    usleep(300_000)
                    released.open()
                }
            }
            released.wait(limit: 20)
            gauge.leave()
            return job.index
        }, notRun: { _ in -1 }).collect()
        #expect(gauge.most == 3, "\(gauge.most) at once")
    }

    /// Expected-slow work takes no slot: with one slot, all five slow ones (held until the
    /// normal work is done) run alongside the normal work.
    @Test func expectedSlowWorkRunsWithoutASlot() async {
        let gauge = Gauge()
        let normalDone = Mutex(0)
        let released = Gate()
        _ = await sweep(10, slow: { $0 >= 5 }, concurrency: 1, patience: .seconds(30), work: { job in
            gauge.enter(job.index)
            if job.index >= 5 {
                released.wait(limit: 20)
            } else {
                usleep(10_000)
                if normalDone.withLock({ $0 += 1; return $0 }) == 5 { released.open() }
            }
            gauge.leave()
            return job.index
        }, notRun: { _ in -1 }).collect()
        #expect(gauge.most == 6, "\(gauge.most) at once")
    }

    /// A result from elsewhere (the DNS deadline while the thread is blocked in getaddrinfo) ends the job: with
    /// one slot, the rest run on another thread while the first is still blocked, and its late answer is dropped.
    @Test func aResultFromElsewhereFreesTheSlotWhileTheThreadIsStillBlocked() async {
        let released = Gate()
        let othersDone = Mutex(0)
        let results = await sweep(6, concurrency: 1, patience: .seconds(30), work: { job in
            if job.index == 0 {
                Thread.detachNewThread { job.complete("timed out") }
                released.wait(limit: 20)
                // The lookup answered late: already settled.
                #expect(!job.complete("late"))
                return nil
            }
            if othersDone.withLock({ $0 += 1; return $0 }) == 5 { released.open() }
            return "ok"
        }, notRun: { _ in "not run" }).collect()
        #expect(results == ["timed out", "ok", "ok", "ok", "ok", "ok"] as [String?])
        #expect(released.isOpen)
    }

    /// The jobs without a result when the sweep is cancelled hand nothing over (not a made-up failure), and the
    /// late results of those still running are dropped.
    @Test func cancellingReturnsAtOnceAndUnfinishedJobsHaveNoResult() async throws {
        let released = Gate()
        defer { released.open() }
        let started = Gauge()
        let task = Task {
            await sweep(8, concurrency: 2, patience: .seconds(30), work: { job in
                started.enter(job.index)
                if job.index < 2 { return "done" }
                released.wait(limit: 20)
                return "late"
            }, notRun: { _ in "no thread" }).collect()
        }
        try await waitFor { started.order.count >= 4 }
        let clock = ContinuousClock.now
        task.cancel()
        let results = await task.value
        #expect(ContinuousClock.now - clock < .seconds(5))
        #expect(Array(results.prefix(2)) == ["done", "done"])
        #expect(results.dropFirst(2).allSatisfy { $0 == nil }, "\(results)")
        #expect(started.order.count == 4, "jobs started after the cancel: \(started.order)")
    }

    /// Seeded random mixes of quick, slow, hung, asynchronous and doubly-offered work, with random limits, batch
    /// sizes, a caller sometimes slow to take its batches, and a random cancel: every job's result is delivered
    /// at most once, in batches no larger than asked, and it is the first offered for it; only a cancelled sweep
    /// leaves a job without one; never more than the in-flight limit run at once; the sweep ends.
    /// A failure names its seed: `SWEEP_SEED=<n>` replays it; `SWEEP_CASES` runs more.
    @Test func randomInterleavingsKeepTheSweepsPromises() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64] = environment["SWEEP_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? (1...UInt64(environment["SWEEP_CASES"].flatMap(Int.init) ?? 30)).map { $0 }
        for seed in seeds {
            let failures = await Self.run(seed: seed)
            #expect(failures.isEmpty, "seed \(seed) (replay with SWEEP_SEED=\(seed)): \(failures.joined(separator: "; "))")
            if !failures.isEmpty { break }
        }
    }

    /// One case: what went wrong, if anything.
    static func run(seed: UInt64) async -> [String] {
        var random = SeededRandom(seed: seed)
        let count = 1 + random.next(60)
        let concurrency = 1 + random.next(6)
        let inFlightLimit = concurrency + random.next(6)
        let patience = Duration.milliseconds(1 + random.next(20))
        let slow = Set((0..<count).filter { _ in random.next(8) == 0 })
        // Per job: 0 quick, 1 a few ms, 2 past patience, 3 from a task, 4 from another thread and then inline too.
        let kinds = (0..<count).map { _ in random.next(5) }
        let cancelAfter: Duration? = random.next(4) == 0 ? .milliseconds(random.next(30)) : nil
        // Jobs in flight: from their start to the first result offered (a thread blocked after a result came from
        // elsewhere, as in getaddrinfo past the DNS deadline, no longer counts).
        let gauge = Gauge()
        let firstOffer = Mutex<[Int: String]>([:])
        let offer = { @Sendable (index: Int, value: String) -> String in
            let first = firstOffer.withLock { offers -> Bool in
                guard offers[index] == nil else { return false }
                offers[index] = value
                return true
            }
            if first { gauge.leave() }
            return value
        }
        let sweep = ThreadSweep<String>(
            count: count, expectedSlow: { slow.contains($0) }, concurrency: concurrency, patience: patience, inFlightLimit: inFlightLimit,
            timers: MultiThreadedEventLoopGroup.singleton, threads: ProbeThreads(idleSeconds: 1),
            unavailable: { "unavailable \($0)" }
        ) { job in
            let index = job.index
            gauge.enter(index)
            switch kinds[index] {
            case 0: return offer(index, "inline \(index)")
            case 1:
                usleep(UInt32(500 + index % 7 * 300))
                return offer(index, "inline \(index)")
            case 2:
                usleep(UInt32(patience.components.attoseconds / 1_000_000_000_000) + 3_000)
                return offer(index, "inline \(index)")
            case 3:
                Task { job.complete(offer(index, "task \(index)")) }
                return nil
            default:
                let raced = Thread.detachNewThreadWithGroup { job.complete(offer(index, "thread \(index)")) }
                raced.wait()
                return offer(index, "inline \(index)")
            }
        }
        // Results in batches of a random size, the caller sometimes slow to take them (results pile up meanwhile).
        let batchSize = 1 + random.next(count + 3)
        let slowCaller = random.next(3) == 0
        let task = Task { () -> (results: [Int: String], failures: [String]) in
            var results: [Int: String] = [:]
            var failures: [String] = []
            await sweep.run(batch: batchSize) { batch in
                if batch.count > batchSize { failures.append("a batch of \(batch.count), size \(batchSize)") }
                for (index, result) in batch {
                    if results[index] != nil { failures.append("job \(index) delivered twice") }
                    results[index] = result
                }
                if slowCaller { try? await Task.sleep(for: .milliseconds(2)) }
                return true
            }
            return (results, failures)
        }
        if let cancelAfter {
            try? await Task.sleep(for: cancelAfter)
            task.cancel()
        }
        // A sweep that never ends is a failure of this seed, not a hung suite.
        let outcome = await withTaskGroup(of: (results: [Int: String], failures: [String])?.self) { group in
            group.addTask { await task.value }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                if !Task.isCancelled { task.cancel() }
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        guard let outcome else { return ["the sweep did not end within 30 s (\(count) jobs, batch \(batchSize))"] }
        var failures = outcome.failures
        let results = (0..<count).map { outcome.results[$0] }
        let offered = firstOffer.withLock { $0 }
        for (index, result) in results.enumerated() {
            guard let result else {
                // Only a cancelled sweep leaves a job without its result.
                if cancelAfter == nil { failures.append("job \(index) has no result in a sweep nobody cancelled") }
                continue
            }
            if result != offered[index] { failures.append("job \(index): \(result), first offered \(offered[index] ?? "nothing")") }
        }
        if gauge.most > inFlightLimit { failures.append("\(gauge.most) at once, limit \(inFlightLimit)") }
        return failures
    }
}

extension ThreadSweep {
    /// Every job's result in index order, nil for a job that has none (the sweep was cancelled first).
    func collect() async -> [Result?] {
        var results = [Result?](repeating: nil, count: count)
        await run(batch: 7) { batch in
            for (index, result) in batch { results[index] = result }
            return true
        }
        return results
    }
}

func waitFor(_ condition: () -> Bool) async throws {
    for _ in 0..<500 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not met within 5 s")
}

extension Thread {
    /// Starts `body` on a new thread; `wait()` on the answer blocks until it ended.
    static func detachNewThreadWithGroup(_ body: @escaping @Sendable () -> Void) -> DispatchGroup {
        let group = DispatchGroup()
        group.enter()
        detachNewThread {
            body()
            group.leave()
        }
        return group
    }
}
