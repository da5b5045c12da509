/// Output records whose optional fields are written as `null`, never left out, so that every JSON
/// contract has one stable shape. Stored properties are encoded in declaration order by name;
/// conforming types need no hand-written `encode(to:)`.
protocol JSONRecord: Encodable {}

extension JSONRecord {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: RecordKey.self)
        for child in Mirror(reflecting: self).children {
            guard let label = child.label else { continue }
            let key = RecordKey(stringValue: label)
            let value = Mirror(reflecting: child.value)
            if value.displayStyle == .optional {
                guard let wrapped = value.children.first?.value else {
                    try container.encodeNil(forKey: key)
                    continue
                }
                try encode(wrapped, forKey: key, in: &container)
            } else {
                try encode(child.value, forKey: key, in: &container)
            }
        }
    }

    private func encode(_ value: Any, forKey key: RecordKey, in container: inout KeyedEncodingContainer<RecordKey>) throws {
        guard let encodable = value as? any Encodable else {
            throw EncodingError.invalidValue(value, .init(codingPath: container.codingPath + [key], debugDescription: "not Encodable"))
        }
        try container.encode(encodable, forKey: key)
    }
}

struct RecordKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
