import PostgresProbe
import Testing
import TestSupport

@Suite("The password never leaves its file", .calmPool)
struct ProbeRedactionTests {
    @Test("no description, failure or log line contains the password")
    func redaction() async throws {
        let postgres = try await ThrowawayPostgres.shared()
        let dir = TemporaryDirectory("plc-redact")
        let wrong = "wr0ng-Secret-\(UInt32.random(in: 0...UInt32.max))"
        let logs = LogCollector()
        // Generous budgets: this test is about what the output contains, not about time, and the
        // parallel suite's first seconds can hold a 2 s stage budget up (CI once failed the right
        // password that way).
        let prober = makeProber(ProbeTimeouts(uniform: .seconds(15)), logger: logs.logger(level: .trace))

        var outputs: [String] = []
        for (name, password) in [("right", postgres.password), ("wrong", wrong)] {
            let credentials = ProbeCredentials(user: postgres.user, passwordFile: try dir.write(name, password + "\n"))
            let result = await prober.probe(ProbeTarget(host: postgres.host, port: postgres.port, credentials: credentials))
            #expect(result.ok == (name == "right"), "\(name) password: \(result.failure?.message ?? "ok")")
            outputs += [String(describing: credentials), String(reflecting: credentials),
                        String(describing: result), String(reflecting: result),
                        String(describing: result.failure), result.failure?.message ?? "", result.failure?.hint ?? ""]
        }
        #expect(!logs.all.isEmpty)
        for secret in [postgres.password, wrong] {
            for text in outputs + logs.all {
                #expect(!text.contains(secret), "the password leaked into: \(text.prefix(200))")
            }
        }
    }
}
