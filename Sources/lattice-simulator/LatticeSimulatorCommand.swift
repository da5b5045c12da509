import ArgumentParser
import Dispatch
import Foundation
import LatticeSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lattice-simulator --scenario scenario.json [--port N]`: serves a simulated RAM, EC2, VPC Lattice and
/// STS on 127.0.0.1 until SIGINT or SIGTERM. See README.md for the scenario format.
@main
struct LatticeSimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lattice-simulator",
        abstract: "Serve a simulated AWS RAM, EC2, VPC Lattice and STS on 127.0.0.1.",
        discussion: """
            Prints one NAME=value line per environment variable a client needs (AWS_ENDPOINT_URL, credentials, \
            region), then a line starting with '# ready', and serves until SIGINT or SIGTERM.
            """)

    @Option(name: .long, help: "The scenario JSON file (see README.md).")
    var scenario: String

    @Option(name: .long, help: "The TCP port on 127.0.0.1 (0: any free port).")
    var port: Int = 0

    func run() async throws {
        guard (0...65535).contains(port) else {
            printError("lattice-simulator: --port must be between 0 and 65535, not \(port)")
            throw ExitCode(64)
        }
        let loaded: SimulatorScenario
        do {
            loaded = try SimulatorScenario.load(contentsOf: scenario)
        } catch {
            printError("lattice-simulator: \(scenario): \(error)")
            throw ExitCode(64)
        }
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
        let simulator = try await loaded.start(port: port)
        for line in simulator.exportLines {
            print(line)
        }
        print("# ready: serving on \(simulator.endpointURL) (pid \(getpid()))")
        fflush(nil)  // flushes every stream; `stdout` itself is not concurrency-safe to name
        let received = await signals.wait()
        printError("lattice-simulator: signal \(received), shutting down")
        try await simulator.shutdown()
    }

    private func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Turns SIGINT/SIGTERM into an awaitable event instead of killing the process.
final class SignalWaiter {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.stream = stream
        self.sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// The first signal received.
    func wait() async -> Int32 {
        for await number in stream {
            return number
        }
        return SIGTERM
    }
}
