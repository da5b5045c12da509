/// The credential scope `yyyyMMdd/<region>/<service>/aws4_request` that binds a signature to a day, region and service.
package struct SigV4Scope: Sendable, Equatable, CustomStringConvertible {
    /// The fixed last element of every SigV4 scope.
    package static let terminator = "aws4_request"

    package var dateStamp: String
    package var region: String
    package var service: String

    /// The scope as it appears in the string to sign and the `Credential=` parameter.
    package var description: String { "\(dateStamp)/\(region)/\(service)/\(Self.terminator)" }
}
