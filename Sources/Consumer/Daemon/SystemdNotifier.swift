import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sd_notify protocol spoken directly over `NOTIFY_SOCKET`, so the daemon needs no libsystemd.
///
/// Each message is one datagram of `KEY=value` lines sent with `sendto` on a fresh unix `SOCK_DGRAM`
/// socket, as libsystemd does. Failures are ignored: a lost notification must never take the daemon down.
public struct SystemdNotifier: Sendable {
    /// The longest `STATUS=` text sent; systemd shows it in one line of `systemctl status`.
    static let statusLimit = 200

    /// `sun_path` bytes of the notify socket (a leading NUL for an abstract socket); nil when disabled.
    let socketPath: [UInt8]?

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises;
    /// nil when systemd set no watchdog for this process.
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` as systemd sets them for the service.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = Self.socketPath(environment["NOTIFY_SOCKET"])
        watchdogInterval = socketPath == nil ? nil : Self.watchdogInterval(environment, pid: getpid())
    }

    /// Whether systemd is listening (the unit has `Type=notify` or `NotifyAccess=`).
    public var isEnabled: Bool { socketPath != nil }

    /// Sends one notification, e.g. `READY=1`; a no-op when disabled, and silent when it fails.
    public func notify(_ state: String) {
        _ = send(state)
    }

    /// Tells systemd that start-up finished (`Type=notify` units are "active" from then on).
    public func ready() { notify("READY=1") }

    /// Sets the one-line status shown by `systemctl status`.
    public func status(_ line: String) {
        // sd_notify messages are newline-separated assignments: a newline would end STATUS early.
        var text = String(line.map { $0.isNewline ? " " : $0 })
        if text.count > Self.statusLimit {
            text = String(text.prefix(Self.statusLimit - 1)) + "…"
        }
        notify("STATUS=" + text)
    }

    /// Tells systemd that a graceful shutdown has begun.
    public func stopping() { notify("STOPPING=1") }

    /// Keeps the service watchdog from firing.
    public func watchdog() { notify("WATCHDOG=1") }

    /// Sends `WATCHDOG=1` every `watchdogInterval` while `alive()` holds, until the calling task is
    /// cancelled; returns at once when there is no watchdog.
    public func runWatchdog(alive: @escaping @Sendable () -> Bool = { true }) async {
        await runWatchdog(clock: ContinuousClock(), alive: alive)
    }

    /// `runWatchdog()` on an injected clock.
    func runWatchdog<C: Clock>(clock: C, alive: @escaping @Sendable () -> Bool = { true }) async where C.Duration == Duration {
        guard let interval = watchdogInterval else { return }
        while !Task.isCancelled {
            if alive() { watchdog() }
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
        }
    }

    /// Sends `state` as one datagram; false when disabled or when the kernel refused it.
    func send(_ state: String) -> Bool {
        guard let path = socketPath else { return false }
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        // An abstract name is exactly its bytes; a filesystem path is NUL-terminated (the struct is zeroed).
        let pathLength = path.first == 0 ? path.count : path.count + 1
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + pathLength)
        let payload = Array(state.utf8)
        let sent = payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        return sent == payload.count
    }

    /// `NOTIFY_SOCKET` as `sun_path` bytes: an absolute path, or `@name` for an abstract socket.
    static func socketPath(_ value: String?) -> [UInt8]? {
        guard let value, let first = value.first else { return nil }
        var bytes = Array(value.utf8)
        switch first {
        case "/": break
        case "@": bytes[0] = 0
        default: return nil // vsock: and relative paths are not used by systemd for services
        }
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        // Filesystem paths need room for the terminating NUL.
        guard bytes.count > 1, bytes.count + (bytes[0] == 0 ? 0 : 1) <= capacity else { return nil }
        return bytes
    }

    /// Half of `WATCHDOG_USEC`, when the watchdog is meant for `pid`.
    static func watchdogInterval(_ environment: [String: String], pid: pid_t) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], pid_t(owner) != pid { return nil }
        return .microseconds(usec / 2)
    }
}
