import ArgumentParser
import AWSClient
import Consumer
import ConsumerDemo
import ConsumerStore
import Foundation
import LatticeSimulator
import Logging
import PostgresProbe

/// `privatelink-consumer-bench`: the performance figures of issue 7. Drives the real daemon code
/// in-process against the LatticeSimulator over loopback HTTP.
@main
struct Benchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privatelink-consumer-bench",
        abstract: "Measures the daemon's passes, probe sweeps and status rendering against the LatticeSimulator.")

    @Option(help: "Customers in the steady-state and status measurements.")
    var customers = 10_000

    @Option(help: "Customers onboarded from pending invitations.")
    var onboard = 1_000

    @Option(help: "Customers in the probe sweeps.")
    var probeCustomers = 1_000

    @Option(help: "Probe concurrency (default: the daemon's configuration default).")
    var probeConcurrency: Int?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard customers >= 1, onboard >= 1, probeCustomers >= 1 else {
            throw ValidationError("--customers, --onboard and --probe-customers must be at least 1")
        }
    }

    func run() async throws {
        var logger = Logger(label: "privatelink-consumer-bench")
        logger.logLevel = .warning
        let root = NSTemporaryDirectory() + "privatelink-consumer-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }

        var results: [String: Any] = [:]
        var notes: [String: String] = [:]
        var rows: [[String]] = []

        // Steady state: N ready customers, one more pass.
        progress("steady: building \(customers) ready customers")
        let steady = try await World.make(root: root, label: "steady", count: customers, concurrency: probeConcurrency,
                                          port: { _ in 5432 }, logger: logger)
        let steadyPasses = try await steady.onboardAll()
        progress("steady: \(customers) ready after \(steadyPasses.passes) passes (\(format(steadyPasses.seconds)) s); measuring one pass")
        let steadyRun = await steady.measuredPass()
        guard steadyRun.summary.ready == customers else {
            throw CommandFailure.runtime("steady pass: only \(steadyRun.summary.ready)/\(customers) ready")
        }
        let steadyCallLimit = ceilDiv(customers, 1000) + ceilDiv(customers, 500) + 5
        results["steady"] = [
            "customers": customers, "seconds": steadyRun.seconds, "awsCalls": steadyRun.calls,
            "awsCallsTotal": steadyRun.totalCalls, "cpuSeconds": steadyRun.cpuSeconds,
            "targets": ["seconds": 2.0, "awsCalls": steadyCallLimit],
            "met": steadyRun.seconds <= 2 && steadyRun.totalCalls <= steadyCallLimit,
        ] as [String: Any]
        rows.append(["steady pass", "\(customers) customers", "\(format(steadyRun.seconds)) s",
                     "\(steadyRun.totalCalls) calls, \(format(steadyRun.cpuSeconds)) s CPU",
                     "≤ 2 s, ≤ \(steadyCallLimit) calls", verdict(steadyRun.seconds <= 2 && steadyRun.totalCalls <= steadyCallLimit)])

        // Status rendering over the same N customers.
        progress("store: rendering status --json for \(customers) customers")
        let renderStart = ContinuousClock.now
        let rendered = try await StatusCommand.render(steady.app, json: true)
        let renderSeconds = seconds(ContinuousClock.now - renderStart)
        results["store"] = ["customers": customers, "seconds": renderSeconds, "bytes": rendered.utf8.count,
                            "target": 1.0, "met": renderSeconds <= 1] as [String: Any]
        rows.append(["status --json", "\(customers) customers", "\(format(renderSeconds)) s", "\(rendered.utf8.count) bytes",
                     "≤ 1 s", verdict(renderSeconds <= 1)])
        await steady.shutdown()

        // A local PostgreSQL for the probe sweeps.
        var postgresPort: Int
        do {
            progress("probe: starting a throwaway PostgreSQL")
            postgresPort = try await ThrowawayPostgres.shared().port
        } catch {
            postgresPort = try freeLoopbackPort()
            notes["probeSweep"] = "no local PostgreSQL (\(error)); probes hit a closed port"
            progress("probe: no local PostgreSQL (\(error)); using closed port \(postgresPort)")
        }
        let pgPort = postgresPort

        // Onboarding: M customers with M pending invitations.
        progress("onboard: registering \(onboard) customers with pending invitations")
        let onboarding = try await World.make(root: root, label: "onboard", count: onboard, concurrency: probeConcurrency,
                                              port: { _ in pgPort }, logger: logger)
        let before = onboarding.simulator.callCounts
        let onboarded = try await onboarding.onboardAll()
        let onboardCalls = diff(onboarding.simulator.callCounts, before)
        let onboardTotal = onboardCalls.values.reduce(0, +)
        let perCustomer = Double(onboardTotal) / Double(onboard)
        results["onboard"] = [
            "customers": onboard, "seconds": onboarded.seconds, "passes": onboarded.passes, "awsCalls": onboardCalls,
            "awsCallsTotal": onboardTotal, "awsCallsPerCustomer": perCustomer,
            "targets": ["seconds": 60.0, "awsCallsPerCustomer": 6.0],
            "met": onboarded.seconds <= 60 && perCustomer <= 6,
        ] as [String: Any]
        rows.append(["onboard", "\(onboard) customers", "\(format(onboarded.seconds)) s",
                     "\(onboarded.passes) passes, \(onboardTotal) calls (\(format(perCustomer))/customer)",
                     "≤ 60 s, ~≤ 6 calls/customer", verdict(onboarded.seconds <= 60 && perCustomer <= 6)])

        // Probe sweep over ready customers whose DNS name is localhost.
        let probeWorld: World
        if probeCustomers == onboard {
            probeWorld = onboarding
        } else {
            await onboarding.shutdown()
            progress("probe: building \(probeCustomers) ready customers")
            probeWorld = try await World.make(root: root, label: "probe", count: probeCustomers, concurrency: probeConcurrency,
                                              port: { _ in pgPort }, logger: logger)
            _ = try await probeWorld.onboardAll()
        }
        progress("probeSweep: sweeping \(probeCustomers) endpoints")
        let sweep = try await probeWorld.measuredSweep()
        await probeWorld.shutdown()
        let concurrency = probeWorld.app.config.probe.concurrency
        results["probeSweep"] = [
            "endpoints": sweep.count, "ok": sweep.ok, "seconds": sweep.seconds, "concurrency": concurrency,
            "target": 0.5, "met": sweep.seconds <= 0.5 && sweep.ok == sweep.count,
        ] as [String: Any]
        rows.append(["probe sweep", "\(sweep.count) endpoints", "\(format(sweep.seconds)) s",
                     "\(sweep.ok) ok, concurrency \(concurrency)", "≤ 0.5 s", verdict(sweep.seconds <= 0.5 && sweep.ok == sweep.count)])

        // The same with 10 % of targets accepting and never answering.
        let silentListener = try SilentListener()
        let silentCount = max(1, probeCustomers / 10)
        let every = probeCustomers / silentCount
        let isSilent: @Sendable (Int) -> Bool = { $0 % every == 0 && $0 / every < silentCount }
        progress("probeSweepWithSilent: building \(probeCustomers) ready customers, \(silentCount) on a silent listener")
        let silentWorld = try await World.make(root: root, label: "silent", count: probeCustomers, concurrency: probeConcurrency,
                                               port: { isSilent($0) ? silentListener.port : pgPort }, logger: logger)
        _ = try await silentWorld.onboardAll()
        progress("probeSweepWithSilent: sweeping")
        let silentSweep = try await silentWorld.measuredSweep()
        await silentWorld.shutdown()
        let silentMet = silentSweep.seconds <= 3 && silentSweep.ok == silentSweep.count - silentCount
        results["probeSweepWithSilent"] = [
            "endpoints": silentSweep.count, "silent": silentCount, "ok": silentSweep.ok, "seconds": silentSweep.seconds,
            "concurrency": concurrency, "probeTimeoutSeconds": 2, "target": 3.0, "met": silentMet,
        ] as [String: Any]
        rows.append(["probe sweep + silent", "\(silentSweep.count) endpoints, \(silentCount) silent",
                     "\(format(silentSweep.seconds)) s", "\(silentSweep.ok) ok, concurrency \(concurrency), timeout 2 s",
                     "≤ 3 s", verdict(silentMet)])

        results["idle"] = NSNull()
        notes["idle"] = "not measured: skipped for time (would spawn `privatelink-consumer run` against a bench-owned simulator)"
        rows.append(["idle daemon", "-", "-", "skipped", "-", "n/a"])
        results["notes"] = notes
        results["build"] = isDebugBuild ? "debug" : "release"

        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(table(["measurement", "size", "time", "detail", "target", "met"], rows))
            if !steadyRun.calls.isEmpty {
                print("\nsteady pass AWS calls: " + steadyRun.calls.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            }
            print("onboard AWS calls: " + onboardCalls.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            for (key, note) in notes.sorted(by: { $0.key < $1.key }) { print("note (\(key)): \(note)") }
        }
    }
}

