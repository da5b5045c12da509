import NIOCore
import Synchronization

extension PostgresProber {
    /// The `dns` stage: the injected resolver, held to the stage budget whether or not it honours it.
    func resolve(_ target: ProbeTarget, on loop: any EventLoop) async -> StageOutcome<[SocketAddress]> {
        let budget = timeouts.dns
        let resolver = self.resolver
        let outcome = await withDeadline(budget, on: loop) { () async -> Result<[SocketAddress], ResolveError> in
            do throws(ResolveError) {
                return .success(try await resolver.resolve(host: target.host, port: target.port, timeout: budget))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .finished(.success(let addresses)) where !addresses.isEmpty:
            return .success(addresses)
        case .finished(.success):
            return .failure(ProbeFailure(.dnsNoAnswer, "\(target.host) has no addresses", target: target))
        case .finished(.failure(let error)):
            return .failure(Self.dnsFailure(error, target: target))
        case .timedOut:
            return .failure(ProbeFailure(.dnsTimeout, "\(target.host): timed out after \(budget.probeText)", target: target))
        case .cancelled:
            return .failure(ProbeFailure(.cancelled, "cancelled while resolving \(target.host)", target: target))
        }
    }

    /// What a failed lookup says.
    static func dnsFailure(_ error: ResolveError, target: ProbeTarget) -> ProbeFailure {
        let kind: ProbeFailure.Kind = switch error.code {
        case .noSuchName: .dnsNoSuchName
        case .noAnswer: .dnsNoAnswer
        case .timeout: .dnsTimeout
        default: .dnsFailed
        }
        return ProbeFailure(kind, "\(target.host): \(error.message)", target: target)
    }

    /// Where the first three stages got to.
    enum Staged: Sendable {
        case dnsFailed(ProbeFailure, milliseconds: Double)
        case cancelled
        case exchanged(addresses: [SocketAddress], dnsMilliseconds: Double, BlockingExchange.Outcome)
    }

    /// The `dns`, `connect` and `postgres` stages as one job on a probe thread, with the production resolver:
    /// one hand-over to the thread and one back, where separate stages cost a hop each way per stage. The
    /// `dns` budget is kept by ``DeadlineThread`` (getaddrinfo cannot be interrupted: a lookup that answers
    /// after it is dropped, and the job stops there); the other two keep their own within the job.
    func resolveConnectAndExchange(_ resolver: SystemResolver, _ target: ProbeTarget) async -> Staged {
        let outcome = FirstOutcome<Staged>()
        let lookup = LookupState()
        let timeouts = self.timeouts
        let budget = timeouts.dns
        let started = NIODeadline.now()
        let expire: @Sendable () -> Void = {
            guard lookup.finish(timedOut: true) else { return }
            outcome.resolve(.dnsFailed(ProbeFailure(.dnsTimeout, "\(target.host): timed out after \(budget.probeText)", target: target),
                                       milliseconds: Self.milliseconds(from: started)))
        }
        let deadline = DeadlineThread.shared.schedule(at: started + TimeAmount(budget), expire)
        // No deadline thread (it could not start): an event loop's timer keeps the budget instead.
        let fallback = deadline == nil ? eventLoopGroup.any().scheduleTask(in: TimeAmount(budget), expire) : nil
        let ran = ProbeThreads.shared.run {
            let resolved = resolver.lookUpNow(host: target.host, port: target.port)
            let dnsMilliseconds = Self.milliseconds(from: started)
            guard lookup.finish(timedOut: false) else { return }
            if let deadline { DeadlineThread.shared.cancel(deadline) }
            fallback?.cancel()
            switch resolved {
            case .failure(let error):
                outcome.resolve(.dnsFailed(Self.dnsFailure(error, target: target), milliseconds: dnsMilliseconds))
            case .success(let addresses) where addresses.isEmpty:
                outcome.resolve(.dnsFailed(ProbeFailure(.dnsNoAnswer, "\(target.host) has no addresses", target: target),
                                           milliseconds: dnsMilliseconds))
            case .success(let addresses):
                // Cancelled meanwhile: nobody waits for a connection.
                guard !outcome.isResolved else { return }
                outcome.resolve(.exchanged(addresses: addresses, dnsMilliseconds: dnsMilliseconds,
                                           BlockingExchange.run(addresses: addresses, target: target, timeouts: timeouts)))
            }
        }
        if !ran {
            if let deadline { DeadlineThread.shared.cancel(deadline) }
            fallback?.cancel()
            outcome.resolve(.dnsFailed(ProbeFailure(.probeUnavailable, "this daemon could not start a thread for the probe", target: target),
                                       milliseconds: Self.milliseconds(from: started)))
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { outcome.wait(with: $0) }
        } onCancel: {
            outcome.resolve(.cancelled)
        }
    }
}

/// Whether a lookup finished or ran out of time first (whichever says so first wins).
final class LookupState: Sendable {
    private let state = Atomic<Int>(0)

    /// True for the first to finish: the lookup (`timedOut: false`) or its deadline.
    func finish(timedOut: Bool) -> Bool {
        state.compareExchange(expected: 0, desired: timedOut ? 2 : 1, ordering: .acquiringAndReleasing).exchanged
    }
}
