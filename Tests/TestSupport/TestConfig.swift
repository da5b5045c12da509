import Foundation

/// Builds valid configuration documents for tests, pointing all state into a temporary directory.
public struct TestConfig: Sendable {
    public var directory: String
    public var regions: [String] = ["us-east-1"]
    public var extra: [String: String] = [:]

    public init(directory: String, regions: [String] = ["us-east-1"]) {
        self.directory = directory
        self.regions = regions
    }

    public var stateDatabase: String { directory + "/state/state.sqlite3" }
    public var healthLog: String { directory + "/log/health.jsonl" }

    /// The JSON text; `extra` adds or replaces top-level keys with raw JSON values.
    public var json: String {
        let regionEntries = regions.map { region in
            """
            "\(region)": {
              "vpcId": "vpc-0123456789abcdef0",
              "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
              "securityGroupIds": ["sg-0123456789abcdef0"],
              "ipAddressType": "ipv4",
              "privateDnsEnabled": true
            }
            """
        }.joined(separator: ",\n")
        var top: [(String, String)] = [
            ("stateDatabase", "\"\(stateDatabase)\""),
            ("healthLog", "\"\(healthLog)\""),
            ("pollIntervalSeconds", "60"),
            ("probeIntervalSeconds", "60"),
            ("regions", "{\n\(regionEntries)\n}"),
            ("probe", "{\"timeoutSeconds\": 5, \"concurrency\": 32}"),
            ("unmatchedInvitations", "\"ignore\""),
        ]
        // A `state` section (PostgreSQL) replaces the SQLite file: the two may not be given together.
        if extra["state"] != nil { top.removeAll { $0.0 == "stateDatabase" } }
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) {
            if let index = top.firstIndex(where: { $0.0 == key }) { top[index].1 = value } else { top.append((key, value)) }
        }
        return "{\n" + top.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes the document as `config.json` in the directory and returns its path.
    @discardableResult
    public func write(name: String = "config.json") throws -> String {
        let path = directory + "/" + name
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// A syntactically valid resource configuration ARN for tests: account and 17-hex id derived from `n`.
public func testARN(_ n: Int, region: String = "us-east-1", account: String = "111122223333") -> String {
    let hex = String(n, radix: 16)
    let id = String(repeating: "0", count: 17 - hex.count) + hex
    return "arn:aws:vpc-lattice:\(region):\(account):resourceconfiguration/rcfg-\(id)"
}
