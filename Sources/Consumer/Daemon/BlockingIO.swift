import NIOCore
import NIOPosix

/// Where blocking system calls reached from async code run: the health log's `write(2)` and `flock`, whole
/// file reads, SQLite's busy waits at open. Never on Swift's cooperative pool (as many threads as cores:
/// two blocked calls would stall every probe, pass and lease renewal), and not on NIO's shared pool,
/// which is as small and serves other work.
public enum BlockingIO {
    /// Threads for blocking work: enough that a few calls stuck behind a lock held elsewhere leave the
    /// others running.
    static let threads = 8

    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        return pool
    }()

    /// Runs `body` on a blocking-work thread and returns its result. Cancellation neither interrupts nor
    /// skips it (a health-log line written at shutdown is still written): the caller waits for it.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any(), body).get()
    }
}
