import AWSClient

/// A misbehaviour the simulator injects into matching calls, in the failing service's own envelope.
///
/// Faults count the calls they match (after the signature check) and fire on every `every`-th one, at
/// most `times` times. Faults that answer in place of the service (throttling, 5xx, an HTML page, a
/// dropped connection) leave state untouched; the others let the call take effect and then spoil the
/// answer, which is what makes `lostResponse` on CreateVpcEndpoint interesting.
public struct SimulatorFault: Sendable, Equatable {
    /// What happens to a call the fault fires on.
    public enum Kind: Sendable, Equatable {
        /// RAM and Lattice: 429 `ThrottlingException`; EC2: 503 `RequestLimitExceeded`; STS: 400 `Throttling`.
        case throttle
        /// RAM: 500 `ServerInternalException`; EC2: 500 `InternalError`; Lattice: 500 `InternalServerException`.
        case serverError
        /// RAM: 503 `ServiceUnavailableException`; EC2: 503 `Unavailable`; Lattice: 503 `ServiceUnavailableException`.
        case unavailable
        /// The call takes effect; the answer comes after `Duration`.
        case delay(Duration)
        /// The call takes effect; the answer announces its full length but stops halfway and the connection closes.
        case truncatedBody
        /// A complete HTTP response whose body is not the service's document.
        case malformedBody(MalformedBody)
        /// The call takes effect, then the connection closes without an answer.
        case lostResponse
        /// The connection closes without an answer and the call never takes effect.
        case dropConnection
    }

    /// How a `malformedBody` looks.
    public enum MalformedBody: Sendable, Equatable {
        /// The call takes effect; the JSON or XML document is cut in half (Content-Length matches the cut body).
        case cutDocument
        /// A load balancer's HTML page with this status; the call never reaches the service.
        case htmlPage(status: Int)
    }

    /// Which calls a fault applies to.
    public struct Scope: Sendable, Equatable {
        /// nil: every service.
        public var service: AWSService?
        /// nil: every operation of `service`.
        public var operation: String?

        /// Every call.
        public static let all = Scope(service: nil, operation: nil)

        /// Every call to `service`.
        public static func service(_ service: AWSService) -> Scope {
            Scope(service: service, operation: nil)
        }

        /// Calls to one operation, e.g. `.operation(.ec2, "CreateVpcEndpoint")`.
        public static func operation(_ service: AWSService, _ operation: String) -> Scope {
            Scope(service: service, operation: operation)
        }

        func matches(_ service: AWSService, _ operation: String) -> Bool {
            (self.service == nil || self.service == service) && (self.operation == nil || self.operation == operation)
        }
    }

    public var kind: Kind
    public var scope: Scope
    /// Fires on the every-th matching call: 3 → the 3rd, 6th, 9th…; 1 → every call.
    public var every: Int
    /// Fires at most this many times (nil: no limit).
    public var times: Int?

    /// Creates a fault.
    public init(_ kind: Kind, on scope: Scope = .all, every: Int = 1, times: Int? = nil) {
        self.kind = kind
        self.scope = scope
        self.every = max(1, every)
        self.times = times
    }

    /// Throttle every `every`-th matching call.
    public static func throttle(every: Int = 1, on scope: Scope = .all, times: Int? = nil) -> SimulatorFault {
        SimulatorFault(.throttle, on: scope, every: every, times: times)
    }

    /// Answer every `every`-th matching call with the service's 500.
    public static func serverError(every: Int = 1, on scope: Scope = .all, times: Int? = nil) -> SimulatorFault {
        SimulatorFault(.serverError, on: scope, every: every, times: times)
    }

    /// Let the matching call take effect and lose its answer (the connection closes).
    public static func lostResponse(on scope: Scope, every: Int = 1, times: Int? = 1) -> SimulatorFault {
        SimulatorFault(.lostResponse, on: scope, every: every, times: times)
    }
}

/// A fault and how often it matched and fired.
struct ActiveFault: Sendable {
    var fault: SimulatorFault
    var matched = 0
    var fired = 0
}
