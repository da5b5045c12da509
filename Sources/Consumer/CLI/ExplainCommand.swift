import ConsumerStore
import Foundation

/// `explain NAME [--json]`: everything known about one customer on one screen, oldest first, and one
/// closing line with the most likely cause and where to look. Healthy means ready with a passing probe.
public enum ExplainCommand {
    struct Line: JSONRecord {
        var time: Date
        /// `registration`, `event`, `invitation`, `check`, `endpoint`, `probe`.
        var kind: String
        var text: String
    }

    struct Document: JSONRecord {
        var customer: String
        var state: String
        var healthy: Bool
        var story: [Line]
        var conclusion: String
    }

    /// The rendered screen (or JSON) and whether the customer is ready and healthy (exit 0).
    public static func render(_ app: ConsumerApp, name: String, json: Bool) async throws -> (output: String, healthy: Bool) {
        let store = try await app.openStore()
        let customer = try await store.requireCustomer(named: name)
        let id = customer.id!
        let events = try await store.events(customerId: id, limit: 1000)
        // Those naming its resource, and the one it accepted (an expired one may list no resources).
        let invitations = try await store.invitationRecords(invitationArns: Set([customer.invitationArn].compactMap { $0 }),
                                                            resourceArns: [customer.resourceConfigurationArn], senders: [customer.accountId])
            .values.filter { record in
                record.resources.contains { $0.arn == customer.resourceConfigurationArn } || record.invitationArn == customer.invitationArn
            }
            .sorted { $0.firstSeen < $1.firstSeen }
        let generations = try await store.endpointGenerations(customerId: id)
        let checks = try await store.checks()[id] ?? []
        let probes = try await store.probeHistory(customerId: id, limit: 5).reversed()

        var story: [Line] = []
        let registeredBy = events.first { $0.event == "registered" }?.actor ?? "-"
        story.append(Line(time: customer.createdAt, kind: "registration",
                          text: "registered by \(registeredBy): \(customer.resourceConfigurationArn) port \(customer.port)"
                              + (customer.note.map { " (\($0))" } ?? "")))
        for invitation in invitations {
            story.append(Line(time: invitation.firstSeen, kind: "invitation",
                              text: "\(invitation.invitationArn.split(separator: "/").last ?? "") from \(invitation.senderAccountId): "
                                  + "\(invitation.status), \(invitation.decision.rawValue)" + (invitation.reason.map { " (\($0.rawValue))" } ?? "")))
        }
        for event in events where event.event != "registered" {
            if let check = event.checkName, let verdict = event.verdict {
                story.append(Line(time: event.time, kind: "check", text: "\(check) \(verdict.rawValue): \(event.detail ?? "")"))
                continue
            }
            let move = event.toState.map { " (\(event.fromState?.rawValue ?? "new") → \($0.rawValue))" } ?? ""
            story.append(Line(time: event.time, kind: "event", text: "\(event.event)\(move) by \(event.actor)" + (event.detail.map { ": \($0)" } ?? "")))
        }
        for generation in generations {
            story.append(Line(time: generation.createdAt, kind: "endpoint",
                              text: "generation \(generation.generation): \(generation.vpcEndpointId ?? "not created yet") "
                                  + "\(generation.state.rawValue)" + (generation.dnsName.map { " at \($0)" } ?? "")
                                  + (generation.lastError.map { " (\($0))" } ?? "")))
        }
        for probe in probes {
            let stages = probe.latencyMs.sorted { HealthLogEntry.stageOrder($0.key, $1.key) }
                .map { "\($0.key) \(String(format: "%.1f", $0.value)) ms" }.joined(separator: ", ")
            story.append(Line(time: probe.time, kind: "probe",
                              text: (probe.ok ? "ok" : "failed at \(probe.stage.rawValue): \(probe.error ?? "")") + " (\(stages))"))
        }
        // Oldest first; lines of the same instant keep the order they were gathered in (a stable sort).
        story = story.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        let latest = probes.last
        let healthy = customer.state == .ready && latest?.ok == true
        let conclusion = likelyCause(state: customer.state, hint: customer.hint, detail: customer.stateDetail,
                                     failingChecks: checks.filter { $0.verdict == .fail }.map { ($0.name, $0.hint ?? $0.detail) },
                                     probe: latest.map { ($0.ok, $0.stage.rawValue, $0.hint) })
        if json {
            return (JSONOutput.encode(Document(customer: customer.name, state: customer.state.rawValue, healthy: healthy,
                                               story: story, conclusion: conclusion)), healthy)
        }
        var table = TextTable("TIME", "WHAT", "")
        for line in story { table.add(String(Timestamp.string(line.time).prefix(19)), line.kind, line.text) }
        let checkLine = checks.isEmpty ? "not read yet"
            : checks.map { "\($0.name) \($0.verdict.rawValue)" }.joined(separator: ", ")
        let header = ["\(customer.name): \(customer.state.rawValue)\(customer.stateDetail.map { " — \($0)" } ?? "")",
                      "share: \(customer.resourceShareArn ?? "none yet")",
                      "resource configuration checks: \(checkLine)",
                      "dns name: \(generations.last { $0.state.isCurrent }?.dnsName ?? "-")"]
        return ((header + ["", table.render(), "", "→ " + conclusion]).joined(separator: "\n"), healthy)
    }

    /// The one closing line: the most likely cause and the setup step (or our side) to check.
    static func likelyCause(state: CustomerState, hint: String?, detail: String?, failingChecks: [(check: String, hint: String)],
                            probe: (ok: Bool, stage: String, hint: String?)?) -> String {
        switch state {
        case .removing, .removed:
            return "being removed (our side): \(detail ?? "the daemon deletes its endpoints")"
        case .awaitingShare, .shareExpired, .shareRejected, .shareRevoked:
            return "customer side: \(hint ?? detail ?? "no share of the resource configuration is visible (setup step 5)")"
        case .endpointFailed:
            return "our side: \(hint ?? detail ?? "EC2 could not create the endpoint")"
        default:
            break
        }
        if let failing = failingChecks.first {
            return "customer side, resource configuration \(failing.check): \(failing.hint)"
        }
        switch (state, probe) {
        case (.ready, let probe?) where probe.ok:
            return "nothing to do: ready, and the last probe succeeded"
        case (.ready, let probe?):
            return "probe fails at \(probe.stage): \(probe.hint ?? "see the probe's error")"
        case (.ready, nil):
            return "ready; waiting for the first probe"
        default:
            return hint ?? detail.map { "in progress: \($0)" } ?? "in progress"
        }
    }
}
