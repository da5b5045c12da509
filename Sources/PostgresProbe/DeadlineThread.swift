import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Deadlines for blocking work that cannot be interrupted (getaddrinfo): one thread sleeps until the earliest
/// and runs its action. Setting a deadline later than the earliest, and cancelling one, cost a lock and no
/// system call, where a timer on an event loop costs a wake-up of its thread each way.
final class DeadlineThread: @unchecked Sendable {
    static let shared = DeadlineThread()

    private struct Entry {
        var id: UInt64
        var at: NIODeadline
        var action: @Sendable () -> Void
    }

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    /// Pending deadlines, earliest first (few: one per probe resolving now).
    private var entries: [Entry] = []
    private var nextId: UInt64 = 0
    private var started = false

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        wake = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(wake, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// Runs `action` at `deadline` unless cancelled first (with the returned id); nil when the thread could not start.
    func schedule(at deadline: NIODeadline, _ action: @escaping @Sendable () -> Void) -> UInt64? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if !started {
            guard DetachedThread.start({ [self] in run() }) else { return nil }
            started = true
        }
        nextId += 1
        let index = entries.firstIndex { $0.at > deadline } ?? entries.count
        entries.insert(Entry(id: nextId, at: deadline, action: action), at: index)
        // Only a new earliest deadline needs the sleeper to wake and sleep less.
        if index == 0 { pthread_cond_signal(wake) }
        return nextId
    }

    /// Forgets a deadline that has not fired.
    func cancel(_ id: UInt64) {
        pthread_mutex_lock(mutex)
        if let index = entries.firstIndex(where: { $0.id == id }) { entries.remove(at: index) }
        pthread_mutex_unlock(mutex)
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while true {
            let now = NIODeadline.now()
            var due: [@Sendable () -> Void] = []
            while let first = entries.first, first.at <= now {
                due.append(first.action)
                entries.removeFirst()
            }
            if !due.isEmpty {
                pthread_mutex_unlock(mutex)
                for action in due { action() }
                pthread_mutex_lock(mutex)
                continue
            }
            if let first = entries.first {
                var until = timespec()
                #if canImport(Darwin)
                // Darwin's condition variables wait on the wall clock.
                clock_gettime(CLOCK_REALTIME, &until)
                #else
                clock_gettime(CLOCK_MONOTONIC, &until)
                #endif
                let total = Int64(until.tv_sec) * 1_000_000_000 + Int64(until.tv_nsec) + max(0, (first.at - now).nanoseconds)
                until.tv_sec = Int(total / 1_000_000_000)
                until.tv_nsec = Int(total % 1_000_000_000)
                pthread_cond_timedwait(wake, mutex, &until)
            } else {
                pthread_cond_wait(wake, mutex)
            }
        }
    }
}
