import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LatticeSimulator
import NIOCore
import NIOPosix
import Testing

// Serialized so the descriptor count in `repeatedStartAndShutdownLeaksNoDescriptors` sees only its own work.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct LoopbackHTTPServerTests {
    @Test func getAndPutAreRecordedAndAnswered() async throws {
        try await withServer { request in
            switch request.method {
            case "PUT": .text(201, request.bodyText, headers: [ServerHeader("X-Echo", request.header("x-token") ?? "-")])
            default: .json("{\"path\":\"\(request.path)\"}")
            }
        } run: { server in
            #expect(server.baseURL == "http://127.0.0.1:\(server.port)")

            let get = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("GET /latest/meta-data/iam?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                return try await connection.readResponse()
            }
            #expect(get.status == 200)
            #expect(get.header("content-type") == "application/json")
            #expect(get.bodyText == #"{"path":"/latest/meta-data/iam"}"#)

            let put = try await RawConnection.with(port: server.port) { connection in
                try await connection.send(
                    "PUT /latest/api/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Token: abc\r\n"
                        + "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 5\r\n\r\nhello")
                return try await connection.readResponse()
            }
            #expect(put.status == 201)
            #expect(put.header("X-ECHO") == "abc")
            #expect(put.header("Content-Length") == "5")
            #expect(put.bodyText == "hello")

            let requests = server.requests
            try #require(requests.count == 2)
            #expect(requests[0].method == "GET")
            #expect(requests[0].uri == "/latest/meta-data/iam?x=1&y=2")
            #expect(requests[0].path == "/latest/meta-data/iam")
            #expect(requests[0].query == "x=1&y=2")
            #expect(requests[0].body.isEmpty)
            #expect(requests[1].method == "PUT")
            #expect(requests[1].uri == "/latest/api/token")
            #expect(requests[1].query == "")
            #expect(requests[1].header("x-aws-ec2-metadata-token-ttl-seconds") == "21600")
            #expect(requests[1].headers.contains(ServerHeader("X-Token", "abc")))
            #expect(requests[1].body == Array("hello".utf8))
        }
    }

    @Test func keepAliveServesRequestsInOrderAndHonoursConnectionClose() async throws {
        try await withServer { .text("you asked for \($0.path)") } run: { server in
            let (first, second, third, rest) = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
                let first = try await connection.readResponse()
                try await connection.send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
                let second = try await connection.readResponse()
                try await connection.send("GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let third = try await connection.readResponse()
                return (first, second, third, try await connection.readUntilEOF())
            }
            #expect(first.bodyText == "you asked for /one")
            #expect(first.header("connection") == nil)
            #expect(second.bodyText == "you asked for /two")
            #expect(third.bodyText == "you asked for /three")
            #expect(third.header("connection") == "close")
            #expect(rest.isEmpty)
            #expect(server.requests.map(\.path) == ["/one", "/two", "/three"])
        }
    }

    @Test func delayedResponseDoesNotBlockAnotherConnection() async throws {
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let server = try await LoopbackHTTPServer.start { request in
            guard request.path == "/slow" else { return .text("fast") }
            startedContinuation.yield()
            return .delayed(.seconds(30), then: .text("late"))
        }

        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            group.addTask {
                try await RawConnection.with(port: server.port) { connection in
                    try await connection.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                    return try await connection.readUntilEOF()
                }
            }
            await started.first { _ in true }

            let clock = ContinuousClock()
            let begin = clock.now
            let fast = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
                return try await connection.readResponse()
            }
            #expect(fast.bodyText == "fast")
            // Blocked, it would wait the 30 s out; the bound leaves room for a loaded machine.
            #expect(clock.now - begin < .seconds(10))

            try await server.shutdown()
            #expect(try await group.next() == [])
        }
    }

    @Test func dropConnectionClosesWithoutAnyBytes() async throws {
        try await withServer { _ in .dropConnection } run: { server in
            let received = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n")
                return try await connection.readUntilEOF()
            }
            #expect(received == [])
            #expect(server.requests.count == 1)
        }
    }

    @Test func truncatedAnnouncesTheFullLengthButSendsOnlyAPrefix() async throws {
        let body = Array(repeating: UInt8(ascii: "a"), count: 100)
        try await withServer { _ in
            .truncated(status: 200, headers: [ServerHeader("Content-Type", "application/json")], body: body, sentBytes: 10)
        } run: { server in
            let (head, received) = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = try await connection.readHead()
                return (head, try await connection.readUntilEOF())
            }
            #expect(head.status == 200)
            #expect(head.header("content-length") == "100")
            #expect(received == Array(body.prefix(10)))
        }
    }

    @Test func trickleDeliversTheWholeBodyOverTime() async throws {
        let body = (0..<64).map { UInt8($0) }
        try await withServer { _ in
            .trickle(status: 200, headers: [], body: body, chunkSize: 8, interval: .milliseconds(40))
        } run: { server in
            let clock = ContinuousClock()
            let begin = clock.now
            let (response, reads) = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return (try await connection.readResponse(), connection.reads)
            }
            #expect(response.body == body)
            #expect(response.header("content-length") == "64")
            // Seven pauses of 40 ms between eight chunks.
            let took = clock.now - begin
            #expect(took >= .milliseconds(280))
            // In more than one piece; how many depends on how often a loaded machine lets the reader run
            // (4 was asked once and 3 came, with the whole suite on two cores). A reader kept off the CPU for
            // longer than the whole trickle finds it all in one read: that says nothing about the server.
            if took < .milliseconds(600) {
                #expect(reads >= 2, "\(reads) reads in \(took)")
            }
        }
    }

    @Test func oversizedBodyGets413AndClose() async throws {
        try await withServer(maxBodyBytes: 1024) { _ in .text("accepted") } run: { server in
            let upload = String(repeating: "x", count: 4096)

            let (declared, declaredRest) = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n\(upload)")
                return (try await connection.readResponse(), try await connection.readUntilEOF())
            }
            #expect(declared.status == 413)
            #expect(declared.header("connection") == "close")
            #expect(declaredRest.isEmpty)

            let (chunked, chunkedRest) = try await RawConnection.with(port: server.port) { connection in
                try await connection.send(
                    "PUT /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n\(upload)\r\n0\r\n\r\n")
                return (try await connection.readResponse(), try await connection.readUntilEOF())
            }
            #expect(chunked.status == 413)
            #expect(chunkedRest.isEmpty)

            // The 413 goes out while the client is still uploading; it must arrive, not be lost to a reset.
            let large = String(repeating: "y", count: 4 << 20)
            let (streaming, streamingRest) = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: \(large.utf8.count)\r\n\r\n\(large)")
                return (try await connection.readResponse(), try await connection.readUntilEOF())
            }
            #expect(streaming.status == 413)
            #expect(streamingRest.isEmpty)

            let small = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("PUT /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n\(upload.prefix(1024))")
                return try await connection.readResponse()
            }
            #expect(small.status == 200)
            #expect(server.requests.map(\.path) == ["/small"])
        }
    }

    @Test func shutdownDuringSlowHandlersIsPromptAndThenRefusesConnections() async throws {
        let (started, startedContinuation) = AsyncStream.makeStream(of: String.self)
        let server = try await LoopbackHTTPServer.start { request in
            startedContinuation.yield(request.path)
            if request.path == "/sleeps-itself" {
                try? await Task.sleep(for: .seconds(60))
                return .text("late")
            }
            return .delayed(.seconds(60), then: .text("late"))
        }

        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for path in ["/delayed", "/sleeps-itself"] {
                group.addTask {
                    try await RawConnection.with(port: server.port) { connection in
                        try await connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                        return try await connection.readUntilEOF()
                    }
                }
            }
            var paths = Set<String>()
            for await path in started {
                paths.insert(path)
                if paths.count == 2 { break }
            }

            let clock = ContinuousClock()
            let begin = clock.now
            try await server.shutdown()
            // Waiting for the handlers would take 60 s; the bound leaves room for a loaded machine.
            #expect(clock.now - begin < .seconds(10))
            for try await received in group {
                #expect(received == [])
            }
        }

        await #expect(throws: (any Error).self) {
            try await RawConnection.with(port: server.port) { _ in }
        }
        try await server.shutdown()
    }

    @Test func headAnnouncesTheLengthWithoutABody() async throws {
        try await withServer { _ in .text("twelve bytes") } run: { server in
            let (head, next) = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = try await connection.readHead()
                return (head, try await connection.readResponse())
            }
            #expect(head.header("content-length") == "12")
            #expect(next.bodyText == "twelve bytes")
        }
    }

    @Test(arguments: ["10.0.0.1", "0.0.0.0", "::", "192.168.1.10", "example.com", ""])
    func nonLoopbackHostsAreRefused(host: String) async throws {
        let error = await #expect(throws: LoopbackHTTPServerError.self) {
            try await LoopbackHTTPServer.start(host: host) { _ in .text("never") }
        }
        #expect(error?.code == .nonLoopbackHost)
    }

    @Test func localhostListensOn127001() async throws {
        let server = try await LoopbackHTTPServer.start(host: "localhost") { _ in .text("ok") }
        #expect(server.baseURL == "http://127.0.0.1:\(server.port)")
        try await server.shutdown()
    }

    @Test func repeatedStartAndShutdownLeaksNoDescriptors() async throws {
        var ports: Set<Int> = []
        func cycle() async throws {
            let server = try await LoopbackHTTPServer.start { _ in .text("ok") }
            ports.insert(server.port)
            // The client still holds its keep-alive connection while the server shuts down.
            let rest = try await RawConnection.with(port: server.port) { connection in
                try await connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                _ = try await connection.readResponse()
                try await server.shutdown()
                return try await connection.readUntilEOF()
            }
            #expect(rest.isEmpty)
        }
        // The detector sees a live server's sockets (so an empty answer below means something).
        let live = try await LoopbackHTTPServer.start { _ in .text("ok") }
        #expect(try !socketsOfThisProcess(onLocalPorts: [live.port]).isEmpty)
        try await live.shutdown()
        for _ in 0..<50 {
            try await cycle()
        }
        // Other suites in this process open and close descriptors meanwhile, so count only sockets still
        // open in this process whose local port was one of these servers' (listening or accepted).
        let leaked = try socketsOfThisProcess(onLocalPorts: ports)
        #expect(leaked.isEmpty, "sockets left open on the servers' ports: \(leaked)")
    }
}

