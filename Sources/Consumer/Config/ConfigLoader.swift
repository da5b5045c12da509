import ConsumerStore
import Foundation

/// Finds, reads and validates the configuration file.
public enum ConfigLoader {
    /// Larger than any sane configuration; a bigger file is refused unread.
    static let maxBytes = 1 << 20

    /// The path to load: `--config`, else `$PRIVATELINK_CONSUMER_CONFIG`, else the default.
    public static func resolvePath(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let option, !option.isEmpty { return option }
        if let path = environment[ConsumerConfig.environmentVariable], !path.isEmpty { return path }
        return ConsumerConfig.defaultPath
    }

    /// Reads and validates the file at `path`.
    public static func load(path: String) throws(ConfigError) -> ConsumerConfig {
        func refuse(_ message: String) -> ConfigError {
            ConfigError(source: path, problems: [.init(path: "", message: message)])
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "is not readable (check its permissions)" : "does not exist"
            throw refuse("\(reason); pass --config PATH or set \(ConsumerConfig.environmentVariable) (see config.example.json)")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            throw refuse("cannot be read: \(error.localizedDescription)")
        }
        if data.count > maxBytes { throw refuse("is larger than \(maxBytes) bytes; is it the right file?") }
        return try parse(data, source: path)
    }

    /// Validates a configuration document. Relative paths in it are resolved against `source`'s directory.
    public static func parse(_ data: Data, source: String) throws(ConfigError) -> ConsumerConfig {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ConfigError(source: source, problems: [.init(path: "", message: "not valid JSON: \(jsonErrorSummary(error))")])
        }
        var validator = ConfigValidator(baseDirectory: URL(fileURLWithPath: source).deletingLastPathComponent().path)
        let config = validator.config(document, source: source)
        guard validator.problems.isEmpty, let config else {
            throw ConfigError(source: source, problems: validator.problems)
        }
        return config
    }

    private static func jsonErrorSummary(_ error: any Error) -> String {
        guard case DecodingError.dataCorrupted(let context) = error else { return "\(error)" }
        var text = context.debugDescription
        if let underlying = context.underlyingError {
            let detail = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(underlying)"
            text = detail
        }
        return text.replacingOccurrences(of: "\n", with: " ")
    }
}

/// Walks a JSON document, collecting every problem with its key path.
struct ConfigValidator {
    let baseDirectory: String
    var problems: [ConfigError.Problem] = []

    mutating func problem(_ path: String, _ message: String) {
        problems.append(.init(path: path, message: message))
    }

    mutating func config(_ document: JSONValue, source: String) -> ConsumerConfig? {
        guard let object = object(document, at: "", allowed: ["stateDatabase", "healthLog", "pollIntervalSeconds",
                                                              "probeIntervalSeconds", "regions", "probe",
                                                              "unmatchedInvitations", "metrics", "ec2Pacing",
                                                              "healthLogRotation", "retention", "checks", "state",
                                                              "deployment"]) else { return nil }
        let state = state(object["state"], stateDatabase: object["stateDatabase"])
        let healthLog = path(object["healthLog"], at: "healthLog", default: "/var/log/privatelink-consumer/health.jsonl")
        let poll = seconds(object["pollIntervalSeconds"], at: "pollIntervalSeconds", default: 60, max: 86_400)
        let probeInterval = seconds(object["probeIntervalSeconds"], at: "probeIntervalSeconds", default: 60, max: 86_400)
        let regions = regions(object["regions"])
        let probe = probe(object["probe"])
        let policy = enumeration(object["unmatchedInvitations"], at: "unmatchedInvitations",
                                 default: UnmatchedInvitationPolicy.ignore)
        let metrics = metrics(object["metrics"])
        let pacing = ec2Pacing(object["ec2Pacing"])
        let rotation = healthLogRotation(object["healthLogRotation"])
        let retention = retention(object["retention"])
        let checks = checks(object["checks"])
        let deployment = text(object["deployment"], at: "deployment",
                              what: "a deployment name (1-32 of a-z, 0-9 and -, starting with a letter or digit, e.g. \"prod\")",
                              valid: EndpointTags.isDeploymentName)
        if object["deployment"] != nil && deployment == nil { return nil }
        guard let state, let healthLog, let poll, let probeInterval, let regions, let probe, let policy,
              problems.isEmpty else { return nil }
        return ConsumerConfig(source: source, state: state, healthLog: healthLog,
                              pollIntervalSeconds: poll, probeIntervalSeconds: probeInterval, regions: regions,
                              probe: probe, unmatchedInvitations: policy, metrics: metrics ?? nil,
                              ec2Pacing: pacing ?? EC2Pacing(), healthLogRotation: rotation ?? HealthLogRotation(),
                              retention: retention ?? Retention(), checks: checks ?? Checks(),
                              deployment: deployment ?? EndpointTags.defaultDeployment)
    }

