import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `connect` and `postgres` stages as one blocking job on a probe thread (``ProbeThreads``): a
/// non-blocking socket, `poll` for each wait with what is left of the stage's budget, the 8-byte SSLRequest and
/// its answer. The kernel's loopback work is a few syscalls; doing it here rather than through a channel, its
/// pipeline and the hops between Swift's threads and an event loop's is most of what a probe costs.
///
/// One `S` or `N` alone for the settle window is PostgreSQL; anything else, more bytes, a close or a reset is
/// not (``SSLRequestReply``). The job ends on its own within the two budgets, so a caller that stops waiting (cancelled)
/// leaves nothing behind: the socket is closed when the job ends.
enum BlockingExchange {
    /// What the two stages found, with their latencies.
    struct Outcome: Sendable {
        /// The address that accepted, or why none did.
        var connect: StageOutcome<SocketAddress>
        var connectMs: Double
        /// The reply to the SSLRequest (nil when no address accepted), and when its first byte came.
        var answer: SSLRequestReply.Answer?
        /// When the SSLRequest went, and when the stage ended (its latency ends at the first byte, if one came).
        var answerStarted: NIODeadline?
        var answerEnded: NIODeadline?
    }

    /// Connects to `addresses` in order within `timeouts.connect`, then sends the SSLRequest and waits for
    /// the answer within `timeouts.postgres`.
    static func run(addresses: [SocketAddress], target: ProbeTarget, timeouts: ProbeTimeouts) -> Outcome {
        var started = NIODeadline.now()
        let connected = connect(addresses, target: target, budget: timeouts.connect, started: started)
        let connectMs = PostgresProber.milliseconds(from: started)
        guard case .success(let (fd, address)) = connected else {
            return Outcome(connect: .failure(connected.failure!), connectMs: connectMs)
        }
        defer { close(fd) }
        started = .now()
        let answer = exchange(fd, deadline: started + TimeAmount(timeouts.postgres), settle: TimeAmount(timeouts.answerSettle))
        return Outcome(connect: .success(address), connectMs: connectMs, answer: answer, answerStarted: started, answerEnded: .now())
    }

    // MARK: connect

    /// The first address that accepts, as an open socket; the budget is shared by all of them.
    static func connect(_ addresses: [SocketAddress], target: ProbeTarget, budget: Duration,
                        started: NIODeadline) -> StageOutcome<(Int32, SocketAddress)> {
        let deadline = started + TimeAmount(budget)
        var failures: [(kind: ProbeFailure.Kind, message: String)] = []
        for address in addresses {
            guard deadline - .now() > .zero else { break }
            switch connectOne(address, deadline: deadline) {
            case .success(let fd): return .success((fd, address))
            case .failure(let error):
                failures.append(error.code == ETIMEDOUT && deadline - .now() <= .zero
                    ? (.connectTimeout, "\(address.probeText): timed out after \(budget.probeText)")
                    : PostgresProber.connectFailure(errno: error.code, address: address))
            }
        }
        // A timeout means the budget is spent; otherwise the last address speaks for all.
        let kind = failures.contains { $0.kind == .connectTimeout } ? .connectTimeout : failures.last?.kind ?? .connectTimeout
        let message = failures.isEmpty ? "no address tried within \(budget.probeText)" : failures.map(\.message).joined(separator: "; ")
        return .failure(ProbeFailure(kind, message, target: target))
    }

