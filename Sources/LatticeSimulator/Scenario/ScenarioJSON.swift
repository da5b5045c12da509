import Foundation

/// A JSON value with its kind kept exact (a `true` is never a number), for strict scenario validation.
enum ScenarioJSON: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ScenarioJSON])
    case object([String: ScenarioJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String: ScenarioJSON].self) {
            self = .object(value)
        } else {
            self = .array(try container.decode([ScenarioJSON].self))
        }
    }

    /// The kind's name for messages: "a string", "an object"…
    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// One JSON object of a scenario, read key by key with its path for error messages.
struct ScenarioObject {
    let path: String
    private let fields: [String: ScenarioJSON]

    /// Reads `value` as an object whose keys must all be in `allowed`.
    init(_ value: ScenarioJSON, path: String, allowed: Set<String>) throws(SimulatorScenarioError) {
        guard case .object(let fields) = value else {
            throw SimulatorScenarioError(.wrongType, keyPath: path, "expected an object, found \(value.kind)")
        }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SimulatorScenarioError(.unknownKey, keyPath: Self.join(path, unknown),
                                         "unknown key (allowed here: \(allowed.sorted().joined(separator: ", ")))")
        }
        self.path = path
        self.fields = fields
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func keyPath(_ key: String) -> String { Self.join(path, key) }

    func contains(_ key: String) -> Bool { fields[key] != nil }

    func value(_ key: String) -> ScenarioJSON? { fields[key] }

    func string(_ key: String) throws(SimulatorScenarioError) -> String? {
        guard let value = fields[key] else { return nil }
        guard case .string(let text) = value else {
            throw SimulatorScenarioError(.wrongType, keyPath: keyPath(key), "expected a string, found \(value.kind)")
        }
        return text
    }

    func requiredString(_ key: String) throws(SimulatorScenarioError) -> String {
        guard let text = try string(key) else {
            throw SimulatorScenarioError(.missingKey, keyPath: keyPath(key), "required key is missing")
        }
        guard !text.isEmpty else {
            throw SimulatorScenarioError(.invalidValue, keyPath: keyPath(key), "must not be empty")
        }
        return text
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(SimulatorScenarioError) -> Int? {
        guard let value = fields[key] else { return nil }
        guard case .number(let number) = value, number.rounded() == number, number.magnitude < 1e15 else {
            throw SimulatorScenarioError(.wrongType, keyPath: keyPath(key), "expected an integer, found \(value.kind)")
        }
        guard range.contains(Int(number)) else {
            throw SimulatorScenarioError(.invalidValue, keyPath: keyPath(key),
                                         "must be between \(range.lowerBound) and \(range.upperBound), not \(Int(number))")
        }
        return Int(number)
    }

    func number(_ key: String, atLeast minimum: Double) throws(SimulatorScenarioError) -> Double? {
        guard let value = fields[key] else { return nil }
        guard case .number(let number) = value else {
            throw SimulatorScenarioError(.wrongType, keyPath: keyPath(key), "expected a number, found \(value.kind)")
        }
        guard number >= minimum else {
            throw SimulatorScenarioError(.invalidValue, keyPath: keyPath(key), "must be at least \(minimum)")
        }
        return number
    }

    func bool(_ key: String) throws(SimulatorScenarioError) -> Bool? {
        guard let value = fields[key] else { return nil }
        guard case .bool(let flag) = value else {
            throw SimulatorScenarioError(.wrongType, keyPath: keyPath(key), "expected true or false, found \(value.kind)")
        }
        return flag
    }

    /// The elements of an array with their paths (`key[0]`, `key[1]`…).
    func array(_ key: String) throws(SimulatorScenarioError) -> [(value: ScenarioJSON, path: String)]? {
        guard let value = fields[key] else { return nil }
        guard case .array(let elements) = value else {
            throw SimulatorScenarioError(.wrongType, keyPath: keyPath(key), "expected an array, found \(value.kind)")
        }
        return elements.enumerated().map { ($0.element, "\(keyPath(key))[\($0.offset)]") }
    }

    func strings(_ key: String) throws(SimulatorScenarioError) -> [String]? {
        guard let elements = try array(key) else { return nil }
        return try elements.map { element throws(SimulatorScenarioError) -> String in
            guard case .string(let text) = element.value else {
                throw SimulatorScenarioError(.wrongType, keyPath: element.path, "expected a string, found \(element.value.kind)")
            }
            return text
        }
    }

    /// One of `choices`.
    func choice(_ key: String, _ choices: [String]) throws(SimulatorScenarioError) -> String? {
        guard let text = try string(key) else { return nil }
        guard choices.contains(text) else {
            throw SimulatorScenarioError(.invalidValue, keyPath: keyPath(key),
                                         "'\(text)' is not one of \(choices.joined(separator: ", "))")
        }
        return text
    }
}
