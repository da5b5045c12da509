import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP exchange as the AWS layer sees it.
public struct TransportRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(method: String, url: String, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A complete HTTP answer, body already collected (and capped).
public struct TransportResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// Why an exchange produced no answer.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No connection could be made (refused, unreachable, DNS).
        case connect
        /// The deadline passed before the whole answer arrived.
        case timeout
        /// The connection broke before the whole answer arrived (reset, truncated body).
        case connectionLost
        /// The body was larger than allowed.
        case responseTooLarge
        /// The request could not be built (bad URL).
        case invalidRequest
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Sends HTTP requests. One method, so that tests and the simulator can stand in for the network.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and collects the answer, failing with `TransportError` when it does not arrive
    /// whole within `timeout` or is larger than `maxResponseBytes`.
    func send(_ request: TransportRequest, timeout: Duration, maxResponseBytes: Int) async throws(TransportError) -> TransportResponse
}

/// The production transport: async-http-client's shared, pooled client (HTTPS with the system trust store).
public struct AsyncHTTPClientTransport: HTTPTransport {
    let client: HTTPClient

    public init(client: HTTPClient = .shared) {
        self.client = client
    }

    public func send(_ request: TransportRequest, timeout: Duration, maxResponseBytes: Int) async throws(TransportError) -> TransportResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for header in request.headers {
            outgoing.headers.add(name: header.name, value: header.value)
        }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        }
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                                                                    + timeout.components.attoseconds / 1_000_000_000)
        do {
            let response = try await client.execute(outgoing, deadline: deadline)
            let body = try await response.body.collect(upTo: maxResponseBytes)
            return TransportResponse(status: Int(response.status.code),
                                     headers: response.headers.map { HTTPHeader(name: $0.name, value: $0.value) },
                                     body: Array(body.readableBytesView))
        } catch {
            throw Self.classify(error, url: request.url, limit: maxResponseBytes, timeout: timeout)
        }
    }

    static func classify(_ error: any Error, url: String, limit: Int, timeout: Duration) -> TransportError {
        if error is NIOTooManyBytesError {
            return TransportError(.responseTooLarge, "the answer from \(url) is larger than \(limit) bytes")
        }
        if let error = error as? HTTPClientError {
            let timeouts: [HTTPClientError] = [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout,
                                               .tlsHandshakeTimeout, .getConnectionFromPoolTimeout]
            if timeouts.contains(error) {
                return TransportError(.timeout, "no complete answer from \(url) within \(timeout)")
            }
            if [.invalidURL, .emptyHost, .emptyScheme].contains(error) || "\(error)".contains("unsupportedScheme") {
                return TransportError(.invalidRequest, "cannot send to \(url): \(error)")
            }
            if [.remoteConnectionClosed, .cancelled, .bodyLengthMismatch].contains(error) {
                return TransportError(.connectionLost, "the connection to \(url) closed before the whole answer arrived")
            }
        }
        if error is CancellationError {
            return TransportError(.connectionLost, "the request to \(url) was cancelled")
        }
        let text = "\(error)"
        // Not `localizedCaseInsensitiveContains`: a locale's comparison is ICU, which the daemon never loads.
        let lowercased = text.lowercased()
        if lowercased.contains("connect") || lowercased.contains("refused") || lowercased.contains("resolve") {
            return TransportError(.connect, "cannot connect to \(url): \(text)")
        }
        return TransportError(.connectionLost, "the exchange with \(url) failed: \(text)")
    }
}
