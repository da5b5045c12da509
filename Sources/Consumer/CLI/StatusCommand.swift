import ConsumerStore
import Foundation

/// `status [--json]`: one row per customer and the invitations that were not accepted, with why.
///
/// `--json` is written by `JSONWriter`, each row listing its fields (see the extensions at the end):
/// `JSONEncoder` took most of a second at 10,000 customers with their checks. The rows' `Encodable` form,
/// derived from their stored properties (`JSONRecord`), is the reference `JSONWriterTests` holds the
/// writer's bytes to, so a field added to a row and forgotten by its writer fails a test.
public enum StatusCommand {
    struct CustomerRow: JSONRecord {
        var name: String
        var resourceConfigurationArn: String
        var region: String
        var accountId: String
        var port: Int
        var state: String
        var stateDetail: String?
        var hint: String?
        var resourceShareArn: String?
        var vpcEndpointId: String?
        /// The VPC of the pool its endpoint is in.
        var vpcId: String?
        var dnsName: String?
        var health: String
        var lastProbe: ProbeView?
        /// The resource configuration checks (empty until the configuration was first read).
        var checks: [CheckView]
    }

    struct CheckView: JSONRecord {
        var check: String
        var verdict: String
        var detail: String
        var hint: String?
        var checkedAt: Date
    }

    struct ProbeView: JSONRecord {
        var time: Date
        var ok: Bool
        var stage: String
        var latencyMs: Double
        var error: String?
        var hint: String?
    }

    struct InvitationRow: JSONRecord {
        var invitationArn: String
        var resourceShareArn: String
        var senderAccountId: String
        var resources: [String]
        var decision: String
        var reason: String?
        var firstSeen: Date
    }

    /// One VPC of a region's pool as the active daemon's last pass left it.
    struct CapacityRow: JSONRecord {
        var region: String
        var vpcId: String
        var endpoints: Int
        var limit: Int
        var limitSource: String
        /// The EC2 code that marked it full until the quota is read again (null when it is not).
        var fullBecause: String?
    }

    struct LeaderView: JSONRecord {
        var host: String
        var pid: Int
        var since: Date
        var epoch: Int64
    }

    /// The whole `status --json` document.
    struct Document: Encodable, JSONWritable {
        var capacity: [CapacityRow]
        var customers: [CustomerRow]
        var invitations: [InvitationRow]
        /// Outer nil: no `leader` key (SQLite); inner nil: `"leader": null` (nobody holds the lease).
        var leader: LeaderView??

        enum CodingKeys: String, CodingKey { case capacity, customers, invitations, leader }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(capacity, forKey: .capacity)
            try container.encode(customers, forKey: .customers)
            try container.encode(invitations, forKey: .invitations)
            if let leader { try container.encode(leader, forKey: .leader) }
        }

