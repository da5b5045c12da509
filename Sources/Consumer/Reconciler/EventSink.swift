import ConsumerStore
import Foundation

/// Where lifecycle events go besides the events table: the health log on-call reads.
public struct EventSink: Sendable {
    let writer: HealthLogWriter?

    public init(writer: HealthLogWriter?) {
        self.writer = writer
    }

    /// Mirrors a stored transition as one `kind: event` line.
    public func transition(_ transition: Transition) async throws {
        try writer?.append(.event(time: transition.event.time, customer: transition.customer,
                                  event: transition.event.event, detail: transition.event.detail))
    }

    /// A happening that is not a state change (an endpoint created or deleted).
    public func event(customer: String, event: String, detail: String?) async throws {
        try writer?.append(.event(time: Date(), customer: customer, event: event, detail: detail))
    }
}
