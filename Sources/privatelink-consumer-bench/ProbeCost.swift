import Consumer
import ConsumerDemo
import ConsumerStore
import Foundation
import Logging
import PostgresProbe
import Synchronization

/// A probe's own cost, apart from everything a sweep does once (reading the targets, the one store write and
/// the one health-log write): a child process (`--probe-cost-child N`) that probes the in-process responder N
/// times through `ProbeScheduler.probeAll`, as a sweep probes (back to back on the probe threads: resolution,
/// connection, SSLRequest, metrics, the result record), 16 at once. Two child runs of different N give the cost of one probe without the process's start: CPU seconds
/// natively, and instructions under callgrind, which repeat run to run on a noisy machine.
enum ProbeCost {
    static let concurrency = 16

    /// The child: N probes, then exit.
    static func child(probes: Int) async throws {
        let responder = try await SSLRequestResponder.start()
        var logger = Logger(label: "privatelink-consumer-bench.probe-cost")
        logger.logLevel = .warning
        let directory = NSTemporaryDirectory() + "plc-probe-cost-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The scheduler wants a store; `probe` never touches it.
        let store = try SQLiteStore(path: directory + "/state.sqlite3")
        let scheduler = ProbeScheduler(store: store, prober: PostgresProber(timeouts: ProbeTimeouts(uniform: .seconds(2)), logger: logger),
                                       concurrency: concurrency, healthLog: nil, metrics: DaemonMetrics(), logger: logger)
        let now = Date()
        let customer = Customer(id: 1, name: "probe-cost", resourceConfigurationArn: World.arn(1), partition: "aws", region: "us-east-1",
                                accountId: World.account, port: responder.port, note: nil, state: .ready, stateDetail: nil, hint: nil,
                                keepEndpoint: false, resourceShareArn: nil, invitationArn: nil, createdAt: now, updatedAt: now,
                                stateChangedAt: now, removedAt: nil, endpointFailures: 0, nextEndpointAttemptAt: nil)
        let endpoint = EndpointRecord(id: 1, customerId: 1, region: "us-east-1", clientToken: "probe-cost", generation: 1,
                                      vpcEndpointId: "vpce-00000000000000001", state: .available, awsState: "available",
                                      dnsName: "localhost", lastError: nil, createdAt: now, updatedAt: now)
        let target = ProbeScheduler.Target(customer: customer, endpoint: endpoint, dnsName: "localhost")
        // As a sweep probes: back to back on the probe threads, `concurrency` at once.
        var failed = 0
        await scheduler.probeAll(Array(repeating: target, count: probes), slice: ProbeScheduler.sliceSize) { slice in
            failed += slice.count { !$0.record.ok }
            return true
        }
        await responder.stop()
        await store.close()
        if failed > 0 { throw CommandFailure.runtime("probe cost: \(failed) of \(probes) probes failed") }
    }

    /// The floor child: N probes' blocking work alone (`PostgresProber.blockingWork`: the production lookup, the
    /// connection, the SSLRequest and its settle wait, the same system calls a probe thread makes), on
    /// `concurrency` plain threads that each run theirs back to back, against the same responder: no hand-over
    /// between threads, no task, no result record, no metric. What the kernel and the responder cost a probe here.
    static func floorChild(probes: Int) async throws {
        let responder = try await SSLRequestResponder.start()
        let timeouts = ProbeTimeouts(uniform: .seconds(2))
        let (port, threads) = (responder.port, min(concurrency, probes))
        let failed = Atomic<Int>(0)
        let done = DispatchGroup()
        for thread in 0..<threads {
            let share = probes / threads + (thread < probes % threads ? 1 : 0)
            done.enter()
            Thread.detachNewThread {
                for _ in 0..<share where !PostgresProber.blockingWork(host: "localhost", port: port, timeouts: timeouts) {
                    failed.add(1, ordering: .relaxed)
                }
                done.leave()
            }
        }
        await withCheckedContinuation { continuation in done.notify(queue: .global()) { continuation.resume() } }
        await responder.stop()
        let failures = failed.load(ordering: .relaxed)
        if failures > 0 { throw CommandFailure.runtime("probe floor: \(failures) of \(probes) probes got no answer") }
    }

