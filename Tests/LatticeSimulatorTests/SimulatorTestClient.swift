import AWSClient
import AsyncHTTPClient
import Foundation
import LatticeSimulator
import NIOCore
import NIOHTTP1
import Testing

/// Signs requests with `SigV4Signer` and sends them to a simulator with `HTTPClient.shared`, so the
/// tests see exactly what goes over the wire (the real AWS clients are tested elsewhere).
struct SimulatorTestClient: Sendable {
    let simulator: LatticeSimulator
    var credentials = SimulatorConfiguration.defaultCredentials
    var region = "us-east-1"

    /// A RAM call: `POST /<operation lower-cased>` with a JSON body.
    func ram(_ operation: String, _ body: [String: any Sendable] = [:]) async throws -> WireResponse {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await send(service: .ram, method: "POST", path: "/" + operation.lowercased(), body: Array(data),
                              contentType: "application/json")
    }

    /// An EC2 call: `POST /` with `Action`, `Version` and `parameters` form-encoded.
    func ec2(_ action: String, _ parameters: [(String, String)] = [], version: String? = "2016-11-15") async throws -> WireResponse {
        var body = "Action=" + QueryParameters.percentEncode(action)
        if let version { body += "&Version=" + version }
        for (name, value) in parameters {
            body += "&" + QueryParameters.percentEncode(name) + "=" + QueryParameters.percentEncode(value)
        }
        return try await send(service: .ec2, method: "POST", path: "/", body: Array(body.utf8),
                              contentType: "application/x-www-form-urlencoded; charset=utf-8")
    }

    /// Lattice GetResourceConfiguration; an ARN is percent-encoded into one path segment.
    func getResourceConfiguration(_ identifier: String) async throws -> WireResponse {
        try await send(service: .vpcLattice, method: "GET",
                       path: "/resourceconfigurations/" + QueryParameters.percentEncode(identifier), body: [], contentType: nil)
    }

    func send(service: AWSService, method: String, path: String, body: [UInt8], contentType: String?,
              signingService: String? = nil) async throws -> WireResponse {
        let host = "127.0.0.1:\(simulator.port)"
        var headers = [HTTPHeader(name: "Host", value: host)]
        if let contentType { headers.append(HTTPHeader(name: "Content-Type", value: contentType)) }
        let signer = SigV4Signer(credentials: credentials, region: region, service: signingService ?? service.signingName)
        let signed = try signer.sign(SignableRequest(method: method, path: path, headers: headers, body: body))
        var request = HTTPClientRequest(url: simulator.endpointURL + path)
        request.method = HTTPMethod(rawValue: method)
        for header in signed.headers {
            request.headers.add(name: header.name, value: header.value)
        }
        if !body.isEmpty {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let collected = try await response.body.collect(upTo: 1 << 20)
        return WireResponse(status: Int(response.status.code),
                            headers: response.headers.map { ($0.name, $0.value) },
                            body: Array(collected.readableBytesView))
    }
}

/// A response as it came over the wire.
struct WireResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body as a JSON object.
    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// The body as an XML document.
    func xml() throws -> AWSClient.XMLElement {
        try XMLDocumentParser.parse(body)
    }

    /// The rest-json error code: `x-amzn-ErrorType` up to its first `:`.
    var restJSONErrorCode: String? {
        header("x-amzn-ErrorType").map { String($0.split(separator: ":", maxSplits: 1).first ?? "") }
    }

    /// The EC2 error code from `<Response><Errors><Error><Code>`.
    var ec2ErrorCode: String? {
        (try? xml())?.path("Errors", "Error", "Code")?.text
    }
}

extension LatticeSimulator {
    /// Starts a simulator, runs `body` with a client for it, and shuts it down even when `body` throws.
    static func with<Result>(
        _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
        _ body: (LatticeSimulator, SimulatorTestClient) async throws -> Result
    ) async throws -> Result {
        let simulator = try await LatticeSimulator.start(configuration)
        do {
            let result = try await body(simulator, SimulatorTestClient(simulator: simulator))
            try await simulator.shutdown()
            return result
        } catch {
            try? await simulator.shutdown()
            throw error
        }
    }
}

/// Test data shared by the suites.
enum Fixture {
    static let customer = "111122223333"
    static let otherCustomer = "444455556666"

    static func rcfgArn(_ suffix: Int) -> String {
        rcfgArn(customer, suffix)
    }

    static func rcfgArn(_ account: String, _ suffix: Int) -> String {
        "arn:aws:vpc-lattice:us-east-1:\(account):resourceconfiguration/rcfg-" + String(format: "%017x", suffix)
    }

    /// CreateVpcEndpoint parameters for a Resource endpoint on `arn`.
    static func createParameters(_ arn: String, token: String? = "token-1", vpc: String = "vpc-0123456789abcdef0",
                                 privateDns: Bool? = nil, customer: String = "acme") -> [(String, String)] {
        var parameters: [(String, String)] = [
            ("VpcEndpointType", "Resource"), ("VpcId", vpc), ("ResourceConfigurationArn", arn),
            ("SubnetId.1", "subnet-0aaaaaaaaaaaaaaaa"), ("SubnetId.2", "subnet-0bbbbbbbbbbbbbbbb"),
            ("SecurityGroupId.1", "sg-0123456789abcdef0"), ("IpAddressType", "ipv4"),
            ("TagSpecification.1.ResourceType", "vpc-endpoint"),
            ("TagSpecification.1.Tag.1.Key", "privatelink-consumer:customer"), ("TagSpecification.1.Tag.1.Value", customer),
        ]
        if let token { parameters.append(("ClientToken", token)) }
        if let privateDns { parameters.append(("PrivateDnsEnabled", privateDns ? "true" : "false")) }
        return parameters
    }
}