/// Local ports of the TCP sockets this process holds open whose local port is in `ports`.
private func socketsOfThisProcess(onLocalPorts ports: Set<Int>) throws -> [Int] {
    var inodes: Set<String> = []
    guard let directory = opendir("/proc/self/fd") else { throw RawConnection.Failure(message: "cannot open /proc/self/fd") }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)"),
              target.hasPrefix("socket:[") else { continue }
        inodes.insert(String(target.dropFirst(8).dropLast()))
    }
    var leaked: [Int] = []
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, let port = Int(fields[1].split(separator: ":").last ?? "", radix: 16),
                  ports.contains(port), inodes.contains(String(fields[9])) else { continue }
            leaked.append(port)
        }
    }
    return leaked
}

/// Starts a server, runs `body`, and shuts the server down even when `body` throws.
private func withServer<Result>(
    maxBodyBytes: Int = 16 << 20,
    handler: @escaping @Sendable (ServerRequest) async -> ServerResponse,
    run body: (LoopbackHTTPServer) async throws -> Result
) async throws -> Result {
    let server = try await LoopbackHTTPServer.start(maxBodyBytes: maxBodyBytes, handler: handler)
    do {
        let result = try await body(server)
        try await server.shutdown()
        return result
    } catch {
        try? await server.shutdown()
        throw error
    }
}


