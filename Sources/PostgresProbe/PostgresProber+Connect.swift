import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PostgresProber {
    /// The `connect` and `postgres` stages, run by ``BlockingExchange`` on a probe thread and awaited here: a
    /// cancelled probe returns at once (the job ends on its own within its budgets and closes its socket).
    func connectAndExchange(_ addresses: [SocketAddress], target: ProbeTarget) async -> BlockingExchange.Outcome? {
        let outcome = FirstOutcome<BlockingExchange.Outcome?>()
        let timeouts = self.timeouts
        let started = ProbeThreads.shared.run {
            outcome.resolve(BlockingExchange.run(addresses: addresses, target: target, timeouts: timeouts))
        }
        if !started {
            outcome.resolve(BlockingExchange.Outcome(
                connect: .failure(ProbeFailure(.probeUnavailable, "this daemon could not start a thread for the probe", target: target)),
                connectMs: 0))
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { outcome.wait(with: $0) }
        } onCancel: {
            outcome.resolve(nil)
        }
    }

    /// What a failed connect to `address` says: the kind the hints know, and the system's words.
    static func connectFailure(errno code: Int32, address: SocketAddress) -> (kind: ProbeFailure.Kind, message: String) {
        let peer = address.probeText
        let reason = String(cString: strerror(code))
        switch code {
        case ECONNREFUSED: return (.connectRefused, "\(peer): connection refused")
        case ECONNRESET: return (.connectReset, "\(peer): connection reset")
        case ETIMEDOUT: return (.connectTimeout, "\(peer): \(reason)")
        case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN: return (.connectUnreachable, "\(peer): \(reason)")
        default: return (.connectFailed, "\(peer): \(reason)")
        }
    }
}
