import NIOCore
import NIOHTTP1

/// Serves the requests of one accepted connection in order until either side closes it.
///
/// Responses are written straight to the channel and awaited, so every byte is handed to the kernel
/// before a deliberate close (`.truncated`, `.dropConnection`, `Connection: close`).
struct LoopbackHTTPConnection: Sendable {
    let connection: NIOAsyncChannel<HTTPServerRequestPart, Never>
    let maxBodyBytes: Int
    let handler: @Sendable (ServerRequest) async -> ServerResponse
    let record: @Sendable (ServerRequest) -> Void

    /// Serves until the connection closes; closing it from outside cancels a handler or sleep in progress.
    func run() async {
        let channel = self.connection.channel
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await self.connection.executeThenClose { inbound, _ in
                    try await self.serve(inbound, on: channel)
                }
            }
            group.addTask {
                try? await channel.closeFuture.get()
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func serve(
        _ inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>,
        on channel: any Channel
    ) async throws {
        var parts = inbound.makeAsyncIterator()
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        while let part = try await parts.next() {
            switch part {
            case .head(let requestHead):
                if let declared = requestHead.headers.first(name: "content-length").flatMap({ Int($0) }),
                    declared > self.maxBodyBytes
                {
                    try await self.refuseOversizedBody(version: requestHead.version, on: channel, draining: &parts)
                    return
                }
                head = requestHead
                body = []
            case .body(let buffer):
                guard let requestHead = head else { continue }
                guard body.count + buffer.readableBytes <= self.maxBodyBytes else {
                    try await self.refuseOversizedBody(version: requestHead.version, on: channel, draining: &parts)
                    return
                }
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let requestHead = head else { continue }
                head = nil
                let request = ServerRequest(
                    method: requestHead.method.rawValue,
                    uri: requestHead.uri,
                    headers: requestHead.headers.map { ServerHeader(name: $0.name, value: $0.value) },
                    body: body
                )
                body = []
                self.record(request)
                let response = await self.handler(request)
                let keepOpen = try await self.send(
                    response,
                    version: requestHead.version,
                    keepAlive: requestHead.isKeepAlive,
                    omitBody: requestHead.method == .HEAD,
                    on: channel
                )
                guard keepOpen else { return }
            }
        }
    }

    /// Answers 413, half-closes, and discards the rest of the upload until the client closes.
    private func refuseOversizedBody(
        version: HTTPVersion,
        on channel: any Channel,
        draining parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator
    ) async throws {
        let message = Array("request body exceeds \(self.maxBodyBytes) bytes\n".utf8)
        let head = Self.responseHead(
            status: 413,
            headers: [ServerHeader(name: "Content-Type", value: "text/plain")],
            contentLength: message.count,
            keepAlive: false,
            version: version
        )
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: message))), promise: nil)
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        // Closing with unread upload bytes would reset the connection and lose the 413, so signal EOF
        // and keep reading until the client, having seen it, closes.
        try await channel.close(mode: .output)
        while try await parts.next() != nil {}
    }

    /// Writes `response` and returns whether the connection stays open for another request.
    private func send(
        _ response: ServerResponse,
        version: HTTPVersion,
        keepAlive: Bool,
        omitBody: Bool,
        on channel: any Channel
    ) async throws -> Bool {
        // A HEAD response announces the body's length but carries no body.
        switch response {
        case .respond(let status, let headers, let fullBody):
            let keepAlive = keepAlive && !Self.asksToClose(headers)
            let head = Self.responseHead(
                status: status, headers: headers, contentLength: fullBody.count, keepAlive: keepAlive, version: version)
            channel.write(HTTPServerResponsePart.head(head), promise: nil)
            let sent = omitBody ? [] : fullBody
            if !sent.isEmpty {
                channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: sent))), promise: nil)
            }
            try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
            return keepAlive

        case .delayed(let duration, let next):
            try await Task.sleep(for: duration)
            return try await self.send(next, version: version, keepAlive: keepAlive, omitBody: omitBody, on: channel)

        case .dropConnection:
            return false

        case .truncated(let status, let headers, let fullBody, let sentBytes):
            let head = Self.responseHead(
                status: status, headers: headers, contentLength: fullBody.count, keepAlive: false, version: version)
            let sent = (omitBody ? [] : fullBody).prefix(max(0, sentBytes))
            if sent.isEmpty {
                try await channel.writeAndFlush(HTTPServerResponsePart.head(head))
            } else {
                channel.write(HTTPServerResponsePart.head(head), promise: nil)
                try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: sent))))
            }
            return false

        case .trickle(let status, let headers, let fullBody, let chunkSize, let interval):
            let keepAlive = keepAlive && !Self.asksToClose(headers)
            let head = Self.responseHead(
                status: status, headers: headers, contentLength: fullBody.count, keepAlive: keepAlive, version: version)
            let body = omitBody ? [] : fullBody
            try await channel.writeAndFlush(HTTPServerResponsePart.head(head))
            let step = max(1, chunkSize)
            var offset = 0
            while offset < body.count {
                if offset > 0 {
                    try await Task.sleep(for: interval)
                }
                let end = min(offset + step, body.count)
                try await channel.writeAndFlush(
                    HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body[offset..<end]))))
                offset = end
            }
            try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
            return keepAlive
        }
    }

    private static func asksToClose(_ headers: [ServerHeader]) -> Bool {
        headers.contains { $0.name.lowercased() == "connection" && $0.value.lowercased().contains("close") }
    }

    /// The handler's headers with framing headers replaced by the server's own.
    private static func responseHead(
        status: Int,
        headers: [ServerHeader],
        contentLength: Int,
        keepAlive: Bool,
        version: HTTPVersion
    ) -> HTTPResponseHead {
        let framing: Set<String> = ["content-length", "transfer-encoding", "connection"]
        var fields = HTTPHeaders(
            headers.filter { !framing.contains($0.name.lowercased()) }.map { ($0.name, $0.value) })
        fields.add(name: "Content-Length", value: String(contentLength))
        if !keepAlive {
            fields.add(name: "Connection", value: "close")
        } else if version == .http1_0 {
            fields.add(name: "Connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: fields)
    }
}
