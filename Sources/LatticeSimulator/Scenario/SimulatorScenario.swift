import AWSClient
import Foundation

/// A simulator set-up read from JSON, for `lattice-simulator --scenario` and tests.
///
/// ```json
/// {
///   "accountId": "999999999999",
///   "region": "us-east-1",
///   "credentials": [{"accessKeyId": "AKIA…", "secretAccessKey": "…", "sessionToken": "…"}],
///   "pageSize": 100,
///   "provisioning": {
///     "endpoints": "instant" | {"afterDescribes": 1} | {"afterSeconds": 5},
///     "resourcesAvailableAfterListCalls": 0, "emptyPageEvery": 0,
///     "endpointStateCasing": "mixed" | "lowercase" | "model", "deletingDescribes": 1
///   },
///   "invitations": [{
///     "sender": "111122223333", "shareName": "acme-db", "region": "us-east-1",
///     "status": "PENDING" | "ACCEPTED" | "REJECTED" | "EXPIRED", "expiredButReadsPending": false,
///     "resources": [RESOURCE, …]
///   }],
///   "organizationShares": [{"owner": "444455556666", "shareName": "…", "region": "…", "resources": [RESOURCE, …]}],
///   "faults": [{"kind": "throttle" | "serverError" | "unavailable" | "delay" | "truncatedBody" | "cutDocument"
///               | "htmlPage" | "lostResponse" | "dropConnection",
///               "service": "ram" | "ec2" | "vpc-lattice" | "sts", "operation": "CreateVpcEndpoint",
///               "every": 3, "times": 1, "delayMilliseconds": 500, "status": 502}]
/// }
/// ```
/// RESOURCE is `{"arn": "arn:aws:vpc-lattice:…:resourceconfiguration/rcfg-…", "type": "vpc-lattice:ResourceConfiguration",
/// "regionScope": "REGIONAL", "dnsName": "localhost", "privateDnsName": "db.acme.internal", "name": "…",
/// "domainName": "db.example.com" | "ipAddress": "10.0.0.5", "port": 5432, "customDomainName": "…", "readable": true}`.
/// Only `arn` (and `sender`/`owner`, `shareName`) are required. Unknown keys and wrong types are refused
/// with the key's path.
public struct SimulatorScenario: Sendable {
    /// One invitation to create.
    public struct Invitation: Sendable, Equatable {
        public var sender: String
        public var shareName: String
        public var region: String?
        public var status: SimulatedInvitation.Status
        public var expiredButReadsPending: Bool
        public var resources: [Resource]
    }

    /// One same-organization share to create.
    public struct OrganizationShare: Sendable, Equatable {
        public var owner: String
        public var shareName: String
        public var region: String?
        public var resources: [Resource]
    }

    /// A shared resource with what EC2 and Lattice should say about it.
    public struct Resource: Sendable, Equatable {
        public var shared: SharedResource
        /// The association's `dnsEntry` name (nil: generated).
        public var dnsName: String?
        public var privateDNSName: String?
        /// GetResourceConfiguration's answer (nil: the default one).
        public var configuration: SimulatedResourceConfiguration?
    }

    public var configuration: SimulatorConfiguration
    public var invitations: [Invitation]
    public var organizationShares: [OrganizationShare]
    public var faults: [SimulatorFault]

