import AWSClient
import Foundation

/// Which service and operation a request is for, recognised the way AWS's front ends do: the form
/// body's `Action` for the query protocols, the method and path for the rest-json ones.
struct Route: Sendable {
    var service: AWSService
    var operation: String
    /// Form fields of a query-protocol request (empty for rest-json).
    var fields: [QueryField]
    /// The decoded `{resourceConfigurationIdentifier}` of a Lattice path.
    var pathIdentifier: String?

    static let stsActions: Set<String> = ["GetCallerIdentity", "AssumeRoleWithWebIdentity"]

    /// RAM's operations by their (lower-case) path; every one is a POST.
    static let ramOperations: [String: String] = [
        "/getresourceshareinvitations": "GetResourceShareInvitations",
        "/listpendinginvitationresources": "ListPendingInvitationResources",
        "/acceptresourceshareinvitation": "AcceptResourceShareInvitation",
        "/rejectresourceshareinvitation": "RejectResourceShareInvitation",
        "/getresourceshares": "GetResourceShares",
        "/listresources": "ListResources",
    ]

    static let resourceConfigurationsPrefix = "/resourceconfigurations/"

    /// STS AssumeRoleWithWebIdentity is the one unsigned call.
    var requiresSignature: Bool { !(service == .sts && operation == "AssumeRoleWithWebIdentity") }

    init(service: AWSService, operation: String, fields: [QueryField] = [], pathIdentifier: String? = nil) {
        self.service = service
        self.operation = operation
        self.fields = fields
        self.pathIdentifier = pathIdentifier
    }

    init?(_ request: ServerRequest) {
        // awsJson1_1 (Service Quotas): POST / naming the operation in X-Amz-Target.
        if request.method == "POST", request.path == "/",
           let target = request.headers.first(where: { $0.name.lowercased() == "x-amz-target" })?.value {
            let prefix = "ServiceQuotasV20190624."
            guard target.hasPrefix(prefix) else { return nil }
            self.init(service: .serviceQuotas, operation: String(target.dropFirst(prefix.count)))
            return
        }
        if request.method == "POST", request.path == "/" {
            let fields = FormDecoder.decode(request.bodyText + (request.query.isEmpty ? "" : "&" + request.query))
            guard let action = fields.first(where: { $0.name == "Action" })?.value else { return nil }
            self.init(service: Self.stsActions.contains(action) ? .sts : .ec2, operation: action, fields: fields)
            return
        }
        if request.method == "POST", let operation = Self.ramOperations[request.path] {
            self.init(service: .ram, operation: operation)
            return
        }
        if request.method == "GET", request.path.hasPrefix(Self.resourceConfigurationsPrefix) {
            let encoded = request.path.dropFirst(Self.resourceConfigurationsPrefix.count)
            // The identifier is one path segment: an ARN arrives with its `:` and `/` percent-encoded.
            guard !encoded.isEmpty, !encoded.contains("/"), let identifier = String(encoded).removingPercentEncoding else {
                return nil
            }
            self.init(service: .vpcLattice, operation: "GetResourceConfiguration", pathIdentifier: identifier)
            return
        }
        return nil
    }

    /// The first value of form field `name`.
    func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }
}
