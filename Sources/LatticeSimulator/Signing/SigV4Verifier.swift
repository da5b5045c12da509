import AWSClient
import Foundation

/// Checks SigV4 signatures the way an AWS endpoint does, for simulators and tests that stand in for AWS.
public struct SigV4Verifier: Sendable {
    /// How far `X-Amz-Date` may be from the verifier's clock, as AWS allows.
    public static let allowedClockSkew: TimeInterval = 5 * 60

    private let region: String?
    private let service: String
    private let credentials: @Sendable (String) -> AWSCredentials?

    /// Creates a verifier; `region` nil accepts any region in the scope, `credentials` looks a key up by access key id.
    public init(region: String?, service: String, credentials: @escaping @Sendable (String) -> AWSCredentials?) {
        self.region = region
        self.service = service
        self.credentials = credentials
    }

    /// Verifies `request` as received; `now` is the server's clock.
    ///
    /// Stricter than some AWS services on one point: when the credentials carry a session token,
    /// `X-Amz-Security-Token` must be present, equal and signed, because this project's signer always signs it.
    public func verify(_ request: SignableRequest, now: Date) -> SigV4VerificationResult {
        let authorizationValues = request.headerValues(named: "authorization")
        guard let authorizationValue = authorizationValues.first else {
            return .invalid(code: "MissingAuthenticationToken", message: "Request is missing Authentication Token.")
        }
        guard authorizationValues.count == 1 else {
            return .invalid(code: "IncompleteSignature", message: "The request has more than one Authorization header.")
        }
        let authorization: SigV4Authorization
        do {
            authorization = try SigV4Authorization(parsing: authorizationValue)
        } catch {
            return .invalid(code: "IncompleteSignature", message: error.message)
        }
        let scope = authorization.scope
        guard scope.service == service else {
            return .invalid(
                code: "SignatureDoesNotMatch",
                message: "Credential should be scoped to correct service: '\(service)', not '\(scope.service)'."
            )
        }
        if let region, scope.region != region {
            return .invalid(
                code: "SignatureDoesNotMatch",
                message: "Credential should be scoped to a valid region: '\(region)', not '\(scope.region)'."
            )
        }
        guard authorization.signedHeaders.contains("host") else {
            return .invalid(code: "IncompleteSignature", message: "'Host' must be a 'SignedHeader' in the AWS Authorization.")
        }
        guard authorization.signedHeaders.contains("x-amz-date") else {
            return .invalid(
                code: "IncompleteSignature",
                message: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
            )
        }
        let dateValues = request.headerValues(named: "x-amz-date")
        guard dateValues.count == 1, let amzDate = AmzDate(parsing: SigV4Canonical.headerValue(dateValues[0])) else {
            return .invalid(
                code: "IncompleteSignature",
                message: "Authorization requires exactly one X-Amz-Date header in ISO-8601 basic format (yyyyMMdd'T'HHmmss'Z'), got \(dateValues)."
            )
        }
        guard amzDate.dateStamp == scope.dateStamp else {
            return .invalid(
                code: "SignatureDoesNotMatch",
                message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                    + "'\(scope.dateStamp)' != '\(amzDate.dateStamp)', from '\(amzDate.text)'."
            )
        }
        if amzDate.date < now.addingTimeInterval(-Self.allowedClockSkew) {
            return .invalid(
                code: "RequestExpired",
                message: "Signature expired: \(amzDate.text) is now earlier than "
                    + "\(AmzDate(now.addingTimeInterval(-Self.allowedClockSkew)).text) (\(AmzDate(now).text) - 5 min.)"
            )
        }
        if amzDate.date > now.addingTimeInterval(Self.allowedClockSkew) {
            return .invalid(
                code: "RequestExpired",
                message: "Signature not yet current: \(amzDate.text) is still later than "
                    + "\(AmzDate(now.addingTimeInterval(Self.allowedClockSkew)).text) (\(AmzDate(now).text) + 5 min.)"
            )
        }
        guard let credentials = credentials(authorization.accessKeyId) else {
            return .invalid(
                code: "InvalidClientTokenId",
                message: "The AWS access key ID '\(authorization.accessKeyId)' does not exist in our records."
            )
        }
        if let failure = checkSessionToken(of: request, signedHeaders: authorization.signedHeaders, against: credentials) {
            return failure
        }
        if let expiration = credentials.expiration, expiration <= now {
            return .invalid(code: "ExpiredToken", message: "The security token included in the request is expired.")
        }
        let presentHeaders = Set(request.headers.map { $0.name.lowercased() })
        if let absent = authorization.signedHeaders.first(where: { !presentHeaders.contains($0) }) {
            return .invalid(
                code: "SignatureDoesNotMatch",
                message: "The signed header '\(absent)' is not present in the request."
            )
        }
        let signer = SigV4Signer(credentials: credentials, region: scope.region, service: service)
        let canonicalRequest = SigV4Canonical.request(request, signedHeaders: authorization.signedHeaders)
        let expected = signer.signature(
            stringToSign: signer.stringToSign(canonicalRequest: canonicalRequest, date: amzDate.date),
            date: amzDate.date
        )
        guard SigV4Crypto.constantTimeEquals(expected, authorization.signature) else {
            // The canonical request is left out of the message: it would carry the session token.
            return .invalid(
                code: "SignatureDoesNotMatch",
                message: "The request signature we calculated does not match the signature you provided. "
                    + "Check your AWS Secret Access Key and signing method."
            )
        }
        return .valid(accessKeyId: authorization.accessKeyId, region: scope.region)
    }

    private func checkSessionToken(
        of request: SignableRequest,
        signedHeaders: [String],
        against credentials: AWSCredentials
    ) -> SigV4VerificationResult? {
        let tokens = request.headerValues(named: "x-amz-security-token")
        guard let expected = credentials.sessionToken else {
            guard tokens.isEmpty else {
                return .invalid(
                    code: "InvalidClientTokenId",
                    message: "The security token included in the request is invalid: "
                        + "access key '\(credentials.accessKeyId)' is not temporary and takes no security token."
                )
            }
            return nil
        }
        guard let token = tokens.first else {
            return .invalid(
                code: "InvalidClientTokenId",
                message: "The request is missing the security token (X-Amz-Security-Token) that temporary access key "
                    + "'\(credentials.accessKeyId)' requires."
            )
        }
        guard tokens.count == 1, SigV4Crypto.constantTimeEquals(SigV4Canonical.headerValue(token), expected) else {
            return .invalid(code: "InvalidClientTokenId", message: "The security token included in the request is invalid.")
        }
        guard signedHeaders.contains("x-amz-security-token") else {
            return .invalid(
                code: "InvalidClientTokenId",
                message: "The security token included in the request must be a 'SignedHeader' in the AWS Authorization."
            )
        }
        return nil
    }
}
