import Foundation

/// AWS credentials whose textual and reflected forms never reveal the secret key or session token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The access key id, safe to log: AWS itself echoes it in error messages.
    public var accessKeyId: String
    /// The secret access key; only the signer reads it.
    public var secretAccessKey: String
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-term keys.
    public var expiration: Date?

    /// Creates credentials; pass `sessionToken` and `expiration` for temporary credentials.
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// A loggable summary with the secret and token redacted.
    public var description: String {
        var text = "AWSCredentials(accessKeyId: \(accessKeyId), secret: <redacted>"
        if sessionToken != nil {
            text += ", sessionToken: <redacted>"
        }
        if let expiration {
            text += ", expiration: \(expiration)"
        }
        return text + ")"
    }

    /// Same as `description`, so `String(reflecting:)` and `debugPrint` stay redacted too.
    public var debugDescription: String { description }

    /// A redacted mirror, so `dump` and debuggers do not walk the stored secret.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyId": accessKeyId,
                "secretAccessKey": "<redacted>",
                "sessionToken": sessionToken == nil ? "nil" : "<redacted>",
                "expiration": expiration as Any,
            ],
            displayStyle: .struct
        )
    }
}
