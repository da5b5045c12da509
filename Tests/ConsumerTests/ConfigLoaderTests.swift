import Foundation
import Testing
import TestSupport
@testable import Consumer
import ConsumerStore

@Suite struct ConfigLoaderTests {
    static let region = """
        {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
         "securityGroupIds": ["sg-0123456789abcdef0"], "ipAddressType": "ipv4", "privateDnsEnabled": true}
        """

    func parse(_ text: String) throws(ConfigError) -> ConsumerConfig {
        try ConfigLoader.parse(Data(text.utf8), source: "/etc/plc/config.json")
    }

    /// Replaces one region key's value in an otherwise valid document.
    static func withRegion(_ key: String, _ value: String) -> String {
        var object = region.trimmingCharacters(in: .whitespacesAndNewlines)
        if let range = object.range(of: "\"\(key)\": ") {
            let rest = object[range.upperBound...]
            var depth = 0
            var end = rest.startIndex
            for index in rest.indices {
                let c = rest[index]
                if c == "[" || c == "{" { depth += 1 }
                if c == "]" || c == "}" { if depth == 0 { end = index; break }; depth -= 1 }
                if c == "," && depth == 0 { end = index; break }
            }
            object.replaceSubrange(range.upperBound..<end, with: value)
        } else {
            object.insert(contentsOf: "\"\(key)\": \(value), ", at: object.index(after: object.startIndex))
        }
        return "{\"regions\": {\"us-east-1\": \(object)}}"
    }

    static let postgres = """
        {"host": "db.internal", "port": 5433, "database": "plc", "user": "plc", "passwordFile": "secrets/pg", \
        "tls": "verify-full", "caFile": "/etc/ssl/rds.pem", "leaseSeconds": 20}
        """

    static func withState(_ state: String, extra: String = "") -> String {
        "{\(extra)\"state\": \(state), \"regions\": {\"us-east-1\": \(region)}}"
    }

