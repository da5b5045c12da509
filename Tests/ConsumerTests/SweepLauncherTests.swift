import ConsumerStore
import Foundation
import Logging
import NIOPosix
import PostgresProbe
import Synchronization
import Testing
import TestSupport
@testable import Consumer

/// The sweep's launch policy with stand-in work: slots, patience, the in-flight bound, slow targets first.
@Suite(.calmPool) struct SweepLauncherTests {
    /// Counts work running at once and remembers the most.
    final class Gauge: Sendable {
        let state = Mutex<(now: Int, most: Int, order: [Int])>((0, 0, []))
        func enter(_ index: Int) {
            state.withLock { $0.now += 1; $0.most = max($0.most, $0.now); $0.order.append(index) }
        }
        func leave() { state.withLock { $0.now -= 1 } }
        var most: Int { state.withLock { $0.most } }
        var order: [Int] { state.withLock { $0.order } }
    }

    func launcher(concurrency: Int, patience: Duration, inFlightLimit: Int) -> SweepLauncher {
        SweepLauncher(concurrency: concurrency, patience: patience, inFlightLimit: inFlightLimit,
                      timers: MultiThreadedEventLoopGroup.singleton)
    }

    @Test func resultsComeBackInOrderAndNoWorkMeansNoResults() async {
        let results = await launcher(concurrency: 3, patience: .seconds(1), inFlightLimit: 10)
            .run(count: 50, expectedSlow: { $0 % 7 == 0 }) { index in
                try? await Task.sleep(for: .milliseconds(index % 5))
                return index * 2
            }
        #expect(results == (0..<50).map { $0 * 2 })
        let none = await launcher(concurrency: 3, patience: .seconds(1), inFlightLimit: 10)
            .run(count: 0, expectedSlow: { _ in false }) { $0 }
        #expect(none.isEmpty)
    }

    @Test func quickWorkNeverRunsMoreThanConcurrencyAtOnce() async {
        let gauge = Gauge()
        _ = await launcher(concurrency: 4, patience: .seconds(30), inFlightLimit: 100)
            .run(count: 40, expectedSlow: { _ in false }) { index in
                gauge.enter(index)
                try? await Task.sleep(for: .milliseconds(5))
                gauge.leave()
                return index
            }
        #expect(gauge.most <= 4 && gauge.most >= 2, "\(gauge.most) at once")
    }

