import AWSClient
import Foundation
import Synchronization

/// An AWS stand-in (STS now; RAM, EC2 and VPC Lattice with the clients issue) over real loopback HTTP.
/// Every request's SigV4 signature is verified against the configured credentials and refused with
/// AWS's error codes when it does not match.
public final class LatticeSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    let server: LoopbackHTTPServer
    let state: Mutex<SimulatorState>

    private init(configuration: SimulatorConfiguration, server: LoopbackHTTPServer) {
        self.configuration = configuration
        self.server = server
        self.state = Mutex(SimulatorState(credentials: configuration.credentials))
    }

    /// Starts a simulator on an ephemeral loopback port.
    public static func start(_ configuration: SimulatorConfiguration = SimulatorConfiguration()) async throws -> LatticeSimulator {
        let box = HandlerBox()
        let server = try await LoopbackHTTPServer.start { request in await box.handle(request) }
        let simulator = LatticeSimulator(configuration: configuration, server: server)
        box.simulator.withLock { $0 = simulator }
        return simulator
    }

    /// The simulator's base URL, e.g. `http://127.0.0.1:54321`.
    public var endpointURL: String { server.baseURL }

    /// Environment variables that point the AWS SDK conventions (ours included) at this simulator.
    public var endpointEnvironment: [String: String] {
        ["AWS_ENDPOINT_URL": endpointURL, "AWS_ENDPOINT_URL_RAM": endpointURL, "AWS_ENDPOINT_URL_EC2": endpointURL,
         "AWS_ENDPOINT_URL_VPC_LATTICE": endpointURL, "AWS_ENDPOINT_URL_STS": endpointURL,
         "AWS_EC2_METADATA_DISABLED": "true"]
    }

    /// Stops the server.
    public func shutdown() async throws {
        try await server.shutdown()
    }

    /// How many requests each operation received (`sts:GetCallerIdentity` → 3).
    public var callCounts: [String: Int] { state.withLock { $0.callCounts } }

    /// Credentials the simulator also accepts from now on (e.g. what AssumeRoleWithWebIdentity issued).
    public func accept(_ credentials: AWSCredentials) {
        state.withLock { $0.credentials[credentials.accessKeyId] = credentials }
    }

    // MARK: Dispatch

    func handle(_ request: ServerRequest) async -> ServerResponse {
        let requestId = UUID().uuidString.lowercased()
        guard let route = Route(request) else {
            return .json(404, "{\"message\":\"no such operation in the simulator: \(request.method) \(request.path)\"}",
                         headers: [ServerHeader("x-amzn-RequestId", requestId)])
        }
        state.withLock { $0.callCounts["\(route.service.name):\(route.operation)", default: 0] += 1 }
        if route.requiresSignature {
            let signable = SignableRequest(method: request.method, path: request.path, query: request.query,
                                           headers: request.headers.map { HTTPHeader(name: $0.name, value: $0.value) },
                                           body: request.body)
            let verifier = SigV4Verifier(region: nil, service: route.service.signingName) { [self] key in
                self.state.withLock { $0.credentials[key] }
            }
            if case .invalid(let code, let message) = verifier.verify(signable, now: configuration.now()) {
                return errorResponse(route, status: 403, code: code, message: message, requestId: requestId)
            }
        }
        switch route.service {
        case .sts: return handleSTS(route, requestId: requestId)
        default:
            return errorResponse(route, status: 400, code: "InvalidAction", message: "\(route.operation) is not simulated", requestId: requestId)
        }
    }

    /// An error in the envelope of the route's protocol.
    func errorResponse(_ route: Route, status: Int, code: String, message: String, requestId: String) -> ServerResponse {
        switch route.service.wireProtocol {
        case .restJSON:
            let body = "{\"message\":\(jsonString(message))}"
            return .respond(status: status, headers: [ServerHeader("Content-Type", "application/json"),
                                                     ServerHeader("x-amzn-ErrorType", code),
                                                     ServerHeader("x-amzn-RequestId", requestId)],
                            body: Array(body.utf8))
        case .ec2:
            var xml = XMLWriter(root: "Response", namespace: "http://ec2.amazonaws.com/doc/2016-11-15/")
            xml.element("Errors") { errors in
                errors.element("Error") { error in
                    error.element("Code", code)
                    error.element("Message", message)
                }
            }
            xml.element("RequestID", requestId)
            return .respond(status: status, headers: [ServerHeader("Content-Type", "text/xml;charset=UTF-8")],
                            body: Array(xml.finish().utf8))
        case .query:
            var xml = XMLWriter(root: "ErrorResponse", namespace: "https://sts.amazonaws.com/doc/2011-06-15/")
            xml.element("Error") { error in
                error.element("Type", status >= 500 ? "Receiver" : "Sender")
                error.element("Code", code)
                error.element("Message", message)
            }
            xml.element("RequestId", requestId)
            return .respond(status: status, headers: [ServerHeader("Content-Type", "text/xml"),
                                                     ServerHeader("x-amzn-RequestId", requestId)],
                            body: Array(xml.finish().utf8))
        }
    }

    func xmlResponse(_ document: String, requestId: String) -> ServerResponse {
        .respond(status: 200, headers: [ServerHeader("Content-Type", "text/xml"), ServerHeader("x-amzn-RequestId", requestId)],
                 body: Array(document.utf8))
    }
}

/// Lets the server's handler reach the simulator, which is created after the server.
private final class HandlerBox: Sendable {
    let simulator = Mutex<LatticeSimulator?>(nil)

    func handle(_ request: ServerRequest) async -> ServerResponse {
        guard let simulator = simulator.withLock({ $0 }) else { return .text(503, "starting") }
        return await simulator.handle(request)
    }
}

func jsonString(_ text: String) -> String {
    let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
    return String(decoding: data, as: UTF8.self)
}
