import Foundation
import Testing

/// A trait for tests that measure time against budgets of a second or two: each test case first waits
/// (up to 30 s) until Swift's cooperative pool answers promptly again.
///
/// On two cores the whole parallel suite starts at once, and for its first seconds a task can wait a
/// second or more for a pool thread: a probe's 2 s stage budget or a client's 2 s timeout then expires
/// on the event loop's timer while the work it bounds has not even started, and the test measures the
/// test runner, not the code. Waiting for the burst to pass keeps the bounds meaningful (they still
/// catch code that ignores its budget) without widening them.
public struct CalmPool: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        if testCase != nil { await Self.waitUntilResponsive() }
        try await function()
    }

    /// Returns once three detached tasks in a row start within 20 ms, or after `limit`.
    public static func waitUntilResponsive(limit: Duration = .seconds(30)) async {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var prompt = 0
        while prompt < 3, clock.now < deadline {
            let start = clock.now
            await Task.detached { }.value
            prompt = clock.now - start < .milliseconds(20) ? prompt + 1 : 0
            if prompt == 0 { try? await Task.sleep(for: .milliseconds(50)) }
        }
    }
}

extension Trait where Self == CalmPool {
    /// Wait for a responsive cooperative pool before each test case (see `CalmPool`).
    public static var calmPool: Self { CalmPool() }
}
