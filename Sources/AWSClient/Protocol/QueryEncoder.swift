import Foundation

/// The form body of an EC2 (`ec2` protocol) or STS (`query` protocol) request.
///
/// Lists are flattened to 1-based `Name.N` members, nested structures to `Prefix.Member`:
///
/// ```swift
/// var query = QueryParameters(action: "DescribeVpcEndpoints", version: "2016-11-15")
/// query.add("Filter.1.Name", "tag:privatelink-consumer:customer")
/// query.addList("Filter.1.Value", ["acme"])
/// query.body
/// // Action=DescribeVpcEndpoints&Version=2016-11-15
/// // &Filter.1.Name=tag%3Aprivatelink-consumer%3Acustomer&Filter.1.Value.1=acme
///
/// var create = QueryParameters(action: "CreateVpcEndpoint", version: "2016-11-15")
/// create.add("TagSpecification.1.ResourceType", "vpc-endpoint")
/// create.add("TagSpecification.1.Tag.1.Key", "privatelink-consumer:customer")
/// create.add("TagSpecification.1.Tag.1.Value", "acme")
/// create.add("PrivateDnsEnabled", true)   // PrivateDnsEnabled=true
/// ```
public struct QueryParameters: Sendable, Equatable {
    /// The operation, always sent first.
    public let action: String
    /// The API version (`2016-11-15` for EC2, `2011-06-15` for STS), always sent second.
    public let version: String
    /// Every other parameter, in insertion order.
    public private(set) var fields: [QueryField] = []

    /// Starts a request body for `action` of API `version`.
    public init(action: String, version: String) {
        self.action = action
        self.version = version
    }

    /// Adds one parameter; callers add in a stable order so bodies are reproducible.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(QueryField(name: name, value: value))
    }

    /// Adds a boolean as `true` / `false`.
    public mutating func add(_ name: String, _ value: Bool) {
        add(name, value ? "true" : "false")
    }

    /// Adds an integer in decimal.
    public mutating func add(_ name: String, _ value: Int) {
        add(name, String(value))
    }

    /// Adds `prefix.1`, `prefix.2`, … (1-based); nothing for an empty list.
    public mutating func addList(_ prefix: String, _ values: [String]) {
        for (index, value) in values.enumerated() {
            add("\(prefix).\(index + 1)", value)
        }
    }

    /// `Action=…&Version=…&…`, names and values percent-encoded (RFC 3986 unreserved characters kept).
    public var body: String {
        var body = "Action=" + Self.percentEncode(action) + "&Version=" + Self.percentEncode(version)
        for field in fields {
            body += "&" + Self.percentEncode(field.name) + "=" + Self.percentEncode(field.value)
        }
        return body
    }

    /// Percent-encodes every UTF-8 byte outside `A-Z a-z 0-9 - _ . ~`, as `%XX` in upper case (space → `%20`).
    public static func percentEncode(_ string: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                encoded.append(byte)
            default:
                encoded.append(UInt8(ascii: "%"))
                encoded.append(hex[Int(byte >> 4)])
                encoded.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