    // MARK: Sections

    /// `stateDatabase` (SQLite, the default), or `state` with `"backend": "postgres"` and its connection.
    mutating func state(_ value: JSONValue?, stateDatabase: JSONValue?) -> StateLocation? {
        let sqlite = { (validator: inout ConfigValidator) -> StateLocation? in
            validator.path(stateDatabase, at: "stateDatabase", default: "/var/lib/privatelink-consumer/state.sqlite3").map { .sqlite(path: $0) }
        }
        guard let value else { return sqlite(&self) }
        guard let object = object(value, at: "state", allowed: ["backend", "postgres"]) else { return nil }
        guard let backend = enumeration(object["backend"], at: "state.backend", default: StateBackendName.sqlite) else { return nil }
        switch backend {
        case .sqlite:
            if object["postgres"] != nil {
                problem("state.postgres", "is only for \"backend\": \"postgres\"; remove it or set state.backend to \"postgres\"")
                return nil
            }
            return sqlite(&self)
        case .postgres:
            if stateDatabase != nil {
                problem("stateDatabase", "must be absent when state.backend is \"postgres\" (the state lives in PostgreSQL); remove it")
            }
            guard let connection = required(object, "postgres", at: "state") else { return nil }
            return postgres(connection).map { .postgres($0) }
        }
    }

    mutating func postgres(_ value: JSONValue) -> PostgresStateConfig? {
        let at = "state.postgres"
        guard let object = object(value, at: at, allowed: ["host", "port", "database", "user", "passwordFile", "tls",
                                                           "caFile", "leaseSeconds"]) else { return nil }
        let host = text(required(object, "host", at: at), at: "\(at).host", what: "a host name or IP address such as \"db.example.internal\"",
                        valid: PostgresStateConfig.isValidHost)
        let port = integer(object["port"], at: "\(at).port", default: 5432, range: 1...65535)
        let database = text(required(object, "database", at: at), at: "\(at).database", what: "a database name (1-63 characters)",
                            valid: PostgresStateConfig.isValidIdentifier)
        let user = text(required(object, "user", at: at), at: "\(at).user", what: "a role name (1-63 characters)",
                        valid: PostgresStateConfig.isValidIdentifier)
        let passwordFile: String?? = object["passwordFile"] == nil ? .some(nil) : path(object["passwordFile"], at: "\(at).passwordFile", default: "").map { .some($0) }
        let tls = enumeration(object["tls"], at: "\(at).tls", default: PostgresStateConfig.TLSMode.verifyFull)
        let caFile: String?? = object["caFile"] == nil ? .some(nil) : path(object["caFile"], at: "\(at).caFile", default: "").map { .some($0) }
        let lease = integer(object["leaseSeconds"], at: "\(at).leaseSeconds", default: 15, range: 5...300)
        guard let host, let port, let database, let user, let passwordFile, let tls, let caFile, let lease else { return nil }
        if tls == .disable, caFile != nil {
            problem("\(at).caFile", "is only used with TLS; set \(at).tls to \"verify-full\" (or remove caFile)")
            return nil
        }
        return PostgresStateConfig(host: host, port: port, database: database, user: user, passwordFile: passwordFile,
                                   tls: tls, caFile: caFile, leaseSeconds: lease)
    }

