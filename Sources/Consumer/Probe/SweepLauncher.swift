import NIOCore
import Synchronization

/// How a probe sweep starts its probes, apart from probing, so that tests can drive it with any work.
///
/// At most `concurrency` probes hold a slot at once. A probe holds its slot until it finishes or
/// `patience` passes, whichever is first; after that it runs on to its own timeouts without a slot. So
/// hung databases (they accept and never answer) cost the others `patience` each, never their whole
/// timeout. Targets expected to be slow (their last probe timed out) start first and without a slot:
/// their timeouts run alongside the rest of the sweep instead of after it, so a sweep takes about as
/// long as one without them, or one probe timeout, whichever is longer. `inFlightLimit` bounds the
/// probes running at all, slot or not (sockets, resolver threads).
struct SweepLauncher: Sendable {
    let concurrency: Int
    let patience: Duration
    let inFlightLimit: Int
    /// Where the patience timers run.
    let timers: any EventLoopGroup

    init(concurrency: Int, patience: Duration, inFlightLimit: Int, timers: any EventLoopGroup) {
        self.concurrency = max(1, concurrency)
        self.patience = patience
        self.inFlightLimit = max(self.concurrency, inFlightLimit)
        self.timers = timers
    }

    /// Runs `work` for every index in `0..<count` and returns the results in index order.
    func run<Result: Sendable>(count: Int, expectedSlow: (Int) -> Bool,
                               _ work: @escaping @Sendable (Int) async -> Result) async -> [Result] {
        let (events, sink) = AsyncStream<SweepEvent<Result>>.makeStream()
        let slow = (0..<count).filter(expectedSlow)
        let normal = (0..<count).filter { !expectedSlow($0) }
        let (concurrency, inFlightLimit, timers) = (self.concurrency, self.inFlightLimit, self.timers)
        let patience = TimeAmount(self.patience)
        // Discarding: a finished probe's task is freed at once. A plain task group keeps every finished child
        // until it is awaited, which here would be the end of the sweep (10,000 tasks held at once).
        return await withDiscardingTaskGroup { group in
            var results = [Result?](repeating: nil, count: count)
            var (nextSlow, nextNormal) = (0, 0)
            var holdingSlots = 0
            var running = 0
            func launchWhilePossible() {
                while nextSlow < slow.count, running < inFlightLimit {
                    let index = slow[nextSlow]
                    nextSlow += 1
                    running += 1
                    group.addTask { sink.yield(.finished(index, await work(index))) }
                }
                while nextNormal < normal.count, holdingSlots < concurrency, running < inFlightLimit {
                    let index = normal[nextNormal]
                    nextNormal += 1
                    holdingSlots += 1
                    running += 1
                    group.addTask {
                        // The slot goes back once: when patience runs out or the work ends, whichever is first.
                        let slot = SlotRelease { sink.yield(.released) }
                        let timer = timers.any().scheduleTask(in: patience) { slot.release() }
                        let result = await work(index)
                        timer.cancel()
                        slot.release()
                        sink.yield(.finished(index, result))
                    }
                }
            }
            launchWhilePossible()
            if running == 0 { sink.finish() }
            for await event in events {
                switch event {
                case .released:
                    holdingSlots -= 1
                case .finished(let index, let result):
                    results[index] = result
                    running -= 1
                }
                launchWhilePossible()
                if running == 0 && nextSlow == slow.count && nextNormal == normal.count { sink.finish() }
            }
            return results.compactMap { $0 }
        }
    }
}

/// What the launcher waits for: a slot given back, or a result.
private enum SweepEvent<Result: Sendable>: Sendable {
    case released
    case finished(Int, Result)
}

/// A concurrency slot, given back exactly once.
private final class SlotRelease: Sendable {
    private let released = Atomic<Bool>(false)
    private let onRelease: @Sendable () -> Void

    init(_ onRelease: @escaping @Sendable () -> Void) {
        self.onRelease = onRelease
    }

    func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { onRelease() }
    }
}
