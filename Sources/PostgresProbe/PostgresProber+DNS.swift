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
    /// one hand-over to the thread and one back, where separate stages cost a hop each way per stage.
    func resolveConnectAndExchange(_ resolver: SystemResolver, _ target: ProbeTarget) async -> Staged {
        let outcome = FirstOutcome<Staged>()
        let ran = ProbeThreads.shared.run {
            let staged = self.stagesOnThisThread(resolver, target, wanted: { !outcome.isResolved }) { outcome.resolve($0) }
            if let staged { outcome.resolve(staged) }
        }
        if !ran { outcome.resolve(.dnsFailed(Self.unavailable(target), milliseconds: 0)) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { outcome.wait(with: $0) }
        } onCancel: {
            outcome.resolve(.cancelled)
        }
    }

    /// A probe that could not get a thread.
    static func unavailable(_ target: ProbeTarget) -> ProbeFailure {
        ProbeFailure(.probeUnavailable, "this daemon could not start a thread for the probe", target: target)
    }

    /// The result of a probe no thread could be started for.
    package func unavailableResult(_ target: ProbeTarget) -> ProbeResult {
        settle(.dnsFailed(Self.unavailable(target), milliseconds: 0), target).result
    }

    /// The `dns`, `connect` and `postgres` stages on the calling thread (a probe thread). The `dns` budget is kept
    /// by ``DeadlineThread`` (getaddrinfo cannot be interrupted): when it runs out first, `expired` gets the
    /// timeout from the deadline thread, and the lookup's late answer is dropped (nil). The other two stages keep
    /// their own budgets. `wanted` is asked before connecting: false (the caller gave up) stops there (nil).
    func stagesOnThisThread(_ resolver: SystemResolver, _ target: ProbeTarget, wanted: () -> Bool,
                            expired: @escaping @Sendable (Staged) -> Void) -> Staged? {
        let lookup = LookupState()
        let timeouts = self.timeouts
        let budget = timeouts.dns
        let started = NIODeadline.now()
        let expire: @Sendable () -> Void = {
            guard lookup.finish(timedOut: true) else { return }
            expired(.dnsFailed(ProbeFailure(.dnsTimeout, "\(target.host): timed out after \(budget.probeText)", target: target),
                               milliseconds: Self.milliseconds(from: started)))
        }
        let deadline = DeadlineThread.shared.schedule(at: started + TimeAmount(budget), expire)
        // No deadline thread (it could not start): an event loop's timer keeps the budget instead.
        let fallback = deadline == nil ? eventLoopGroup.any().scheduleTask(in: TimeAmount(budget), expire) : nil
        let resolved = resolver.lookUpNow(host: target.host, port: target.port)
        let dnsMilliseconds = Self.milliseconds(from: started)
        guard lookup.finish(timedOut: false) else { return nil }
        if let deadline { DeadlineThread.shared.cancel(deadline) }
        fallback?.cancel()
        switch resolved {
        case .failure(let error):
            return .dnsFailed(Self.dnsFailure(error, target: target), milliseconds: dnsMilliseconds)
        case .success(let addresses) where addresses.isEmpty:
            return .dnsFailed(ProbeFailure(.dnsNoAnswer, "\(target.host) has no addresses", target: target), milliseconds: dnsMilliseconds)
        case .success(let addresses):
            // Cancelled meanwhile: nobody waits for a connection.
            guard wanted() else { return nil }
            return .exchanged(addresses: addresses, dnsMilliseconds: dnsMilliseconds,
                              BlockingExchange.run(addresses: addresses, target: target, timeouts: timeouts))
        }
    }

    /// One probe of a sweep, on the calling probe thread (``ThreadSweep``): its result, or nil when it comes
    /// later through `later` (from the deadline thread when the lookup ran out of time; from a task for the
    /// login stage, which runs on the event loops; from a task for an injected resolver). `wanted` is asked before
    /// connecting: false (the sweep has the probe's result already, or was cancelled) stops there (nil).
    package func probeOnThisThread(_ target: ProbeTarget, wanted: () -> Bool = { true },
                                   later: @escaping @Sendable (ProbeResult) -> Void) -> ProbeResult? {
        guard let system = resolver as? SystemResolver else {
            Task { later(await probe(target)) }
            return nil
        }
        guard let staged = stagesOnThisThread(system, target, wanted: wanted, expired: { later(self.settle($0, target).result) }) else {
            return nil
        }
        switch settle(staged, target) {
        case .done(let result):
            return result
        case .login(let result, let address, let credentials):
            Task { later(await self.loginStage(result, at: address, credentials: credentials, target)) }
            return nil
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
