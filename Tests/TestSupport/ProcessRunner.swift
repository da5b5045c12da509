@_exported import ConsumerDemo
import Foundation

/// Runs the built executables as real processes, the way SEs and systemd run them.
public enum ProcessRunner {
    /// The directory holding the products of this build (the test bundle sits beside the executables).
    public static var productsDirectory: String {
        if let override = ProcessInfo.processInfo.environment["PLC_PRODUCTS_DIR"] { return override }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the test runner is `<products>/<package>PackageTests.xctest`; elsewhere a bundle.
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("privatelink-consumer").path) {
            url = url.deletingLastPathComponent()
        }
        return url.path
    }

    /// The path of the built `name` executable.
    public static func executable(_ name: String) -> String {
        productsDirectory + "/" + name
    }

    /// Starts `executable` and waits for it, with `environment` replacing (not adding to) the child's.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           stdin: String? = nil) async throws -> ProcessOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        // Foundation's waitUntilExit spins a core on Linux; the termination handler does not.
        let exited = AsyncStream<Void> { continuation in
            process.terminationHandler = { _ in
                continuation.yield()
                continuation.finish()
            }
        }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes concurrently so that a chatty child cannot block on a full pipe, on threads of
        // their own: blocking the few threads of Swift's cooperative pool would starve servers (the
        // simulator) that run in this test process and that the child is talking to.
        async let stdoutData = onThread { out.fileHandleForReading.readDataToEndOfFile() }
        async let stderrData = onThread { err.fileHandleForReading.readDataToEndOfFile() }
        let (o, e) = await (stdoutData, stderrData)
        for await _ in exited {}
        return ProcessOutput(status: process.terminationStatus,
                             stdout: String(decoding: o, as: UTF8.self),
                             stderr: String(decoding: e, as: UTF8.self))
    }
}
