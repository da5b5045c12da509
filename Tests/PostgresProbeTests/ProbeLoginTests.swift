import PostgresProbe
import Testing
import TestSupport

/// Against a real PostgreSQL started by the tests (TestSupport's ThrowawayPostgres) on 127.0.0.1.
@Suite("Probe against a real PostgreSQL", .calmPool)
struct ProbeLoginTests {
    /// These tests are about outcomes (rejected, no database, TLS), not budgets: generous ones, so that a
    /// SCRAM exchange on a loaded two-core machine never turns a rejection into a timeout.
    static let budgets = ProbeTimeouts(uniform: .seconds(10))

    let postgres: ThrowawayPostgres
    let dir = TemporaryDirectory("plc-probe")

    init() async throws {
        postgres = try await ThrowawayPostgres.shared()
    }

    func target(user: String? = nil, password: String? = nil, database: String = "postgres") throws -> ProbeTarget {
        let file = try dir.write("password-\(UInt64.random(in: 0...UInt64.max))", (password ?? postgres.password) + "\n")
        return ProbeTarget(host: postgres.host, port: postgres.port,
                           credentials: ProbeCredentials(user: user ?? postgres.user, passwordFile: file, database: database))
    }

    @Test("without credentials the probe stops after PostgreSQL's answer")
    func answerOnly() async {
        let result = await makeProber(Self.budgets).probe(ProbeTarget(host: postgres.host, port: postgres.port))
        #expect(result.ok)
        #expect(result.stage == .postgres)
        #expect(result.sslOffered == postgres.tlsEnabled)
        #expect(Set(result.latencyMs.keys) == [.dns, .connect, .postgres])
        #expect(result.serverVersion == nil)
    }

    @Test("a correct login runs SELECT 1 and times all four stages")
    func login() async throws {
        let result = await makeProber(Self.budgets).probe(try target())
        #expect(result.ok, "\(String(describing: result.failure))")
        #expect(result.stage == .login)
        #expect(result.failure == nil)
        #expect(Set(result.latencyMs.keys) == Set(ProbeStage.allCases))
        #expect(result.latencyMs.values.allSatisfy { $0 >= 0 })
        #expect(result.serverVersion?.hasPrefix(postgres.majorVersion) == true)
        #expect(result.sslOffered == postgres.tlsEnabled)
        #expect(result.latencyMsByStageName.keys.sorted() == ["connect", "dns", "login", "postgres"])
    }

    @Test("the login uses TLS when the server offers it")
    func tlsLogin() async throws {
        // Without openssl the throwaway server has no TLS; the plain login above covers that case.
        guard let tlsOnlyUser = postgres.tlsOnlyUser else { return }
        let result = await makeProber(Self.budgets).probe(try target(user: tlsOnlyUser))
        #expect(result.ok, "\(String(describing: result.failure))")
        #expect(result.sslOffered == true)
        #expect(result.stage == .login)
    }

    @Test("a wrong password is rejected with 28P01, once and fast")
    func wrongPassword() async throws {
        let (result, elapsed) = await timed { await makeProber(Self.budgets).probe(try! target(password: "not-the-password")) }
        #expect(result.stage == .login)
        #expect(result.failure?.kind == .loginRejected)
        #expect(result.failure?.sqlState == "28P01")
        #expect(result.failure?.hint.contains("ALTER ROLE \(postgres.user)") == true)
        #expect(result.latencyMs[.login] != nil)
        // PostgresClient would retry a wrong password forever; one connection fails at once.
        #expect(elapsed < .seconds(9))
    }

    @Test("an unknown role is rejected (PostgreSQL reports it like a wrong password)")
    func unknownUser() async throws {
        let result = await makeProber(Self.budgets).probe(try target(user: "nobody_here"))
        #expect(result.failure?.kind == .loginRejected)
        #expect(["28P01", "28000"].contains(result.failure?.sqlState))
        #expect(result.failure?.message.contains("nobody_here") == true)
    }

    @Test("a role without LOGIN is rejected with 28000")
    func noLoginRole() async throws {
        try await postgres.superuserSQL("""
            DO $$ BEGIN CREATE ROLE probe_nologin NOLOGIN PASSWORD 'nologin-pw'; \
            EXCEPTION WHEN duplicate_object THEN NULL; END $$
            """)
        let result = await makeProber(Self.budgets).probe(try target(user: "probe_nologin", password: "nologin-pw"))
        #expect(result.failure?.kind == .loginRejected)
        #expect(result.failure?.sqlState == "28000")
        #expect(result.failure?.hint.contains("LOGIN") == true)
    }

    @Test("a missing database fails with 3D000")
    func missingDatabase() async throws {
        let result = await makeProber(Self.budgets).probe(try target(database: "no_such_db"))
        #expect(result.failure?.kind == .databaseMissing)
        #expect(result.failure?.sqlState == "3D000")
        #expect(result.failure?.hint.contains("no_such_db") == true)
    }

    @Test("a missing or empty password file fails at login without logging in")
    func passwordFile() async throws {
        let missing = ProbeTarget(host: postgres.host, port: postgres.port,
                                  credentials: ProbeCredentials(user: postgres.user, passwordFile: dir.file("absent")))
        let result = await makeProber(Self.budgets).probe(missing)
        #expect(result.stage == .login)
        #expect(result.failure?.kind == .passwordFileUnreadable)
        #expect(result.failure?.message.contains(dir.file("absent")) == true)
        #expect(result.failure?.hint.contains(dir.file("absent")) == true)
        #expect(result.latencyMs[.login] != nil)

        let empty = ProbeTarget(host: postgres.host, port: postgres.port,
                                credentials: ProbeCredentials(user: postgres.user, passwordFile: try dir.write("empty", "\n")))
        let emptyResult = await makeProber(Self.budgets).probe(empty)
        #expect(emptyResult.failure?.kind == .passwordFileUnreadable)
        #expect(emptyResult.failure?.message.contains("empty") == true)
    }

    @Test("the password is read at probe time, so a rotated file takes effect")
    func rotation() async throws {
        let file = try dir.write("rotating", "stale\n")
        let target = ProbeTarget(host: postgres.host, port: postgres.port,
                                 credentials: ProbeCredentials(user: postgres.user, passwordFile: file))
        let prober = makeProber(Self.budgets)
        #expect(await prober.probe(target).failure?.kind == .loginRejected)
        try dir.write("rotating", postgres.password + "\n")
        #expect(await prober.probe(target).ok)
    }
}
