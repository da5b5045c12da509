@testable import PostgresProbe
import Testing

@Suite("Failure kinds and hints")
struct ProbeFailureTests {
    let target = ProbeTarget(host: "vpce-1.example", port: 5439,
                             credentials: ProbeCredentials(user: "polytomic", passwordFile: "/etc/plc/pw", database: "app"))

    @Test("every kind has an actionable hint of its own", arguments: ProbeFailure.Kind.all)
    func hints(kind: ProbeFailure.Kind) {
        let hint = ProbeFailure.hint(for: kind, target: target, sqlState: nil)
        #expect(hint.count > 40)
        #expect(hint != ProbeFailure.genericHint)
    }

    @Test("kind names are unique and stable")
    func names() {
        #expect(Set(ProbeFailure.Kind.all.map(\.name)).count == ProbeFailure.Kind.all.count)
        #expect(ProbeFailure.Kind.connectTimeout.name == "connectTimeout")
        #expect("\(ProbeFailure.Kind.notPostgres)" == "notPostgres")
    }

    @Test("hints name the customer's setup step and port")
    func setupSteps() {
        let timeout = ProbeFailure.hint(for: .connectTimeout, target: target, sqlState: nil)
        #expect(timeout.contains("step 3") && timeout.contains("step 1") && timeout.contains("5439"))
        #expect(ProbeFailure.hint(for: .notPostgres, target: target, sqlState: nil).contains("DNS resource"))
        #expect(ProbeFailure.hint(for: .connectRefused, target: target, sqlState: nil).contains("step 4"))
    }

    @Test("login hints follow the SQLSTATE", arguments: [
        ("28P01", "ALTER ROLE polytomic"), ("28000", "LOGIN"), ("53300", "max_connections"), ("42501", "GRANT CONNECT"),
    ])
    func sqlStates(sqlState: String, fix: String) {
        let kind: ProbeFailure.Kind = sqlState.hasPrefix("28") ? .loginRejected : .loginFailed
        #expect(ProbeFailure.hint(for: kind, target: target, sqlState: sqlState).contains(fix))
        #expect(ProbeFailure.hint(for: .databaseMissing, target: target, sqlState: "3D000").contains("\"app\""))
    }

    @Test("credentials describe the file, not the password")
    func credentialsDescription() {
        #expect("\(target.credentials!)" == "ProbeCredentials(user: polytomic, passwordFile: /etc/plc/pw, database: app)")
    }

    @Test("durations and replies render briefly")
    func rendering() {
        #expect(Duration.seconds(5).probeText == "5 s")
        #expect(Duration.milliseconds(1500).probeText == "1.5 s")
        #expect(Duration.milliseconds(250).probeText == "250 ms")
        #expect(PostgresProber.render(Array("HTTP/1.1 400\r\n".utf8)) == "\"HTTP/1.1 400\\r\\n\"")
        #expect(PostgresProber.render([0x00, 0xFF]) == "0x00ff")
    }
}
