import Foundation
import Synchronization

/// A real PostgreSQL on 127.0.0.1 for tests and `demo`: one cluster per test process, created on first use in a
/// temporary directory, with SCRAM password logins over TCP and, when `openssl` exists, TLS with a
/// self-signed certificate. It is shut down (immediate mode) and deleted when the process exits.
///
/// `initdb` refuses to run as root, so as root the cluster belongs to the unprivileged user `plctest`
/// (created with `useradd -m` when missing) and every PostgreSQL program runs through `runuser`.
/// Exit sends the postmaster SIGQUIT, which is what `pg_ctl stop -m immediate` does.
public struct ThrowawayPostgres: Sendable {
    /// Always the IPv4 loopback address.
    public let host = "127.0.0.1"
    public let port: Int
    /// A role that logs in over TCP with `password` (SCRAM-SHA-256).
    public let user: String
    public let password: String
    /// The database `user` can open.
    public let database = "postgres"
    /// Whether the server offers TLS (answers the SSLRequest with `S`).
    public let tlsEnabled: Bool
    /// With TLS, a role with `password` that pg_hba admits only over TLS (proof that a login used it).
    public let tlsOnlyUser: String?
    /// The major version, e.g. "15".
    public let majorVersion: String

    let directory: String
    let binDirectory: String
    let osUser: String?
    /// The postmaster's `-c` settings, to start it again the same way.
    let settings: [String]

    /// CPU seconds (user + system) the server has used so far: the postmaster's own and its finished
    /// children's (one backend per connection), from /proc; nil where /proc or the PID file is unreadable.
    public func cpuSeconds() -> Double? {
        guard let pidText = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
              let pid = pidText.split(separator: "\n").first.flatMap({ Int32($0) }) else { return nil }
        return processCPUSeconds(pid: pid, reapedChildren: true)
    }

    /// The process-wide cluster, started on the first call (in a few seconds).
    public static func shared() async throws -> ThrowawayPostgres {
        try await launcher.instance()
    }

    /// A cluster of the caller's own, for tests that stop or restart it (never the shared one).
    /// Its commits are synchronous: an immediate stop (SIGQUIT) keeps every committed transaction, as a real
    /// server's crash does (the shared cluster trades that for speed).
    public static func dedicated() async throws -> ThrowawayPostgres {
        try await start(durable: true)
    }

    /// Stops the server at once (SIGQUIT: `pg_ctl stop -m immediate`, as a crash or a failover looks to clients).
    public func stop() async throws {
        let pidFile = directory + "/data/postmaster.pid"
        guard let pidText = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = pidText.split(separator: "\n").first.flatMap({ pid_t($0) }) else { return }
        kill(pid, SIGQUIT)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline, kill(pid, 0) == 0 || errno != ESRCH {
            try await Task.sleep(for: .milliseconds(20))
        }
        // An immediate stop can leave the pid file behind; the next start would refuse to run over it.
        try? FileManager.default.removeItem(atPath: pidFile)
    }

    /// Starts the stopped server again, on the same port with the same data.
    public func startAgain() async throws {
        let pid = try await Self.startPostmaster(bin: binDirectory, data: directory + "/data", settings: settings,
                                                 directory: directory, as: osUser)
        registerForShutdown(pid: pid, directory: directory)
    }

    /// Stops and starts the server: every client connection is cut.
    public func restart() async throws {
        try await stop()
        try await startAgain()
    }

    /// Runs `sql` with psql as the superuser over the Unix socket and returns psql's unaligned output.
    @discardableResult
    public func superuserSQL(_ sql: String) async throws -> String {
        let output = try await Self.run(["\(binDirectory)/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                         "-h", directory, "-p", "\(port)", "-U", Self.superuser, "-d", "postgres",
                                         "-c", sql], as: osUser, in: directory)
        guard output.status == 0 else { throw ThrowawayPostgresError("psql failed: \(output.stderr)") }
        return output.stdout
    }

    private static let superuser = "plctest"
    private static let launcher = Launcher()

    private actor Launcher {
        private var starting: Task<ThrowawayPostgres, any Error>?

        func instance() async throws -> ThrowawayPostgres {
            if let starting { return try await starting.value }
            let task = Task { try await ThrowawayPostgres.start() }
            starting = task
            do {
                return try await task.value
            } catch {
                // A failed start is not kept: the next caller tries again.
                if starting == task { starting = nil }
                throw error
            }
        }
    }

