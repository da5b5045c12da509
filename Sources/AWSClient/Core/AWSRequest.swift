/// One AWS API call before endpoint resolution and signing.
public struct AWSRequest: Sendable, Equatable {
    public var service: AWSService
    /// The API operation name, for errors, logs and metrics (`GetResourceShareInvitations`).
    public var operation: String
    public var region: String
    public var method: String
    /// The path as sent on the wire, already percent-encoded.
    public var path: String
    public var query: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(service: AWSService, operation: String, region: String, method: String = "POST", path: String = "/",
                query: String = "", headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.service = service
        self.operation = operation
        self.region = region
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}