    mutating func regions(_ value: JSONValue?) -> [String: RegionConfig]? {
        guard let value else {
            problem("regions", "is required: one entry per AWS region where customers share from (see config.example.json)")
            return nil
        }
        guard let object = object(value, at: "regions", allowed: nil) else { return nil }
        if object.isEmpty {
            problem("regions", "is empty; configure at least one region")
            return nil
        }
        var result: [String: RegionConfig] = [:]
        for name in object.keys.sorted() {
            let at = "regions.\(name)"
            guard isRegionName(name) else {
                problem(at, "\(JSONValue.quote(name)) is not an AWS region name (e.g. us-east-1)")
                continue
            }
            if let region = region(object[name]!, at: at) { result[name] = region }
        }
        return result.count == object.count ? result : nil
    }

    mutating func region(_ value: JSONValue, at path: String) -> RegionConfig? {
        let single = ["vpcId", "subnetIds", "securityGroupIds"]
        guard let object = object(value, at: path, allowed: Set(single + ["vpcs", "ipAddressType", "privateDnsEnabled"])) else { return nil }
        let ipType = enumeration(object["ipAddressType"], at: "\(path).ipAddressType", default: IPAddressType.ipv4)
        let privateDns = bool(object["privateDnsEnabled"], at: "\(path).privateDnsEnabled", default: true)
        let givenSingle = single.filter { object[$0] != nil }
        let pool: [VpcPlacement]?
        if let vpcs = object["vpcs"] {
            guard givenSingle.isEmpty else {
                problem(path, "has both vpcs and \(givenSingle.joined(separator: ", ")): give either a pool (vpcs) or one VPC "
                        + "(vpcId, subnetIds, securityGroupIds), not both")
                return nil
            }
            pool = self.pool(vpcs, at: "\(path).vpcs")
        } else {
            pool = placement(object, at: path, allowed: nil).map { [$0] }
        }
        guard let pool, let ipType, let privateDns else { return nil }
        return RegionConfig(vpcs: pool, ipAddressType: ipType, privateDnsEnabled: privateDns)
    }

    /// `vpcs`: at least one VPC, none twice, in placement order.
    mutating func pool(_ value: JSONValue, at path: String) -> [VpcPlacement]? {
        guard case .array(let items) = value else {
            problem(path, "must be an array of VPCs ({\"vpcId\", \"subnetIds\", \"securityGroupIds\", \"maxEndpoints\"?}), not \(value.typeName)")
            return nil
        }
        guard !items.isEmpty else {
            problem(path, "is empty; list at least one VPC ({\"vpcId\", \"subnetIds\", \"securityGroupIds\"})")
            return nil
        }
        var pool: [VpcPlacement] = []
        var valid = true
        for (index, item) in items.enumerated() {
            let at = "\(path)[\(index)]"
            guard let object = object(item, at: at, allowed: ["vpcId", "subnetIds", "securityGroupIds", "maxEndpoints"]),
                  let placement = placement(object, at: at, allowed: nil) else {
                valid = false
                continue
            }
            if pool.contains(where: { $0.vpcId == placement.vpcId }) {
                problem("\(at).vpcId", "\(JSONValue.quote(placement.vpcId)) is listed twice; each VPC once")
                valid = false
            }
            pool.append(placement)
        }
        return valid ? pool : nil
    }

