import ConsumerCore
import Foundation

/// One probe result as the health log records it.
public struct HealthLogProbe: Sendable, Equatable, Codable {
    public var time: Date
    public var customer: String
    public var vpcEndpointId: String?
    public var dnsName: String?
    public var port: Int
    public var ok: Bool
    /// The last stage reached: `dns`, `connect`, `postgres` or `login`.
    public var stage: String
    public var error: String?
    public var hint: String?
    /// Milliseconds spent in each stage that ran, keyed by stage name.
    public var latencyMs: [String: Double]

    public init(time: Date, customer: String, vpcEndpointId: String? = nil, dnsName: String? = nil, port: Int,
                ok: Bool, stage: String, error: String? = nil, hint: String? = nil, latencyMs: [String: Double] = [:]) {
        self.time = time
        self.customer = customer
        self.vpcEndpointId = vpcEndpointId
        self.dnsName = dnsName
        self.port = port
        self.ok = ok
        self.stage = stage
        self.error = error
        self.hint = hint
        self.latencyMs = latencyMs
    }

    enum CodingKeys: String, CodingKey {
        case time, customer, vpcEndpointId, dnsName, port, ok, stage, error, hint, latencyMs
    }

    /// Decodes the health log's shape: `time` as RFC 3339, absent optionals as nil, unknown keys ignored.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .time)
        guard let time = HealthLogTime.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: container,
                                                   debugDescription: "not an RFC 3339 UTC time: \(text)")
        }
        self.time = time
        customer = try container.decode(String.self, forKey: .customer)
        vpcEndpointId = try container.decodeIfPresent(String.self, forKey: .vpcEndpointId)
        dnsName = try container.decodeIfPresent(String.self, forKey: .dnsName)
        port = try container.decode(Int.self, forKey: .port)
        ok = try container.decode(Bool.self, forKey: .ok)
        stage = try container.decode(String.self, forKey: .stage)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        hint = try container.decodeIfPresent(String.self, forKey: .hint)
        latencyMs = try container.decode([String: Double].self, forKey: .latencyMs)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(HealthLogTime.string(time), forKey: .time)
        try container.encode(customer, forKey: .customer)
        try container.encodeIfPresent(vpcEndpointId, forKey: .vpcEndpointId)
        try container.encodeIfPresent(dnsName, forKey: .dnsName)
        try container.encode(port, forKey: .port)
        try container.encode(ok, forKey: .ok)
        try container.encode(stage, forKey: .stage)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encodeIfPresent(hint, forKey: .hint)
        try container.encode(latencyMs, forKey: .latencyMs)
    }
}

/// Where an event line came from: its row in the state's event table (the health log's outbox), who
/// made it, and the states it moved the customer between.
public struct HealthLogEventTrail: Sendable, Equatable, Decodable {
    public var eventId: Int64
    public var actor: String
    public var fromState: String?
    public var toState: String?
    /// The state file the event comes from (`StateStore.stateId`).
    public var stateId: Int64?

    public init(eventId: Int64, actor: String, fromState: String?, toState: String?, stateId: Int64? = nil) {
        self.eventId = eventId
        self.actor = actor
        self.fromState = fromState
        self.toState = toState
        self.stateId = stateId
    }
}

/// A resource configuration check whose verdict changed (`kind: check`), from the event table.
public struct HealthLogCheck: Sendable, Equatable, Decodable {
    public var customer: String
    public var check: String
    public var verdict: String
    public var detail: String?
    public var hint: String?
    public var eventId: Int64?
    public var stateId: Int64?

    public init(customer: String, check: String, verdict: String, detail: String?, hint: String?, eventId: Int64?, stateId: Int64?) {
        self.customer = customer
        self.check = check
        self.verdict = verdict
        self.detail = detail
        self.hint = hint
        self.eventId = eventId
        self.stateId = stateId
    }
}

/// One line of the health log: a probe result, a lifecycle event, or a check's new verdict, of one customer.
public enum HealthLogEntry: Sendable, Equatable {
    case event(time: Date, customer: String, event: String, detail: String?, trail: HealthLogEventTrail? = nil)
    case probe(HealthLogProbe)
    case check(time: Date, HealthLogCheck)

