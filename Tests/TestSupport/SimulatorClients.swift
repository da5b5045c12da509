import AWSClient
import Foundation
import LatticeSimulator
import Logging
import Synchronization

/// The real RAM, EC2 and Lattice clients pointed at a simulator (or any loopback server), with the
/// executor's backoff sleeps recorded instead of slept, so retry tests take no wall-clock time.
public final class SimulatorClients: Sendable {
    public let executor: AWSRequestExecutor
    public let credentials: StaticCredentialProvider
    public let region: String
    private let sleeps: SleepRecorder

    /// Clients for the server at `baseURL` (every service's endpoint override points there).
    public init(baseURL: String, credentials: AWSCredentials = SimulatorConfiguration.defaultCredentials,
                region: String = "us-east-1", maxAttempts: Int = 3, timeout: Duration = .seconds(5)) {
        let sleeps = SleepRecorder()
        self.sleeps = sleeps
        self.credentials = StaticCredentialProvider(credentials)
        self.region = region
        self.executor = AWSRequestExecutor(endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": baseURL]),
                                           retryPolicy: RetryPolicy(maxAttempts: maxAttempts), timeout: timeout,
                                           sleep: { duration in sleeps.record(duration) }, random: { 0.5 },
                                           logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// Clients for `simulator`.
    public convenience init(_ simulator: LatticeSimulator, credentials: AWSCredentials = SimulatorConfiguration.defaultCredentials,
                            region: String = "us-east-1", maxAttempts: Int = 3, timeout: Duration = .seconds(5)) {
        self.init(baseURL: simulator.endpointURL, credentials: credentials, region: region,
                  maxAttempts: maxAttempts, timeout: timeout)
    }

    public var ram: RAMClient { RAMClient(executor: executor, credentials: credentials, region: region) }
    public var ec2: EC2Client { EC2Client(executor: executor, credentials: credentials, region: region) }
    public var lattice: LatticeClient { LatticeClient(executor: executor, credentials: credentials, region: region) }

    /// The backoffs the executor asked to sleep, i.e. how many retries it made.
    public var backoffs: [Duration] { sleeps.delays.withLock { $0 } }

    private final class SleepRecorder: Sendable {
        let delays = Mutex<[Duration]>([])
        func record(_ duration: Duration) { delays.withLock { $0.append(duration) } }
    }
}

extension ResourceEndpointRequest {
    /// A Resource endpoint request as the daemon makes it, in the VPC and subnets `TestConfig` configures.
    public static func test(_ resourceConfigurationArn: String, clientToken: String, customer: String = "acme",
                            vpcId: String = "vpc-0123456789abcdef0",
                            subnetIds: [String] = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
                            privateDnsEnabled: Bool = true) -> ResourceEndpointRequest {
        ResourceEndpointRequest(resourceConfigurationArn: resourceConfigurationArn, vpcId: vpcId, subnetIds: subnetIds,
                                securityGroupIds: ["sg-0123456789abcdef0"], ipAddressType: "ipv4",
                                privateDnsEnabled: privateDnsEnabled, clientToken: clientToken,
                                tags: [("Name", "privatelink-consumer/\(customer)"), ("privatelink-consumer:customer", customer)])
    }
}

/// Starts a simulator, runs `body` with clients for it, and shuts it down even when `body` throws.
public func withSimulator<Result>(_ configuration: SimulatorConfiguration = SimulatorConfiguration(),
                                  _ body: (LatticeSimulator, SimulatorClients) async throws -> Result) async throws -> Result {
    let simulator = try await LatticeSimulator.start(configuration)
    do {
        let result = try await body(simulator, SimulatorClients(simulator))
        try await simulator.shutdown()
        return result
    } catch {
        try? await simulator.shutdown()
        throw error
    }
}

/// How many calls a listing of `items` takes at `pageSize` items per page (one for an empty listing).
public func pageCount(_ items: Int, pageSize: Int) -> Int {
    max(1, (items + pageSize - 1) / pageSize)
}

/// A wrong secret for the simulator's default access key: every signature it makes is refused.
public let wrongSecretCredentials = AWSCredentials(accessKeyId: SimulatorConfiguration.defaultCredentials.accessKeyId,
                                                   secretAccessKey: "wrong/secret/key/00000000000000000000000")
