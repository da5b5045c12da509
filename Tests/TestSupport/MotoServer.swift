import Foundation

/// moto's AWS emulator (`moto_server`), an unmodified third party: the contract our clients must meet.
/// Uses `$MOTO_ENDPOINT` when CI started one, else starts `moto_server` on a free loopback port.
public final class MotoServer: @unchecked Sendable {
    public let endpoint: String
    private let process: Process?

    private init(endpoint: String, process: Process?) {
        self.endpoint = endpoint
        self.process = process
    }

    public enum Failure: Error, CustomStringConvertible {
        case notInstalled
        case didNotStart(String)
        public var description: String {
            switch self {
            case .notInstalled: "moto_server is not installed; run Scripts/install-deps.sh (pip install 'moto[server]')"
            case .didNotStart(let why): "moto_server did not start: \(why)"
            }
        }
    }

    public static func start() async throws -> MotoServer {
        if let endpoint = ProcessInfo.processInfo.environment["MOTO_ENDPOINT"], !endpoint.isEmpty {
            return MotoServer(endpoint: endpoint, process: nil)
        }
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/moto_server" }
            + ["/usr/local/bin/moto_server", "/root/.pyenv/shims/moto_server"]
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure.notInstalled
        }
        let port = try freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = MotoServer(endpoint: "http://127.0.0.1:\(port)", process: process)
        // Wait until it accepts connections (moto takes a second or two to import).
        for _ in 0..<150 {
            if canConnect(port: port) { return server }
            guard process.isRunning else { throw Failure.didNotStart("exited with \(process.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.stop()
        throw Failure.didNotStart("no answer on port \(port) within 15 s")
    }

    /// Kills the server we started. moto_server ignores SIGTERM, and Foundation's `waitUntilExit` spins
    /// a core while it waits, so: SIGKILL, then poll briefly.
    public func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<100 where process.isRunning { usleep(20_000) }
    }

    deinit { stop() }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
public func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
