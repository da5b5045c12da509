import AWSClient
import ConsumerStore

/// A command's failure as the CLI reports it: one line on stderr and an exit status.
public struct CommandFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// 64 for usage and validation errors (ArgumentParser's convention), 1 for runtime failures.
    public var exitCode: Int32
    public var message: String

    public static func usage(_ message: String) -> CommandFailure { CommandFailure(exitCode: 64, message: message) }
    public static func runtime(_ message: String) -> CommandFailure { CommandFailure(exitCode: 1, message: message) }

    public var description: String { message }

    /// Maps the errors the library throws to what the CLI prints.
    public init(_ error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let error as ConfigError:
            self = .usage(error.description)
        case let error as AWSClientError:
            self = .runtime("aws: \(error)")
        case let error as StoreError:
            self = error.isUsageError ? .usage(error.message) : .runtime(error.message)
        default:
            self = .runtime("\(error)")
        }
    }

    init(exitCode: Int32, message: String) {
        self.exitCode = exitCode
        self.message = message
    }
}
