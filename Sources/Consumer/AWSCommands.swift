import AWSClient
import Foundation
import Logging

/// The read-only AWS views for SEs and on-call: `invitations` and `endpoints`.
public enum AWSCommands {
    /// One invitation and what it shares.
    struct InvitationView: Encodable {
        var invitationArn: String
        var resourceShareArn: String
        var resourceShareName: String?
        var senderAccountId: String
        var status: String
        var region: String
        var resources: [ResourceView]
        /// Why the resources could not be listed, when they could not.
        var resourcesError: String?

        struct ResourceView: Encodable {
            var arn: String
            var type: String
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(invitationArn, forKey: .invitationArn)
            try container.encode(resourceShareArn, forKey: .resourceShareArn)
            try container.encode(resourceShareName, forKey: .resourceShareName)
            try container.encode(senderAccountId, forKey: .senderAccountId)
            try container.encode(status, forKey: .status)
            try container.encode(region, forKey: .region)
            try container.encode(resources, forKey: .resources)
            try container.encode(resourcesError, forKey: .resourcesError)
        }

        enum CodingKeys: String, CodingKey {
            case invitationArn, resourceShareArn, resourceShareName, senderAccountId, status, region, resources, resourcesError
        }
    }

    /// `invitations [--json]`: every invitation addressed to us, across all pages and configured regions.
    public static func invitations(_ app: ConsumerApp, context: AWSContext, json: Bool) async throws -> String {
        var views: [InvitationView] = []
        for region in app.config.regionNames {
            views += try await invitations(in: region, context: context)
        }
        if json { return JSONOutput.encode(["invitations": views]) }
        if views.isEmpty { return "no resource share invitations addressed to this account in \(app.config.regionNames.joined(separator: ", "))" }
        var table = TextTable("REGION", "STATUS", "SENDER", "SHARE", "INVITATION", "RESOURCES")
        for view in views {
            let resources = view.resourcesError.map { "(\($0))" }
                ?? (view.resources.isEmpty ? "-" : view.resources.map { "\($0.arn) [\($0.type)]" }.joined(separator: ", "))
            table.add(view.region, view.status, view.senderAccountId, view.resourceShareName ?? "-",
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
                                        resourcesError: resourcesError))
        }
        return views
    }

    /// One of our Resource endpoints.
    struct EndpointView: Encodable {
        var vpcEndpointId: String
        var region: String
        var state: String
        var resourceConfigurationArn: String?
        var dnsName: String?
        var customer: String?
        var lastError: String?
        var tags: [String: String]

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(vpcEndpointId, forKey: .vpcEndpointId)
            try container.encode(region, forKey: .region)
            try container.encode(state, forKey: .state)
            try container.encode(resourceConfigurationArn, forKey: .resourceConfigurationArn)
            try container.encode(dnsName, forKey: .dnsName)
            try container.encode(customer, forKey: .customer)
            try container.encode(lastError, forKey: .lastError)
            try container.encode(tags, forKey: .tags)
        }

        enum CodingKeys: String, CodingKey {
            case vpcEndpointId, region, state, resourceConfigurationArn, dnsName, customer, lastError, tags
        }
    }

    /// `endpoints [--json]`: the Resource endpoints in the configured VPCs, with their DNS names.
    public static func endpoints(_ app: ConsumerApp, context: AWSContext, json: Bool) async throws -> String {
        var views: [EndpointView] = []
        for region in app.config.regionNames {
            views += try await endpoints(in: region, vpcId: app.config.regions[region]!.vpcId, context: context)
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

    static func endpoints(in region: String, vpcId: String, context: AWSContext) async throws(AWSClientError) -> [EndpointView] {
        let ec2 = context.ec2(region)
        let endpoints = try await ec2.vpcEndpoints(filters: [EC2Filter("vpc-id", [vpcId]),
                                                             EC2Filter("vpc-endpoint-type", ["Resource"])]).collectAll()
        var dnsNames: [String: String] = [:]
        let ids = endpoints.map(\.vpcEndpointId)
        for start in stride(from: 0, to: ids.count, by: 100) {
            let batch = Array(ids[start..<min(start + 100, ids.count)])
            for association in try await ec2.vpcEndpointAssociations(ids: batch).collectAll() {
                if let name = association.preferredDnsName { dnsNames[association.vpcEndpointId] = name }
            }
        }
        return endpoints.map { endpoint in
            EndpointView(vpcEndpointId: endpoint.vpcEndpointId, region: region, state: endpoint.state.description,
                         resourceConfigurationArn: endpoint.resourceConfigurationArn, dnsName: dnsNames[endpoint.vpcEndpointId],
                         customer: endpoint.tags[EndpointTags.customerKey],
                         lastError: endpoint.lastError.map(\.description) ?? endpoint.failureReason, tags: endpoint.tags)
        }
    }
}