/// One response as read off the wire by `RawConnection`.
private struct RawResponse {
    var status: Int
    var headers: [ServerHeader]
    var body: [UInt8] = []

    var bodyText: String { String(decoding: self.body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A raw HTTP/1.1 client on one TCP connection to 127.0.0.1, to see exactly what the server puts on the wire.
private final class RawConnection {
    struct Failure: Error {
        var message: String
    }

    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffered: [UInt8] = []
    /// How many reads delivered bytes so far.
    private(set) var reads = 0

    private init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Connects to 127.0.0.1:`port`, runs `body`, then closes the connection.
    static func with<Result>(port: Int, _ body: (RawConnection) async throws -> Result) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port)) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound))
        }
    }

    func send(_ text: String) async throws {
        try await self.outbound.write(ByteBuffer(string: text))
    }

    /// Reads a status line and headers.
    func readHead() async throws -> RawResponse {
        let terminator = Array("\r\n\r\n".utf8)
        var end = self.buffered.firstRange(of: terminator)
        while end == nil {
            guard try await self.fill() else { throw Failure(message: "EOF before the end of the response head") }
            end = self.buffered.firstRange(of: terminator)
        }
        let text = String(decoding: self.buffered[..<end!.lowerBound], as: UTF8.self)
        self.buffered.removeSubrange(..<end!.upperBound)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(message: "bad status line \(statusLine)")
        }
        let headers = lines.map { line in
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            let value = line[colon...].dropFirst().drop { $0 == " " }
            return ServerHeader(String(line[..<colon]), String(value))
        }
        return RawResponse(status: status, headers: headers)
    }

    /// Reads a response whose body is framed by Content-Length.
    func readResponse() async throws -> RawResponse {
        var response = try await self.readHead()
        guard let length = response.header("content-length").flatMap({ Int($0) }) else {
            throw Failure(message: "response without Content-Length")
        }
        while self.buffered.count < length {
            guard try await self.fill() else { throw Failure(message: "EOF after \(self.buffered.count) of \(length) bytes") }
        }
        response.body = Array(self.buffered.prefix(length))
        self.buffered.removeFirst(length)
        return response
    }

    /// Everything the server sends until it closes the connection.
    func readUntilEOF() async throws -> [UInt8] {
        while try await self.fill() {}
        defer { self.buffered = [] }
        return self.buffered
    }

    private func fill() async throws -> Bool {
        guard let buffer = try await self.inbound.next() else { return false }
        self.reads += 1
        self.buffered.append(contentsOf: buffer.readableBytesView)
        return true
    }
}
