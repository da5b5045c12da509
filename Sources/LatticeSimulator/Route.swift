import AWSClient

/// Which service and operation a request is for, recognised the way AWS's front ends do: the form
/// body's `Action` for the query protocols, the path for the rest-json ones.
struct Route: Sendable {
    var service: AWSService
    var operation: String
    /// Form fields of a query-protocol request (empty for rest-json).
    var fields: [QueryField]

    static let stsActions: Set<String> = ["GetCallerIdentity", "AssumeRoleWithWebIdentity"]

    /// STS AssumeRoleWithWebIdentity is the one unsigned call.
    var requiresSignature: Bool { !(service == .sts && operation == "AssumeRoleWithWebIdentity") }

    init?(_ request: ServerRequest) {
        if request.method == "POST", request.path == "/" {
            let fields = FormDecoder.decode(request.bodyText + (request.query.isEmpty ? "" : "&" + request.query))
            guard let action = fields.first(where: { $0.name == "Action" })?.value else { return nil }
            self.service = Self.stsActions.contains(action) ? .sts : .ec2
            self.operation = action
            self.fields = fields
            return
        }
        return nil
    }

    /// The first value of form field `name`.
    func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }
}
