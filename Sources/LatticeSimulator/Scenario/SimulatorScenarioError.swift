/// Why a scenario document was refused; `description` is one line naming the key.
public struct SimulatorScenarioError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem; new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        /// The file could not be read.
        public static let unreadable = Code(name: "unreadable")
        /// The document is not JSON.
        public static let invalidJSON = Code(name: "invalidJSON")
        /// A key the format does not have (often a typo).
        public static let unknownKey = Code(name: "unknownKey")
        /// A required key is absent.
        public static let missingKey = Code(name: "missingKey")
        /// A value of the wrong JSON type.
        public static let wrongType = Code(name: "wrongType")
        /// A value of the right type that is not allowed.
        public static let invalidValue = Code(name: "invalidValue")

        public var description: String { name }
    }

    public var code: Code
    /// Where in the document, e.g. `invitations[0].resources[1].port` (empty for the whole document).
    public var keyPath: String
    public var message: String

    public init(_ code: Code, keyPath: String, _ message: String) {
        self.code = code
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        keyPath.isEmpty ? "scenario: \(message)" : "scenario: \(keyPath): \(message)"
    }
}
