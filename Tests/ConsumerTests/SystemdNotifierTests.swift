import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Consumer
#if canImport(Glibc)
import Glibc
#endif

/// A unix datagram socket standing in for systemd's notify socket.
private final class NotifySocket: Sendable {
    let fd: Int32
    /// The `NOTIFY_SOCKET` value that reaches it.
    let address: String

    /// Binds `path`, or the abstract name after `@`.
    init(_ address: String) throws {
        self.address = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var bytes = Array(address.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count)
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit { close(fd) }

    /// The next datagram, or nil if none arrives within `timeout` seconds. Blocks: call it on a thread.
    func receiveBlocking(timeout: Double) -> String? {
        var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count >= 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    func receive(timeout: Double = 5) async -> String? {
        await DaemonTest.onThread { self.receiveBlocking(timeout: timeout) }
    }

    /// Every datagram already queued, without waiting.
    func drainNow() -> [String] {
        var messages: [String] = []
        while let message = receiveBlocking(timeout: 0) { messages.append(message) }
        return messages
    }
}

@Suite(.calmPool) struct SystemdNotifierTests {
    let directory = DaemonScratchDirectory()

    @Test func sendsEachNotificationAsOneDatagramToAPathSocket() async throws {
        let socket = try NotifySocket(directory.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        #expect(notifier.isEnabled)

        notifier.ready()
        notifier.status("reconciling 3 customers")
        notifier.stopping()
        notifier.watchdog()
        notifier.notify("RELOADING=1")

        #expect(await socket.receive() == "READY=1")
        #expect(await socket.receive() == "STATUS=reconciling 3 customers")
        #expect(await socket.receive() == "STOPPING=1")
        #expect(await socket.receive() == "WATCHDOG=1")
        #expect(await socket.receive() == "RELOADING=1")
    }

    @Test func sendsToAnAbstractSocket() async throws {
        let socket = try NotifySocket("@plc-notify-test-\(UUID().uuidString)")
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])
        #expect(notifier.isEnabled)
        notifier.ready()
        #expect(await socket.receive() == "READY=1")
    }

    @Test func statusIsOneBoundedLine() async throws {
        let socket = try NotifySocket(directory.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address])

        notifier.status("2 unhealthy\nacme: connect timed out\r\nglobex: ok")
        #expect(await socket.receive() == "STATUS=2 unhealthy acme: connect timed out globex: ok")

        notifier.status(String(repeating: "x", count: 5000))
        let long = try #require(await socket.receive())
        #expect(long.hasPrefix("STATUS=xxx"))
        #expect(long.count == "STATUS=".count + SystemdNotifier.statusLimit)
        #expect(!long.contains("\n"))
    }

    @Test(arguments: [[:], ["NOTIFY_SOCKET": ""], ["NOTIFY_SOCKET": "relative/notify.sock"],
                      ["NOTIFY_SOCKET": "@"], ["NOTIFY_SOCKET": "/" + String(repeating: "a", count: 200)]])
    func isDisabledWithoutAUsableSocket(environment: [String: String]) {
        var environment = environment
        environment["WATCHDOG_USEC"] = "2000000"
        let notifier = SystemdNotifier(environment: environment)
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogInterval == nil)
        #expect(!notifier.send("READY=1"))
        notifier.ready()
        notifier.status("x")
        notifier.watchdog()
    }

    @Test func disabledNotifierSendsNothing() async throws {
        let socket = try NotifySocket(directory.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "200000"])
        // No NOTIFY_SOCKET: disabled, and WATCHDOG_USEC alone starts no watchdog.
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogInterval == nil)
        #expect(!notifier.send("READY=1"))
        notifier.ready()
        notifier.stopping()
        await notifier.runWatchdog() // returns at once: no socket, so no watchdog
        #expect(await socket.receive(timeout: 0.2) == nil)
    }

    @Test func survivesASocketThatIsNotThere() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": directory.file("missing.sock")])
        #expect(notifier.isEnabled)
        #expect(!notifier.send("READY=1"))
        notifier.ready()
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUsec() throws {
        let socket = directory.file("notify.sock")
        let other = getpid() == 1 ? "2" : "1"
        func interval(_ extra: [String: String]) -> Duration? {
            SystemdNotifier(environment: extra.merging(["NOTIFY_SOCKET": socket]) { a, _ in a }).watchdogInterval
        }
        #expect(interval(["WATCHDOG_USEC": "2000000"]) == .seconds(1))
        #expect(interval(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": String(getpid())]) == .seconds(1))
        #expect(interval(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": other]) == nil)
        #expect(interval(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "garbage"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "0"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "-5"]) == nil)
        #expect(interval([:]) == nil)
    }

    @Test func runWatchdogPingsUntilCancelled() async throws {
        let socket = try NotifySocket(directory.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address, "WATCHDOG_USEC": "200000"])
        #expect(notifier.watchdogInterval == .milliseconds(100))

        let watchdog = Task { await notifier.runWatchdog() }
        for _ in 0..<3 {
            #expect(await socket.receive() == "WATCHDOG=1")
        }
        let clock = ContinuousClock()
        let start = clock.now
        watchdog.cancel()
        await watchdog.value
        #expect(clock.now - start < .seconds(5))
    }

    @Test func cancellingRunWatchdogDoesNotWaitForTheInterval() async throws {
        let socket = try NotifySocket(directory.file("notify.sock"))
        // A 30 s interval: only an interrupted sleep can end the task promptly.
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address, "WATCHDOG_USEC": "60000000"])
        let watchdog = Task { await notifier.runWatchdog() }
        #expect(await socket.receive() == "WATCHDOG=1")
        let clock = ContinuousClock()
        let start = clock.now
        watchdog.cancel()
        await watchdog.value
        // Waited out, it would take 30 s; the bound leaves room for a loaded machine.
        #expect(clock.now - start < .seconds(10))
    }

    @Test func runWatchdogPingsOnlyWhileTheDaemonMakesProgress() async throws {
        let socket = try NotifySocket(directory.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.address, "WATCHDOG_USEC": "200000"])
        let alive = Mutex(true)
        let watchdog = Task { await notifier.runWatchdog(alive: { alive.withLock { $0 } }) }
        #expect(await socket.receive() == "WATCHDOG=1")
        alive.withLock { $0 = false }
        // Whatever was already sent drains; then nothing while there is no progress.
        // (a ping already past its check of `alive` when it changed may be late on a loaded machine)
        try await Task.sleep(for: .milliseconds(500))
        _ = socket.drainNow()
        try await Task.sleep(for: .milliseconds(400))
        #expect(socket.drainNow().isEmpty)
        alive.withLock { $0 = true }
        #expect(await socket.receive() == "WATCHDOG=1")
        watchdog.cancel()
        await watchdog.value
    }

    @Test func progressIsRecentOnlyWithinItsWindow() async throws {
        let progress = ProgressMark()
        #expect(progress.isRecent(within: .seconds(5)))
        try await Task.sleep(for: .milliseconds(1100))
        #expect(!progress.isRecent(within: .seconds(1)))
        progress.mark()
        // A window wide enough that a preempted test still checks within it.
        #expect(progress.isRecent(within: .seconds(1)))
    }
}
