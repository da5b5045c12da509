import Foundation

/// ECS/EKS container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on 169.254.170.2) or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (re-read on each
/// fetch, as EKS rotates it) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
public struct ContainerCredentialSource: CredentialSource {
    public let name = "container"
    let environment: [String: String]
    let transport: any HTTPTransport
    /// The ECS agent's address for relative URIs; an init parameter so tests can use loopback.
    let relativeBase: String
    let timeout: Duration

    public init(environment: [String: String], transport: any HTTPTransport,
                relativeBase: String = "http://169.254.170.2", timeout: Duration = .seconds(2)) {
        self.environment = environment
        self.transport = transport
        self.relativeBase = relativeBase
        self.timeout = timeout
    }

    /// Full URIs may only name hosts that cannot be on the network path to someone else.
    static let allowedHTTPHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]"]

    public func load() async throws(AWSClientError) -> AWSCredentials? {
        let url: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            url = relativeBase + (relative.hasPrefix("/") ? relative : "/" + relative)
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            try Self.checkFullURI(full)
            url = full
        } else {
            return nil
        }
        var headers: [HTTPHeader] = [HTTPHeader(name: "Accept", value: "application/json")]
        if let token = try authorizationToken() {
            headers.append(HTTPHeader(name: "Authorization", value: token))
        }
        let response: TransportResponse
        do {
            response = try await transport.send(TransportRequest(method: "GET", url: url, headers: headers),
                                                timeout: timeout, maxResponseBytes: 64 << 10)
        } catch {
            throw .credentialFailure(name, "container credentials endpoint: \(error.message)")
        }
        guard response.status == 200 else {
            throw .credentialFailure(name, "container credentials endpoint \(url) answered HTTP \(response.status)")
        }
        return try CredentialJSON.decode(response.body, source: name, what: "container credentials endpoint")
    }

    private func authorizationToken() throws(AWSClientError) -> String? {
        if let path = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .credentialFailure(name, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path) cannot be read")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty, !token.contains(where: \.isNewline) else {
                throw .credentialFailure(name, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path) does not hold a token")
            }
            return token
        }
        if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            guard !token.contains(where: \.isNewline) else {
                throw .credentialFailure(name, "AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break")
            }
            return token
        }
        return nil
    }

    static func checkFullURI(_ text: String) throws(AWSClientError) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host else {
            throw .credentialFailure("container", "AWS_CONTAINER_CREDENTIALS_FULL_URI=\(text) is not a URL")
        }
        if scheme == "https" { return }
        guard scheme == "http", AWSEndpoint.isLoopback(host: host) || allowedHTTPHosts.contains(host) else {
            throw .credentialFailure("container", "AWS_CONTAINER_CREDENTIALS_FULL_URI=\(text) must be https, or http to loopback or the ECS/EKS agent address")
        }
    }
}

/// The JSON credential documents IMDS and container endpoints return.
enum CredentialJSON {
    struct Document: Decodable {
        var AccessKeyId: String?
        var SecretAccessKey: String?
        var Token: String?
        var Expiration: String?
        var Code: String?
        var Message: String?
    }

    static func decode(_ body: [UInt8], source: String, what: String) throws(AWSClientError) -> AWSCredentials {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(body))
        } catch {
            throw .credentialFailure(source, "\(what) returned a body that is not a credentials JSON document")
        }
        if let code = document.Code, code != "Success" {
            throw .credentialFailure(source, "\(what) returned Code \(code)\(document.Message.map { ": \($0)" } ?? "")")
        }
        guard let key = document.AccessKeyId, !key.isEmpty, let secret = document.SecretAccessKey, !secret.isEmpty else {
            throw .credentialFailure(source, "\(what) returned a document without AccessKeyId/SecretAccessKey")
        }
        var expiration: Date?
        if let text = document.Expiration {
            guard let date = ExpirationParser.parse(text) else {
                throw .credentialFailure(source, "\(what) returned an unreadable Expiration \(text.prefix(40))")
            }
            expiration = date
        }
        return AWSCredentials(accessKeyId: key, secretAccessKey: secret, sessionToken: document.Token, expiration: expiration)
    }
}