    @Test func aPostgresStateIsReadWithEveryKey() throws {
        let config = try parse(Self.withState("{\"backend\": \"postgres\", \"postgres\": \(Self.postgres)}"))
        #expect(config.state == .postgres(PostgresStateConfig(host: "db.internal", port: 5433, database: "plc", user: "plc",
                                                             passwordFile: "/etc/plc/secrets/pg", tls: .verifyFull,
                                                             caFile: "/etc/ssl/rds.pem", leaseSeconds: 20)))
        #expect(config.stateDatabase == nil)
        #expect(CheckConfigCommand.summary(of: config).contains("postgres://plc@db.internal:5433/plc (PostgreSQL, tls verify-full, lease 20 s)"))
        let defaults = try parse(Self.withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db\", \"database\": \"plc\", \"user\": \"plc\"}}"))
        #expect(defaults.state == .postgres(PostgresStateConfig(host: "db", database: "plc", user: "plc")))
        guard case .postgres(let postgres) = defaults.state else { return }
        #expect(postgres.port == 5432 && postgres.tls == .verifyFull && postgres.leaseSeconds == 15 && postgres.passwordFile == nil)
        let sqlite = try parse(Self.withState("{\"backend\": \"sqlite\"}"))
        #expect(sqlite.stateDatabase == "/var/lib/privatelink-consumer/state.sqlite3")
    }

    @Test func theExampleConfigLoads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config.example.json")
        let config = try ConfigLoader.load(path: url.standardizedFileURL.path)
        #expect(config.regions["us-east-1"]?.first.subnetIds.count == 2)
        #expect(config.metrics == MetricsConfig(host: "127.0.0.1", port: 9464))
        #expect(config.unmatchedInvitations == .ignore)
        #expect(config.checks.resourceConfigurationHours == 6)
    }

    @Test func minimalDocumentGetsDefaults() throws {
        let config = try parse("{\"regions\": {\"us-east-1\": \(Self.region)}}")
        #expect(config.stateDatabase == "/var/lib/privatelink-consumer/state.sqlite3")
        #expect(config.healthLog == "/var/log/privatelink-consumer/health.jsonl")
        #expect(config.pollIntervalSeconds == 60)
        #expect(config.probe == ProbeConfig(timeoutSeconds: 5, concurrency: 32))
        #expect(config.metrics == nil)
        #expect(config.regions["us-east-1"]?.ipAddressType == .ipv4)
    }

    @Test func relativePathsAreResolvedAgainstTheConfigDirectory() throws {
        let config = try parse("{\"stateDatabase\": \"state/db.sqlite3\", \"healthLog\": \"../log/h.jsonl\", \"regions\": {\"us-east-1\": \(Self.region)}}")
        #expect(config.stateDatabase == "/etc/plc/state/db.sqlite3")
        #expect(config.healthLog == "/etc/log/h.jsonl")
    }

    @Test(arguments: [
        ("dualstack", IPAddressType.dualstack), ("ipv6", .ipv6), ("ipv4", .ipv4),
    ])
    func ipAddressTypes(_ text: String, _ expected: IPAddressType) throws {
        #expect(try parse(Self.withRegion("ipAddressType", "\"\(text)\"")).regions["us-east-1"]?.ipAddressType == expected)
    }

    @Test(arguments: [
        // (document, expected one-line message)
        ("{", "not valid JSON"),
        ("[]", "must be an object, not an array"),
        ("{}", "regions: is required"),
        ("{\"regions\": {}}", "regions: is empty"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"frobnicate\": 1}", "frobnicate: unknown key"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"pollIntervalSeconds\": 0}", "pollIntervalSeconds: 0 must be greater than 0"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"pollIntervalSeconds\": -5}", "pollIntervalSeconds: -5 must be greater than 0"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"probeIntervalSeconds\": \"60\"}", "probeIntervalSeconds: must be a number of seconds, not a string"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"unmatchedInvitations\": \"accept\"}", "unmatchedInvitations: \"accept\" is not allowed; use \"ignore\" or \"reject\""),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"probe\": {\"timeoutSeconds\": 0}}", "probe.timeoutSeconds: 0 must be greater than 0"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"probe\": {\"concurrency\": 2.5}}", "probe.concurrency: must be a whole number, not 2.5"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"probe\": {\"concurrency\": 0}}", "probe.concurrency: 0 is out of range"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"probe\": {\"retries\": 3}}", "probe.retries: unknown key"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"checks\": {\"resourceConfigurationHours\": 0}}", "checks.resourceConfigurationHours: 0 is out of range"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"checks\": {\"everyHours\": 6}}", "checks.everyHours: unknown key"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"metrics\": {\"listen\": \"9464\"}}", "metrics.listen: \"9464\" is not HOST:PORT"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"metrics\": {\"listen\": \"127.0.0.1:99999\"}}", "metrics.listen: \"127.0.0.1:99999\" is not HOST:PORT"),
        ("{\"regions\": {\"us-east-1\": \(region)}, \"stateDatabase\": 5}", "stateDatabase: must be a file path string, not a number"),
        ("{\"regions\": {\"useast1\": \(region)}}", "regions.useast1: \"useast1\" is not an AWS region name"),
        ("{\"regions\": {\"us-east-1\": []}}", "regions.us-east-1: must be an object, not an array"),
        (withRegion("vpcId", "\"vpc-XYZ\""), "regions.us-east-1.vpcId: \"vpc-XYZ\" is not a VPC id"),
        (withRegion("vpcId", "\"subnet-0aaaaaaaaaaaaaaaa\""), "regions.us-east-1.vpcId: \"subnet-0aaaaaaaaaaaaaaaa\" is not a VPC id"),
        (withRegion("subnetIds", "[\"subnet-0aaaaaaaaaaaaaaaa\", \"subnet-XYZ!\"]"), "regions.us-east-1.subnetIds[1]: \"subnet-XYZ!\" is not a subnet id"),
        (withRegion("subnetIds", "[\"subnet-0aaaaaaaaaaaaaaaa\"]"), "regions.us-east-1.subnetIds: has 1 subnet id; list 2 to 16"),
        (withRegion("subnetIds", "[\"subnet-0aaaaaaaaaaaaaaaa\", \"subnet-0aaaaaaaaaaaaaaaa\"]"), "regions.us-east-1.subnetIds[1]: \"subnet-0aaaaaaaaaaaaaaaa\" is listed twice"),
        (withRegion("subnetIds", "\"subnet-0aaaaaaaaaaaaaaaa\""), "regions.us-east-1.subnetIds: must be an array of subnet ids, not a string"),
        (withRegion("securityGroupIds", "[]"), "regions.us-east-1.securityGroupIds: has 0 security group ids; list 1 to 5"),
        (withRegion("securityGroupIds", "[\"sg-123\"]"), "regions.us-east-1.securityGroupIds[0]: \"sg-123\" is not a security group id"),
        (withRegion("ipAddressType", "\"ipv5\""), "regions.us-east-1.ipAddressType: \"ipv5\" is not allowed; use \"ipv4\" or \"dualstack\" or \"ipv6\""),
        (withRegion("privateDnsEnabled", "\"yes\""), "regions.us-east-1.privateDnsEnabled: must be true or false, not \"yes\""),
        (withRegion("privateDnsEnabled", "1"), "regions.us-east-1.privateDnsEnabled: must be true or false, not 1"),
        (withRegion("routeTableIds", "[]"), "regions.us-east-1.routeTableIds: unknown key"),
        ("{\"regions\": {\"us-east-1\": {\"subnetIds\": [\"subnet-0aaaaaaaaaaaaaaaa\", \"subnet-0bbbbbbbbbbbbbbbb\"], \"securityGroupIds\": [\"sg-0123456789abcdef0\"]}}}", "regions.us-east-1.vpcId: is required"),
        (withState("{\"backend\": \"mysql\"}"), "state.backend: \"mysql\" is not allowed; use \"sqlite\" or \"postgres\""),
        (withState("{\"backend\": \"postgres\"}"), "state.postgres: is required"),
        (withState("{\"backend\": \"sqlite\", \"postgres\": {}}"), "state.postgres: is only for \"backend\": \"postgres\""),
        (withState("{\"backend\": \"postgres\", \"postgres\": \(postgres)}", extra: "\"stateDatabase\": \"/x.sqlite3\", "),
         "stateDatabase: must be absent when state.backend is \"postgres\""),
        (withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db\", \"database\": \"plc\"}}"), "state.postgres.user: is required"),
        (withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db/x\", \"database\": \"plc\", \"user\": \"plc\"}}"),
         "state.postgres.host: \"db/x\" is not a host name or IP address"),
        (withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db\", \"database\": \"plc\", \"user\": \"plc\", \"port\": 0}}"),
         "state.postgres.port: 0 is out of range; use 1-65535"),
        (withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db\", \"database\": \"plc\", \"user\": \"plc\", \"tls\": \"prefer\"}}"),
         "state.postgres.tls: \"prefer\" is not allowed; use \"disable\" or \"require\" or \"verify-full\""),
        (withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db\", \"database\": \"plc\", \"user\": \"plc\", \"tls\": \"disable\", \"caFile\": \"/ca.pem\"}}"),
         "state.postgres.caFile: is only used with TLS"),
        (withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db\", \"database\": \"plc\", \"user\": \"plc\", \"leaseSeconds\": 2}}"),
         "state.postgres.leaseSeconds: 2 is out of range; use 5-300"),
        (withState("{\"backend\": \"postgres\", \"postgres\": {\"host\": \"db\", \"database\": \"plc\", \"user\": \"plc\", \"password\": \"x\"}}"),
         "state.postgres.password: unknown key"),
    ])
    func refuses(_ document: String, _ expected: String) {
        do {
            let config = try parse(document)
            Issue.record("accepted: \(config)")
        } catch {
            let lines = error.description.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("/etc/plc/config.json: ") && $0.contains(expected) },
                    "expected \(expected) in:\n\(error.description)")
            #expect(error.problems.allSatisfy { !$0.description.contains("\n") })
        }
    }

    @Test func everyProblemIsReportedOnItsOwnLine() {
        let document = "{\"pollIntervalSeconds\": 0, \"probeIntervalSeconds\": -1, \"regions\": {\"us-east-1\": \(Self.region)}, \"x\": 1}"
        #expect(throws: ConfigError.self) { try parse(document) }
        do { _ = try parse(document) } catch {
            #expect(error.problems.map(\.path).sorted() == ["pollIntervalSeconds", "probeIntervalSeconds", "x"])
        }
    }

    @Test func pathResolutionOrder() {
        #expect(ConfigLoader.resolvePath(option: "/a.json", environment: ["PRIVATELINK_CONSUMER_CONFIG": "/b.json"]) == "/a.json")
        #expect(ConfigLoader.resolvePath(option: nil, environment: ["PRIVATELINK_CONSUMER_CONFIG": "/b.json"]) == "/b.json")
        #expect(ConfigLoader.resolvePath(option: nil, environment: [:]) == "/etc/privatelink-consumer/config.json")
    }

    @Test func missingFileNamesTheWaysToPointAtOne() {
        let dir = TemporaryDirectory()
        do {
            _ = try ConfigLoader.load(path: dir.file("nope.json"))
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.description.contains("does not exist"))
            #expect(error.description.contains("--config"))
            #expect(error.description.contains("PRIVATELINK_CONSUMER_CONFIG"))
        }
    }

    @Test(arguments: [("127.0.0.1:9464", "127.0.0.1", 9464), ("[::1]:80", "::1", 80), ("localhost:1", "localhost", 1)])
    func listenAddresses(_ text: String, _ host: String, _ port: Int) {
        #expect(ConfigValidator.parseListen(text) == MetricsConfig(host: host, port: port))
    }
}
