import AWSClient
import Foundation

/// How a simulator behaves: who may call it, who "we" are, paging and injected faults.
public struct SimulatorConfiguration: Sendable {
    /// The account the daemon runs in: the receiver of every invitation.
    public var accountId: String
    /// Credentials the simulator accepts (signatures are verified against these).
    public var credentials: [AWSCredentials]
    /// The IAM identity GetCallerIdentity reports.
    public var callerArn: String
    /// The web identity token AssumeRoleWithWebIdentity accepts, and how long issued credentials live.
    public var webIdentityToken: String?
    public var issuedCredentialLifetime: TimeInterval
    /// Items per page for every paginated operation; tests force 1–2.
    public var pageSize: Int
    /// Clock used for signatures and timestamps.
    public var now: @Sendable () -> Date

    public init(accountId: String = "999999999999",
                credentials: [AWSCredentials] = [SimulatorConfiguration.defaultCredentials],
                callerArn: String? = nil,
                webIdentityToken: String? = nil,
                issuedCredentialLifetime: TimeInterval = 3600,
                pageSize: Int = 100,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.accountId = accountId
        self.credentials = credentials
        self.callerArn = callerArn ?? "arn:aws:sts::\(accountId):assumed-role/privatelink-consumer/i-0123456789abcdef0"
        self.webIdentityToken = webIdentityToken
        self.issuedCredentialLifetime = issuedCredentialLifetime
        self.pageSize = max(1, pageSize)
        self.now = now
    }

    /// The credentials tests and the demo use unless they say otherwise (not secret: simulator only).
    public static let defaultCredentials = AWSCredentials(accessKeyId: "AKIASIMULATOR0000001",
                                                          secretAccessKey: "simulator/secret/key/0000000000000000000")
}
