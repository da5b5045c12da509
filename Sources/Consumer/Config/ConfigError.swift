/// Why a configuration was refused: one line per problem, each naming the key path and the fix.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One problem at one key path, e.g. `regions.us-east-1.subnetIds[1]`.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { path.isEmpty ? message : "\(path): \(message)" }
    }

    /// The file the problems are in.
    public var source: String
    public var problems: [Problem]

    public var description: String {
        problems.map { "\(source): \($0)" }.joined(separator: "\n")
    }
}
