import Foundation

/// Signs requests with AWS Signature Version 4 (header form, non-S3 rules).
public struct SigV4Signer: Sendable {
    /// Headers the signer never covers, because HTTP clients and proxies add or rewrite them after signing.
    public static var unsignedHeaderNames: Set<String> { SigV4Canonical.unsignedHeaderNames }

    /// The credentials whose secret keys the signature.
    public let credentials: AWSCredentials
    /// The region in the credential scope, e.g. `us-east-1`.
    public let region: String
    /// The signing name in the credential scope, e.g. `ram`, `ec2`, `vpc-lattice`, `sts`.
    public let service: String

    /// Creates a signer for one region and service.
    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Returns `request` with `X-Amz-Date`, `X-Amz-Security-Token` (when the credentials have one) and `Authorization` set.
    ///
    /// Every header present is signed except ``unsignedHeaderNames``, so add `Content-Type` before signing and
    /// `User-Agent` or `Content-Length` before or after. An existing `Authorization` is replaced, so re-signing a
    /// retried request is safe.
    public func sign(_ request: SignableRequest, date: Date = Date()) throws(SigV4SigningError) -> SignableRequest {
        let hosts = request.headerValues(named: "host")
        guard hosts.count <= 1 else {
            throw SigV4SigningError(
                code: .multipleHostHeaders,
                message: "Cannot sign \(request.method) \(request.path): it has \(hosts.count) Host headers; send exactly one."
            )
        }
        guard let host = hosts.first, !SigV4Canonical.headerValue(host).isEmpty else {
            throw SigV4SigningError(
                code: .missingHostHeader,
                message: "Cannot sign \(request.method) \(request.path) without a Host header: "
                    + "set Host to the endpoint's host name, e.g. \(service).\(region).amazonaws.com."
            )
        }
        let amzDate = AmzDate(date)
        var signed = request
        signed.removeHeaders(named: "authorization")
        signed.setHeader("X-Amz-Date", to: amzDate.text)
        if let sessionToken = credentials.sessionToken {
            signed.setHeader("X-Amz-Security-Token", to: sessionToken)
        }
        let signedHeaders = SigV4Canonical.signedHeaderNames(in: signed.headers)
        let canonicalRequest = SigV4Canonical.request(signed, signedHeaders: signedHeaders)
        let authorization = SigV4Authorization(
            accessKeyId: credentials.accessKeyId,
            scope: scope(for: amzDate),
            signedHeaders: signedHeaders,
            signature: signature(stringToSign: stringToSign(canonicalRequest: canonicalRequest, date: date), date: date)
        )
        signed.headers.append(HTTPHeader(name: "Authorization", value: authorization.headerValue))
        return signed
    }

    /// The canonical request covering the headers `sign` would cover, taken as they are (no date or token added).
    public func canonicalRequest(for request: SignableRequest) -> String {
        SigV4Canonical.request(request, signedHeaders: SigV4Canonical.signedHeaderNames(in: request.headers))
    }

    /// The string to sign: algorithm, timestamp, credential scope and the hash of the canonical request.
    public func stringToSign(canonicalRequest: String, date: Date) -> String {
        let amzDate = AmzDate(date)
        return [
            SigV4Authorization.algorithm,
            amzDate.text,
            scope(for: amzDate).description,
            SigV4Crypto.sha256Hex(canonicalRequest.utf8),
        ].joined(separator: "\n")
    }

    /// The hex signature of `stringToSign` under the key derived from the secret, day, region and service.
    public func signature(stringToSign: String, date: Date) -> String {
        let scope = scope(for: AmzDate(date))
        let dateKey = SigV4Crypto.hmac(key: Array("AWS4\(credentials.secretAccessKey)".utf8), scope.dateStamp)
        let regionKey = SigV4Crypto.hmac(key: dateKey, scope.region)
        let serviceKey = SigV4Crypto.hmac(key: regionKey, scope.service)
        let signingKey = SigV4Crypto.hmac(key: serviceKey, SigV4Scope.terminator)
        return SigV4Crypto.hex(SigV4Crypto.hmac(key: signingKey, stringToSign))
    }

    private func scope(for date: AmzDate) -> SigV4Scope {
        SigV4Scope(dateStamp: date.dateStamp, region: region, service: service)
    }
}