    /// One VPC's `vpcId`, `subnetIds`, `securityGroupIds` (and, in a pool, `maxEndpoints`).
    mutating func placement(_ object: [String: JSONValue], at path: String, allowed: Set<String>?) -> VpcPlacement? {
        let vpc = resourceId(required(object, "vpcId", at: path), at: "\(path).vpcId", prefix: "vpc", noun: "VPC id")
        let subnets = idList(required(object, "subnetIds", at: path), at: "\(path).subnetIds", prefix: "subnet",
                             noun: "subnet id", minimum: 2, maximum: 16,
                             why: "a Resource endpoint needs subnets in at least 2 Availability Zones")
        let groups = idList(required(object, "securityGroupIds", at: path), at: "\(path).securityGroupIds",
                            prefix: "sg", noun: "security group id", minimum: 1, maximum: 5,
                            why: "EC2 allows 1 to 5 security groups on an endpoint")
        let max = object["maxEndpoints"] == nil ? nil
            : integer(object["maxEndpoints"], at: "\(path).maxEndpoints", default: 0, range: 1...10_000)
        if object["maxEndpoints"] != nil && max == nil { return nil }
        guard let vpc, let subnets, let groups else { return nil }
        return VpcPlacement(vpcId: vpc, subnetIds: subnets, securityGroupIds: groups, maxEndpoints: max)
    }

    mutating func probe(_ value: JSONValue?) -> ProbeConfig? {
        let defaults = ProbeConfig(timeoutSeconds: 5, concurrency: 32)
        guard let value else { return defaults }
        let stages = ["dns", "connect", "postgres", "login"]
        guard let object = object(value, at: "probe", allowed: Set(["timeoutSeconds", "concurrency"] + stages.map { "\($0)TimeoutSeconds" }))
        else { return nil }
        let timeout = seconds(object["timeoutSeconds"], at: "probe.timeoutSeconds", default: defaults.timeoutSeconds, max: 300)
        let concurrency = integer(object["concurrency"], at: "probe.concurrency", default: defaults.concurrency, range: 1...1024)
        var perStage: [Double?] = []
        for stage in stages {
            let key = "\(stage)TimeoutSeconds"
            perStage.append(object[key] == nil ? nil : seconds(object[key], at: "probe.\(key)", default: 0, max: 300))
        }
        guard let timeout, let concurrency else { return nil }
        return ProbeConfig(timeoutSeconds: timeout, concurrency: concurrency, dnsTimeoutSeconds: perStage[0],
                           connectTimeoutSeconds: perStage[1], postgresTimeoutSeconds: perStage[2], loginTimeoutSeconds: perStage[3])
    }

    mutating func healthLogRotation(_ value: JSONValue?) -> HealthLogRotation? {
        guard let value else { return HealthLogRotation() }
        guard let object = object(value, at: "healthLogRotation", allowed: ["maxBytes", "files"]) else { return nil }
        let maxBytes = integer(object["maxBytes"], at: "healthLogRotation.maxBytes", default: 10 << 20, range: 4096...(1 << 34))
        let files = integer(object["files"], at: "healthLogRotation.files", default: 5, range: 1...100)
        guard let maxBytes, let files else { return nil }
        return HealthLogRotation(maxBytes: maxBytes, files: files)
    }

    mutating func retention(_ value: JSONValue?) -> Retention? {
        guard let value else { return Retention() }
        guard let object = object(value, at: "retention", allowed: ["invitationDays", "eventDays", "eventsPerCustomer"]) else { return nil }
        let invitations = integer(object["invitationDays"], at: "retention.invitationDays", default: 30, range: 8...3650)
        let events = integer(object["eventDays"], at: "retention.eventDays", default: 400, range: 1...36500)
        let perCustomer = integer(object["eventsPerCustomer"], at: "retention.eventsPerCustomer", default: 1000, range: 10...1_000_000)
        guard let invitations, let events, let perCustomer else { return nil }
        return Retention(invitationDays: invitations, eventDays: events, eventsPerCustomer: perCustomer)
    }

