import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads for a probe's blocking work (getaddrinfo; the connection and its SSLRequest), reused: a job goes to an idle thread, or to a new one when
/// none is idle, so a hung lookup never holds up another (unlike a fixed-size pool), and a probe does not pay
/// for starting and ending a thread (unlike a thread per lookup). A thread idle for `idleSeconds` ends.
package final class ProbeThreads: @unchecked Sendable {
    package static let shared = ProbeThreads(idleSeconds: 10)

    /// One thread's mailbox: the job handed to it, and the condition it sleeps on while idle.
    private final class Worker: @unchecked Sendable {
        var job: (@Sendable () -> Void)?
        let wake: UnsafeMutablePointer<pthread_cond_t>

        init(job: @escaping @Sendable () -> Void) {
            self.job = job
            wake = .allocate(capacity: 1)
            pthread_cond_init(wake, nil)
        }

        deinit {
            pthread_cond_destroy(wake)
            wake.deallocate()
        }
    }

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Idle threads, the most recently idle last (guarded by `mutex`).
    private var idle: [Worker] = []
    private let idleSeconds: Int
    private let handedOver = Atomic<Int>(0)

    /// Jobs handed to a thread so far (what a sweep that runs its probes back to back keeps to one per thread).
    var jobsHandedOver: Int { handedOver.load(ordering: .relaxed) }

    init(idleSeconds: Int) {
        self.idleSeconds = idleSeconds
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Threads waiting for a lookup now.
    var idleCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return idle.count
    }

    /// Runs `job` on an idle thread, or on a new one; false when no thread could be started (nothing runs).
    func run(_ job: @escaping @Sendable () -> Void) -> Bool {
        handedOver.add(1, ordering: .relaxed)
        pthread_mutex_lock(mutex)
        if let worker = idle.popLast() {
            worker.job = job
            pthread_cond_signal(worker.wake)
            pthread_mutex_unlock(mutex)
            return true
        }
        pthread_mutex_unlock(mutex)
        let worker = Worker(job: job)
        return DetachedThread.start { [self] in serve(worker) }
    }

    /// A thread's life: its job, then idle until the next one or until `idleSeconds` pass without one.
    private func serve(_ worker: Worker) {
        while true {
            do {
                // Scoped: nothing the job captured stays alive while the thread waits idle.
                pthread_mutex_lock(mutex)
                let job = worker.job
                worker.job = nil
                pthread_mutex_unlock(mutex)
                job?()
            }

            pthread_mutex_lock(mutex)
            idle.append(worker)
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += idleSeconds
            while worker.job == nil {
                if pthread_cond_timedwait(worker.wake, mutex, &deadline) == ETIMEDOUT, worker.job == nil {
                    // Nobody handed it a job in time: it leaves the idle list (under the lock, so none can now) and ends.
                    idle.removeAll { $0 === worker }
                    pthread_mutex_unlock(mutex)
                    return
                }
            }
            pthread_mutex_unlock(mutex)
        }
    }
}
