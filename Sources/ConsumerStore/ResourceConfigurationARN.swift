import Foundation

/// A parsed, validated VPC Lattice resource configuration ARN:
/// `arn:<partition>:vpc-lattice:<region>:<12 digits>:resourceconfiguration/rcfg-<17 hex>`.
public struct ResourceConfigurationARN: Sendable, Hashable, CustomStringConvertible {
    public let partition: String
    public let region: String
    public let accountId: String
    /// `rcfg-` followed by 17 lower-case hex digits.
    public let resourceId: String

    public var description: String {
        "arn:\(partition):vpc-lattice:\(region):\(accountId):resourceconfiguration/\(resourceId)"
    }

    static let partitions: Set<String> = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"]

    /// Parses `text` exactly (no surrounding whitespace, no other form), or explains what is wrong with it.
    public static func parse(_ text: String) -> Result<ResourceConfigurationARN, ARNError> {
        if text.isEmpty { return .failure(ARNError("is empty")) }
        if text != text.trimmingCharacters(in: .whitespacesAndNewlines) {
            return .failure(ARNError("has surrounding whitespace; paste the ARN alone"))
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[0] == "arn" else {
            return .failure(ARNError("is not an ARN (expected arn:aws:vpc-lattice:<region>:<account>:resourceconfiguration/rcfg-…)"))
        }
        guard partitions.contains(parts[1]) else {
            return .failure(ARNError("has unknown partition \"\(parts[1])\" (expected aws, aws-cn or aws-us-gov)"))
        }
        guard parts[2] == "vpc-lattice" else {
            return .failure(ARNError("is a \(parts[2].isEmpty ? "service-less" : "\"\(parts[2])\"") ARN, not a VPC Lattice resource configuration (arn:aws:vpc-lattice:…)"))
        }
        guard RegionName.isValid(parts[3]) else {
            return .failure(ARNError("has invalid region \"\(parts[3])\""))
        }
        guard parts[4].count == 12, parts[4].allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(ARNError("has invalid account id \"\(parts[4])\" (expected 12 digits)"))
        }
        let resource = parts[5]
        let prefix = "resourceconfiguration/"
        guard resource.hasPrefix(prefix) else {
            return .failure(ARNError("names \"\(resource)\", not a resource configuration (expected resourceconfiguration/rcfg-…)"))
        }
        let id = String(resource.dropFirst(prefix.count))
        let hex = id.dropFirst(5)
        guard id.hasPrefix("rcfg-"), hex.count == 17, hex.allSatisfy({ "0123456789abcdef".contains($0) }) else {
            return .failure(ARNError("has invalid resource configuration id \"\(id)\" (expected rcfg- and 17 lower-case hex digits)"))
        }
        return .success(ResourceConfigurationARN(partition: parts[1], region: parts[3], accountId: parts[4], resourceId: id))
    }
}

/// Why a string is not a resource configuration ARN.
public struct ARNError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// AWS region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
public enum RegionName {
    public static func isValid(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, name.count <= 32, let last = parts.last, !last.isEmpty,
              last.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return parts.dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLowercase } }
    }
}
