/// Who made a lifecycle change: the daemon, or a person through the CLI.
public enum LifecycleActor: Sendable, Hashable, CustomStringConvertible {
    case daemon
    /// The CLI, run by `user` (`SUDO_USER` when set, else the process's user).
    case cli(user: String)

    /// Which of the two an edge of the lifecycle table belongs to.
    public enum Kind: String, Sendable, CaseIterable {
        case daemon
        case cli
    }

    public var kind: Kind {
        switch self {
        case .daemon: .daemon
        case .cli: .cli
        }
    }

    /// As stored and shown: `daemon`, or `cli:<user>`.
    public var description: String {
        switch self {
        case .daemon: "daemon"
        case .cli(let user): "cli:\(user)"
        }
    }

    /// Parses what `description` wrote; anything else is nil.
    public init?(stored text: String) {
        if text == "daemon" {
            self = .daemon
        } else if text.hasPrefix("cli:"), text.count > 4 {
            self = .cli(user: String(text.dropFirst(4)))
        } else {
            return nil
        }
    }

    /// The CLI's actor from its environment: `SUDO_USER` when set (a person behind `sudo -u`), else
    /// `processUser`.
    public static func cli(environment: [String: String], processUser: String) -> LifecycleActor {
        let sudoUser = environment["SUDO_USER"].map { $0.filter { !$0.isWhitespace && !$0.isNewline } } ?? ""
        let user = sudoUser.isEmpty ? processUser : sudoUser
        return .cli(user: String(user.prefix(64)))
    }
}