    mutating func checks(_ value: JSONValue?) -> Checks? {
        guard let value else { return Checks() }
        guard let object = object(value, at: "checks", allowed: ["resourceConfigurationHours"]) else { return nil }
        guard let hours = integer(object["resourceConfigurationHours"], at: "checks.resourceConfigurationHours", default: 6, range: 1...720)
        else { return nil }
        return Checks(resourceConfigurationHours: hours)
    }

    mutating func ec2Pacing(_ value: JSONValue?) -> EC2Pacing? {
        guard let value else { return EC2Pacing() }
        guard let object = object(value, at: "ec2Pacing", allowed: ["burst", "refillPerSecond"]) else { return nil }
        let burst = seconds(object["burst"], at: "ec2Pacing.burst", default: 4, max: 10_000)
        let rate = seconds(object["refillPerSecond"], at: "ec2Pacing.refillPerSecond", default: 0.3, max: 10_000)
        guard let burst, let rate else { return nil }
        return EC2Pacing(burst: burst, refillPerSecond: rate)
    }

    /// nil: invalid; .some(nil): absent (metrics off).
    mutating func metrics(_ value: JSONValue?) -> MetricsConfig?? {
        guard let value else { return .some(nil) }
        guard let object = object(value, at: "metrics", allowed: ["listen"]) else { return nil }
        guard let listen = required(object, "listen", at: "metrics") else { return nil }
        guard case .string(let text) = listen else {
            problem("metrics.listen", "must be a string such as \"127.0.0.1:9464\", not \(listen.typeName)")
            return nil
        }
        guard let address = Self.parseListen(text) else {
            problem("metrics.listen", "\(JSONValue.quote(text)) is not HOST:PORT (e.g. \"127.0.0.1:9464\" or \"[::1]:9464\", port 1-65535)")
            return nil
        }
        return .some(address)
    }

    static func parseListen(_ text: String) -> MetricsConfig? {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        let hostAllowed = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-:".contains($0)) }
        guard !host.isEmpty, hostAllowed, port.allSatisfy(\.isNumber), let number = Int(port), (1...65535).contains(number) else {
            return nil
        }
        return MetricsConfig(host: String(host), port: number)
    }

    // MARK: Typed values

    mutating func object(_ value: JSONValue, at path: String, allowed: Set<String>?) -> [String: JSONValue]? {
        guard case .object(let object) = value else {
            problem(path, "must be an object, not \(value.typeName)")
            return nil
        }
        if let allowed {
            for key in object.keys.sorted() where !allowed.contains(key) {
                let at = path.isEmpty ? key : "\(path).\(key)"
                problem(at, "unknown key; expected one of \(allowed.sorted().joined(separator: ", "))")
            }
        }
        return object
    }

    mutating func required(_ object: [String: JSONValue], _ key: String, at path: String) -> JSONValue? {
        guard let value = object[key] else {
            problem("\(path).\(key)", "is required")
            return nil
        }
        return value
    }

    mutating func path(_ value: JSONValue?, at key: String, default fallback: String) -> String? {
        guard let value else { return fallback }
        guard case .string(let text) = value else {
            problem(key, "must be a file path string, not \(value.typeName)")
            return nil
        }
        if text.isEmpty || text.hasSuffix("/") || text.contains("\0") {
            problem(key, "\(JSONValue.quote(text)) is not a file path")
            return nil
        }
        if text.hasPrefix("/") { return text }
        return URL(fileURLWithPath: text, relativeTo: URL(fileURLWithPath: baseDirectory, isDirectory: true)).standardizedFileURL.path
    }

    mutating func text(_ value: JSONValue?, at path: String, what: String, valid: (String) -> Bool) -> String? {
        guard let value else { return nil }
        guard case .string(let text) = value else {
            problem(path, "must be a string (\(what)), not \(value.typeName)")
            return nil
        }
        guard valid(text) else {
            problem(path, "\(JSONValue.quote(text)) is not \(what)")
            return nil
        }
        return text
    }