    private static func start(durable: Bool = false) async throws -> ThrowawayPostgres {
        let (bin, major) = try findBinaries()
        let osUser: String? = geteuid() == 0 ? superuser : nil
        if let osUser { try await ensureUser(osUser) }

        let directory = try makeDirectory(owner: osUser)
        let data = directory + "/data"
        let initdb = try await run(["\(bin)/initdb", "-D", data, "-U", superuser, "--auth-local=trust",
                                    "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
                                   as: osUser, in: directory)
        guard initdb.status == 0 else { throw ThrowawayPostgresError("initdb failed: \(initdb.stderr)") }

        let tls = try await makeCertificate(in: directory, as: osUser)
        let tlsOnlyUser = "probe_tls"
        if tls {
            // The first matching pg_hba line wins.
            let hba = data + "/pg_hba.conf"
            let rules = try String(contentsOfFile: hba, encoding: .utf8)
            try ("hostnossl all \(tlsOnlyUser) 127.0.0.1/32 reject\n" + rules).write(toFile: hba, atomically: false, encoding: .utf8)
        }
        // The free port is found before the server binds it: should another process take it meanwhile, the
        // server exits, and another port is tried.
        var started: (port: Int, settings: [String], pid: pid_t)?
        for attempt in 1...3 where started == nil {
            let port = try freeLoopbackPort()
            var settings = [
                "listen_addresses=127.0.0.1", "port=\(port)", "unix_socket_directories=\(directory)",
                "password_encryption=scram-sha-256", "fsync=off", "synchronous_commit=\(durable ? "on" : "off")", "full_page_writes=off",
                "shared_buffers=16MB", "max_connections=200",
            ]
            if tls { settings += ["ssl=on", "ssl_cert_file=\(directory)/server.crt", "ssl_key_file=\(directory)/server.key"] }
            do {
                started = (port, settings, try await startPostmaster(bin: bin, data: data, settings: settings, directory: directory, as: osUser))
            } catch let error as ThrowawayPostgresError where error.exited && attempt < 3 {
                continue
            }
        }
        guard let (port, settings, postmasterPID) = started else { throw ThrowawayPostgresError("PostgreSQL did not start") }
        registerForShutdown(pid: postmasterPID, directory: directory)

        let user = "probe"
        let password = randomPassword()
        let instance = ThrowawayPostgres(port: port, user: user, password: password, tlsEnabled: tls,
                                         tlsOnlyUser: tls ? tlsOnlyUser : nil, majorVersion: major,
                                         directory: directory, binDirectory: bin, osUser: osUser, settings: settings)
        try await instance.superuserSQL("CREATE ROLE \(user) LOGIN PASSWORD '\(password)'")
        if tls { try await instance.superuserSQL("CREATE ROLE \(tlsOnlyUser) LOGIN PASSWORD '\(password)'") }
        return instance
    }

    /// Runs `postgres` itself as a child rather than through `pg_ctl start`: Foundation's Process learns
    /// that a child exited when a socket it passes down closes, and the daemon pg_ctl leaves behind would
    /// hold that socket open for good. Returns the postmaster's PID once it accepts connections.
    private static func startPostmaster(bin: String, data: String, settings: [String], directory: String,
                                        as osUser: String?) async throws -> pid_t {
        let logPath = directory + "/postgres.log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
              let log = FileHandle(forWritingAtPath: logPath) else {
            throw ThrowawayPostgresError("cannot create \(logPath)")
        }
        let process = Process()
        process.standardOutput = log
        process.standardError = log
        try launch(process, ["\(bin)/postgres", "-D", data] + settings.flatMap { ["-c", $0] }, as: osUser, in: directory)
        try? log.close()
        postmasters.withLock { $0.append(process) }

        // Generous: the parallel test suite starts several clusters at once on two cores.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            // postmaster.pid: line 1 is the PID, line 8 the status, "ready" once connections are accepted.
            let lines = ((try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8)) ?? "")
                .split(separator: "\n", omittingEmptySubsequences: false)
            if lines.count >= 8, lines[7].trimmingCharacters(in: .whitespaces) == "ready", let pid = pid_t(lines[0]) {
                return pid
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        if !process.isRunning {
            throw ThrowawayPostgresError("PostgreSQL exited before it was ready:\n\(output.suffix(2000))", exited: true)
        }
        // Still starting: stopped, so that it does not load the machine while the caller gives up or tries again.
        if let pid = ((try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8)) ?? "")
            .split(separator: "\n").first.flatMap({ pid_t($0) }) {
            kill(pid, SIGQUIT)
        }
        process.terminate()
        throw ThrowawayPostgresError("PostgreSQL did not become ready within 30 s:\n\(output.suffix(2000))")
    }

    /// The newest `/usr/lib/postgresql/<major>/bin` holding initdb, postgres and psql.
    private static func findBinaries() throws -> (bin: String, major: String) {
        let root = "/usr/lib/postgresql"
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .sorted { (Double($0) ?? 0) > (Double($1) ?? 0) }
        for major in majors {
            let bin = "\(root)/\(major)/bin"
            if ["initdb", "postgres", "psql"].allSatisfy({ FileManager.default.isExecutableFile(atPath: bin + "/" + $0) }) {
                return (bin, major)
            }
        }
        throw ThrowawayPostgresError("PostgreSQL is not installed (no initdb, postgres and psql under \(root)/*/bin): "
                                     + "install postgresql (Scripts/install-deps.sh)")
    }

