import ConsumerStore
import Foundation
import Logging

/// What every command starts from: the validated configuration, and the state file it names.
public struct ConsumerApp: Sendable {
    public let config: ConsumerConfig
    /// Who the CLI's changes are recorded as: `SUDO_USER` when set, else the process's user.
    public let actor: LifecycleActor

    public init(config: ConsumerConfig, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.config = config
        self.actor = .cli(environment: environment, processUser: Self.processUser())
    }

    /// Resolves the configuration path (`--config`, environment, default) and loads it.
    public init(configPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let path = ConfigLoader.resolvePath(option: configPath, environment: environment)
        self.init(config: try ConfigLoader.load(path: path), environment: environment)
    }

    /// The effective user's name (its uid when it has no name).
    static func processUser() -> String {
        let uid = geteuid()
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid\(uid)" }
        return String(cString: name)
    }

    /// The daemon's state: the SQLite file opened now (one host: no reason to start without it), or a
    /// PostgreSQL store that connects at its first use, so that a daemon started while the database is
    /// unreachable runs, says so, and carries on once it answers, instead of exiting into a restart loop.
    public func openDaemonStore() async throws -> any StateStore {
        switch config.state {
        case .sqlite(let path): try await Self.openSQLite(path)
        case .postgres(let postgres): try PostgresStore(postgres, logger: Logger(label: "state"))
        }
    }

    /// Opens (creating or upgrading it if needed) the state: the SQLite file, or the PostgreSQL database.
    public func openStore() async throws -> any StateStore {
        switch config.state {
        case .sqlite(let path): try await Self.openSQLite(path)
        case .postgres(let postgres): try await PostgresStore.open(postgres)
        }
    }

    /// Opening the SQLite file may wait up to 15 s while another process holds it (migrations, WAL
    /// switching): on a blocking-work thread, never a cooperative one.
    static func openSQLite(_ path: String) async throws -> SQLiteStore {
        try await BlockingIO.run { try SQLiteStore(path: path) }
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