    struct Figures {
        var cpuMillisecondsPerProbe: Double
        /// The same probes' bare system calls (`floorChild`), per probe.
        var floorCpuMilliseconds: Double?
        var instructionsPerProbe: Double?
        var note: String?
    }

    /// The parent: CPU per probe from two native runs, and instructions per probe from two callgrind runs
    /// when valgrind is installed.
    static func measure(small: Int, large: Int, instrumentedSmall: Int = 200, instrumentedLarge: Int = 1_200) async throws -> Figures {
        guard let own = Bundle.main.executableURL?.path else { throw CommandFailure.runtime("probe cost: cannot find this binary") }
        let (cpuSmall, cpuLarge) = (try await cpu(own, probes: small), try await cpu(own, probes: large))
        var figures = Figures(cpuMillisecondsPerProbe: (cpuLarge - cpuSmall) * 1000 / Double(large - small))
        let (floorSmall, floorLarge) = (try await cpu(own, probes: small, mode: "--probe-floor-child"),
                                        try await cpu(own, probes: large, mode: "--probe-floor-child"))
        figures.floorCpuMilliseconds = (floorLarge - floorSmall) * 1000 / Double(large - small)
        guard !isDebugBuild else {
            figures.note = "a debug build: no instruction counts (they are the release build's figure)"
            return figures
        }
        guard let valgrind = ["/usr/bin/valgrind", "/usr/local/bin/valgrind"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            figures.note = "valgrind is not installed (apt-get install valgrind): no instruction counts"
            return figures
        }
        // Valgrind 3.19 (bookworm) cannot read the DWARF 5 Swift 6 writes: it runs a copy without debug sections
        // (the symbol table stays, so callgrind's function names do too).
        let copy = NSTemporaryDirectory() + "privatelink-consumer-bench-nodebug-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let strip = Process()
        strip.executableURL = URL(fileURLWithPath: "/usr/bin/objcopy")
        strip.arguments = ["--strip-debug", own, copy]
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/objcopy"), try await runToCompletion(strip).status == 0 else {
            figures.note = "objcopy (binutils) could not copy the binary without its debug sections: no instruction counts"
            return figures
        }
        do {
            let irSmall = try await instructions(valgrind, copy, probes: instrumentedSmall)
            let irLarge = try await instructions(valgrind, copy, probes: instrumentedLarge)
            figures.instructionsPerProbe = Double(irLarge - irSmall) / Double(instrumentedLarge - instrumentedSmall)
        } catch {
            figures.note = "callgrind did not finish: \(String(describing: error).split(separator: "\n").first ?? "")"
        }
        return figures
    }

    /// The child's CPU seconds (user + system), from the kernel's accounting of waited-for children.
    static func cpu(_ binary: String, probes: Int, mode: String = "--probe-cost-child") async throws -> Double {
        let before = childrenCPU()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [mode, "\(probes)"]
        let output = try await runToCompletion(process)
        guard output.status == 0 else { throw CommandFailure.runtime("probe cost child: \(output.stderr)") }
        return childrenCPU() - before
    }

    /// Instructions callgrind counted in the child (`Collected : N` in its summary).
    static func instructions(_ valgrind: String, _ binary: String, probes: Int) async throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: valgrind)
        process.arguments = ["--tool=callgrind", "--callgrind-out-file=/dev/null", binary, "--probe-cost-child", "\(probes)"]
        let output = try await runToCompletion(process)
        guard output.status == 0,
              let line = output.stderr.split(separator: "\n").first(where: { $0.contains("Collected :") }),
              let field = line.split(separator: ":").last,
              let count = Int(field.trimmingCharacters(in: CharacterSet.whitespaces)) else {
            throw CommandFailure.runtime("probe cost under callgrind: \(output.stderr.suffix(2000))")
        }
        return count
    }

    static func childrenCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return value(usage.ru_utime) + value(usage.ru_stime)
    }
}
