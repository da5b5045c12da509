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
    /// The `connect` stage: the resolved addresses in order, sharing the stage budget, until one accepts.
    /// The channel comes back with reads off, so that nothing the server sends is missed before the
    /// SSLRequest handler is in place.
    func connect(to addresses: [SocketAddress], target: ProbeTarget,
                 on loop: any EventLoop) async -> StageOutcome<(any Channel, SocketAddress)> {
        let budget = timeouts.connect
        let deadline = NIODeadline.now() + TimeAmount(budget)
        let outcome = await withDeadline(budget, on: loop, discard: { late in
            if case .success(let (channel, _)) = late { channel.close(promise: nil) }
        }) { () async -> StageOutcome<(any Channel, SocketAddress)> in
            var failures: [(kind: ProbeFailure.Kind, message: String)] = []
            for address in addresses {
                let remaining = deadline - .now()
                guard remaining > .zero, !Task.isCancelled else { break }
                do {
                    let channel = try await ClientBootstrap(group: loop)
                        .connectTimeout(remaining)
                        .channelOption(ChannelOptions.autoRead, value: false)
                        .connect(to: address)
                        .get()
                    return .success((channel, address))
                } catch {
                    failures.append(Self.connectFailure(error, address: address, budget: budget))
                }
            }
            // A timeout means the budget is spent; otherwise the last address speaks for all.
            let kind = failures.contains { $0.kind == .connectTimeout } ? .connectTimeout
                : failures.last?.kind ?? .connectTimeout
            let message = failures.isEmpty ? "no address tried within \(budget.probeText)"
                : failures.map(\.message).joined(separator: "; ")
            return .failure(ProbeFailure(kind, message, target: target))
        }
        switch outcome {
        case .finished(let attempt):
            return attempt
        case .timedOut:
            let tried = addresses.map(\.probeText).joined(separator: ", ")
            return .failure(ProbeFailure(.connectTimeout, "\(tried): timed out after \(budget.probeText)", target: target))
        case .cancelled:
            return .failure(ProbeFailure(.cancelled, "cancelled while connecting", target: target))
        }
    }

    static func connectFailure(_ error: any Error, address: SocketAddress,
                               budget: Duration) -> (kind: ProbeFailure.Kind, message: String) {
        let peer = address.probeText
        if let error = error as? ChannelError, case .connectTimeout = error {
            return (.connectTimeout, "\(peer): timed out after \(budget.probeText)")
        }
        guard let error = error as? IOError else { return (.connectFailed, "\(peer): \(error)") }
        let reason = String(cString: strerror(error.errnoCode))
        switch error.errnoCode {
        case ECONNREFUSED: return (.connectRefused, "\(peer): connection refused")
        case ECONNRESET: return (.connectReset, "\(peer): connection reset")
        case ETIMEDOUT: return (.connectTimeout, "\(peer): \(reason)")
        case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN: return (.connectUnreachable, "\(peer): \(reason)")
        default: return (.connectFailed, "\(peer): \(reason)")
        }
    }
}