    mutating func seconds(_ value: JSONValue?, at path: String, default fallback: Double, max: Double) -> Double? {
        guard let value else { return fallback }
        let number: Double
        switch value {
        case .integer(let value): number = Double(value)
        case .number(let value): number = value
        default:
            problem(path, "must be a number of seconds, not \(value.typeName)")
            return nil
        }
        guard number > 0, number.isFinite else {
            problem(path, "\(value.shortDescription) must be greater than 0")
            return nil
        }
        guard number <= max else {
            problem(path, "\(value.shortDescription) is more than \(Int(max)) seconds")
            return nil
        }
        return number
    }

    mutating func integer(_ value: JSONValue?, at path: String, default fallback: Int, range: ClosedRange<Int>) -> Int? {
        guard let value else { return fallback }
        guard case .integer(let number) = value else {
            problem(path, "must be a whole number, not \(value.shortDescription)")
            return nil
        }
        guard range.contains(number) else {
            problem(path, "\(number) is out of range; use \(range.lowerBound)-\(range.upperBound)")
            return nil
        }
        return number
    }

    mutating func bool(_ value: JSONValue?, at path: String, default fallback: Bool) -> Bool? {
        guard let value else { return fallback }
        guard case .bool(let flag) = value else {
            problem(path, "must be true or false, not \(value.shortDescription)")
            return nil
        }
        return flag
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ value: JSONValue?, at path: String, default fallback: E) -> E?
    where E.RawValue == String {
        guard let value else { return fallback }
        let choices = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
        guard case .string(let text) = value, let choice = E(rawValue: text) else {
            problem(path, "\(value.shortDescription) is not allowed; use \(choices)")
            return nil
        }
        return choice
    }

    mutating func resourceId(_ value: JSONValue?, at path: String, prefix: String, noun: String) -> String? {
        guard let value else { return nil }
        guard case .string(let text) = value else {
            problem(path, "must be a string (\(noun) such as \(prefix)-0123456789abcdef0), not \(value.typeName)")
            return nil
        }
        guard Self.isResourceId(text, prefix: prefix) else {
            problem(path, "\(JSONValue.quote(text)) is not a \(noun) (expected \(prefix)- and 8 or 17 lower-case hex digits)")
            return nil
        }
        return text
    }

    mutating func idList(_ value: JSONValue?, at path: String, prefix: String, noun: String,
                         minimum: Int, maximum: Int, why: String) -> [String]? {
        guard let value else { return nil }
        guard case .array(let items) = value else {
            problem(path, "must be an array of \(noun)s, not \(value.typeName)")
            return nil
        }
        var ids: [String] = []
        var valid = true
        for (index, item) in items.enumerated() {
            if let id = resourceId(item, at: "\(path)[\(index)]", prefix: prefix, noun: noun) {
                if ids.contains(id) {
                    problem("\(path)[\(index)]", "\(JSONValue.quote(id)) is listed twice")
                    valid = false
                }
                ids.append(id)
            } else {
                valid = false
            }
        }
        guard valid else { return nil }
        guard ids.count >= minimum, ids.count <= maximum else {
            let count = ids.count
            problem(path, "has \(count) \(noun)\(count == 1 ? "" : "s"); list \(minimum) to \(maximum) (\(why))")
            return nil
        }
        return ids
    }

    /// `prefix-` then 8 (legacy) or 17 lower-case hex digits, as EC2 issues them.
    static func isResourceId(_ text: String, prefix: String) -> Bool {
        guard text.hasPrefix(prefix + "-") else { return false }
        let hex = text.dropFirst(prefix.count + 1)
        return (hex.count == 8 || hex.count == 17) && hex.allSatisfy { "0123456789abcdef".contains($0) }
    }

    func isRegionName(_ name: String) -> Bool { RegionName.isValid(name) }
}
