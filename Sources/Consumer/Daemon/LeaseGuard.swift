import AWSClient
import ConsumerStore

/// The lease checks around an AWS call that changes something (accept, reject, create, delete): the
/// local lease, then the database's clock, then the local lease again (the round trip took time); and,
/// for the call itself, a check immediately before each attempt is written to the socket, and its
/// cancellation, retries and all, when the lease runs out meanwhile.
///
/// What this guarantees, exactly: the database refuses every write of a daemon whose epoch is over
/// (`LeaseFence`), so a stale leader can never record anything. An AWS call cannot be fenced by the
/// database; it is only ever sent while this daemon's own clock says it holds the lease. Should a stale
/// leader's call still land (a pause between the last check and the kernel's send), it is harmless
/// because each is idempotent: CreateVpcEndpoint with the generation's stored ClientToken, accept of a
/// given invitation, delete of a given endpoint. The one call that cannot be undone is
/// RejectResourceShareInvitation under `unmatchedInvitations: reject`: its invitation is re-checked
/// against the registry in the same pass, right before the call.
struct LeaseGuard: Sendable {
    let mayAct: @Sendable () -> Bool
    let leaseRemaining: @Sendable () -> Duration?
    let store: any StateStore

    static func notHeld(_ what: String) -> StoreError {
        StoreError(.fenced, "this daemon no longer holds the leadership lease; \(what)")
    }

    /// Throws unless this daemon may act now: by its own clock, by the database's, and by its own again.
    func require() async throws {
        guard mayAct() else { throw Self.notHeld("the AWS call was not made") }
        try await store.confirmLease()
        // Confirming took a round trip to the database: the local lease may have run out meanwhile.
        guard mayAct() else { throw Self.notHeld("the AWS call was not made") }
    }

    /// Runs an AWS call that changes something: each attempt is checked just before it is sent, and the
    /// call is cancelled (with its retries) when the lease runs out.
    func call<T: Sendable>(_ call: @escaping @Sendable () async throws(AWSClientError) -> T) async throws(AWSClientError) -> T {
        let mayAct = mayAct
        let check = AWSRequestExecutor.SendGuard { mayAct() ? nil : "this daemon no longer holds the leadership lease" }
        do {
            return try await AWSRequestExecutor.$sendGuard.withValue(check) {
                try await self.withinLease(call)
            }
        } catch let error as AWSClientError {
            throw error
        } catch {
            throw AWSClientError(.cancelled, service: "lease", operation: "call", code: nil, message: "\(error)")
        }
    }

    /// Runs `call`, cancelled (with its retries) when the lease runs out.
    private func withinLease<T: Sendable>(_ call: @escaping @Sendable () async throws(AWSClientError) -> T) async throws(AWSClientError) -> T {
        guard leaseRemaining() != nil else { return try await call() }
        let leaseRemaining = leaseRemaining
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await call() }
                group.addTask {
                    // Renewals extend it: read it again until it is spent.
                    while let remaining = leaseRemaining(), remaining > .zero {
                        try await Task.sleep(for: min(remaining, .milliseconds(500)))
                    }
                    return nil
                }
                while let next = try await group.next() {
                    if let value = next {
                        group.cancelAll()
                        return value
                    }
                    // The lease ran out first: the call is cancelled between attempts and gives its error.
                    group.cancelAll()
                }
                throw CancellationError()
            }
        } catch let error as AWSClientError {
            throw error
        } catch {
            // The sleeper's own cancellation (the daemon stopping) or the lease running out.
            throw AWSClientError(.cancelled, service: "lease", operation: "call", code: nil,
                                 message: Task.isCancelled ? "cancelled: the daemon is stopping"
                                     : "not finished before this daemon's leadership lease ran out")
        }
    }
}