// MARK: - The world: a config, a store, a simulator and the daemon's parts

struct World: Sendable {
    let directory: String
    let app: ConsumerApp
    let simulator: LatticeSimulator
    let parts: DaemonParts
    let count: Int

    static let account = "111122223333"

    static func arn(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "arn:aws:vpc-lattice:us-east-1:\(account):resourceconfiguration/rcfg-"
            + String(repeating: "0", count: max(0, 17 - hex.count)) + hex
    }

    /// A fresh world with `count` registered customers (`c0`…), each with a pending invitation.
    static func make(root: String, label: String, count: Int, concurrency: Int?,
                     port: @Sendable (Int) -> Int, logger: Logger) async throws -> World {
        let directory = root + "/" + label
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configPath = directory + "/config.json"
        let concurrencyLine = concurrency.map { ", \"concurrency\": \($0)" } ?? ""
        try Data("""
            {"stateDatabase": "state/state.sqlite3", "healthLog": "log/health.jsonl",
             "regions": {"us-east-1": {"vpcId": "vpc-0123456789abcdef0",
               "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"], "securityGroupIds": ["sg-0123456789abcdef0"]}},
             "probe": {"timeoutSeconds": 2\(concurrencyLine)}}
            """.utf8).write(to: URL(fileURLWithPath: configPath))
        let app = try ConsumerApp(configPath: configPath, environment: [:])
        let simulator = try await LatticeSimulator.start(SimulatorConfiguration(pageSize: 1000, provisioning: .instant))
        var environment = simulator.endpointEnvironment
        environment["AWS_ACCESS_KEY_ID"] = SimulatorConfiguration.defaultCredentials.accessKeyId
        environment["AWS_SECRET_ACCESS_KEY"] = SimulatorConfiguration.defaultCredentials.secretAccessKey
        environment["AWS_REGION"] = "us-east-1"
        let parts = try await DaemonParts.make(app, environment: environment, pacer: .unpaced, logger: logger)
        let start = ContinuousClock.now
        for n in 0..<count {
            let text = arn(n)
            let parsed: ResourceConfigurationARN
            switch ResourceConfigurationARN.parse(text) {
            case .success(let value): parsed = value
            case .failure(let error): throw CommandFailure.runtime("\(text): \(error)")
            }
            _ = try await parts.store.addCustomer(NewCustomer(name: "c\(n)", arn: parsed, port: port(n)))
            simulator.addInvitation(sender: account, shareName: "share-\(n)", resources: [SharedResource(arn: text)])
            if n > 0 && n % 2000 == 0 { progress("  \(label): \(n)/\(count) registered") }
        }
        progress("  \(label): \(count) registered in \(format(seconds(ContinuousClock.now - start))) s")
        return World(directory: directory, app: app, simulator: simulator, parts: parts, count: count)
    }