        func write(to writer: inout JSONWriter) {
            writer.object { object in
                object.field("capacity", capacity)
                object.field("customers", customers)
                object.field("invitations", invitations)
                if let leader { object.field("leader", leader) }
            }
        }
    }

    /// The width the text `status` fits (names up to 20 characters), whatever the terminal: output that scripts
    /// read does not change with the window. `--wide` prints every column whole.
    public static let width = 120

    public static func render(_ app: ConsumerApp, json: Bool, wide: Bool = false, now: Date = Date()) async throws -> String {
        let store = try await app.openStore()
        let snapshot = try await store.statusSnapshot()
        // PostgreSQL state only: which daemon is active (the lease's holder), or none.
        var shared: (leader: LeaderView?, Void)?
        if case .postgres = app.config.state {
            shared = (try await store.leader().map { LeaderView(host: $0.host, pid: $0.pid, since: $0.since, epoch: $0.epoch) }, ())
        }
        let customers: [CustomerRow] = snapshot.customers.map { customer in
            let endpoint = customer.id.flatMap { snapshot.endpoints[$0] }
            let probe = customer.id.flatMap { snapshot.latestProbes[$0] }
            return CustomerRow(
                name: customer.name, resourceConfigurationArn: customer.resourceConfigurationArn, region: customer.region,
                accountId: customer.accountId, port: customer.port, state: customer.state.rawValue, stateDetail: customer.stateDetail,
                hint: probe.flatMap { $0.ok ? nil : $0.hint } ?? customer.hint, resourceShareArn: customer.resourceShareArn,
                vpcEndpointId: endpoint?.vpcEndpointId, vpcId: endpoint?.vpcId, dnsName: endpoint?.dnsName,
                health: probe.map { $0.ok ? "healthy" : "unhealthy" } ?? "unknown",
                lastProbe: probe.map { probe in
                    ProbeView(time: probe.time, ok: probe.ok, stage: probe.stage.rawValue,
                              latencyMs: probe.latencyMs.values.reduce(0, +), error: probe.error, hint: probe.hint)
                },
                checks: (customer.id.flatMap { snapshot.checks[$0] } ?? []).map {
                    CheckView(check: $0.name, verdict: $0.verdict.rawValue, detail: $0.detail, hint: $0.hint, checkedAt: $0.checkedAt)
                })
        }
        let invitations = snapshot.refusedInvitations.map { record in
            InvitationRow(invitationArn: record.invitationArn, resourceShareArn: record.resourceShareArn,
                          senderAccountId: record.senderAccountId, resources: record.resources.map(\.arn),
                          decision: record.decision.rawValue, reason: record.reason?.rawValue, firstSeen: record.firstSeen)
        }
        let capacity = snapshot.capacity.map {
            CapacityRow(region: $0.region, vpcId: $0.vpcId, endpoints: $0.endpoints, limit: $0.endpointLimit, limitSource: $0.limitSource,
                        fullBecause: $0.fullBecause)
        }
        if json {
            let document = Document(capacity: capacity, customers: customers, invitations: invitations, leader: shared.map(\.leader))
            // About a kilobyte per customer with its checks.
            return JSONWriter.write(document, capacity: 1024 * (customers.count + invitations.count + 1))
        }
        var lines: [String] = []
        if let shared {
            if let leader = shared.leader {
                lines.append("active daemon: \(leader.host) pid \(leader.pid), epoch \(leader.epoch), since \(Timestamp.string(leader.since).prefix(19))")
            } else {
                lines.append("active daemon: none holds the lease (a standby takes over within its lease; check the daemons)")
            }
            lines.append("")
        }
        lines += wide ? wideText(customers, invitations, capacity) : text(customers, invitations, capacity, now: now)
        return lines.joined(separator: "\n")
    }

    /// The default text: one short row per customer (kubectl's habits), fitting ``width`` columns: the failing
    /// checks by name, the hint cut with `…`. The whole sentences are in `explain`, `customer show`, `--json`
    /// and `--wide`.
    static func text(_ customers: [CustomerRow], _ invitations: [InvitationRow], _ capacity: [CapacityRow], now: Date) -> [String] {
        var lines: [String] = []
        if customers.isEmpty {
            lines.append("no customers registered")
        } else {
            var table = TextTable("CUSTOMER", "STATE", "HEALTH", "LAST PROBE", "WARNING", "HINT")
            for row in customers {
                let probe = row.lastProbe.map { "\($0.ok ? "ok" : $0.stage) \(age(since: $0.time, now: now))" } ?? "-"
                table.add(row.name, row.state, row.health, probe, failingChecks(row.checks), row.hint ?? row.stateDetail ?? "-")
            }
            lines.append(table.render(maxWidth: width))
        }
        if !invitations.isEmpty {
            lines.append("")
            lines.append("invitations not accepted:")
            var table = TextTable("INVITATION", "SENDER", "DECISION", "REASON", "AGE", "RESOURCES")
            for row in invitations {
                table.add(row.invitationArn.components(separatedBy: "/").last ?? row.invitationArn, row.senderAccountId,
                          row.decision, row.reason ?? "-", age(since: row.firstSeen, now: now),
                          row.resources.map { $0.components(separatedBy: "/").last ?? $0 }.joined(separator: ", "))
            }
            lines.append(table.render(maxWidth: width, indent: 2).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        lines += capacityLines(capacity, maxWidth: width)
        return lines
    }

    /// `status --wide`: every column whole (as `status` printed before it fitted a terminal), with the VPC.
    static func wideText(_ customers: [CustomerRow], _ invitations: [InvitationRow], _ capacity: [CapacityRow]) -> [String] {
        var lines: [String] = []
        if customers.isEmpty {
            lines.append("no customers registered")
        } else {
            var table = TextTable("CUSTOMER", "STATE", "HEALTH", "ENDPOINT", "VPC", "DNS NAME", "LAST PROBE", "WARNING", "HINT")
            for row in customers {
                let probe = row.lastProbe.map { "\($0.ok ? "ok" : "failed at \($0.stage)") \(Timestamp.string($0.time).prefix(19))" } ?? "-"
                table.add(row.name, row.state, row.health, row.vpcEndpointId ?? "-", row.vpcId ?? "-", row.dnsName ?? "-", probe,
                          Self.warning(row.checks), row.hint ?? row.stateDetail ?? "")
            }
            lines.append(table.render())
        }
        if !invitations.isEmpty {
            lines.append("")
            lines.append("invitations not accepted:")
            var table = TextTable("INVITATION", "SENDER", "DECISION", "REASON", "RESOURCES", "FIRST SEEN")
            for row in invitations {
                table.add(row.invitationArn.components(separatedBy: "/").last ?? row.invitationArn, row.senderAccountId,
                          row.decision, row.reason ?? "-", row.resources.joined(separator: ", "),
                          String(Timestamp.string(row.firstSeen).prefix(19)))
            }
            lines.append(table.render().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        lines += capacityLines(capacity, maxWidth: nil)
        return lines
    }

    /// Each region's pool, as the last pass saw it.
    static func capacityLines(_ capacity: [CapacityRow], maxWidth: Int?) -> [String] {
        guard !capacity.isEmpty else { return [] }
        var table = TextTable("REGION", "VPC", "ENDPOINTS", "LIMIT", "LIMIT FROM", "FULL")
        for row in capacity {
            table.add(row.region, row.vpcId, "\(row.endpoints)", "\(row.limit)", row.limitSource,
                      row.fullBecause.map { "yes (\($0))" } ?? (row.endpoints >= row.limit ? "yes" : "-"))
        }
        return ["", "capacity (Resource endpoints per VPC, as the last pass saw them):",
                table.render(maxWidth: maxWidth, indent: 2).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")]
    }

    /// How long ago, as kubectl says it: `45s`, `12m`, `5h`, `3d`.
    static func age(since time: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(time)))
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<(48 * 3600): return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }

    /// The failing checks by name (`definition, port`), `-` when none fails.
    static func failingChecks(_ checks: [CheckView]) -> String {
        let failing = checks.filter { $0.verdict == CheckVerdict.fail.rawValue }.map(\.check)
        return failing.isEmpty ? "-" : failing.joined(separator: ", ")
    }

    /// The failing checks in a few words (`-` when none fails): each with its detail and the setup step.
    static func warning(_ checks: [CheckView]) -> String {
        let failing = checks.filter { $0.verdict == CheckVerdict.fail.rawValue }
        guard !failing.isEmpty else { return "-" }
        return failing.map { "\($0.check): \($0.detail)\($0.hint.map { " — \($0)" } ?? "")" }.joined(separator: "; ")
    }
}

// The same documents as their `Encodable` forms write, at JSONWriter's pace (`JSONWriterTests` compares them).
extension StatusCommand.CustomerRow: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { object in
            object.field("accountId", accountId)
            object.field("checks", checks)
            object.field("dnsName", dnsName)
            object.field("health", health)
            object.field("hint", hint)
            object.field("lastProbe", lastProbe)
            object.field("name", name)
            object.field("port", port)
            object.field("region", region)
            object.field("resourceConfigurationArn", resourceConfigurationArn)
            object.field("resourceShareArn", resourceShareArn)
            object.field("state", state)
            object.field("stateDetail", stateDetail)
            object.field("vpcEndpointId", vpcEndpointId)
            object.field("vpcId", vpcId)
        }
    }
}

