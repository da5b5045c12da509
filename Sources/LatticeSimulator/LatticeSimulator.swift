import AWSClient
import Foundation
import Synchronization

/// An AWS stand-in (RAM, EC2, VPC Lattice and STS subsets) over real loopback HTTP.
///
/// Every request's SigV4 signature is verified against the configured credentials and refused with
/// the service's own error codes when it does not match. Tests arrange state through the methods in
/// `LatticeSimulator+TestAPI.swift`, inject faults with `inject(_:)`, and assert on snapshots
/// (`invitations`, `shares`, `endpoints`) and `callCounts`.
public final class LatticeSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    let server: LoopbackHTTPServer
    let state: Mutex<SimulatorState>

    private init(configuration: SimulatorConfiguration, server: LoopbackHTTPServer) {
        self.configuration = configuration
        self.server = server
        self.state = Mutex(SimulatorState(configuration: configuration))
    }

    /// Starts a simulator on a loopback address (`port` 0: an ephemeral port).
    public static func start(_ configuration: SimulatorConfiguration = SimulatorConfiguration(),
                             host: String = "127.0.0.1", port: Int = 0) async throws -> LatticeSimulator {
        let box = HandlerBox()
        let server = try await LoopbackHTTPServer.start(host: host, port: port) { request in await box.handle(request) }
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

    /// The TCP port the simulator listens on.
    public var port: Int { server.port }

    /// How many requests each operation received (`sts:GetCallerIdentity` → 3, `ec2:CreateVpcEndpoint` → 1).
    public var callCounts: [String: Int] { state.withLock { $0.callCounts } }

    /// Every request so far, oldest first (the newest 100,000): which operation, when, signed by which key.
    public var calls: [SimulatedCall] { state.withLock { $0.calls } }

    /// The access key id in a SigV4 `Authorization` header (`Credential=AKID/date/region/service/aws4_request`).
    static func accessKeyId(_ authorization: String?) -> String? {
        guard let authorization, let range = authorization.range(of: "Credential=") else { return nil }
        return authorization[range.upperBound...].split(separator: "/", maxSplits: 1).first.map(String.init)
    }

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
        let call = SimulatedCall(time: Date(), operation: "\(route.service.name):\(route.operation)",
                                 accessKeyId: Self.accessKeyId(request.headers.first { $0.name.lowercased() == "authorization" }?.value))
        state.withLock { state in
            state.callCounts[call.operation, default: 0] += 1
            state.calls.append(call)
            if state.calls.count > 100_000 { state.calls.removeFirst(state.calls.count - 100_000) }
        }
        if route.requiresSignature {
            let signable = SignableRequest(method: request.method, path: request.path, query: request.query,
                                           headers: request.headers.map { HTTPHeader(name: $0.name, value: $0.value) },
                                           body: request.body)
            let verifier = SigV4Verifier(region: nil, service: route.service.signingName) { [self] key in
                self.state.withLock { $0.credentials[key] }
            }
            if case .invalid(let code, let message) = verifier.verify(signable, now: configuration.now()) {
                let failure = Self.authenticationFailure(code: code, message: message, protocol: route.service.wireProtocol)
                return errorResponse(route, status: failure.status, code: failure.code, message: failure.message, requestId: requestId)
            }
        }
        let fault = state.withLock { $0.nextFault(service: route.service, operation: route.operation) }
        switch fault {
        case .throttle:
            let error = Self.throttling(route.service)
            return errorResponse(route, status: error.status, code: error.code, message: error.message, requestId: requestId)
        case .serverError, .unavailable:
            let error = Self.serverFailure(route.service, unavailable: fault == .unavailable)
            return errorResponse(route, status: error.status, code: error.code, message: error.message, requestId: requestId)
        case .malformedBody(.htmlPage(let status)):
            return .text(status, "<html><head><title>\(status) Bad Gateway</title></head><body><center><h1>\(status) Bad Gateway</h1></center></body></html>",
                         contentType: "text/html")
        case .dropConnection:
            return .dropConnection
        case .delay, .truncatedBody, .malformedBody(.cutDocument), .lostResponse, nil:
            break
        }
        let response = dispatch(route, request, requestId: requestId)
        switch fault {
        case .delay(let duration):
            return .delayed(duration, then: response)
        case .lostResponse:
            return .dropConnection
        case .truncatedBody:
            guard case .respond(let status, let headers, let body) = response else { return response }
            return .truncated(status: status, headers: headers, body: body, sentBytes: body.count / 2)
        case .malformedBody(.cutDocument):
            guard case .respond(let status, let headers, let body) = response else { return response }
            return .respond(status: status, headers: headers, body: Array(body.prefix(body.count / 2)))
        default:
            return response
        }
    }

    private func dispatch(_ route: Route, _ request: ServerRequest, requestId: String) -> ServerResponse {
        switch route.service {
        case .sts: handleSTS(route, requestId: requestId)
        case .ram: handleRAM(route, request, requestId: requestId)
        case .ec2: handleEC2(route, requestId: requestId)
        case .vpcLattice: handleLattice(route, requestId: requestId)
        case .serviceQuotas: handleServiceQuotas(route, request, requestId: requestId)
        default:
            errorResponse(route, status: 400, code: "InvalidAction", message: "\(route.operation) is not simulated", requestId: requestId)
        }
    }

    /// The verifier's verdict as the service reports it: EC2 calls an unknown key `AuthFailure` (401) and
    /// expired credentials `RequestExpired`; the rest-json services suffix `ExpiredToken` with `Exception`.
    static func authenticationFailure(code: String, message: String, protocol wireProtocol: AWSProtocol) -> SimulatorAPIError {
        switch (wireProtocol, code) {
        case (.ec2, "InvalidClientTokenId"), (.ec2, "MissingAuthenticationToken"):
            return SimulatorAPIError(401, "AuthFailure", "AWS was not able to validate the provided access credentials")
        case (.ec2, "ExpiredToken"), (.ec2, "RequestExpired"):
            return SimulatorAPIError(400, "RequestExpired", "Request has expired. \(message)")
        case (.ec2, "IncompleteSignature"):
            return SimulatorAPIError(400, code, message)
        case (.ec2, "SignatureDoesNotMatch"):
            return SimulatorAPIError(403, code, message + " Consult the service documentation for details.")
        case (.restJSON, "ExpiredToken"), (.json, "ExpiredToken"):
            return SimulatorAPIError(403, "ExpiredTokenException", message)
        default:
            return SimulatorAPIError(403, code, message)
        }
    }

    /// The service's throttling answer.
    static func throttling(_ service: AWSService) -> SimulatorAPIError {
        switch service.wireProtocol {
        case .ec2: SimulatorAPIError(503, "RequestLimitExceeded", "Request limit exceeded.")
        case .query: SimulatorAPIError(400, "Throttling", "Rate exceeded")
        case .restJSON: SimulatorAPIError(429, "ThrottlingException", "Rate exceeded")
        case .json: SimulatorAPIError(400, "TooManyRequestsException", "Rate exceeded")
        }
    }

    /// The service's 500 or 503 answer.
    static func serverFailure(_ service: AWSService, unavailable: Bool) -> SimulatorAPIError {
        switch (service, unavailable) {
        case (.ec2, false): SimulatorAPIError(500, "InternalError", "An internal error has occurred")
        case (.ec2, true): SimulatorAPIError(503, "Unavailable", "The service is unavailable. Please try again shortly.")
        case (.ram, false): SimulatorAPIError(500, "ServerInternalException", "The operation failed because the service could not respond to the request due to an internal problem.")
        case (.vpcLattice, false): SimulatorAPIError(500, "InternalServerException", "An unexpected error occurred while processing the request.")
        case (.sts, false): SimulatorAPIError(500, "InternalFailure", "An internal error occurred.")
        case (.sts, true): SimulatorAPIError(503, "ServiceUnavailable", "Service is unavailable.")
        default: SimulatorAPIError(503, "ServiceUnavailableException", "The service is unavailable. Try again later.")
        }
    }

    /// An error in the envelope of the route's protocol.
    func errorResponse(_ route: Route, status: Int, code: String, message: String, requestId: String) -> ServerResponse {
        switch route.service.wireProtocol {
        case .json:
            // awsJson1_1: the code in the body's __type (and the header), the message as `Message`.
            let body = "{\"__type\":\(jsonString(code)),\"Message\":\(jsonString(message))}"
            return .respond(status: status, headers: [ServerHeader("Content-Type", "application/x-amz-json-1.1"),
                                                     ServerHeader("x-amzn-ErrorType", code),
                                                     ServerHeader("x-amzn-RequestId", requestId)],
                            body: Array(body.utf8))
        case .restJSON:
            let body = "{\"message\":\(jsonString(message))}"
            // RAM's front end (Coral) appends a namespace to the code, which clients must cut at the `:`.
            let errorType = route.service == .ram ? "\(code):http://internal.amazon.com/coral/com.amazonaws.ram/" : code
            return .respond(status: status, headers: [ServerHeader("Content-Type", "application/json"),
                                                     ServerHeader("x-amzn-ErrorType", errorType),
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

/// One request the simulator received.
public struct SimulatedCall: Sendable, Equatable {
    public var time: Date
    /// `service:Operation`, e.g. `ec2:CreateVpcEndpoint`.
    public var operation: String
    /// The key that signed it; nil for an unsigned request.
    public var accessKeyId: String?

    /// Whether the call changes something in AWS (accepting, rejecting, creating or deleting).
    public var isMutation: Bool {
        ["ram:AcceptResourceShareInvitation", "ram:RejectResourceShareInvitation", "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"]
            .contains(operation)
    }
}