    /// Passes until every customer is ready.
    func onboardAll(maxPasses: Int = 40) async throws -> (passes: Int, seconds: Double) {
        let start = ContinuousClock.now
        var last: PassSummary?
        for pass in 1...maxPasses {
            let summary = await parts.reconciler.pass()
            last = summary
            progress("  pass \(pass): \(summary.line)")
            if summary.customers == count && summary.ready == count {
                return (pass, seconds(ContinuousClock.now - start))
            }
        }
        throw CommandFailure.runtime("after \(maxPasses) passes only \(last?.ready ?? 0)/\(count) customers are ready")
    }

    /// One pass with its wall time, CPU time and AWS calls.
    func measuredPass() async -> (summary: PassSummary, seconds: Double, cpuSeconds: Double, calls: [String: Int], totalCalls: Int) {
        let before = simulator.callCounts
        let cpu = cpuTime()
        let start = ContinuousClock.now
        let summary = await parts.reconciler.pass()
        let elapsed = seconds(ContinuousClock.now - start)
        let cpuSeconds = cpuTime() - cpu
        let calls = diff(simulator.callCounts, before)
        return (summary, elapsed, cpuSeconds, calls, calls.values.reduce(0, +))
    }

    /// One probe sweep with its wall time.
    func measuredSweep() async throws -> (count: Int, ok: Int, seconds: Double) {
        let start = ContinuousClock.now
        let records = try await parts.scheduler.sweep()
        let elapsed = seconds(ContinuousClock.now - start)
        return (records.count, records.filter(\.ok).count, elapsed)
    }

    func shutdown() async {
        try? await simulator.shutdown()
    }
}

// MARK: - A listener that accepts and never answers

final class SilentListener: Sendable {
    let port: Int
    private let socketFD: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure.runtime("silent listener: socket() failed, errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            close(fd)
            throw CommandFailure.runtime("silent listener: bind/listen failed, errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        socketFD = fd
        // Accepted connections are held open (never read, never written, never closed) until exit.
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 && errno != EINTR && errno != ECONNABORTED { break }
            }
        }
    }
}

// MARK: - Helpers

#if DEBUG
let isDebugBuild = true
#else
let isDebugBuild = false
#endif

func progress(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func seconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
}

func format(_ value: Double) -> String {
    String(format: value < 10 ? "%.3f" : "%.1f", value)
}

func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }

func verdict(_ met: Bool) -> String { met ? "yes" : "MISSED" }

func diff(_ after: [String: Int], _ before: [String: Int]) -> [String: Int] {
    var result: [String: Int] = [:]
    for (key, value) in after where value - (before[key] ?? 0) > 0 {
        result[key] = value - (before[key] ?? 0)
    }
    return result
}

/// User plus system CPU time of this process so far.
func cpuTime() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return value(usage.ru_utime) + value(usage.ru_stime)
}

func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
        row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
        .joined(separator: "\n")
}
