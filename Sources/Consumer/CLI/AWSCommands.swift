import ConsumerCore
import AWSClient
import Foundation
import Logging

/// The read-only AWS views for SEs and on-call: `invitations` and `endpoints`.
public enum AWSCommands {
    /// One invitation and what it shares.
    struct InvitationView: JSONRecord {
        var invitationArn: String
        var resourceShareArn: String
        var resourceShareName: String?
        var senderAccountId: String
        var status: String
        var region: String
        var resources: [ResourceView]
        /// Why the resources could not be listed, when they could not.
        var resourcesError: String?
        /// What the daemon decided (`pending`, `accepted`, `ignored`, `rejected`), once it has seen it.
        var decision: String?
        /// Why it was not accepted: `unregistered_resource`, `sender_mismatch`, `unexpected_resource_type`, `empty_share`.
        var reason: String?

        struct ResourceView: JSONRecord {
            var arn: String
            var type: String
        }
    }

    /// `invitations [--json]`: every invitation addressed to us, across all pages and configured regions.
    public static func invitations(_ app: ConsumerApp, context: AWSContext, json: Bool) async throws -> String {
        var views: [InvitationView] = []
        for region in app.config.regionNames {
            views += try await invitations(in: region, context: context)
        }
        // The daemon's decisions, when it has run (a read-only command does not create the state file).
        if app.config.stateDatabase.map({ FileManager.default.fileExists(atPath: $0) }) ?? true {
            let records = try await app.openStore().invitationRecords(invitationArns: Set(views.map(\.invitationArn)),
                                                                      resourceArns: [], senders: [])
            for index in views.indices {
                guard let record = records[views[index].invitationArn] else { continue }
                views[index].decision = record.decision.rawValue
                views[index].reason = record.reason?.rawValue
            }
        }
        if json { return JSONOutput.encode(["invitations": views]) }
        if views.isEmpty { return "no resource share invitations addressed to this account in \(app.config.regionNames.joined(separator: ", "))" }
        var table = TextTable("REGION", "STATUS", "DECISION", "SENDER", "SHARE", "INVITATION", "RESOURCES")
        for view in views {
            let resources = view.resourcesError.map { "(\($0))" }
                ?? (view.resources.isEmpty ? "-" : view.resources.map { "\($0.arn) [\($0.type)]" }.joined(separator: ", "))
            let decision = view.decision.map { decision in view.reason.map { "\(decision) (\($0))" } ?? decision } ?? "-"
            table.add(view.region, view.status, decision, view.senderAccountId, view.resourceShareName ?? "-",
                      view.invitationArn.components(separatedBy: "/").last ?? view.invitationArn, resources)
        }
        return table.render()
    }

    static func invitations(in region: String, context: AWSContext) async throws(AWSClientError) -> [InvitationView] {
        let ram = context.ram(region)
        let invitations = try await ram.resourceShareInvitations().collectAll()
        // Accepted shares' resources come from ListResources, a page of shares at a time.
        let acceptedShares = invitations.filter { $0.status.uppercased() == "ACCEPTED" }.map(\.resourceShareArn)
        var sharedResources: [String: [RAMResource]] = [:]
        for batch in stride(from: 0, to: acceptedShares.count, by: 100).map({ Array(acceptedShares[$0..<min($0 + 100, acceptedShares.count)]) }) {
            for resource in try await ram.resources(owner: .otherAccounts, resourceShareArns: batch).collectAll() {
                sharedResources[resource.resourceShareArn ?? "", default: []].append(resource)
            }
        }
        var views: [InvitationView] = []
        for invitation in invitations {
            var resources: [RAMResource] = []
            var resourcesError: String?
            if invitation.isPending {
                do {
                    resources = try await ram.pendingInvitationResources(invitationArn: invitation.resourceShareInvitationArn).collectAll()
                } catch where error.kind == .service && error.httpStatus.map({ $0 < 500 }) == true {
                    // An invitation that expired while still reading PENDING: say so, keep listing the others.
                    resourcesError = error.code ?? error.message
                }
            } else {
                resources = sharedResources[invitation.resourceShareArn] ?? []
            }
            views.append(InvitationView(invitationArn: invitation.resourceShareInvitationArn,
                                        resourceShareArn: invitation.resourceShareArn,
                                        resourceShareName: invitation.resourceShareName,
                                        senderAccountId: invitation.senderAccountId, status: invitation.status, region: region,
                                        resources: resources.map { .init(arn: $0.arn, type: $0.type) },
                                        resourcesError: resourcesError, decision: nil, reason: nil))
        }
        return views
    }

    /// One of our Resource endpoints.
    struct EndpointView: JSONRecord {
        var vpcEndpointId: String
        var region: String
        var state: String
        var resourceConfigurationArn: String?
        var dnsName: String?
        var customer: String?
        var lastError: String?
        var tags: [String: String]
    }

    /// `endpoints [--json]`: the Resource endpoints in the configured VPCs, with their DNS names.
    public static func endpoints(_ app: ConsumerApp, context: AWSContext, json: Bool) async throws -> String {
        var views: [EndpointView] = []
        for region in app.config.regionNames {
            views += try await endpoints(in: region, vpcIds: app.config.regions[region]!.vpcIds, context: context)
        }
        if json { return JSONOutput.encode(["endpoints": views]) }
        if views.isEmpty { return "no Resource VPC endpoints in the configured VPCs" }
        var table = TextTable("REGION", "ENDPOINT", "STATE", "CUSTOMER", "RESOURCE CONFIGURATION", "DNS NAME", "LAST ERROR")
        for view in views {
            table.add(view.region, view.vpcEndpointId, view.state, view.customer ?? "-",
                      view.resourceConfigurationArn?.components(separatedBy: "/").last ?? "-", view.dnsName ?? "-", view.lastError ?? "-")
        }
        return table.render()
    }

    static func endpoints(in region: String, vpcIds: [String], context: AWSContext) async throws(AWSClientError) -> [EndpointView] {
        let ec2 = context.ec2(region)
        let endpoints = try await ec2.resourceEndpoints(inVpcs: vpcIds).collectAll()
        let dnsNames = try await ec2.dnsNames(of: endpoints)
        return endpoints.map { endpoint in
            EndpointView(vpcEndpointId: endpoint.vpcEndpointId, region: region, state: endpoint.state.description,
                         resourceConfigurationArn: endpoint.resourceConfigurationArn, dnsName: dnsNames[endpoint.vpcEndpointId],
                         customer: endpoint.tags[EndpointTags.customerKey],
                         lastError: endpoint.lastError.map(\.description) ?? endpoint.failureReason, tags: endpoint.tags)
        }
    }
}