    /// One non-blocking connect, waited for until `deadline`: the socket, or the errno (ETIMEDOUT when the deadline passed).
    static func connectOne(_ address: SocketAddress, deadline: NIODeadline) -> Result<Int32, Errno> {
        let family: Int32
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        default: return .failure(Errno(EAFNOSUPPORT))
        }
        #if canImport(Darwin)
        let fd = socket(family, SOCK_STREAM, 0)
        #else
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #endif
        guard fd >= 0 else { return .failure(Errno(errno)) }
        #if canImport(Darwin)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        #endif
        let status: Int32
        switch address {
        case .v4(let v4):
            var raw = v4.address
            status = withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { systemConnect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let v6):
            var raw = v6.address
            status = withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { systemConnect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        default:
            status = -1
        }
        if status == 0 { return .success(fd) }
        let code = errno
        guard code == EINPROGRESS else {
            close(fd)
            return .failure(Errno(code))
        }
        switch wait(fd, for: Int16(POLLOUT), until: deadline) {
        case .ready:
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
                let code = errno
                close(fd)
                return .failure(Errno(code))
            }
            if error == 0 { return .success(fd) }
            close(fd)
            return .failure(Errno(error))
        case .timedOut:
            close(fd)
            return .failure(Errno(ETIMEDOUT))
        case .failed(let code):
            close(fd)
            return .failure(Errno(code))
        }
    }

    // MARK: the SSLRequest

    /// Sends the SSLRequest and judges the reply (``SSLRequestReply/Answer``) by `deadline`; nil: none came in time.
    static func exchange(_ fd: Int32, deadline: NIODeadline, settle: TimeAmount) -> SSLRequestReply.Answer? {
        let sent = SSLRequestReply.request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // The peer may have answered (or closed) before the request went: read what it said first.
        var sendFailure: Int32 = 0
        if sent < 0 {
            sendFailure = errno
            if sendFailure != EPIPE && sendFailure != ECONNRESET { return .failed(String(cString: strerror(sendFailure))) }
        }
        var received: [UInt8] = []
        var firstByteAt: NIODeadline?
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            // Once a lone S or N came: only the settle window (within the stage) is left to wait.
            let until: NIODeadline
            if let firstByteAt {
                let window = min(settle, deadline - firstByteAt - .milliseconds(5))
                guard window > .zero else { return .answered(offersTLS: received[0] == UInt8(ascii: "S"), at: firstByteAt) }
                until = firstByteAt + window
            } else {
                until = deadline
            }
            switch wait(fd, for: Int16(POLLIN), until: until) {
            case .timedOut:
                guard let firstByteAt else { return nil }
                return .answered(offersTLS: received[0] == UInt8(ascii: "S"), at: firstByteAt)
            case .failed(let code):
                return .failed(String(cString: strerror(code)))
            case .ready:
                break
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            // A reset that the failed send consumed reads as an end of stream afterwards: still a reset.
            if count == 0 { return received.isEmpty && sendFailure == ECONNRESET ? .reset : .closed(after: received) }
            if count < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { continue }
                if code == ECONNRESET { return .reset }
                return .failed(String(cString: strerror(code)))
            }
            let now = NIODeadline.now()
            if firstByteAt == nil { firstByteAt = now }
            received += buffer[..<min(count, max(0, SSLRequestReply.keep - received.count))]
            guard received.count == 1, received[0] == UInt8(ascii: "S") || received[0] == UInt8(ascii: "N") else {
                return .garbage(received, at: firstByteAt ?? now)
            }
        }
    }

    enum Readiness {
        case ready
        case timedOut
        case failed(Int32)
    }

    /// `poll` for `events` until `deadline` (EINTR retried); errors and hang-ups count as ready, for the
    /// following call to report.
    static func wait(_ fd: Int32, for events: Int16, until deadline: NIODeadline) -> Readiness {
        while true {
            let remaining = deadline - .now()
            guard remaining > .zero else { return .timedOut }
            // Rounded up: a wait never ends before its deadline.
            let milliseconds = Int32(clamping: (remaining.nanoseconds + 999_999) / 1_000_000)
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return .ready }
            if ready == 0 { continue }
            let code = errno
            if code != EINTR { return .failed(code) }
        }
    }

    /// An errno value carried as an error.
    struct Errno: Error, Equatable {
        var code: Int32
        init(_ code: Int32) { self.code = code }
    }
}

/// The C library's `connect` (the enum above has a `connect` of its own).
private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}

extension PostgresProber {
    /// The probe's blocking work alone, on the caller's thread: the production lookup, the connection and the
    /// SSLRequest with its settle wait, exactly as a probe thread runs them, with no hand-over, deadline thread,
    /// result record or metric around it. True when the server answered. The benchmark's floor (`probeCost`).
    package static func blockingWork(host: String, port: Int, timeouts: ProbeTimeouts) -> Bool {
        guard case .success(let addresses) = SystemResolver.lookUp(host: host, port: port), !addresses.isEmpty else { return false }
        let outcome = BlockingExchange.run(addresses: addresses, target: ProbeTarget(host: host, port: port), timeouts: timeouts)
        if case .answered = outcome.answer { return true }
        return false
    }
}
