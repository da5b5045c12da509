import AWSClient
import ConsumerStore
import Logging
import Synchronization

/// The reconciler's failures, logged once: a warning when a key's failure is new or its message changed,
/// a debug line while it repeats, forgotten when the key succeeds again (or its customer is gone).
final class FailureLog: Sendable {
    let logger: Logger
    /// The last error logged per key.
    private let lastErrors = Mutex<[String: String]>([:])

    init(logger: Logger) {
        self.logger = logger
    }

    /// Logs a failure at warning level when it is new for `key`, at debug level when it repeats.
    func report(_ key: String, _ error: any Error, metadata: Logger.Metadata) {
        let text = "\(error)"
        let repeated = lastErrors.withLock { errors -> Bool in
            defer { errors[key] = text }
            return errors[key] == text
        }
        var metadata = metadata
        metadata["error"] = "\(text)"
        if let error = error as? AWSClientError {
            metadata["aws.operation"] = "\(error.operation ?? "-")"
            metadata["aws.request_id"] = "\(error.requestId ?? "-")"
        }
        if repeated {
            logger.debug("still failing: \(key)", metadata: metadata)
        } else {
            logger.warning("failed: \(key)", metadata: metadata)
        }
    }

    func clear(_ key: String) {
        _ = lastErrors.withLock { $0.removeValue(forKey: key) }
    }

    /// Forgets the failures of customers no longer live (keys `customer <id>`).
    func keepCustomers(_ live: Set<String>) {
        lastErrors.withLock { errors in errors = errors.filter { !$0.key.hasPrefix("customer ") || live.contains($0.key) } }
    }

    /// The key an action's failure is logged under.
    static func key(_ action: ReconcileAction) -> String {
        switch action {
        case .recordInvitation(let record): "invitation \(record.invitationArn)"
        case .accept(let arn, _, _): "accept \(arn)"
        case .reject(let arn): "reject \(arn)"
        case .deleteOrphan(let id, _, _, _): "orphan \(id)"
        case .recordReleasedEndpoint(let rowId, _): "released \(rowId)"
        default: "customer \(action.customerId.map(String.init) ?? "-")"
        }
    }
}
