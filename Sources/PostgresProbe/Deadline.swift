import NIOCore
import Synchronization

/// How an operation run under ``withDeadline(_:on:discard:_:)`` ended.
enum Bounded<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut
    case cancelled
}

/// Runs `operation` in a task of its own and returns as soon as it finishes, `timeout` passes, or the
/// calling task is cancelled, whichever comes first.
///
/// A task group would wait for a child that ignores cancellation (a hung resolver, a stuck handshake);
/// this never does. The loser is cancelled, and a value it still produces goes to `discard`, so that a
/// late channel or connection is closed rather than leaked.
func withDeadline<Value: Sendable>(
    _ timeout: Duration,
    on eventLoop: any EventLoop,
    discard: @escaping @Sendable (Value) -> Void = { _ in },
    _ operation: @escaping @Sendable () async -> Value
) async -> Bounded<Value> {
    let outcome = FirstOutcome<Bounded<Value>>()
    let work = Task {
        let value = await operation()
        if !outcome.resolve(.finished(value)) { discard(value) }
    }
    let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
        if outcome.resolve(.timedOut) { work.cancel() }
    }
    let result = await withTaskCancellationHandler {
        await withCheckedContinuation { outcome.wait(with: $0) }
    } onCancel: {
        if outcome.resolve(.cancelled) { work.cancel() }
    }
    timer.cancel()
    return result
}

/// The first of several racing outcomes, handed to one waiting continuation.
final class FirstOutcome<Value: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Value, Never>)
        case resolved(Value)
        case delivered
    }

    private let state = Mutex<State>(.pending)

    /// Installs the continuation; resumes it at once if an outcome is already in.
    func wait(with continuation: CheckedContinuation<Value, Never>) {
        let ready: Value? = state.withLock { state in
            switch state {
            case .pending:
                state = .waiting(continuation)
                return nil
            case .resolved(let value):
                state = .delivered
                return value
            case .waiting, .delivered:
                preconditionFailure("FirstOutcome waited on twice")
            }
        }
        if let ready { continuation.resume(returning: ready) }
    }

    /// Whether an outcome is in (a job that lost the race stops early).
    var isResolved: Bool {
        state.withLock { state in
            if case .pending = state { return false }
            if case .waiting = state { return false }
            return true
        }
    }

    /// Offers `value`; returns whether it was the first.
    @discardableResult
    func resolve(_ value: Value) -> Bool {
        let (won, waiter): (Bool, CheckedContinuation<Value, Never>?) = state.withLock { state in
            switch state {
            case .pending:
                state = .resolved(value)
                return (true, nil)
            case .waiting(let continuation):
                state = .delivered
                return (true, continuation)
            case .resolved, .delivered:
                return (false, nil)
            }
        }
        waiter?.resume(returning: value)
        return won
    }
}
