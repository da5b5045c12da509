import Consumer
import ConsumerDemo
import ConsumerStore
import Foundation
import Logging
import PostgresProbe

/// A probe's own cost, apart from everything a sweep does once (reading the targets, the one store write and
/// the one health-log write): a child process (`--probe-cost-child N`) that probes the in-process responder N
/// times through `ProbeScheduler.probe` (resolution, connection, SSLRequest, metrics, the result record), 16 at
/// once. Two child runs of different N give the cost of one probe without the process's start: CPU seconds
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
        let failed = await withTaskGroup(of: Bool.self) { group in
            var (started, failed) = (0, 0)
            while started < min(concurrency, probes) {
                started += 1
                group.addTask { await scheduler.probe(target).ok }
            }
            for await ok in group {
                if !ok { failed += 1 }
                if started < probes {
                    started += 1
                    group.addTask { await scheduler.probe(target).ok }
                }
            }
            return failed
        }
        await responder.stop()
        await store.close()
        if failed > 0 { throw CommandFailure.runtime("probe cost: \(failed) of \(probes) probes failed") }
    }

    /// The floor child: N probes' bare system calls, one after another on one thread and nothing else (resolve
    /// "localhost", a non-blocking connect and its poll, the 8-byte SSLRequest, a poll and the 1-byte answer,
    /// close), against the same responder. What the kernel and the responder cost a probe on this machine.
    static func floorChild(probes: Int) async throws {
        let responder = try await SSLRequestResponder.start()
        do {
            try bareProbes(probes, port: responder.port)
        } catch {
            await responder.stop()
            throw error
        }
        await responder.stop()
    }

    private static func bareProbes(_ probes: Int, port: Int) throws {
        let request: [UInt8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let port = "\(port)"
        for _ in 0..<probes {
            var found: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo("localhost", port, &hints, &found) == 0, let first = found else {
                throw CommandFailure.runtime("probe floor: localhost does not resolve")
            }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen)
            freeaddrinfo(first)
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&entry, 1, 2000)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, 8, Int32(MSG_NOSIGNAL)) }
            entry.events = Int16(POLLIN)
            _ = poll(&entry, 1, 2000)
            var answer: UInt8 = 0
            let read = recv(fd, &answer, 1, 0)
            close(fd)
            guard read == 1, answer == UInt8(ascii: "N") else { throw CommandFailure.runtime("probe floor: no answer from the responder") }
        }
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
