import AWSClient
import Foundation
import Logging

/// The AWS plumbing every AWS-using command and the daemon share: one executor (transport, endpoints,
/// retries) and one credential chain, both built from the process environment as the SDKs do.
public struct AWSContext: Sendable {
    public let executor: AWSRequestExecutor
    public let credentials: CredentialChain
    public let environment: [String: String]
    /// The region used for STS when no call names one: the SDK default region, else the first configured.
    public let defaultRegion: String

    public init(executor: AWSRequestExecutor, credentials: CredentialChain, environment: [String: String], defaultRegion: String) {
        self.executor = executor
        self.credentials = credentials
        self.environment = environment
        self.defaultRegion = defaultRegion
    }

    /// Builds the production context. Fails on an invalid `AWS_MAX_ATTEMPTS` or endpoint override.
    public static func make(config: ConsumerConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
                            transport: any HTTPTransport = AsyncHTTPClientTransport(),
                            logger: Logger) async throws(AWSClientError) -> AWSContext {
        let retry = try RetryPolicy.fromEnvironment(environment)
        let endpoints = EndpointResolver(environment: environment)
        // Validate every override now, so a typo is reported before any call.
        for service in [AWSService.ram, .ec2, .vpcLattice, .sts] {
            for region in config.regionNames { _ = try endpoints.endpoint(for: service, region: region) }
        }
        let executor = AWSRequestExecutor(transport: transport, endpoints: endpoints, retryPolicy: retry,
                                          logger: logger, userAgent: "privatelink-consumer/\(ConsumerVersion.string)")
        let region = await RegionResolver.defaultRegion(environment: environment, transport: transport)
            ?? config.regionNames.first ?? "us-east-1"
        let chain = CredentialChain.standard(environment: environment, executor: executor, stsRegion: region)
        return AWSContext(executor: executor, credentials: chain, environment: environment, defaultRegion: region)
    }
}

extension CheckConfigCommand {
    /// `check-config --aws`: resolve credentials through the chain and ask STS who we are.
    public static func checkAWS(_ app: ConsumerApp, environment: [String: String] = ProcessInfo.processInfo.environment,
                                logger: Logger) async throws -> String {
        let context: AWSContext
        do {
            context = try await AWSContext.make(config: app.config, environment: environment, logger: logger)
        } catch {
            throw CommandFailure.runtime("aws: \(error)")
        }
        let sts = STSClient(executor: context.executor, credentials: context.credentials, region: context.defaultRegion)
        let identity: STSClient.CallerIdentity
        do {
            identity = try await sts.getCallerIdentity()
        } catch {
            throw CommandFailure.runtime("aws: \(error)")
        }
        let source = await context.credentials.sourceName ?? "unknown"
        let endpoint = (try? context.executor.endpoints.endpoint(for: .sts, region: context.defaultRegion).description) ?? "?"
        return [
            "aws: ok",
            "  credentials from  \(source)",
            "  account           \(identity.account)",
            "  identity          \(identity.arn)",
            "  sts endpoint      \(endpoint) (region \(context.defaultRegion))",
        ].joined(separator: "\n")
    }
}

extension AWSContext {
    public func ram(_ region: String) -> RAMClient { RAMClient(executor: executor, credentials: credentials, region: region) }
    public func ec2(_ region: String) -> EC2Client { EC2Client(executor: executor, credentials: credentials, region: region) }
    public func lattice(_ region: String) -> LatticeClient { LatticeClient(executor: executor, credentials: credentials, region: region) }
}
