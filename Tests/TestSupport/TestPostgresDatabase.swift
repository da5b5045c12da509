import ConsumerStore
import Foundation
import Synchronization

/// A fresh, empty PostgreSQL database for one test, on the process's throwaway cluster (`ThrowawayPostgres`),
/// owned by the cluster's password-login role: what a `state.postgres` configuration points at.
public enum TestPostgresDatabase {
    private static let counter = Atomic<Int>(0)
    private static let passwordDirectory = TemporaryDirectory("plc-pg-password")
    private static let creation = OneAtATime()

    /// Creates the database and returns the configuration that reaches it (TLS off: loopback only).
    public static func make(on cluster: ThrowawayPostgres? = nil, leaseSeconds: Int = 15) async throws -> PostgresStateConfig {
        let postgres: ThrowawayPostgres
        if let cluster { postgres = cluster } else { postgres = try await ThrowawayPostgres.shared() }
        let number = counter.add(1, ordering: .relaxed).newValue
        let name = "plc_\(getpid())_\(number)"
        // One at a time: dozens of CREATE DATABASE at once (each a psql process and a copy of the template)
        // starve the timing-sensitive tests that run beside the conformance suite on two cores.
        try await creation.run { try await postgres.superuserSQL("CREATE DATABASE \(name) OWNER \(postgres.user)") }
        let passwordFile = passwordDirectory.file("password-\(number)")
        try Data((postgres.password + "\n").utf8).write(to: URL(fileURLWithPath: passwordFile), options: .atomic)
        return PostgresStateConfig(host: postgres.host, port: postgres.port, database: name, user: postgres.user,
                                   passwordFile: passwordFile, tls: .disable, leaseSeconds: leaseSeconds)
    }

    /// The same database as a `"state"` configuration section.
    public static func configJSON(_ config: PostgresStateConfig) -> String {
        """
        {"backend": "postgres", "postgres": {"host": "\(config.host)", "port": \(config.port), "database": "\(config.database)", \
        "user": "\(config.user)", "passwordFile": "\(config.passwordFile ?? "")", "tls": "\(config.tls.rawValue)", \
        "leaseSeconds": \(config.leaseSeconds)}}
        """
    }
}

/// Runs bodies one after another, in arrival order.
actor OneAtATime {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        }
        busy = true
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
