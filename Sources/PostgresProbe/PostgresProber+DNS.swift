import NIOCore

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
            let kind: ProbeFailure.Kind = switch error.code {
            case .noSuchName: .dnsNoSuchName
            case .noAnswer: .dnsNoAnswer
            case .timeout: .dnsTimeout
            default: .dnsFailed
            }
            return .failure(ProbeFailure(kind, "\(target.host): \(error.message)", target: target))
        case .timedOut:
            return .failure(ProbeFailure(.dnsTimeout, "\(target.host): timed out after \(budget.probeText)", target: target))
        case .cancelled:
            return .failure(ProbeFailure(.cancelled, "cancelled while resolving \(target.host)", target: target))
        }
    }
}
