import Logging
import Synchronization

/// Captures every log line (message and metadata, rendered as text) so tests can assert on them,
/// e.g. that no secret ever reaches a log.
public final class LogCollector: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    /// A logger writing into this collector at `level`.
    public func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in Handler(collector: self) }
        logger.logLevel = level
        return logger
    }

    /// Everything logged so far, one rendered line per entry.
    public var all: [String] { lines.withLock { $0 } }

    /// Whether any line contains `text`.
    public func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let collector: LogCollector
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            collector.append("\(event.level) \(event.message) \(fields)")
        }
    }
}
