import ConsumerStore
import Foundation

/// What every command starts from: the validated configuration, and the state file it names.
public struct ConsumerApp: Sendable {
    public let config: ConsumerConfig

    public init(config: ConsumerConfig) {
        self.config = config
    }

    /// Resolves the configuration path (`--config`, environment, default) and loads it.
    public init(configPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let path = ConfigLoader.resolvePath(option: configPath, environment: environment)
        self.config = try ConfigLoader.load(path: path)
    }

    /// Opens (creating if needed) the state database.
    public func openStore() throws -> ConsumerStore {
        try ConsumerStore(path: config.stateDatabase)
    }
}

/// JSON output shared by the commands: stable keys, RFC 3339 times, no escaped slashes.
enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.string(date))
        }
        // Encoding our own Encodable values cannot fail; a failure would be a programming error.
        let data = try! encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }
}
