import Foundation

/// The EC2 instance role through IMDSv2: a session token (PUT), the role name, then its credentials.
/// Base URL from `AWS_EC2_METADATA_SERVICE_ENDPOINT`; `AWS_EC2_METADATA_DISABLED=true` turns it off.
public struct IMDSCredentialSource: CredentialSource {
    public let name = "imds"
    let client: IMDSClient

    /// `timeout` per IMDS request: 1 s, as the SDKs use, so that off EC2 the chain moves on quickly.
    public init(environment: [String: String], transport: any HTTPTransport, timeout: Duration = .seconds(1)) {
        client = IMDSClient(environment: environment, transport: transport, timeout: timeout)
    }

    /// nil when IMDS is disabled or does not answer (not on EC2); throws when it answers wrongly.
    public func load() async throws(AWSClientError) -> AWSCredentials? {
        guard client.isEnabled else { return nil }
        guard let token = try await client.sessionToken() else { return nil }
        let roles = try await client.get("/latest/meta-data/iam/security-credentials/", token: token)
        guard let roles else { return nil }
        guard let role = String(decoding: roles, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init),
              !role.isEmpty, !role.contains("/") else {
            throw .credentialFailure(name, "the instance has no IAM role attached (IMDS lists none); attach the role with Deploy/iam-policy.json")
        }
        guard let body = try await client.get("/latest/meta-data/iam/security-credentials/\(role)", token: token) else {
            throw .credentialFailure(name, "IMDS lists role \(role) but has no credentials for it")
        }
        return try CredentialJSON.decode(body, source: name, what: "IMDS")
    }
}

/// The bits of the instance metadata service the daemon uses (credentials and the region).
public struct IMDSClient: Sendable {
    let environment: [String: String]
    let transport: any HTTPTransport
    let baseURL: String
    let timeout: Duration

    public init(environment: [String: String], transport: any HTTPTransport, timeout: Duration = .seconds(1)) {
        self.environment = environment
        self.transport = transport
        var base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://169.254.169.254"
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        self.timeout = timeout
    }

    public var isEnabled: Bool {
        environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true"
    }

    /// An IMDSv2 session token; nil when IMDS does not answer (not on EC2, or IMDS turned off).
    func sessionToken() async throws(AWSClientError) -> String? {
        let request = TransportRequest(method: "PUT", url: baseURL + "/latest/api/token",
                                       headers: [HTTPHeader(name: "x-aws-ec2-metadata-token-ttl-seconds", value: "21600")])
        guard let response = try? await transport.send(request, timeout: timeout, maxResponseBytes: 4096) else { return nil }
        switch response.status {
        case 200:
            let token = String(decoding: response.body, as: UTF8.self)
            guard !token.isEmpty, !token.contains(where: { $0.isNewline || $0 == "\r" }) else {
                throw .credentialFailure("imds", "IMDS returned an unusable session token")
            }
            return token
        case 403, 404, 405:
            // IMDS disabled or IMDSv2 not available on this instance.
            return nil
        default:
            throw .credentialFailure("imds", "IMDS token request answered HTTP \(response.status)")
        }
    }

    /// The body of GET `path`, nil for 404; throws on other failures.
    func get(_ path: String, token: String) async throws(AWSClientError) -> [UInt8]? {
        let request = TransportRequest(method: "GET", url: baseURL + path,
                                       headers: [HTTPHeader(name: "x-aws-ec2-metadata-token", value: token)])
        let response: TransportResponse
        do {
            response = try await transport.send(request, timeout: timeout, maxResponseBytes: 64 << 10)
        } catch {
            throw .credentialFailure("imds", "IMDS \(path): \(error.message)")
        }
        switch response.status {
        case 200: return response.body
        case 404: return nil
        default: throw .credentialFailure("imds", "IMDS \(path) answered HTTP \(response.status)")
        }
    }

    /// The instance's region (`placement/region`), nil when IMDS is unavailable.
    public func region() async -> String? {
        guard isEnabled, let token = try? await sessionToken(),
              let body = try? await get("/latest/meta-data/placement/region", token: token) else { return nil }
        let region = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return region.isEmpty ? nil : region
    }
}
