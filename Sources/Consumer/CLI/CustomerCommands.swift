import ConsumerStore
import Foundation

/// The SE's `customer …` commands. Each returns what to print on stdout or throws a `CommandFailure`.
public enum CustomerCommands {
    /// `customer add NAME --arn ARN [--port 5432] [--note TEXT]`.
    public static func add(_ app: ConsumerApp, name: String, arn text: String, port: Int, note: String?) async throws -> String {
        if let problem = CustomerName.problem(with: name) {
            throw CommandFailure.usage("NAME \(problem)")
        }
        let arn: ResourceConfigurationARN
        switch ResourceConfigurationARN.parse(text) {
        case .success(let parsed): arn = parsed
        case .failure(let error):
            throw CommandFailure.usage("--arn \(JSONValue.quote(text)) \(error.reason)")
        }
        guard app.config.regions[arn.region] != nil else {
            throw CommandFailure.usage("--arn is in region \(arn.region), which is not configured; add regions.\(arn.region) to \(app.config.source) (configured: \(app.config.regionNames.joined(separator: ", ")))")
        }
        guard (1...65535).contains(port) else {
            throw CommandFailure.usage("--port \(port) is out of range; use 1-65535 (PostgreSQL's default is 5432)")
        }
        if let note {
            if note.count > 500 { throw CommandFailure.usage("--note is \(note.count) characters; keep it under 500") }
            if note.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw CommandFailure.usage("--note contains control characters; use plain text on one line")
            }
        }
        let store = try await app.openStore()
        let customer = try await store.addCustomer(NewCustomer(name: name, arn: arn, port: port, note: note), by: app.actor)
        return "registered \(customer.name): \(customer.resourceConfigurationArn) (account \(customer.accountId), \(customer.region), port \(customer.port)); the daemon accepts the customer's RAM share when it arrives"
    }

    /// `customer list [--json]`.
    public static func list(_ app: ConsumerApp, json: Bool) async throws -> String {
        let store = try await app.openStore()
        let customers = try await store.customers()
        var views: [CustomerView] = []
        for customer in customers {
            views.append(CustomerView(customer, endpoint: try await store.liveEndpoint(customerId: customer.id!)))
        }
        if json { return JSONOutput.encode(["customers": views]) }
        if views.isEmpty { return "no customers registered; add one with `customer add NAME --arn ARN`" }
        var table = TextTable("NAME", "STATE", "REGION", "ACCOUNT", "PORT", "RESOURCE CONFIGURATION", "ENDPOINT", "REGISTERED")
        for view in views {
            table.add(view.name, view.state.rawValue, view.region, view.accountId, String(view.port),
                      view.resourceConfigurationArn.components(separatedBy: "/").last ?? "",
                      view.vpcEndpointId ?? "-", Timestamp.string(view.createdAt).prefix(16).replacingOccurrences(of: "T", with: " "))
        }
        return table.render()
    }

    /// `customer show NAME [--json]`.
    public static func show(_ app: ConsumerApp, name: String, json: Bool) async throws -> String {
        let store = try await app.openStore()
        let customer = try await store.requireCustomer(named: name)
        let view = CustomerView(customer, endpoint: try await store.liveEndpoint(customerId: customer.id!))
        let events = try await store.events(customerId: customer.id!)
        if json {
            return JSONOutput.encode(CustomerDetailView(customer: view, events: events.map(EventView.init)))
        }
        var lines: [String] = []
        func field(_ label: String, _ value: String?) {
            guard let value else { return }
            lines.append(label.padding(toLength: 26, withPad: " ", startingAt: 0) + value)
        }
        field("name", view.name)
        field("state", view.state.rawValue)
        field("detail", view.stateDetail)
        field("hint", view.hint)
        field("resource configuration", view.resourceConfigurationArn)
        field("account / region", "\(view.accountId) / \(view.region)")
        field("port", String(view.port))
        field("note", view.note)
        field("resource share", view.resourceShareArn)
        field("endpoint", view.vpcEndpointId)
        field("dns name", view.dnsName)
        field("registered", Timestamp.string(view.createdAt))
        field("state since", Timestamp.string(view.stateChangedAt))
        if !events.isEmpty {
            lines.append("")
            lines.append("events (newest last):")
            var table = TextTable("TIME", "EVENT", "FROM", "TO", "BY", "DETAIL")
            for event in events {
                let what = event.checkName.map { "check \($0) \(event.verdict?.rawValue ?? "")" } ?? event.event
                table.add(Timestamp.string(event.time), what, event.fromState?.rawValue ?? "-",
                          event.toState?.rawValue ?? "-", event.actor, event.detail ?? "")
            }
            lines.append(table.render().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        return lines.joined(separator: "\n")
    }

    /// `customer remove NAME [--keep-endpoint]`.
    public static func remove(_ app: ConsumerApp, name: String, keepEndpoint: Bool) async throws -> String {
        let store = try await app.openStore()
        let customer = try await store.requestRemoval(named: name, keepEndpoint: keepEndpoint, by: app.actor)
        switch customer.state {
        case .removed:
            return "removed \(customer.name)" + (keepEndpoint ? " (its endpoint, if any, is left in place)" : "")
        default:
            return "removing \(customer.name): the daemon deletes its endpoints on its next pass; the name and ARN may be registered again now"
        }
    }
}

/// A customer as `customer list --json` and `customer show --json` print it.
struct CustomerView: JSONRecord {
    var name: String
    var resourceConfigurationArn: String
    var region: String
    var accountId: String
    var port: Int
    var note: String?
    var state: CustomerState
    var stateDetail: String?
    var hint: String?
    var resourceShareArn: String?
    var vpcEndpointId: String?
    var dnsName: String?
    var createdAt: Date
    var stateChangedAt: Date

    init(_ customer: Customer, endpoint: EndpointRecord?) {
        name = customer.name
        resourceConfigurationArn = customer.resourceConfigurationArn
        region = customer.region
        accountId = customer.accountId
        port = customer.port
        note = customer.note
        state = customer.state
        stateDetail = customer.stateDetail
        hint = customer.hint
        resourceShareArn = customer.resourceShareArn
        vpcEndpointId = endpoint?.vpcEndpointId
        dnsName = endpoint?.dnsName
        createdAt = customer.createdAt
        stateChangedAt = customer.stateChangedAt
    }
}

struct CustomerDetailView: JSONRecord {
    var customer: CustomerView
    var events: [EventView]
}

struct EventView: JSONRecord {
    var time: Date
    var event: String
    var fromState: String?
    var toState: String?
    var actor: String
    var detail: String?
    /// For a resource configuration check's verdict change (`event: check`).
    var check: String?
    var verdict: String?
    var hint: String?

    init(_ event: LifecycleEvent) {
        time = event.time
        self.event = event.event
        fromState = event.fromState?.rawValue
        toState = event.toState?.rawValue
        actor = event.actor
        detail = event.detail
        check = event.checkName
        verdict = event.verdict?.rawValue
        hint = event.hint
    }
}

extension CustomerCommands {
    /// `customer set NAME --probe-user USER --probe-password-file PATH [--probe-database DB]` or `--no-probe-login`.
    public static func setProbeLogin(_ app: ConsumerApp, name: String, user: String?, passwordFile: String?,
                                     database: String?, clear: Bool) async throws -> String {
        if clear {
            guard user == nil, passwordFile == nil, database == nil else {
                throw CommandFailure.usage("--no-probe-login cannot be combined with --probe-user, --probe-password-file or --probe-database")
            }
            let customer = try await app.openStore().setProbeLogin(named: name, user: nil, passwordFile: nil, database: nil, by: app.actor)
            return "\(customer.name): probe login cleared; the probe stops after the PostgreSQL handshake"
        }
        guard let user, let passwordFile else {
            throw CommandFailure.usage("give both --probe-user and --probe-password-file (or --no-probe-login to clear them)")
        }
        guard !user.isEmpty, user.count <= 63, !user.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CommandFailure.usage("--probe-user must be a PostgreSQL role name of 1 to 63 characters")
        }
        // The password stays in its file: only the absolute path is stored, and the file is read at probe time.
        let path = URL(fileURLWithPath: passwordFile).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw CommandFailure.usage("--probe-password-file \(path) does not exist; write the password to a file readable by the daemon's user (mode 0600)")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw CommandFailure.usage("--probe-password-file \(path) is not readable by this user; run as the daemon's user, or fix its owner and mode (0600)")
        }
        let customer = try await app.openStore().setProbeLogin(named: name, user: user, passwordFile: path, database: database, by: app.actor)
        var note = ""
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
           let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            note = " (warning: \(path) is readable by others; chmod 600 it)"
        }
        return "\(customer.name): the probe logs in as \(user) with the password in \(path) and runs SELECT 1\(note)"
    }
}
