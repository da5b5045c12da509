/// The `Authorization` header of a SigV4 request, formatted by the signer and parsed by the verifier.
package struct SigV4Authorization: Sendable, Equatable {
    /// The only algorithm this signer speaks.
    package static let algorithm = "AWS4-HMAC-SHA256"

    package var accessKeyId: String
    package var scope: SigV4Scope
    /// Lower-case header names, in the order the canonical request lists them.
    package var signedHeaders: [String]
    /// Lower-case hex HMAC of the string to sign.
    package var signature: String

    /// The header value, e.g. `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=…`.
    package var headerValue: String {
        "\(Self.algorithm) Credential=\(accessKeyId)/\(scope), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
    }

    package init(accessKeyId: String, scope: SigV4Scope, signedHeaders: [String], signature: String) {
        self.accessKeyId = accessKeyId
        self.scope = scope
        self.signedHeaders = signedHeaders
        self.signature = signature
    }

    /// Parses a header value, or explains in AWS's terms what is missing or malformed.
    package init(parsing value: String) throws(Malformed) {
        let trimmed = SigV4Canonical.headerValue(value)
        guard trimmed.hasPrefix(Self.algorithm + " ") else {
            let algorithm = trimmed.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            throw Malformed("Unsupported AWS 'algorithm': '\(algorithm)'; only \(Self.algorithm) is accepted.")
        }
        var fields: [String: String] = [:]
        for component in trimmed.dropFirst(Self.algorithm.count + 1).split(separator: ",") {
            let pair = component.trimmingSpaces.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else {
                throw Malformed("Authorization header component '\(component.trimmingSpaces)' is not of the form key=value.")
            }
            guard fields.updateValue(String(pair[1]), forKey: String(pair[0])) == nil else {
                throw Malformed("Authorization header repeats the '\(pair[0])' parameter.")
            }
        }
        let missing = ["Credential", "SignedHeaders", "Signature"].filter { fields[$0]?.isEmpty ?? true }
        guard missing.isEmpty, let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"],
              let signature = fields["Signature"]
        else {
            throw Malformed(missing.map { "Authorization header requires '\($0)' parameter." }.joined(separator: " "))
        }
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts.allSatisfy({ !$0.isEmpty }), parts[4] == SigV4Scope.terminator else {
            throw Malformed(
                "Credential '\(credential)' is not of the form <access key id>/<yyyyMMdd>/<region>/<service>/aws4_request."
            )
        }
        let headerNames = signedHeaders.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard headerNames.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }) else {
            throw Malformed("SignedHeaders '\(signedHeaders)' must be non-empty lower-case names separated by ';'.")
        }
        self.init(
            accessKeyId: parts[0],
            scope: SigV4Scope(dateStamp: parts[1], region: parts[2], service: parts[3]),
            signedHeaders: headerNames,
            signature: signature
        )
    }

    /// Why an `Authorization` header could not be parsed.
    package struct Malformed: Error, Sendable {
        package var message: String

        init(_ message: String) {
            self.message = message
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        let start = firstIndex { $0 != " " } ?? endIndex
        let end = lastIndex { $0 != " " }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