extension StatusCommand.CheckView: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { object in
            object.field("check", check)
            object.field("checkedAt", checkedAt)
            object.field("detail", detail)
            object.field("hint", hint)
            object.field("verdict", verdict)
        }
    }
}

extension StatusCommand.ProbeView: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { object in
            object.field("error", error)
            object.field("hint", hint)
            object.field("latencyMs", latencyMs)
            object.field("ok", ok)
            object.field("stage", stage)
            object.field("time", time)
        }
    }
}

extension StatusCommand.InvitationRow: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { object in
            object.field("decision", decision)
            object.field("firstSeen", firstSeen)
            object.field("invitationArn", invitationArn)
            object.field("reason", reason)
            object.field("resourceShareArn", resourceShareArn)
            object.field("resources", resources)
            object.field("senderAccountId", senderAccountId)
        }
    }
}

extension StatusCommand.CapacityRow: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { object in
            object.field("endpoints", endpoints)
            object.field("fullBecause", fullBecause)
            object.field("limit", limit)
            object.field("limitSource", limitSource)
            object.field("region", region)
            object.field("vpcId", vpcId)
        }
    }
}

extension StatusCommand.LeaderView: JSONWritable {
    func write(to writer: inout JSONWriter) {
        writer.object { object in
            object.field("epoch", epoch)
            object.field("host", host)
            object.field("pid", pid)
            object.field("since", since)
        }
    }
}