    private static func ensureUser(_ name: String) async throws {
        if try await run(["/usr/bin/id", "-u", name], as: nil, in: "/").status == 0 { return }
        let added = try await run(["/usr/sbin/useradd", "-m", name], as: nil, in: "/")
        // Another test process may have created it in the meantime.
        let exists = try await run(["/usr/bin/id", "-u", name], as: nil, in: "/").status == 0
        guard exists else {
            throw ThrowawayPostgresError("cannot create the unprivileged user \(name) for initdb: \(added.stderr)")
        }
    }

    /// A fresh directory under /tmp (short, for the Unix socket path) owned by `owner`.
    private static func makeDirectory(owner: String?) throws -> String {
        var template = Array("/tmp/plc-pg-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ThrowawayPostgresError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        let path = String(cString: made)
        var attributes: [FileAttributeKey: Any] = [.posixPermissions: 0o700]
        if let owner { attributes[.ownerAccountName] = owner }
        try FileManager.default.setAttributes(attributes, ofItemAtPath: path)
        return path
    }

    /// A self-signed certificate for `ssl=on`; false when openssl is missing or fails.
    private static func makeCertificate(in directory: String, as osUser: String?) async throws -> Bool {
        guard let openssl = ["/usr/bin/openssl", "/bin/openssl", "/usr/local/bin/openssl"]
            .first(where: FileManager.default.isExecutableFile(atPath:)) else { return false }
        let made = try await run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                  "-nodes", "-keyout", "\(directory)/server.key", "-out", "\(directory)/server.crt",
                                  "-days", "2", "-subj", "/CN=localhost"], as: osUser, in: directory)
        guard made.status == 0 else { return false }
        // PostgreSQL refuses a key that others can read.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(directory)/server.key")
        return true
    }

    private static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return "pw" + String((0..<24).map { _ in alphabet.randomElement()! })
    }

    /// Runs a program (as `user` through runuser when given) with `directory` as its working directory.
    private static func run(_ command: [String], as user: String?, in directory: String) async throws -> ProcessOutput {
        try await runToCompletion(Process()) { process in try launch(process, command, as: user, in: directory) }
    }

    /// Starts `command` (as `user` through runuser when given) in `directory`, without PG* variables.
    private static func launch(_ process: Process, _ command: [String], as user: String?, in directory: String) throws {
        if let user {
            guard let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .first(where: FileManager.default.isExecutableFile(atPath:)) else {
                throw ThrowawayPostgresError("runuser not found: cannot run PostgreSQL as \(user)")
            }
            process.executableURL = URL(fileURLWithPath: runuser)
            process.arguments = ["-u", user, "--"] + command
        } else {
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
        }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        environment["LC_ALL"] = "C"
        process.environment = environment
        if process.standardInput == nil { process.standardInput = FileHandle.nullDevice }
        try process.run()
    }
}

/// Why the throwaway PostgreSQL could not start.
public struct ThrowawayPostgresError: Error, CustomStringConvertible {
    public let description: String
    /// The server exited while starting (its port taken, say), rather than failing to become ready.
    public let exited: Bool
    public init(_ description: String, exited: Bool = false) {
        self.description = description
        self.exited = exited
    }
}

/// Keeps the postmasters' Process objects alive as long as the test process.
private let postmasters = Mutex<[Process]>([])

// Clusters to stop at exit: SIGQUIT is what `pg_ctl stop -m immediate` sends.
private let clustersToStop = Mutex<[(pid: pid_t, directory: String)]>([])

private func registerForShutdown(pid: pid_t, directory: String) {
    let first = clustersToStop.withLock { clusters in
        // A restarted cluster has a new postmaster: forget the old pid (it may belong to another process by now).
        let hadAny = !clusters.isEmpty
        clusters.removeAll { $0.directory == directory }
        clusters.append((pid, directory))
        if hadAny { return false }
        return clusters.count == 1
    }
    if first { atexit(stopClusters) }
}

private func stopClusters() {
    let clusters = clustersToStop.withLock { clusters in
        defer { clusters = [] }
        return clusters
    }
    for cluster in clusters { kill(cluster.pid, SIGQUIT) }
    for cluster in clusters {
        // The postmaster removes its pid file as it exits; give it a moment before deleting its files.
        for _ in 0..<100 where FileManager.default.fileExists(atPath: cluster.directory + "/data/postmaster.pid") {
            usleep(10_000)
        }
        try? FileManager.default.removeItem(atPath: cluster.directory)
    }
}
