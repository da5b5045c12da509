import Foundation
import Glibc
import LatticeSimulator
import Testing
import TestSupport

extension DaemonEndToEnd {
/// A real Prometheus (Debian's package) on loopback scrapes a running daemon every second: the
/// unhealthy-customer expression selects exactly the customer whose database is down and clears when it
/// is back, and every expression of the alert rules and of the dashboard evaluates without error.
@Suite struct PrometheusEndToEndTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let prometheus = "/usr/bin/prometheus"

    @Test func theUnhealthyExpressionFollowsTheDatabaseAndEveryExpressionEvaluates() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.prometheus), "prometheus is missing: run Scripts/install-deps.sh")
        let postgres = try await ThrowawayPostgres.shared()
        let (metricsPort, prometheusPort, downPort) = (try freeLoopbackPort(), try freeLoopbackPort(), try freeLoopbackPort())
        let harness = try await DaemonHarness(pollIntervalSeconds: 2, extra: [
            "metrics": "{\"listen\": \"127.0.0.1:\(metricsPort)\"}", "probeIntervalSeconds": "1", "probe": "{\"timeoutSeconds\": 5}"])
        defer { Task { await harness.shutdown() } }
        for (name, arn, port) in [("up", testARN(81), postgres.port), ("down", testARN(82), downPort)] {
            harness.simulator.addInvitation(sender: "111122223333", shareName: name, resources: [SharedResource(arn: arn)])
            harness.simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: arn, portRanges: [String(port)]))
            #expect(try await harness.cli(["customer", "add", name, "--arn", arn, "--port", String(port)]).status == 0)
        }
        let daemon = try harness.startDaemon()

        let dir = TemporaryDirectory()
        let config = try dir.write("prometheus.yml", """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            rule_files: ["\(Self.root.appendingPathComponent("Deploy/prometheus/alerts.yml").path)"]
            scrape_configs:
              - job_name: privatelink-consumer
                static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]
            """)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.prometheus)
        server.arguments = ["--config.file=\(config)", "--storage.tsdb.path=\(dir.file("data"))",
                            "--web.listen-address=127.0.0.1:\(prometheusPort)", "--log.level=warn"]
        FileManager.default.createFile(atPath: dir.file("prometheus.log"), contents: nil)
        let log = FileHandle(forWritingAtPath: dir.file("prometheus.log"))
        server.standardOutput = log
        server.standardError = log
        try server.run()
        func stopEverything() async {
            for process in [server, daemon] where process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                if await waitForExit(process, timeout: .seconds(10)) == nil { kill(process.processIdentifier, SIGKILL) }
            }
        }
        func prometheusLog() -> String { (try? String(contentsOfFile: dir.file("prometheus.log"), encoding: .utf8)) ?? "" }

        func query(_ expression: String) async throws -> (status: String, result: [[String: Any]]) {
            let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let reply = try await httpGet(port: prometheusPort, path: "/api/v1/query?query=\(encoded)")
            let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any] ?? [:]
            let data = object["data"] as? [String: Any] ?? [:]
            return (object["status"] as? String ?? "error: \(reply.body)", data["result"] as? [[String: Any]] ?? [])
        }
        func customers(_ expression: String) async -> Set<String> {
            let result = (try? await query(expression).result) ?? []
            return Set(result.compactMap { ($0["metric"] as? [String: String])?["customer"] })
        }

        do {
            try await harness.waitUntil(timeout: .seconds(60), "Prometheus sees the down customer unhealthy and only it") {
                guard server.isRunning else { throw HarnessError("prometheus exited: \(prometheusLog())") }
                let unhealthy = await customers("privatelink_consumer_customer_healthy == 0")
                let healthy = await customers("privatelink_consumer_customer_healthy == 1")
                return unhealthy == ["down"] && healthy == ["up"]
            }

            // Its database comes back (something answering PostgreSQL's SSLRequest on its port): the expression clears.
            let responder = try SSLRequestAnswerer(port: downPort)
            defer { responder.stop() }
            try await harness.waitUntil(timeout: .seconds(60), "the unhealthy expression clears") {
                let unhealthy = await customers("privatelink_consumer_customer_healthy == 0")
                let healthy = await customers("privatelink_consumer_customer_healthy == 1")
                return unhealthy.isEmpty && healthy == ["down", "up"]
            }

            // Every expression of the rules and of the dashboard evaluates without error.
            let rules = try await httpGet(port: prometheusPort, path: "/api/v1/rules")
            #expect(rules.body.contains("\"health\":\"ok\""), "\(rules.body.prefix(400))")
            #expect(!rules.body.contains("\"health\":\"err\""), "\(rules.body.prefix(2000))")
            let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent("Deploy/grafana/privatelink-consumer.json"))) as? [String: Any]
            let expressions = (dashboard?["panels"] as? [[String: Any]] ?? [])
                .flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
            #expect(expressions.count >= 6)
            for expression in expressions {
                let answer = try await query(expression)
                #expect(answer.status == "success", "\(expression): \(answer.status)")
            }
            #expect(try await query("privatelink_consumer_customer_state{state=\"ready\"}").result.count == 2)
            // Ready and healthy: `explain` exits 0 and says there is nothing to do.
            try await harness.waitUntil(timeout: .seconds(20), "explain up exits 0") { try await harness.cli(["explain", "up"]).status == 0 }
            #expect(try await harness.cli(["explain", "up"]).stdout.contains("→ nothing to do"))
        } catch {
            await stopEverything()
            throw error
        }
        await stopEverything()
        withExtendedLifetime(dir) {}
    }
}
}

/// Answers PostgreSQL's SSLRequest with `N` on 127.0.0.1:port, as a database that does not offer TLS.
final class SSLRequestAnswerer: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let socket = fd
        let bound = withLoopbackAddress(port: port) { bind(socket, $0, $1) == 0 }
        guard bound, listen(fd, 16) == 0 else {
            close(fd)
            throw HarnessError("cannot listen on 127.0.0.1:\(port)")
        }
        let listener = fd
        Thread {
            defer { close(listener) }
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                var timeout = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var request = [UInt8](repeating: 0, count: 8)
                _ = recv(client, &request, 8, Int32(MSG_WAITALL))
                _ = send(client, "N", 1, Int32(MSG_NOSIGNAL))
                // PostgreSQL would now wait for a StartupMessage; the probe without login hangs up.
                var rest = [UInt8](repeating: 0, count: 64)
                _ = recv(client, &rest, rest.count, 0)
                close(client)
            }
        }.start()
    }

    /// Wakes the accepting thread, which closes the socket as it ends (never closed under its feet).
    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
    }
}