    /// Opens once, for every waiter at once; or lets waiters give up after `limit`.
    final class Gate: Sendable {
        private let opened = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func open() {
            let waiters = opened.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        var isOpen: Bool { opened.withLock { $0.open } }

        /// Waits until the gate opens, or `limit` passes (then it opens for everyone).
        func wait(limit: Duration) async {
            let timer = Task {
                try? await Task.sleep(for: limit)
                self.open()
            }
            await withCheckedContinuation { continuation in
                let now = opened.withLock { state -> Bool in
                    if state.open { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
            timer.cancel()
        }
    }

    /// Four hung targets first in line, two slots: the quick work behind them must all run while the
    /// hung ones still hang (they are released only once all quick work is done, or after 20 s).
    @Test func hungWorkGivesItsSlotUpAfterPatience() async {
        let quickDone = Mutex(0)
        let released = Gate()
        let started = ContinuousClock.now
        let results = await launcher(concurrency: 2, patience: .milliseconds(50), inFlightLimit: 100)
            .run(count: 12, expectedSlow: { _ in false }) { index in
                if index < 4 {
                    await released.wait(limit: .seconds(20))
                    return false
                }
                if quickDone.withLock({ $0 += 1; return $0 }) == 8 { released.open() }
                return true
            }
        #expect(results.filter { $0 }.count == 8)
        // Had the hung work kept its slots, the quick work could only start after the 20 s limit.
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(15), "the sweep took \(elapsed)")
    }

    @Test func inFlightLimitBoundsWorkThatHasGivenItsSlotUp() async {
        let gauge = Gauge()
        let released = Gate()
        _ = await launcher(concurrency: 1, patience: .milliseconds(5), inFlightLimit: 3)
            .run(count: 9, expectedSlow: { _ in false }) { index in
                gauge.enter(index)
                if gauge.most >= 3 && !released.isOpen {
                    // Leave time for a fourth to start, were the limit not kept.
                    Task {
                        try? await Task.sleep(for: .milliseconds(300))
                        released.open()
                    }
                }
                await released.wait(limit: .seconds(20))
                gauge.leave()
                return index
            }
        #expect(gauge.most == 3, "\(gauge.most) at once")
    }

    /// Expected-slow work takes no slot: with one slot, all five slow ones (held until the normal work
    /// is done) run alongside the normal work.
    @Test func expectedSlowWorkRunsWithoutASlot() async {
        let gauge = Gauge()
        let normalDone = Mutex(0)
        let released = Gate()
        _ = await launcher(concurrency: 1, patience: .seconds(30), inFlightLimit: 100)
            .run(count: 10, expectedSlow: { $0 >= 5 }) { index in
                gauge.enter(index)
                if index >= 5 {
                    await released.wait(limit: .seconds(20))
                } else {
                    try? await Task.sleep(for: .milliseconds(10))
                    if normalDone.withLock({ $0 += 1; return $0 }) == 5 { released.open() }
                }
                gauge.leave()
                return index
            }
        // Five slow ones at once plus the one slot; never two normal ones.
        #expect(gauge.most == 6, "\(gauge.most) at once")
    }
}

/// A real sweep: customers on a live PostgreSQL and on listeners that accept and never answer.
@Suite(.calmPool) struct ProbeSweepTests {
    @Test func hungDatabasesDoNotHoldUpHealthyOnesAndStartFirstNextTime() async throws {
        let postgres = try await ThrowawayPostgres.shared()
        let silent = try SilentListener()
        defer { silent.close() }
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(path: dir.file("state.sqlite3"))
        let hung = Set(0..<4)
        for n in 0..<16 {
            try await StoreFixtures.readyCustomer(store, name: "c\(n)", arn: testARN(700 + n), port: hung.contains(n) ? silent.port : postgres.port,
                                                  vpcEndpointId: String(format: "vpce-0%016x", n))
        }
        // Wide budgets: the healthy probes must pass and start before the first hung one gives up,
        // however loaded the machine (the hung ones then take 6 s, which is not what is measured).
        let timeouts = ProbeTimeouts(dns: .seconds(10), connect: .seconds(10), postgres: .seconds(6), login: .seconds(10))
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: timeouts, logger: Logger(label: "test")),
                                       concurrency: 2, patience: .milliseconds(100), healthLog: nil, logger: Logger(label: "test"))
        let targets = try await scheduler.targets()
        #expect(targets.count == 16)
        #expect(!targets.contains { $0.expectedSlow })

        let start = Date()
        let records = try await scheduler.sweep()
        #expect(records.count == 16)
        let hungRecords = records.filter { $0.port == silent.port }
        #expect(hungRecords.count == 4)
        // When the first hung probe gave up (start + its stage latencies).
        let firstGaveUp = hungRecords.map { $0.time.addingTimeInterval($0.latencyMs.values.reduce(0, +) / 1000) }.min() ?? start
        for record in records {
            if record.port == silent.port {
                #expect(!record.ok && record.errorKind == "postgresTimeout", "\(record.customerId): \(record.errorKind ?? "ok")")
            } else {
                #expect(record.ok, "\(record.customerId): \(record.error ?? "")")
                // Had the hung probes (c0 and c1 come first) held both slots, the healthy ones would start after they gave up.
                #expect(record.time < firstGaveUp, "\(record.customerId) started \(record.time.timeIntervalSince(start)) s in")
            }
        }

        // Their timeouts are remembered: next sweep they go first, without a slot.
        let again = try await scheduler.targets()
        #expect(again.filter(\.expectedSlow).map(\.name).sorted() == ["c0", "c1", "c2", "c3"])
    }
}
