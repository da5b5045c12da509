/// The outcome of checking a request's SigV4 signature, with AWS's error code when it fails.
public enum SigV4VerificationResult: Sendable, Equatable {
    /// The signature is good; the access key and the region it was scoped to.
    case valid(accessKeyId: String, region: String)
    /// The request must be rejected; `code` is the AWS error code, `message` never contains a secret or token.
    case invalid(code: String, message: String)
}
