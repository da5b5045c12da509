@_exported import ConsumerCore
import Foundation
import GRDB

/// The embedded state: one SQLite file (WAL) shared by the daemon and the CLI on one host.
///
/// Every write is a short IMMEDIATE transaction that keeps the schema's invariants, so several
/// processes can use the file at once: they queue on SQLite's lock (busy timeout) instead of failing.
public struct SQLiteStore: StateStore {
    /// The path of the state file.
    public let path: String
    public var location: String { path }
    let database: DatabasePool
    let now: @Sendable () -> Date

    /// How long a writer waits for another process's transaction before giving up.
    public static let busyTimeout: TimeInterval = 15
    /// A connection's page cache, in KiB. SQLite's default (2,000 KiB) let the writer and the two readers of a
    /// pass and a sweep over 10,000 customers hold 6 MB of pages at the daemon's start-up peak; the file's pages
    /// stay in the kernel's cache, and a read or write of this state touches few pages more than once.
    public static let pageCacheKiB = 512

    /// Opens (creating it and its directory if needed) and migrates the state file at `path`.
    ///
    /// A file written by a newer schema is refused before anything in it is changed. `knownSchema` is the
    /// newest schema version this build knows (the default); a lower one behaves as an older build would,
    /// which is how the upgrade tests run an old binary against a new state.
    public init(path: String, now: @escaping @Sendable () -> Date = { Date() }, knownSchema: Int = Schema.currentVersion) throws {
        precondition((1...Schema.currentVersion).contains(knownSchema), "knownSchema \(knownSchema) is not a version this build has")
        self.path = path
        self.now = now
        let existed = try Self.prepareFile(at: path)
        if existed {
            try Self.refuseNewerSchema(at: path, known: knownSchema)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "state"
        configuration.prepareDatabase { db in
            // Each connection's page cache (the writer and every reader keep one until `releaseMemory`).
            try db.execute(sql: "PRAGMA cache_size = -\(Self.pageCacheKiB)")
        }
        do {
            database = try Self.retryingWhileBusy {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try pool.writeWithoutTransaction { db in try Schema.migrate(db, to: knownSchema, known: knownSchema) }
                return pool
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.cannotOpen, "state database \(path): \(Self.describe(error))")
        }
    }

    /// Lets SQLite drop its page caches and idle reader connections once current reads finish (the
    /// daemon calls it after each pass and sweep; the next read reopens what it needs).
    public func releaseMemory() async {
        database.releaseMemoryEventually()
        // The writer's release is queued on its serial queue: an empty access queued after it waits for it.
        _ = try? await database.writeWithoutTransaction { _ in }
    }

    /// The schema version of the open file.
    public func schemaVersion() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    /// Nothing to do: the pool closes with its last reference.
    public func close() async {}

    /// No lease: one daemon per file, held by its lock file (`StateLock`).
    public func leader() async throws -> LeaderInfo? { nil }

    /// One daemon per file: it always holds the state.
    public func confirmLease() async throws {}

    // MARK: - Opening

    /// Creates the parent directory (0750) and an empty file readable by its owner only (0600).
    /// Returns whether the file already existed.
    private static func prepareFile(at path: String) throws -> Bool {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        if fileManager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StoreError(.cannotOpen, "state database \(path): \(directory) is not a directory; set stateDatabase to a path in a directory")
            }
        } else {
            do {
                try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
            } catch {
                throw StoreError(.cannotOpen, "state database \(path): cannot create directory \(directory): \(describe(error))")
            }
        }
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 {
            closeDescriptor(fd)
            return false
        }
        let code = errno
        guard code == EEXIST else {
            throw StoreError(.cannotOpen, "state database \(path): cannot create: \(String(cString: strerror(code)))")
        }
        if fileManager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw StoreError(.cannotOpen, "state database \(path) is a directory; set stateDatabase to a file path")
        }
        // root would create -wal/-shm files the daemon's own user cannot open, breaking the daemon later.
        var info = stat()
        if geteuid() == 0, stat(path, &info) == 0, info.st_uid != 0 {
            let owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(info.st_uid)
            throw StoreError(.cannotOpen, "state database \(path) belongs to \(owner); run this command as that user (sudo -u \(owner) privatelink-consumer …), not as root")
        }
        return true
    }

    /// Runs `body` again while SQLite answers SQLITE_BUSY, for up to `busyTimeout`.
    ///
    /// Opening can fail with SQLITE_BUSY before any busy handler is consulted: while another process
    /// switches a new file to WAL, or while the last connection of another process checkpoints and removes
    /// the WAL on close (sqlite.org/wal.html, "Sometimes Queries Return SQLITE_BUSY In WAL Mode"). SEs
    /// registering customers from several shells at once meet exactly that.
    static func retryingWhileBusy<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(busyTimeout)
        var pause: useconds_t = 5_000
        while true {
            do {
                return try body()
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                usleep(pause)
                pause = min(pause * 2, 200_000)
            }
        }
    }

    /// Reads the schema version through a read-only connection, so that a newer file is never touched.
    private static func refuseNewerSchema(at path: String, known: Int) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        let version: Int
        do {
            version = try retryingWhileBusy {
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                defer { try? queue.close() }
                return try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
            }
        } catch {
            throw StoreError(.cannotOpen, "state database \(path): \(describe(error))")
        }
        if version > known {
            throw StoreError.newerSchema(found: version, known: known)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_NOTADB {
                return "not an SQLite database (is stateDatabase pointing at the wrong file?)"
            }
            if error.resultCode == .SQLITE_BUSY {
                return "database is locked by another process for longer than \(Int(busyTimeout)) s"
            }
            return error.message ?? "\(error.resultCode)"
        }
        if let error = error as? CocoaError, let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return (error as NSError).localizedDescription
    }

    /// Runs `body` as one IMMEDIATE write transaction, translating SQLite failures into `StoreError`.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.write(body)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw StoreError(.busy, "state database \(path): \(Self.describe(error))")
        }
    }

    /// Runs `body` on a read-only snapshot.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await database.read(body)
    }
}

/// `close(2)`, out of reach of `StateStore.close()`.
private func closeDescriptor(_ descriptor: Int32) {
    close(descriptor)
}
