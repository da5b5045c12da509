import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The production resolver: `getaddrinfo` on a thread of its own (an idle one reused, else a new one:
/// ``ProbeThreads``), bounded by `timeout`.
///
/// getaddrinfo cannot be cancelled; a lookup that outlives its timeout finishes in the background (glibc
/// gives up after the `timeout`/`attempts` of resolv.conf). At most `maxOutstandingLookups` getaddrinfo calls
/// run at once; past that, lookups fail at once as timeouts instead of piling up threads. (A probe's thread
/// also connects; the probes in flight, `ProbeScheduler`'s `inFlightLimit`, bound those threads.)
public struct SystemResolver: HostResolver {
    /// The most getaddrinfo calls (including abandoned ones) that may run at once in this process.
    public var maxOutstandingLookups: Int
    private let eventLoopGroup: any EventLoopGroup

    private static let outstanding = Atomic<Int>(0)

    /// A resolver allowing `maxOutstandingLookups` lookups at once; timers run on `eventLoopGroup`.
    public init(maxOutstandingLookups: Int = 128,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.maxOutstandingLookups = maxOutstandingLookups
        self.eventLoopGroup = eventLoopGroup
    }

    /// IP literals directly; names through getaddrinfo on a thread of its own, abandoned after `timeout`.
    public func resolve(host: String, port: Int, timeout: Duration) async throws(ResolveError) -> [SocketAddress] {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return [literal] }

        let limit = maxOutstandingLookups
        let outcome = await withDeadline(timeout, on: eventLoopGroup.any()) {
            () async -> Result<[SocketAddress], ResolveError> in
            guard Self.outstanding.wrappingAdd(1, ordering: .relaxed).newValue <= limit else {
                Self.outstanding.wrappingSubtract(1, ordering: .relaxed)
                return .failure(ResolveError(.timeout, "\(limit) earlier lookups are still waiting for the resolver"))
            }
            return await withCheckedContinuation { continuation in
                let started = ProbeThreads.shared.run {
                    let result = Self.lookUp(host: host, port: port)
                    Self.outstanding.wrappingSubtract(1, ordering: .relaxed)
                    continuation.resume(returning: result)
                }
                if !started {
                    Self.outstanding.wrappingSubtract(1, ordering: .relaxed)
                    continuation.resume(returning: .failure(ResolveError(.failed, "could not start a resolver thread")))
                }
            }
        }
        switch outcome {
        case .finished(let result): return try result.get()
        case .timedOut: throw ResolveError(.timeout, "no answer within \(timeout.probeText)")
        case .cancelled: throw ResolveError(.timeout, "cancelled")
        }
    }

    /// The lookup for a caller already on a thread of its own (the prober's fused job): IP literals directly,
    /// names through getaddrinfo, counted against `maxOutstandingLookups` like ``resolve(host:port:timeout:)``.
    /// The caller bounds the wait.
    func lookUpNow(host: String, port: Int) -> Result<[SocketAddress], ResolveError> {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return .success([literal]) }
        guard Self.outstanding.wrappingAdd(1, ordering: .relaxed).newValue <= maxOutstandingLookups else {
            Self.outstanding.wrappingSubtract(1, ordering: .relaxed)
            return .failure(ResolveError(.timeout, "\(maxOutstandingLookups) earlier lookups are still waiting for the resolver"))
        }
        defer { Self.outstanding.wrappingSubtract(1, ordering: .relaxed) }
        return Self.lookUp(host: host, port: port)
    }

    /// Blocking getaddrinfo, TCP addresses of either family, deduplicated in the resolver's order.
    static func lookUp(host: String, port: Int) -> Result<[SocketAddress], ResolveError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else { return .failure(error(status: status)) }

        var addresses: [SocketAddress] = []
        var next = list
        while let entry = next {
            next = entry.pointee.ai_next
            guard let raw = entry.pointee.ai_addr else { continue }
            let address: SocketAddress
            switch entry.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            default:
                continue
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        return addresses.isEmpty ? .failure(ResolveError(.noAnswer, "no IPv4 or IPv6 address")) : .success(addresses)
    }

    private static func error(status: Int32) -> ResolveError {
        let code = errno  // before anything else can change it
        let text = String(cString: gai_strerror(status))
        switch status {
        case EAI_NONAME:
            return ResolveError(.noSuchName, text)
        case EAI_AGAIN:
            return ResolveError(.timeout, text)
        #if os(Linux)
        // EAI_NODATA and EAI_ADDRFAMILY are glibc extensions the Glibc module does not export.
        case -5, -9:
            return ResolveError(.noAnswer, text)
        #endif
        case EAI_SYSTEM:
            return ResolveError(.failed, "\(text): \(String(cString: strerror(code)))")
        default:
            return ResolveError(.failed, text)
        }
    }
}
