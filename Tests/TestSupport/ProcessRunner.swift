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
        // Not Foundation's Process: its run() crashes the test process now and then on Linux (see spawnToCompletion).
        try await spawnToCompletion(executable, arguments, environment: environment, stdin: stdin ?? "")
    }
}
