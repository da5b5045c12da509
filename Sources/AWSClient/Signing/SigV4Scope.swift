/// The credential scope `yyyyMMdd/<region>/<service>/aws4_request` that binds a signature to a day, region and service.
struct SigV4Scope: Sendable, Equatable, CustomStringConvertible {
    /// The fixed last element of every SigV4 scope.
    static let terminator = "aws4_request"

    var dateStamp: String
    var region: String
    var service: String

    /// The scope as it appears in the string to sign and the `Credential=` parameter.
    var description: String { "\(dateStamp)/\(region)/\(service)/\(Self.terminator)" }
}
