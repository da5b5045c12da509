import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Helpers for the daemon component tests (self-contained: they run in a scratch package too).
enum DaemonTest {
    struct Timeout: Error, CustomStringConvertible {
        var seconds: Double
        var description: String { "timed out after \(seconds) s" }
    }

    /// Runs blocking work (waits, pipe reads) on its own thread, away from the cooperative pool.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.start()
        }
    }

    /// Runs `body`, failing with `Timeout` if it has not finished within `seconds` (a deadline, not a wait).
    static func withTimeout<T: Sendable>(_ seconds: Double,
                                         _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw Timeout(seconds: seconds) }
            return value
        }
    }
}

/// A fresh directory with a short path (unix socket paths are limited to 108 bytes), removed on release.
final class DaemonScratchDirectory: Sendable {
    let path: String

    init() {
        var template = Array("/tmp/plc-daemon-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed: \(String(cString: strerror(errno)))")
        path = String(cString: created!)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
