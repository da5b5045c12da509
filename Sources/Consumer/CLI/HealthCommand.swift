import ConsumerCore
import Foundation

/// `health [--customer NAME] [--since DURATION] [--follow] [--json]`: the health log for on-call,
/// across rotated files, newest last.
public enum HealthCommand {
    public static func parseSince(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        guard let seconds = HealthLogReader.parseDuration(text) else {
            throw CommandFailure.usage("--since \(text) is not a duration; use e.g. 90s, 15m, 1h, 2d or 1h30m")
        }
        return Date().addingTimeInterval(-seconds)
    }

    /// One entry as printed: the JSON line itself, or an aligned line for people.
    public static func format(_ entry: HealthLogEntry, json: Bool) -> String {
        if json { return entry.jsonLine() }
        let time = String(Timestamp.string(entry.time).prefix(23))
        switch entry {
        case .event(_, let customer, let event, let detail, let trail):
            let move = trail.flatMap { trail in trail.toState.map { " (\(trail.fromState ?? "new") → \($0))" } } ?? ""
            let actor = trail.map { " by \($0.actor)" } ?? ""
            return "\(time)  \(customer.padding(toLength: 16, withPad: " ", startingAt: 0))  event  \(event)\(move)\(actor)\(detail.map { ": \($0)" } ?? "")"
        case .check(_, let check):
            let hint = check.verdict == "pass" ? "" : check.hint.map { " — \($0)" } ?? ""
            return "\(time)  \(check.customer.padding(toLength: 16, withPad: " ", startingAt: 0))  check  \(check.check) \(check.verdict): \(check.detail ?? "")\(hint)"
        case .probe(let probe):
            let stages = probe.latencyMs.sorted { HealthLogEntry.stageOrder($0.key, $1.key) }.map { "\($0.key) \(String(format: "%.1f", $0.value)) ms" }
                .joined(separator: ", ")
            let outcome = probe.ok ? "ok" : "FAILED at \(probe.stage): \(probe.error ?? "")"
            let hint = probe.ok ? "" : probe.hint.map { " — \($0)" } ?? ""
            return "\(time)  \(probe.customer.padding(toLength: 16, withPad: " ", startingAt: 0))  probe  \(outcome) (\(stages))\(hint)"
        }
    }

    public static func read(_ app: ConsumerApp, customer: String?, since: String?, json: Bool) async throws -> String {
        let reader = HealthLogReader(path: app.config.healthLog)
        let since = try parseSince(since)
        // Whole files: read on a blocking-work thread.
        let entries = try await BlockingIO.run { try reader.entries(customer: customer, since: since) }
        if entries.isEmpty && !json { return "no health-log entries\(customer.map { " for \($0)" } ?? "")" }
        return entries.map { format($0, json: json) }.joined(separator: "\n")
    }

    /// Prints existing entries, then new ones as they are written, until interrupted.
    public static func follow(_ app: ConsumerApp, customer: String?, since: String?, json: Bool,
                              print: (String) -> Void) async throws {
        let reader = HealthLogReader(path: app.config.healthLog)
        for try await entry in reader.follow(customer: customer, since: try parseSince(since)) {
            print(format(entry, json: json))
        }
    }
}
