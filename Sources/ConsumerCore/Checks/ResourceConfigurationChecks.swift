import AWSModels
import Foundation

/// What a check concluded. `unknown` when the configuration could not be read (access denied, not found,
/// throttled): never an error, and never a reason to hold onboarding back.
public enum CheckVerdict: String, Sendable, Codable, CaseIterable {
    case pass, fail, unknown
}

/// One named check of one customer, with the words for on-call and the setup step to fix it.
public struct CheckResult: Sendable, Equatable {
    public var check: String
    public var verdict: CheckVerdict
    public var detail: String
    public var hint: String?

    public init(check: String, verdict: CheckVerdict, detail: String, hint: String? = nil) {
        self.check = check
        self.verdict = verdict
        self.detail = detail
        self.hint = hint
    }
}

/// The customer-side causes the setup guide names that a resource configuration shows (the probe finds the
/// others): each a named check of what `GetResourceConfiguration` answered. Pure; tested as a table.
public enum ResourceConfigurationChecks {
    /// The states in which a customer's resource configuration is shared with us: the only ones that have
    /// verdicts (the store keeps it so).
    public static let sharedStates: Set<CustomerState> = [.shareAccepted, .endpointPending, .ready, .endpointMissing, .endpointFailed]

    /// The checks, in the order they are shown.
    public static let names = ["type", "definition", "port", "status"]

    /// A check's position in `names` (unknown names last).
    public static func order(_ name: String) -> Int { names.firstIndex(of: name) ?? names.count }

    /// What reading the configuration gave.
    public enum Lookup: Sendable, Equatable {
        case found(ResourceConfiguration)
        /// Access denied or not found: an answer, given as `unknown` verdicts with the reason.
        case unreadable(String)
        /// Throttled, a server error, a lost answer: no answer at all. Nothing is recorded (the verdicts
        /// stored stay) and the configuration is read again on the next pass.
        case failed(String)
    }

    public static func evaluate(_ lookup: Lookup, port: Int) -> [CheckResult] {
        let configuration: ResourceConfiguration
        switch lookup {
        case .found(let found): configuration = found
        case .unreadable(let reason): return names.map { CheckResult(check: $0, verdict: .unknown, detail: "GetResourceConfiguration: \(reason)") }
        case .failed: return []
        }
        return [type(configuration), definition(configuration), portRange(configuration, port: port), status(configuration)]
    }

    static func type(_ configuration: ResourceConfiguration) -> CheckResult {
        guard let type = configuration.type else {
            return CheckResult(check: "type", verdict: .unknown, detail: "the configuration has no type")
        }
        if type.uppercased() == "SINGLE" {
            return CheckResult(check: "type", verdict: .pass, detail: "SINGLE")
        }
        return CheckResult(check: "type", verdict: .fail, detail: "a \(type) resource configuration, not a single resource",
                           hint: "create a resource configuration of type \"Single resource\" for the RDS hostname (setup step 4) and share that one")
    }

    static func definition(_ configuration: ResourceConfiguration) -> CheckResult {
        let definition = configuration.resourceConfigurationDefinition
        if let dns = definition?.dnsResource {
            return CheckResult(check: "definition", verdict: .pass, detail: "DNS resource \(dns.domainName ?? "(no domain name)")")
        }
        if let ip = definition?.ipResource {
            return CheckResult(check: "definition", verdict: .fail,
                               detail: "an IP resource (\(ip.ipAddress ?? "no address")): no RDS failover, and the IP may no longer be current",
                               hint: "delete and recreate the resource configuration as a DNS resource pointing at the RDS hostname (setup step 4; Troubleshooting 3)")
        }
        if let arn = definition?.arnResource {
            return CheckResult(check: "definition", verdict: .fail, detail: "an ARN resource (\(arn.arn ?? "no ARN")), not the database's DNS name",
                               hint: "recreate it as a DNS resource pointing at the RDS hostname (setup step 4)")
        }
        if configuration.type?.uppercased() == "GROUP" {
            return CheckResult(check: "definition", verdict: .unknown, detail: "a group has no resource definition of its own")
        }
        return CheckResult(check: "definition", verdict: .unknown, detail: "the configuration has no resource definition")
    }

    static func portRange(_ configuration: ResourceConfiguration, port: Int) -> CheckResult {
        let ranges = (configuration.portRanges ?? []).joined(separator: ",")
        if let proto = configuration.protocol, proto.uppercased() != "TCP" {
            return CheckResult(check: "port", verdict: .fail, detail: "protocol \(proto), not TCP",
                               hint: "set the resource configuration's protocol to TCP (setup step 4)")
        }
        switch configuration.allows(port: port) {
        case true?:
            return CheckResult(check: "port", verdict: .pass, detail: "TCP \(ranges) includes \(port)")
        case false?:
            let single = (configuration.portRanges ?? []).count == 1 ? configuration.portRanges.flatMap { Int($0[0]) } : nil
            return CheckResult(check: "port", verdict: .fail, detail: "port ranges \(ranges) do not include the registered port \(port)",
                               hint: "set the resource configuration's port ranges to \(port) (setup step 4)"
                                   + (single.map { ", or register the customer with --port \($0)" } ?? ""))
        case nil:
            return CheckResult(check: "port", verdict: .unknown, detail: "the configuration lists no port ranges")
        }
    }

    static func status(_ configuration: ResourceConfiguration) -> CheckResult {
        guard let status = configuration.status else {
            return CheckResult(check: "status", verdict: .unknown, detail: "the configuration has no status")
        }
        if status.uppercased() == "ACTIVE" {
            return CheckResult(check: "status", verdict: .pass, detail: "ACTIVE")
        }
        let reason = configuration.failureReason.map { ": \($0)" } ?? ""
        let hint = status.uppercased().hasSuffix("_IN_PROGRESS")
            ? "wait for the customer's change to finish; if it stays, ask them to check the resource configuration (setup step 4)"
            : "ask the customer to fix or recreate the resource configuration (setup step 4)"
        return CheckResult(check: "status", verdict: .fail, detail: "\(status)\(reason)", hint: hint)
    }

    /// How many re-checks one pass may make: enough that every configuration is seen within `interval`
    /// at this pass cadence, and at least one, but never more than `cap`.
    public static func budget(checkedCustomers: Int, passInterval: TimeInterval, interval: TimeInterval, cap: Int) -> Int {
        guard checkedCustomers > 0, interval > 0 else { return 0 }
        let passes = max(1, interval / max(passInterval, 1))
        return min(cap, max(1, Int((Double(checkedCustomers) / passes).rounded(.up))))
    }
}
