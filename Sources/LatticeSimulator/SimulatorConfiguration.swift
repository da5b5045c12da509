import AWSClient
import Foundation

/// How a simulator behaves: who may call it, who "we" are, paging and provisioning.
public struct SimulatorConfiguration: Sendable {
    /// The account the daemon runs in: the receiver of every invitation and the owner of every endpoint.
    public var accountId: String
    /// The region in ARNs, DNS names and invitations unless a call says otherwise.
    public var region: String
    /// Credentials the simulator accepts (signatures are verified against these).
    public var credentials: [AWSCredentials]
    /// The IAM identity GetCallerIdentity reports.
    public var callerArn: String
    /// The web identity token AssumeRoleWithWebIdentity accepts, and how long issued credentials live.
    public var webIdentityToken: String?
    public var issuedCredentialLifetime: TimeInterval
    /// Items per page for every paginated operation; tests force 1–2.
    public var pageSize: Int
    /// How fast endpoints and shared resources become usable; changeable later with `setProvisioning(_:)`.
    public var provisioning: ProvisioningSettings
    /// Clock used for signatures, timestamps and delay-based provisioning.
    public var now: @Sendable () -> Date

    /// Endpoint associations answer `localhost` unless a test sets a name per resource: a probe of an
    /// AWS-style name (`vpce-….on.aws`) would send a DNS query off this machine. True gives AWS-style
    /// names, for output that looks like production where nothing resolves them.
    public var awsStyleDNSNames: Bool

    public init(accountId: String = "999999999999",
                region: String = "us-east-1",
                credentials: [AWSCredentials] = [SimulatorConfiguration.defaultCredentials],
                callerArn: String? = nil,
                webIdentityToken: String? = nil,
                issuedCredentialLifetime: TimeInterval = 3600,
                pageSize: Int = 100,
                provisioning: ProvisioningSettings = ProvisioningSettings(),
                awsStyleDNSNames: Bool = false,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.awsStyleDNSNames = awsStyleDNSNames
        self.accountId = accountId
        self.region = region
        self.credentials = credentials
        self.callerArn = callerArn ?? "arn:aws:sts::\(accountId):assumed-role/privatelink-consumer/i-0123456789abcdef0"
        self.webIdentityToken = webIdentityToken
        self.issuedCredentialLifetime = issuedCredentialLifetime
        self.pageSize = max(1, pageSize)
        self.provisioning = provisioning
        self.now = now
    }

    /// The credentials tests and the demo use unless they say otherwise (not secret: simulator only).
    public static let defaultCredentials = AWSCredentials(accessKeyId: "AKIASIMULATOR0000001",
                                                          secretAccessKey: "simulator/secret/key/0000000000000000000")
}

/// How long AWS takes to make things usable, and how its answers vary while it does.
public struct ProvisioningSettings: Sendable, Equatable {
    /// When a new endpoint turns from Pending to Available.
    public var endpoints: EndpointProvisioning
    /// ListResources calls after a share becomes visible during which its resources read `PENDING`
    /// (0 = `AVAILABLE` at once). CreateVpcEndpoint refuses a resource until it is `AVAILABLE`.
    public var resourcesAvailableAfterListCalls: Int
    /// Every Nth paginated call returns an empty page that still carries a `nextToken`, as AWS may
    /// (0 = never; 1 is treated as 2 so that paging always ends).
    public var emptyPageEvery: Int
    /// How endpoint states are spelled in EC2 responses.
    public var endpointStateCasing: EndpointStateCasing
    /// DescribeVpcEndpoints calls that still show a deleted endpoint as `deleting` before it vanishes.
    public var deletingDescribes: Int
    /// EC2's eventual consistency: DescribeVpcEndpoints calls after its creation during which a new
    /// endpoint is not listed (by filter; `InvalidVpcEndpointId.NotFound` by id), and DeleteVpcEndpoints
    /// answers NotFound for it (0 = listed at once).
    public var listingLagDescribes: Int

    public init(endpoints: EndpointProvisioning = .afterDescribes(1),
                resourcesAvailableAfterListCalls: Int = 0,
                emptyPageEvery: Int = 0,
                endpointStateCasing: EndpointStateCasing = .mixed,
                deletingDescribes: Int = 1,
                listingLagDescribes: Int = 0) {
        self.endpoints = endpoints
        self.resourcesAvailableAfterListCalls = max(0, resourcesAvailableAfterListCalls)
        self.emptyPageEvery = emptyPageEvery <= 0 ? 0 : max(2, emptyPageEvery)
        self.endpointStateCasing = endpointStateCasing
        self.deletingDescribes = max(0, deletingDescribes)
        self.listingLagDescribes = max(0, listingLagDescribes)
    }

    /// Everything usable at once: for the benchmark and the demo.
    public static let instant = ProvisioningSettings(endpoints: .instant)
}

/// When a new VPC endpoint becomes Available.
public enum EndpointProvisioning: Sendable, Equatable {
    /// Available as soon as it is created (the create response already says so).
    case instant
    /// Pending in the create response and in the first `n` DescribeVpcEndpoints answers that include it.
    case afterDescribes(Int)
    /// Pending until `seconds` have passed on the configuration's clock.
    case afterDelay(seconds: TimeInterval)
}

/// How EC2 spells endpoint states; real EC2 mixes `Pending` with `available`, so clients must compare loosely.
public enum EndpointStateCasing: String, Sendable, Equatable {
    /// `Pending`, then `available`, `deleting`, `failed` (what EC2 has been seen to answer).
    case mixed
    /// Every state in lower case.
    case lowercase
    /// Every state as the API model spells it: `Pending`, `Available`, `Deleting`, `Failed`.
    case model
}
