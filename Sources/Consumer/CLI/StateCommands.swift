import ConsumerStore
import Foundation

/// `state copy --to CONFIG` and `state backup PATH`: moving a SQLite state into PostgreSQL, and keeping copies of it.
public enum StateCommands {
    /// Copies this configuration's SQLite state into the empty PostgreSQL state `targetConfig` names. The
    /// daemon must be stopped (its lock is taken for the copy): what it wrote after the copy would be lost.
    public static func copy(_ app: ConsumerApp, to targetConfig: String) async throws -> String {
        guard case .sqlite(let path) = app.config.state else {
            throw CommandFailure.usage("state copy: the source (\(app.config.source)) must be a SQLite state (stateDatabase); it is \(app.config.state)")
        }
        let target = try ConfigLoader.load(path: targetConfig)
        guard case .postgres(let postgres) = target.state else {
            throw CommandFailure.usage("state copy: --to \(targetConfig) must configure \"state\": {\"backend\": \"postgres\", …}")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure.usage("state copy: \(path) does not exist; nothing to copy")
        }
        let lock: StateLock
        do {
            lock = try StateLock.acquire(statePath: path)
        } catch {
            throw CommandFailure.runtime("state copy: \(error.message); stop the daemon first (systemctl stop privatelink-consumer), then copy")
        }
        defer { lock.release() }
        let source = try await ConsumerApp.openSQLite(path)
        let store = try await PostgresStore.open(postgres)
        let counts: StateCopy.Counts
        do {
            counts = try await StateCopy.copy(from: source, to: store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        return """
            copied \(path) to \(postgres): \(StateCopy.describe(counts)) (counted in both)
            next: point every host's config at the PostgreSQL state (remove stateDatabase), start the daemons, check `status`
            """
    }

    /// An online, consistent copy of the SQLite state at `path` (relative to the working directory).
    public static func backup(_ app: ConsumerApp, to path: String) async throws -> String {
        guard case .sqlite(let statePath) = app.config.state else {
            throw CommandFailure.usage("state backup: the state is in PostgreSQL (\(app.config.state)); use the database's own backups (RDS snapshots, pg_dump)")
        }
        guard FileManager.default.fileExists(atPath: statePath) else {
            throw CommandFailure.usage("state backup: \(statePath) does not exist; nothing to back up")
        }
        let target = path.hasPrefix("/") ? path
            : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)).standardizedFileURL.path
        let customers = try await ConsumerApp.openSQLite(statePath).backup(to: target)
        return "backed up \(statePath) to \(target) (\(customers) customers, consistent as of one instant)"
    }
}