    /// Reads and validates the scenario at `path`.
    public static func load(contentsOf path: String) throws(SimulatorScenarioError) -> SimulatorScenario {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SimulatorScenarioError(.unreadable, keyPath: "", "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(data)
    }

    /// Validates a scenario document.
    public static func parse(_ data: Data) throws(SimulatorScenarioError) -> SimulatorScenario {
        let document: ScenarioJSON
        do {
            document = try JSONDecoder().decode(ScenarioJSON.self, from: data)
        } catch {
            throw SimulatorScenarioError(.invalidJSON, keyPath: "", "not a JSON document")
        }
        let root = try ScenarioObject(document, path: "", allowed: [
            "accountId", "region", "credentials", "pageSize", "provisioning", "invitations", "organizationShares", "faults",
        ])
        let accountId = try root.string("accountId") ?? "999999999999"
        try requireAccount(accountId, at: root.keyPath("accountId"))
        let region = try root.string("region") ?? "us-east-1"
        var credentials: [AWSCredentials] = []
        for element in try root.array("credentials") ?? [] {
            let object = try ScenarioObject(element.value, path: element.path,
                                            allowed: ["accessKeyId", "secretAccessKey", "sessionToken"])
            credentials.append(AWSCredentials(accessKeyId: try object.requiredString("accessKeyId"),
                                              secretAccessKey: try object.requiredString("secretAccessKey"),
                                              sessionToken: try object.string("sessionToken")))
        }
        if root.contains("credentials"), credentials.isEmpty {
            throw SimulatorScenarioError(.invalidValue, keyPath: "credentials", "must list at least one key pair")
        }
        let pageSize = try root.int("pageSize", in: 1...1000) ?? 100
        let provisioning = try root.value("provisioning").map { value throws(SimulatorScenarioError) in
            try parseProvisioning(value, path: "provisioning")
        } ?? ProvisioningSettings()

        var invitations: [Invitation] = []
        for element in try root.array("invitations") ?? [] {
            let object = try ScenarioObject(element.value, path: element.path,
                                            allowed: ["sender", "shareName", "region", "status", "expiredButReadsPending", "resources"])
            let sender = try object.requiredString("sender")
            try requireAccount(sender, at: object.keyPath("sender"))
            let status = try object.choice("status", ["PENDING", "ACCEPTED", "REJECTED", "EXPIRED"]) ?? "PENDING"
            invitations.append(Invitation(sender: sender, shareName: try object.requiredString("shareName"),
                                          region: try object.string("region"),
                                          status: SimulatedInvitation.Status(rawValue: status)!,
                                          expiredButReadsPending: try object.bool("expiredButReadsPending") ?? false,
                                          resources: try parseResources(object)))
        }
        var organizationShares: [OrganizationShare] = []
        for element in try root.array("organizationShares") ?? [] {
            let object = try ScenarioObject(element.value, path: element.path, allowed: ["owner", "shareName", "region", "resources"])
            let owner = try object.requiredString("owner")
            try requireAccount(owner, at: object.keyPath("owner"))
            organizationShares.append(OrganizationShare(owner: owner, shareName: try object.requiredString("shareName"),
                                                        region: try object.string("region"),
                                                        resources: try parseResources(object)))
        }
        var faults: [SimulatorFault] = []
        for element in try root.array("faults") ?? [] {
            faults.append(try parseFault(element.value, path: element.path))
        }
        return SimulatorScenario(
            configuration: SimulatorConfiguration(accountId: accountId, region: region,
                                                  credentials: credentials.isEmpty ? [SimulatorConfiguration.defaultCredentials] : credentials,
                                                  pageSize: pageSize, provisioning: provisioning),
            invitations: invitations, organizationShares: organizationShares, faults: faults)
    }

    /// Starts a simulator on 127.0.0.1 (`port` 0: ephemeral) with this scenario applied.
    public func start(port: Int = 0) async throws -> LatticeSimulator {
        let simulator = try await LatticeSimulator.start(configuration, port: port)
        apply(to: simulator)
        return simulator
    }

    /// Creates the scenario's invitations, shares, resource descriptions and faults in `simulator`.
    public func apply(to simulator: LatticeSimulator) {
        for invitation in invitations {
            let added = simulator.addInvitation(sender: invitation.sender, shareName: invitation.shareName,
                                                resources: invitation.resources.map(\.shared), region: invitation.region)
            describe(invitation.resources, in: simulator)
            switch invitation.status {
            case .pending:
                if invitation.expiredButReadsPending { simulator.expireInvitation(added.arn, stillReadsPending: true) }
            case .expired:
                simulator.expireInvitation(added.arn, stillReadsPending: false)
            case .accepted, .rejected:
                let now = simulator.configuration.now()
                _ = simulator.state.withLock { state in
                    try? state.respondToInvitation(arn: added.arn, accept: invitation.status == .accepted, clientToken: nil, now: now)
                }
            }
        }
        for share in organizationShares {
            simulator.addOrganizationShare(owner: share.owner, shareName: share.shareName,
                                           resources: share.resources.map(\.shared), region: share.region)
            describe(share.resources, in: simulator)
        }
        for fault in faults {
            simulator.inject(fault)
        }
    }

    private func describe(_ resources: [Resource], in simulator: LatticeSimulator) {
        for resource in resources {
            if resource.dnsName != nil || resource.privateDNSName != nil {
                simulator.setAssociationDNSName(resource.dnsName, privateDNSName: resource.privateDNSName, forResource: resource.shared.arn)
            }
            if let configuration = resource.configuration {
                simulator.setResourceConfiguration(configuration)
            }
        }
    }

    // MARK: Parsing

    private static func requireAccount(_ account: String, at path: String) throws(SimulatorScenarioError) {
        guard account.count == 12, account.allSatisfy(\.isNumber) else {
            throw SimulatorScenarioError(.invalidValue, keyPath: path, "'\(account)' is not a 12-digit AWS account id")
        }
    }

    private static func parseProvisioning(_ value: ScenarioJSON, path: String) throws(SimulatorScenarioError) -> ProvisioningSettings {
        let object = try ScenarioObject(value, path: path, allowed: [
            "endpoints", "resourcesAvailableAfterListCalls", "emptyPageEvery", "endpointStateCasing", "deletingDescribes",
        ])
        var endpoints = EndpointProvisioning.afterDescribes(1)
        switch object.value("endpoints") {
        case nil:
            break
        case .string("instant"):
            endpoints = .instant
        case .some(let value):
            guard case .object = value else {
                throw SimulatorScenarioError(.invalidValue, keyPath: object.keyPath("endpoints"),
                                             "expected \"instant\", {\"afterDescribes\": N} or {\"afterSeconds\": S}")
            }
            let mode = try ScenarioObject(value, path: object.keyPath("endpoints"), allowed: ["afterDescribes", "afterSeconds"])
            if let count = try mode.int("afterDescribes", in: 0...1000) {
                endpoints = .afterDescribes(count)
            } else if let seconds = try mode.number("afterSeconds", atLeast: 0) {
                endpoints = .afterDelay(seconds: seconds)
            } else {
                throw SimulatorScenarioError(.missingKey, keyPath: mode.path, "expected afterDescribes or afterSeconds")
            }
        }
        let casing = try object.choice("endpointStateCasing", ["mixed", "lowercase", "model"]) ?? "mixed"
        return ProvisioningSettings(
            endpoints: endpoints,
            resourcesAvailableAfterListCalls: try object.int("resourcesAvailableAfterListCalls", in: 0...1000) ?? 0,
            emptyPageEvery: try object.int("emptyPageEvery", in: 0...1000) ?? 0,
            endpointStateCasing: EndpointStateCasing(rawValue: casing)!,
            deletingDescribes: try object.int("deletingDescribes", in: 0...1000) ?? 1)
    }

    private static func parseResources(_ parent: ScenarioObject) throws(SimulatorScenarioError) -> [Resource] {
        guard let elements = try parent.array("resources") else {
            throw SimulatorScenarioError(.missingKey, keyPath: parent.keyPath("resources"), "required key is missing")
        }
        var resources: [Resource] = []
        for element in elements {
            let object = try ScenarioObject(element.value, path: element.path, allowed: [
                "arn", "type", "regionScope", "dnsName", "privateDnsName", "name", "domainName", "ipAddress", "port",
                "customDomainName", "readable", "configurationType", "configurationStatus",
            ])
            let arn = try object.requiredString("arn")
            guard arn.hasPrefix("arn:") else {
                throw SimulatorScenarioError(.invalidValue, keyPath: object.keyPath("arn"), "'\(arn)' is not an ARN")
            }
            let type = try object.string("type") ?? SharedResource.resourceConfigurationType
            let regionScope = try object.choice("regionScope", ["REGIONAL", "GLOBAL"]) ?? "REGIONAL"
            if object.contains("domainName"), object.contains("ipAddress") {
                throw SimulatorScenarioError(.invalidValue, keyPath: object.keyPath("ipAddress"), "give domainName or ipAddress, not both")
            }
            var definition: SimulatedResourceConfiguration.Definition?
            if let domainName = try object.string("domainName") {
                definition = .dns(domainName: domainName)
            } else if let address = try object.string("ipAddress") {
                definition = .ip(address: address)
            }
            let port = try object.int("port", in: 1...65535)
            let name = try object.string("name")
            let customDomainName = try object.string("customDomainName")
            let readable = try object.bool("readable")
            let configurationType = try object.choice("configurationType", ["SINGLE", "GROUP", "CHILD", "ARN"])
            let configurationStatus = try object.choice("configurationStatus", [
                "ACTIVE", "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"])
            let describes = definition != nil || port != nil || name != nil || customDomainName != nil || readable != nil
                || configurationType != nil || configurationStatus != nil
            resources.append(Resource(
                shared: SharedResource(arn: arn, type: type, regionScope: regionScope),
                dnsName: try object.string("dnsName"), privateDNSName: try object.string("privateDnsName"),
                configuration: describes
                    ? {
                        var configuration = SimulatedResourceConfiguration(
                            arn: arn, name: name, definition: configurationType == "GROUP" && definition == nil ? SimulatedResourceConfiguration.Definition.noDefinition : definition,
                            portRanges: [String(port ?? 5432)], customDomainName: customDomainName, isReadable: readable ?? true)
                        configuration.type = configurationType ?? "SINGLE"
                        configuration.status = configurationStatus ?? "ACTIVE"
                        return configuration
                    }()
                    : nil))
        }
        return resources
    }

    private static func parseFault(_ value: ScenarioJSON, path: String) throws(SimulatorScenarioError) -> SimulatorFault {
        let object = try ScenarioObject(value, path: path, allowed: [
            "kind", "service", "operation", "every", "times", "delayMilliseconds", "status",
        ])
        let kinds = ["throttle", "serverError", "unavailable", "delay", "truncatedBody", "cutDocument", "htmlPage",
                     "lostResponse", "dropConnection"]
        guard let kindName = try object.choice("kind", kinds) else {
            throw SimulatorScenarioError(.missingKey, keyPath: object.keyPath("kind"), "required key is missing")
        }
        let kind: SimulatorFault.Kind
        switch kindName {
        case "throttle": kind = .throttle
        case "serverError": kind = .serverError
        case "unavailable": kind = .unavailable
        case "delay":
            guard let milliseconds = try object.int("delayMilliseconds", in: 0...600_000) else {
                throw SimulatorScenarioError(.missingKey, keyPath: object.keyPath("delayMilliseconds"), "required for kind delay")
            }
            kind = .delay(.milliseconds(milliseconds))
        case "truncatedBody": kind = .truncatedBody
        case "cutDocument": kind = .malformedBody(.cutDocument)
        case "htmlPage": kind = .malformedBody(.htmlPage(status: try object.int("status", in: 100...599) ?? 502))
        case "lostResponse": kind = .lostResponse
        default: kind = .dropConnection
        }
        if kindName != "delay", object.contains("delayMilliseconds") {
            throw SimulatorScenarioError(.invalidValue, keyPath: object.keyPath("delayMilliseconds"), "only for kind delay")
        }
        if kindName != "htmlPage", object.contains("status") {
            throw SimulatorScenarioError(.invalidValue, keyPath: object.keyPath("status"), "only for kind htmlPage")
        }
        let services: [String: AWSService] = ["ram": .ram, "ec2": .ec2, "vpc-lattice": .vpcLattice, "sts": .sts]
        let service = try object.choice("service", services.keys.sorted()).flatMap { services[$0] }
        let operation = try object.string("operation")
        if operation != nil, service == nil {
            throw SimulatorScenarioError(.missingKey, keyPath: object.keyPath("service"), "required when operation is given")
        }
        return SimulatorFault(kind, on: SimulatorFault.Scope(service: service, operation: operation),
                              every: try object.int("every", in: 1...1_000_000) ?? 1,
                              times: try object.int("times", in: 1...1_000_000))
    }
}

extension LatticeSimulator {
    /// Everything a client process needs to reach this simulator: the endpoint overrides, the first
    /// accepted credentials and the region, as `NAME=value` lines sorted by name.
    public var clientEnvironment: [String: String] {
        var environment = endpointEnvironment
        let credentials = configuration.credentials.first ?? SimulatorConfiguration.defaultCredentials
        environment["AWS_ACCESS_KEY_ID"] = credentials.accessKeyId
        environment["AWS_SECRET_ACCESS_KEY"] = credentials.secretAccessKey
        if let token = credentials.sessionToken { environment["AWS_SESSION_TOKEN"] = token }
        environment["AWS_REGION"] = configuration.region
        environment["AWS_DEFAULT_REGION"] = configuration.region
        return environment
    }

    /// `clientEnvironment` as `NAME=value` lines, sorted by name.
    public var exportLines: [String] {
        clientEnvironment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }
}
