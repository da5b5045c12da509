import NIOCore
import Synchronization

/// A sweep's probes run back to back on probe threads (``ProbeThreads``): a thread that finishes one takes the
/// next itself, so a probe costs no hand-over between threads, no task and no wake-up of the caller. The caller
/// waits once, for the whole sweep.
///
/// The launch policy: at most `concurrency` jobs hold a slot at once. A job holds its slot until it finishes or
/// `patience` passes, whichever is first; after that it runs on to its own timeouts without one, and another
/// thread starts the next job. So hung databases (they accept and never answer) cost the others `patience`
/// each, never their whole timeout. Jobs expected to be slow (their last probe timed out) start first and without
/// a slot: their timeouts run alongside the rest of the sweep instead of after it. `inFlightLimit` bounds the
/// jobs running at all, slot or not (sockets, threads).
///
/// A job's work returns its result, or nil when the result will come from elsewhere through ``Job/complete(_:)``
/// (a deadline that fired while the thread was blocked in getaddrinfo; an asynchronous stage such as the login).
/// The first result offered for a job is the one kept. Cancelling the waiting task ends the sweep at once: a job
/// without a result by then has none (a probe cut short says nothing about its target), and threads still blocked
/// finish their job, whose result is dropped, and stop.
package final class ThreadSweep<Result: Sendable>: @unchecked Sendable {
    /// One job's handle, for a result that comes from another thread or a task.
    package struct Job: Sendable {
        let sweep: ThreadSweep<Result>
        package let index: Int

        /// Whether the job is settled already (its result came from elsewhere, or the sweep was cancelled): work still to do
        /// for it is wasted.
        package var isSettled: Bool { sweep.isSettled(index) }

        /// Offers the job's result; true when it was the first.
        @discardableResult
        package func complete(_ result: Result) -> Bool {
            sweep.complete(index, result)
        }
    }

    package typealias Work = @Sendable (Job) -> Result?

    private let concurrency: Int
    private let patience: Duration
    private let inFlightLimit: Int
    private let work: Work
    private let unavailable: @Sendable (Int) -> Result
    private let timers: any EventLoopGroup
    private let threads: ProbeThreads
    /// The number of jobs.
    package let count: Int

    // Guarded by `lock`.
    private let lock = Mutex<Void>(())
    /// Per job: whether it has its result.
    private var done: [Bool]
    /// Results not yet handed to the caller, in the order they came.
    private var ready: [(index: Int, result: Result)] = []
    private var batchSize = 1
    private var remaining: Int
    private var slow: [Int]
    private var normal: [Int]
    private var nextSlow = 0
    private var nextNormal = 0
    private var holdingSlots = 0
    private var running = 0
    /// Per job: started and without its result yet; holds a slot now; the patience timer that gives it back.
    private var isRunning: [Bool]
    private var holdsSlot: [Bool]
    private var timer: [SweepTimer?]
    private var isCancelled = false
    private var started = false
    /// The caller, waiting for its next batch (nil: no more).
    private var waiter: CheckedContinuation<[(index: Int, result: Result)]?, Never>?

    /// - Parameters:
    ///   - unavailable: the result of a job no thread could be started for.
    ///   - timers: where patience is timed when the deadline thread cannot start.
    package init(count: Int, expectedSlow: (Int) -> Bool, concurrency: Int, patience: Duration, inFlightLimit: Int,
                 timers: any EventLoopGroup, threads: ProbeThreads = .shared,
                 unavailable: @escaping @Sendable (Int) -> Result, work: @escaping Work) {
        self.concurrency = max(1, concurrency)
        self.patience = patience
        self.inFlightLimit = max(self.concurrency, inFlightLimit)
        self.work = work
        self.unavailable = unavailable
        self.timers = timers
        self.threads = threads
        self.count = count
        done = Array(repeating: false, count: count)
        remaining = count
        slow = (0..<count).filter(expectedSlow)
        normal = (0..<count).filter { !expectedSlow($0) }
        isRunning = Array(repeating: false, count: count)
        holdsSlot = Array(repeating: false, count: count)
        timer = Array(repeating: nil, count: count)
    }

    /// Runs every job, handing the results to `consume` as they come, `batch` at a time (the last batch may be
    /// smaller), so that only a batch and the jobs in flight are held at once. Results that come while `consume`
    /// runs wait for the next call. `consume` returns false to stop the sweep: that, like a cancellation, starts no
    /// more jobs, and the jobs without a result by then hand nothing over. Call once.
    package func run(batch: Int, _ consume: ([(index: Int, result: Result)]) async -> Bool) async {
        await withTaskCancellationHandler {
            while let next = await nextBatch(size: batch) {
                guard await consume(next) else {
                    cancel()
                    return
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The next batch once it is full (or the last), starting the jobs on the first call; nil when all were handed over.
    private func nextBatch(size: Int) async -> [(index: Int, result: Result)]? {
        await withCheckedContinuation { continuation in
            let (now, start) = lock.withLock { _ -> ([(index: Int, result: Result)]??, [Int]) in
                batchSize = Swift.max(1, size)
                var start: [Int] = []
                if !started {
                    started = true
                    start = launchable()
                }
                if let batch = takeBatch() { return (.some(batch), start) }
                waiter = continuation
                return (nil, start)
            }
            if let now { continuation.resume(returning: now) }
            startThreads(start)
        }
    }

    // MARK: under the lock

    /// A full batch (never more than the batch size), or the last one; `.some(nil)` when there is nothing more;
    /// nil when the caller must wait.
    private func takeBatch() -> [(index: Int, result: Result)]?? {
        if ready.count > batchSize {
            defer { ready.removeFirst(batchSize) }
            return .some(Array(ready.prefix(batchSize)))
        }
        if ready.count == batchSize || (remaining == 0 && !ready.isEmpty) {
            defer { ready = [] }
            return .some(ready)
        }
        return remaining == 0 ? .some(nil) : nil
    }

    /// Takes every job that may start now (slow ones first, without a slot), marking them started.
    private func launchable() -> [Int] {
        var taken: [Int] = []
        guard !isCancelled else { return taken }
        while nextSlow < slow.count, running < inFlightLimit {
            taken.append(slow[nextSlow])
            isRunning[slow[nextSlow]] = true
            nextSlow += 1
            running += 1
        }
        while nextNormal < normal.count, holdingSlots < concurrency, running < inFlightLimit {
            let index = normal[nextNormal]
            nextNormal += 1
            holdingSlots += 1
            running += 1
            isRunning[index] = true
            holdsSlot[index] = true
            let patience = self.patience
            timer[index] = SweepTimer.schedule(in: patience, timers: timers) { [weak self] in self?.patienceElapsed(index) }
            taken.append(index)
        }
        return taken
    }

    /// A waiting caller to resume, and what with.
    private typealias Wake = (CheckedContinuation<[(index: Int, result: Result)]?, Never>, [(index: Int, result: Result)]?)

    /// Records `result` if the job has none yet (the bool); a caller to wake when a batch is now due. A job settled
    /// with no result (the sweep was cancelled first) hands nothing over.
    private func record(_ index: Int, _ result: Result?) -> (Bool, Wake?) {
        guard !done[index] else { return (false, nil) }
        done[index] = true
        if let result { ready.append((index, result)) }
        remaining -= 1
        if isRunning[index] {
            isRunning[index] = false
            running -= 1
        }
        if holdsSlot[index] {
            holdsSlot[index] = false
            holdingSlots -= 1
        }
        timer[index]?.cancel()
        timer[index] = nil
        guard let waiter, let batch = takeBatch() else { return (true, nil) }
        self.waiter = nil
        return (true, (waiter, batch))
    }

    // MARK: events

    /// A result from elsewhere than the job's own thread: recorded if first; whatever may start then starts on new threads.
    private func complete(_ index: Int, _ result: Result) -> Bool {
        let (first, wake, start) = lock.withLock { _ in
            let (first, wake) = record(index, result)
            return (first, wake, first ? launchable() : [])
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
        startThreads(start)
        return first
    }

    /// The job's own thread is done with it (with its result, or nil when it comes from elsewhere): the thread's
    /// next job, if one may start, and any others that may start on new threads.
    private func finished(_ index: Int, _ result: Result?) -> Int? {
        let (wake, next) = lock.withLock { _ in
            let wake = result.flatMap { record(index, $0).1 }
            return (wake, launchable())
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
        startThreads(Array(next.dropFirst()))
        return next.first
    }

    private func isSettled(_ index: Int) -> Bool {
        lock.withLock { _ in done[index] }
    }

    private func patienceElapsed(_ index: Int) {
        let start = lock.withLock { _ -> [Int] in
            guard holdsSlot[index], !done[index] else { return [] }
            holdsSlot[index] = false
            holdingSlots -= 1
            timer[index] = nil
            return launchable()
        }
        startThreads(start)
    }

    private func cancel() {
        let wake = lock.withLock { _ -> Wake? in
            isCancelled = true
            var wake: Wake?
            for index in done.indices where !done[index] {
                if let due = record(index, nil).1 { wake = due }
            }
            return wake
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
    }

    // MARK: threads

    private func startThreads(_ indices: [Int]) {
        var pending = indices
        var next = 0
        while next < pending.count {
            let index = pending[next]
            next += 1
            if threads.run({ [self] in serve(index) }) { continue }
            // No thread: the job says so, and whatever may start instead is tried in turn.
            let (more, wake) = lock.withLock { _ in
                let (first, wake) = record(index, unavailable(index))
                return (first ? launchable() : [], wake)
            }
            if let (waiter, batch) = wake { waiter.resume(returning: batch) }
            pending += more
        }
    }

    /// One probe thread's share of the sweep: its first job (unless the sweep was cancelled since it was taken),
    /// then the next while one may start (taken under the lock, cancellation seen there).
    private func serve(_ first: Int) {
        guard !isSettled(first) else { return }
        var index: Int? = first
        while let current = index {
            let result = work(Job(sweep: self, index: current))
            index = finished(current, result)
        }
    }
}

/// A patience timer: on the deadline thread, or on an event loop when that thread cannot start.
enum SweepTimer {
    case deadline(UInt64)
    case loop(Scheduled<Void>)

    static func schedule(in delay: Duration, timers: any EventLoopGroup, _ action: @escaping @Sendable () -> Void) -> SweepTimer {
        if let id = DeadlineThread.shared.schedule(at: .now() + TimeAmount(delay), action) { return .deadline(id) }
        return .loop(timers.any().scheduleTask(in: TimeAmount(delay), action))
    }

    func cancel() {
        switch self {
        case .deadline(let id): DeadlineThread.shared.cancel(id)
        case .loop(let scheduled): scheduled.cancel()
        }
    }
}