    public var time: Date {
        switch self {
        case .event(let time, _, _, _, _): time
        case .probe(let probe): probe.time
        case .check(let time, _): time
        }
    }

    public var customer: String {
        switch self {
        case .event(_, let customer, _, _, _): customer
        case .probe(let probe): probe.customer
        case .check(_, let check): check.customer
        }
    }

    /// The line's `kind`: `event`, `probe` or `check`.
    public var kind: String {
        switch self {
        case .event: "event"
        case .probe: "probe"
        case .check: "check"
        }
    }

    /// The event table row the line was written from (event and check lines), for the outbox's restart.
    public var eventId: (id: Int64, stateId: Int64?)? {
        switch self {
        case .event(_, _, _, _, let trail?): (trail.eventId, trail.stateId)
        case .check(_, let check): check.eventId.map { ($0, check.stateId) }
        default: nil
        }
    }

    /// The entry as one JSON object without a newline: `time` and `kind` first, nulls omitted.
    public func jsonLine() -> String {
        // Ordered members: JSONEncoder and JSONSerialization do not promise key order, and the line's does.
        var writer = JSONWriter(capacity: 512)
        writer.orderedObject { line in
            line.member("time", HealthLogTime.string(time))
            line.member("kind", kind)
            line.member("customer", customer)
            switch self {
            case .event(_, _, let event, let detail, let trail):
                line.member("event", event)
                line.member("fromState", trail?.fromState)
                line.member("toState", trail?.toState)
                line.member("actor", trail?.actor)
                line.member("detail", detail)
                line.member("eventId", trail?.eventId)
                line.member("stateId", trail?.stateId)
            case .check(_, let check):
                line.member("check", check.check)
                line.member("verdict", check.verdict)
                line.member("detail", check.detail)
                line.member("hint", check.hint)
                line.member("eventId", check.eventId)
                line.member("stateId", check.stateId)
            case .probe(let probe):
                line.member("vpcEndpointId", probe.vpcEndpointId)
                line.member("dnsName", probe.dnsName)
                line.member("port", probe.port)
                line.member("ok", probe.ok)
                line.member("stage", probe.stage)
                line.member("error", probe.error)
                line.member("hint", probe.hint)
                line.member("latencyMs") { latencies in
                    for stage in probe.latencyMs.keys.sorted(by: Self.stageOrder) {
                        // Milliseconds as Swift writes them (`5000.0`): the line format's, kept.
                        if let value = probe.latencyMs[stage], value.isFinite { latencies.member(stage, json: "\(value)") }
                    }
                }
            }
        }
        return writer.string
    }

    /// Parses one line written by `jsonLine()`; nil for anything garbled, truncated or missing a required key.
    public init?(jsonLine: some StringProtocol) {
        let data = Data(jsonLine.utf8)
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(Header.self, from: data),
              let time = HealthLogTime.parse(header.time)
        else { return nil }
        switch header.kind {
        case "probe":
            guard let probe = try? decoder.decode(HealthLogProbe.self, from: data) else { return nil }
            self = .probe(probe)
        case "check":
            guard let check = try? decoder.decode(HealthLogCheck.self, from: data) else { return nil }
            self = .check(time: time, check)
        case "event":
            guard let fields = try? decoder.decode(EventFields.self, from: data) else { return nil }
            let trail = try? decoder.decode(HealthLogEventTrail.self, from: data)
            self = .event(time: time, customer: header.customer, event: fields.event, detail: fields.detail, trail: trail)
        default:
            return nil
        }
    }

    private struct Header: Decodable {
        var time: String
        var kind: String
        var customer: String
    }

    private struct EventFields: Decodable {
        var event: String
        var detail: String?
    }

    /// Stages in the order the probe runs them, then any others by name.
    static func stageOrder(_ a: String, _ b: String) -> Bool {
        let order = ["dns", "connect", "postgres", "login"]
        switch (order.firstIndex(of: a), order.firstIndex(of: b)) {
        case let (x?, y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }
}

/// The health log's timestamps are the contracts' (`Timestamp`).
typealias HealthLogTime = Timestamp
