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
@Suite struct SweepLauncherTests {
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

    /// Four hung targets first in line, two slots: the quick work after them starts once patience runs
    /// out, not after the hung ones' whole "timeout".
    @Test func hungWorkGivesItsSlotUpAfterPatience() async {
        let started = ContinuousClock.now
        let quickStarts = Mutex<[Duration]>([])
        let results = await launcher(concurrency: 2, patience: .milliseconds(50), inFlightLimit: 100)
            .run(count: 12, expectedSlow: { _ in false }) { index in
                if index < 4 {
                    try? await Task.sleep(for: .seconds(3))
                    return false
                }
                quickStarts.withLock { $0.append(ContinuousClock.now - started) }
                return true
            }
        let elapsed = ContinuousClock.now - started
        #expect(results.filter { $0 }.count == 8)
        // Holding slots until the end would start the quick work after 3 s (two hung waves: 6 s in all).
        let latest = quickStarts.withLock { $0.max() } ?? .zero
        #expect(latest < .milliseconds(2500), "the last quick work started after \(latest)")
        #expect(elapsed < .milliseconds(5500), "the sweep took \(elapsed)")
    }

    @Test func inFlightLimitBoundsWorkThatHasGivenItsSlotUp() async {
        let gauge = Gauge()
        _ = await launcher(concurrency: 1, patience: .milliseconds(5), inFlightLimit: 3)
            .run(count: 9, expectedSlow: { _ in false }) { index in
                gauge.enter(index)
                try? await Task.sleep(for: .milliseconds(150))
                gauge.leave()
                return index
            }
        #expect(gauge.most == 3, "\(gauge.most) at once")
    }

    /// Expected-slow work starts before the rest and takes no slot: with one slot, all of it runs
    /// alongside the normal work.
    @Test func expectedSlowWorkStartsFirstWithoutASlot() async {
        let gauge = Gauge()
        _ = await launcher(concurrency: 1, patience: .seconds(30), inFlightLimit: 100)
            .run(count: 10, expectedSlow: { $0 >= 5 }) { index in
                gauge.enter(index)
                try? await Task.sleep(for: index >= 5 ? .milliseconds(400) : .milliseconds(10))
                gauge.leave()
                return index
            }
        // Five slow ones at once plus the one slot.
        #expect(gauge.most == 6, "\(gauge.most) at once")
        #expect(Set(gauge.order.prefix(5)) == Set(5..<10), "start order \(gauge.order)")
    }
}

/// A real sweep: customers on a live PostgreSQL and on listeners that accept and never answer.
@Suite struct ProbeSweepTests {
    @Test func hungDatabasesDoNotHoldUpHealthyOnesAndStartFirstNextTime() async throws {
        let postgres = try await ThrowawayPostgres.shared()
        let silent = try SilentListener()
        defer { silent.close() }
        let dir = TemporaryDirectory()
        let store = try ConsumerStore(path: dir.file("state.sqlite3"))
        let hung = Set(0..<4)
        for n in 0..<16 {
            let arn = try ResourceConfigurationARN.parse(testARN(700 + n)).get()
            let name = "c\(n)"
            _ = try await store.addCustomer(NewCustomer(name: name, arn: arn, port: hung.contains(n) ? silent.port : postgres.port))
            let row = try await store.beginEndpoint(customer: name, region: "us-east-1", clientToken: "plc-\(n)")
            try await store.updateEndpoint(try #require(row.id), vpcEndpointId: String(format: "vpce-0%016x", n),
                                           state: .available, awsState: "Available", dnsName: "localhost", lastError: nil)
            try await store.transition(customer: name, to: .ready, detail: nil, hint: nil)
        }
        let timeouts = ProbeTimeouts(dns: .seconds(2), connect: .seconds(2), postgres: .milliseconds(1500), login: .seconds(2))
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: timeouts, logger: Logger(label: "test")),
                                       concurrency: 2, patience: .milliseconds(100), healthLog: nil, logger: Logger(label: "test"))
        let targets = try await scheduler.targets()
        #expect(targets.count == 16)
        #expect(!targets.contains { $0.expectedSlow })

        let start = Date()
        let records = try await scheduler.sweep()
        #expect(records.count == 16)
        #expect(records.filter { $0.port == silent.port }.count == 4)
        for record in records {
            if record.port == silent.port {
                #expect(!record.ok && record.errorKind == "postgresTimeout", "\(record.customerId): \(record.errorKind ?? "ok")")
            } else {
                #expect(record.ok, "\(record.customerId): \(record.error ?? "")")
                // Had the hung four held both slots for their whole 1.5 s, some healthy probes would start after 1.5 s.
                #expect(record.time.timeIntervalSince(start) < 1.2, "\(record.customerId) started after \(record.time.timeIntervalSince(start)) s")
            }
        }

        // Their timeouts are remembered: next sweep they go first, without a slot.
        let again = try await scheduler.targets()
        #expect(again.filter(\.expectedSlow).map(\.customer.name).sorted() == ["c0", "c1", "c2", "c3"])
    }
}
