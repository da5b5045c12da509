import AWSClient
import Foundation
import LatticeSimulator

/// An end-to-end rig: a LatticeSimulator in this process, a config and state directory, and the built
/// `privatelink-consumer` binary run as real processes against them (AWS endpoints via AWS_ENDPOINT_URL_*).
public final class DaemonHarness: @unchecked Sendable {
    public let dir = TemporaryDirectory("plc-e2e")
    public let simulator: LatticeSimulator
    public let configPath: String
    public let config: TestConfig
    public let binary = ProcessRunner.executable("privatelink-consumer")
    private var children: [Process] = []

    /// Whether `shutdown` stops the simulator (not when it is another harness's).
    private let ownsSimulator: Bool

    /// A second installation beside `other`: the same simulated AWS account, a state and config of its own.
    public init(sharingAWSWith other: DaemonHarness, extra: [String: String] = [:]) throws {
        simulator = other.simulator
        ownsSimulator = false
        var config = TestConfig(directory: dir.path)
        config.extra = extra.merging(["pollIntervalSeconds": "60", "ec2Pacing": "{\"burst\": 100, \"refillPerSecond\": 100}"]) { first, _ in first }
        self.config = config
        configPath = try config.write()
    }

    public init(simulator: SimulatorConfiguration = SimulatorConfiguration(), pollIntervalSeconds: Double = 60,
                extra: [String: String] = [:]) async throws {
        self.simulator = try await LatticeSimulator.start(simulator)
        ownsSimulator = true
        var config = TestConfig(directory: dir.path)
        config.extra = extra.merging(["pollIntervalSeconds": String(pollIntervalSeconds),
                                      "ec2Pacing": "{\"burst\": 100, \"refillPerSecond\": 100}"]) { first, _ in first }
        self.config = config
        configPath = try config.write()
    }

    /// A clean environment: the simulator's endpoints and credentials, nothing inherited that could reach AWS.
    public var environment: [String: String] {
        var environment = ["PATH": "/usr/bin:/bin", "HOME": dir.file("home"), "AWS_REGION": "us-east-1",
                           "AWS_ACCESS_KEY_ID": SimulatorConfiguration.defaultCredentials.accessKeyId,
                           "AWS_SECRET_ACCESS_KEY": SimulatorConfiguration.defaultCredentials.secretAccessKey,
                           "PRIVATELINK_CONSUMER_CONFIG": configPath, "LOG_LEVEL": "info"]
        environment.merge(simulator.endpointEnvironment) { $1 }
        return environment
    }

    /// Runs one CLI command to completion.
    @discardableResult
    public func cli(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> ProcessOutput {
        try await ProcessRunner.run(binary, arguments, environment: environment.merging(extra) { $1 })
    }

    /// Registers a customer, failing loudly if the CLI refuses.
    public func register(_ name: String, arn: String) async throws {
        let output = try await cli(["customer", "add", name, "--arn", arn])
        guard output.status == 0 else { throw HarnessError("customer add \(name): \(output.stderr)") }
    }

    /// `run --once`, asserting it exits 0.
    @discardableResult
    public func pass() async throws -> ProcessOutput {
        let output = try await cli(["run", "--once"])
        guard output.status == 0 else { throw HarnessError("run --once exited \(output.status): \(output.stderr)") }
        return output
    }

    /// `status --json`, parsed.
    public func status() async throws -> [String: Any] {
        let output = try await cli(["status", "--json"])
        guard output.status == 0, let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] else {
            throw HarnessError("status --json: \(output.status) \(output.stderr)")
        }
        return object
    }

    /// Each customer's lifecycle state, by name (the registered one where a removed one of the same name is
    /// still being removed).
    public func states() async throws -> [String: String] {
        let customers = try await status()["customers"] as? [[String: Any]] ?? []
        return Dictionary(customers.compactMap { row in
            (row["name"] as? String).map { ($0, row["state"] as? String ?? "?") }
        }, uniquingKeysWith: { first, second in first == "removing" ? second : first })
    }

    /// Runs passes until `done` holds (or `maxPasses` is spent); returns the passes used.
    @discardableResult
    public func passUntil(maxPasses: Int = 12, _ done: () async throws -> Bool) async throws -> Int {
        for pass in 1...maxPasses {
            try await self.pass()
            if try await done() { return pass }
        }
        throw HarnessError("not converged after \(maxPasses) passes: \(try await states())")
    }

    /// The simulator's endpoints that still exist (not deleted), by customer tag.
    public func liveEndpoints() -> [String: [SimulatedEndpoint]] {
        Dictionary(grouping: simulator.endpoints.filter { $0.state != .deleted && $0.state != .deleting }) {
            $0.tags["privatelink-consumer:customer"] ?? "-"
        }
    }

    /// How many endpoints the simulator ever created per customer tag, deleted ones included: a duplicate
    /// made and cleaned up again still counts.
    public func endpointsEverCreated() -> [String: Int] {
        Dictionary(grouping: simulator.endpoints) { $0.tags["privatelink-consumer:customer"] ?? "-" }.mapValues(\.count)
    }

    /// Starts the daemon (`run`) in the background; its stderr goes to `daemon-N.log` in the directory.
    public func startDaemon(_ extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run"]
        process.environment = environment.merging(extra) { $1 }
        let log = dir.file("daemon-\(children.count).log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        children.append(process)
        return process
    }

    /// The stderr of the `index`-th daemon started.
    public func daemonLog(_ index: Int) -> String {
        (try? String(contentsOfFile: dir.file("daemon-\(index).log"), encoding: .utf8)) ?? ""
    }

    /// Waits (polling) until `condition` holds.
    public func waitUntil(timeout: Duration = .seconds(20), _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("timed out waiting for \(what)")
    }

    /// Kills every process started and stops the simulator.
    public func shutdown() async {
        for child in children where child.isRunning { kill(child.processIdentifier, SIGKILL) }
        if ownsSimulator { try? await simulator.shutdown() }
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Waits for a child to exit without spinning a core (Foundation's waitUntilExit does); nil on timeout.
public func waitForExit(_ process: Process, timeout: Duration) async -> Int32? {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        guard ContinuousClock.now < deadline else { return nil }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return process.terminationStatus
}

/// A unix datagram socket standing in for systemd's notify socket.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            path.utf8CString.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(buffer.count - 1))) }
        }
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw HarnessError("cannot bind \(path): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Every datagram received so far (non-blocking beyond 100 ms).
    public func drain() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
        }
        return messages
    }

    deinit { close(fd) }
}
