import Consumer
import ConsumerDemo
import Foundation
import Synchronization

/// The real `privatelink-consumer run` as a child process, for the idle figures: started over a
/// bench-owned state file and simulator, watched through its log lines, sampled through /proc.
final class DaemonProcess: Sendable {
    private let process: Process
    private let events: Events
    let pid: Int32

    /// Times (seconds after start) at which the daemon logged its first pass and first probe sweep.
    private final class Events: Sendable {
        struct Seen { var pass: Double?; var sweep: Double?; var exited = false; var lastLines: [String] = [] }
        let seen = Mutex(Seen())
    }

    private init(process: Process, events: Events) {
        self.process = process
        self.events = events
        pid = process.processIdentifier
    }

    /// The daemon binary built next to this one; built with `swift build` when it is missing and this
    /// binary sits in a package's `.build` directory.
    static func locateBinary() async -> String? {
        guard let own = Bundle.main.executableURL?.resolvingSymlinksInPath() else { return nil }
        let candidate = own.deletingLastPathComponent().appendingPathComponent("privatelink-consumer").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        // <package>/.build/<triple>/<configuration>/privatelink-consumer-bench
        var directory = own.deletingLastPathComponent()
        while directory.path != "/" && directory.lastPathComponent != ".build" { directory = directory.deletingLastPathComponent() }
        let package = directory.deletingLastPathComponent()
        guard directory.lastPathComponent == ".build",
              FileManager.default.fileExists(atPath: package.appendingPathComponent("Package.swift").path) else { return nil }
        let configuration = isDebugBuild ? "debug" : "release"
        progress("idle: building privatelink-consumer (\(configuration)) in \(package.path)")
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = ["swift", "build", "-c", configuration, "--product", "privatelink-consumer"]
        build.currentDirectoryURL = package
        let output = try? await runToCompletion(build)
        if let output, output.status != 0 { progress(output.stdout + output.stderr) }
        let status = output?.status ?? -1
        return status == 0 && FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    /// Starts `binary run --config configPath` with only `environment` (plus PATH): nothing of the
    /// bench's own environment, so no AWS setting of the caller's can point the daemon elsewhere.
    static func start(binary: String, configPath: String, environment: [String: String]) throws -> DaemonProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--config", configPath, "--log-level", "info"]
        var env = environment
        env["PATH"] = "/usr/bin:/bin"
        env["HOME"] = NSTemporaryDirectory()
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        process.environment = env
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        let events = Events()
        let started = ContinuousClock.now
        process.terminationHandler = { _ in events.seen.withLock { $0.exited = true } }
        try process.run()
        // Read the log on a thread of its own: blocking reads stay off the cooperative pool.
        let reader = stderr.fileHandleForReading
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[pending.index(after: newline)...])
                    let at = seconds(ContinuousClock.now - started)
                    events.seen.withLock { seen in
                        if seen.pass == nil, line.contains("pass finished") { seen.pass = at }
                        if seen.sweep == nil, line.contains("probe sweep finished") { seen.sweep = at }
                        seen.lastLines = Array((seen.lastLines + [line]).suffix(5))
                    }
                }
            }
        }
        return DaemonProcess(process: process, events: events)
    }

    /// Waits until the first pass and the first probe sweep are done; returns when (seconds after start).
    func waitUntilSettled(timeout: Duration) async throws -> Double {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let seen = events.seen.withLock { $0 }
            if let pass = seen.pass, let sweep = seen.sweep { return max(pass, sweep) }
            if seen.exited {
                throw CommandFailure.runtime("the daemon exited: " + seen.lastLines.joined(separator: " | "))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CommandFailure.runtime("the daemon did not finish its first pass and probe sweep within \(timeout)")
    }

    struct Sample {
        /// Anonymous memory (heap, stacks) and file-backed pages (the binary and libraries) of the RSS.
        var anonMiB: Double
        var fileMiB: Double
        var rssMiB: Double
        var peakRssMiB: Double
        var cpuPercent: Double
    }

    /// CPU used over `window` (user + system, from /proc/PID/stat) and the resident set at its end.
    func sample(for window: Duration) async throws -> Sample {
        let before = try cpuSeconds()
        let start = ContinuousClock.now
        var peak = 0.0
        while ContinuousClock.now - start < window {
            try await Task.sleep(for: min(.seconds(1), window - (ContinuousClock.now - start)))
            peak = max(peak, try memory().rss)
        }
        let elapsed = seconds(ContinuousClock.now - start)
        let used = try cpuSeconds() - before
        let (rss, hwm) = try memory()
        let anon = try field("RssAnon"), file = try field("RssFile")
        return Sample(anonMiB: anon, fileMiB: file, rssMiB: rss, peakRssMiB: max(peak, hwm), cpuPercent: used / elapsed * 100)
    }

    /// utime + stime of the process, in seconds.
    private func cpuSeconds() throws -> Double {
        guard let seconds = processCPUSeconds(pid: pid) else { throw CommandFailure.runtime("unreadable /proc/\(pid)/stat") }
        return seconds
    }

    /// The most resident memory the process has had so far (VmHWM), in MiB.
    func peakRssMiB() throws -> Double {
        try field("VmHWM")
    }

    /// VmRSS and VmHWM (peak) in MiB.
    private func memory() throws -> (rss: Double, hwm: Double) {
        (try field("VmRSS"), try field("VmHWM"))
    }

    /// A "kB" field of /proc/PID/status, in MiB.
    private func field(_ name: String) throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else {
            throw CommandFailure.runtime("no \(name) in /proc/\(pid)/status")
        }
        return kib / 1024
    }

    /// SIGTERM, then SIGKILL after 10 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}
