import ArgumentParser
import Consumer
import ConsumerDemo
import Foundation
import Logging

/// `privatelink-consumer`: argument parsing only; the work is in the Consumer library.
@main
struct PrivateLinkConsumer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privatelink-consumer",
        abstract: "Accepts customers' RAM-shared VPC Lattice resource configurations, creates Resource VPC endpoints and probes their PostgreSQL.",
        discussion: "Exit status: 0 success, 1 runtime failure, 64 usage or validation error.",
        version: ConsumerVersion.full,
        subcommands: [Demo.self, Run.self, Status.self, Explain.self, Health.self, Probe.self, CustomerCommand.self, Invitations.self, Endpoints.self, CheckConfig.self, StateCommand.self]
    )
}

/// `--config`, shared by every command.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (default: $PRIVATELINK_CONSUMER_CONFIG, else /etc/privatelink-consumer/config.json).", valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Log level on stderr: trace, debug, info, notice, warning, error, critical (default: $LOG_LEVEL, else warning; the daemon: info).", valueName: "level"))
    var logLevel: String?

    func app() throws -> ConsumerApp {
        try ConsumerApp(configPath: config)
    }

    /// Sends swift-log output to stderr (journald reads it) at the chosen level. Call once, first.
    func bootstrapLogging(default fallback: Logger.Level = .warning) throws -> Logger {
        let text = logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"]
        var level = fallback
        if let text, !text.isEmpty {
            guard let parsed = Logger.Level(rawValue: text.lowercased()) else {
                throw CommandFailure.usage("--log-level \(text) is not a level; use trace, debug, info, notice, warning, error or critical")
            }
            level = parsed
        }
        let chosen = level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
        return Logger(label: "privatelink-consumer")
    }
}

/// Runs a command body, printing its output, or its failure on one stderr line with the right exit status.
func perform(_ options: GlobalOptions, defaultLevel: Logger.Level = .warning,
             _ body: (Logger) async throws -> String) async throws {
    do {
        let logger = try options.bootstrapLogging(default: defaultLevel)
        let output = try await body(logger)
        if !output.isEmpty { print(output) }
    } catch {
        let failure = CommandFailure(error)
        FileHandle.standardError.write(Data(("error: " + failure.message + "\n").utf8))
        throw ExitCode(failure.exitCode)
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print a summary of it."
    )

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Also resolve AWS credentials and call STS GetCallerIdentity.") var aws = false

    func run() async throws {
        try await perform(options) { logger in
            let app = try options.app()
            var output = CheckConfigCommand.summary(of: app.config)
            if aws {
                output += "\n" + (try await CheckConfigCommand.checkAWS(app, logger: logger))
            }
            return output
        }
    }
}

struct CustomerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer",
        abstract: "Register, list, show and remove customers (for SEs).",
        subcommands: [Add.self, List.self, Show.self, Set.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a customer's resource configuration ARN so that its RAM share is accepted."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Short lower-case name: letters, digits, '-' (e.g. acme).")
        var name: String
        @Option(help: ArgumentHelp("The customer's resource configuration ARN (arn:aws:vpc-lattice:<region>:<account>:resourceconfiguration/rcfg-…).", valueName: "arn"))
        var arn: String
        @Option(help: "The database port the resource configuration exposes.")
        var port: Int = 5432
        @Option(help: "Free text for people (ticket, contact).")
        var note: String?

        func run() async throws {
            try await perform(options) { _ in
                try await CustomerCommands.add(try options.app(), name: name, arn: arn, port: port, note: note)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered customers and their state.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await perform(options) { _ in try await CustomerCommands.list(try options.app(), json: json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one customer with its recent lifecycle events.")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await perform(options) { _ in try await CustomerCommands.show(try options.app(), name: name, json: json) }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Configure the probe's optional login stage (the password stays in its file)."
        )
        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Option(help: "PostgreSQL role the probe logs in as.") var probeUser: String?
        @Option(help: ArgumentHelp("File holding that role's password (read at probe time, never stored).", valueName: "path"))
        var probePasswordFile: String?
        @Option(help: "Database to connect to (default: postgres).") var probeDatabase: String?
        @Flag(help: "Remove the login stage.") var noProbeLogin = false

        func run() async throws {
            try await perform(options) { _ in
                try await CustomerCommands.setProbeLogin(try options.app(), name: name, user: probeUser,
                                                         passwordFile: probePasswordFile, database: probeDatabase,
                                                         clear: noProbeLogin)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deregister a customer; the daemon deletes the endpoint it created unless --keep-endpoint."
        )
        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Flag(help: "Leave the customer's VPC endpoint in place.") var keepEndpoint = false

        func run() async throws {
            try await perform(options) { _ in
                try await CustomerCommands.remove(try options.app(), name: name, keepEndpoint: keepEndpoint)
            }
        }
    }
}

struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Move a SQLite state into PostgreSQL, or take an online copy of it.",
        subcommands: [Copy.self, Backup.self]
    )

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy this config's SQLite state into the empty PostgreSQL state another config names (stop the daemon first).")
        @OptionGroup var options: GlobalOptions
        @Option(help: ArgumentHelp("A configuration whose \"state\" is PostgreSQL; its database must be empty.", valueName: "config"))
        var to: String

        func run() async throws {
            try await perform(options) { _ in try await StateCommands.copy(try options.app(), to: to) }
        }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an online, consistent copy of the SQLite state to a new file (the daemon may keep running).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: ArgumentHelp("The new file (never overwritten).", valueName: "path"))
        var path: String

        func run() async throws {
            try await perform(options) { _ in try await StateCommands.backup(try options.app(), to: path) }
        }
    }
}

struct Invitations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every resource share invitation addressed to this account, with its resources (all regions)."
    )
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await perform(options) { logger in
            let app = try options.app()
            return try await AWSCommands.invitations(app, context: try await AWSContext.make(config: app.config, logger: logger), json: json)
        }
    }
}

struct Endpoints: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the Resource VPC endpoints in the configured VPCs with state, DNS name and last error."
    )
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await perform(options) { logger in
            let app = try options.app()
            return try await AWSCommands.endpoints(app, context: try await AWSContext.make(config: app.config, logger: logger), json: json)
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The daemon: accept matching shares, create endpoints, keep them reconciled (systemd: Type=notify).",
        discussion: "SIGTERM or SIGINT stop it gracefully. One daemon per state file."
    )
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Do one reconcile pass and one probe sweep, then exit: 0 when both ran (whatever the customers' health), 1 when either failed.") var once = false

    func run() async throws {
        try await perform(options, defaultLevel: .info) { logger in
            try await Daemon.run(try options.app(), options: Daemon.Options(once: once), logger: logger)
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One row per customer (state, health, last probe, failing checks, hint; --wide adds the endpoint, its VPC and DNS name) and the invitations not accepted."
    )
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON (the documented contract).") var json = false
    @Flag(help: "Print every column whole (endpoint, VPC, DNS name, the checks' and hints' full sentences) instead of fitting 120 columns.")
    var wide = false

    func run() async throws {
        try await perform(options) { _ in try await StatusCommand.render(try options.app(), json: json, wide: wide) }
    }
}

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Everything known about one customer, oldest first, and the most likely cause of a problem (exit 1 unless ready and healthy)."
    )
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The customer's name.") var name: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        var healthy = false
        try await perform(options) { _ in
            let explained = try await ExplainCommand.render(try options.app(), name: name, json: json)
            healthy = explained.healthy
            return explained.output
        }
        if !healthy { throw ExitCode(1) }
    }
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the health log (probe results and lifecycle events), across rotated files, newest last."
    )
    @OptionGroup var options: GlobalOptions
    @Option(help: "Only this customer.") var customer: String?
    @Option(help: ArgumentHelp("Only entries newer than this (90s, 15m, 1h, 2d, 1h30m).", valueName: "duration")) var since: String?
    @Flag(help: "Keep printing new entries as they are written.") var follow = false
    @Flag(help: "Print the JSON lines as written.") var json = false

    func run() async throws {
        try await perform(options) { _ in
            let app = try options.app()
            guard follow else {
                return try await HealthCommand.read(app, customer: customer, since: since, json: json)
            }
            try await HealthCommand.follow(app, customer: customer, since: since, json: json) { line in
                // Unbuffered, so that `health --follow | grep …` sees each line as it is written.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            return ""
        }
    }
}

struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe one customer's database now (DNS, TCP, PostgreSQL, login) and print each stage; exit 0 only when all pass."
    )
    @OptionGroup var options: GlobalOptions
    @Argument var name: String

    func run() async throws {
        var passed = true
        try await perform(options) { logger in
            let (output, ok) = try await ProbeCommand.run(try options.app(), name: name, logger: logger)
            passed = ok
            return output
        }
        if !passed { throw ExitCode(1) }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the whole flow on this machine: simulated AWS, a throwaway PostgreSQL, registration, passes, status."
    )
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await perform(options) { logger in
            try await ConsumerDemo.Demo.run(logger: logger) { Swift.print($0) }
            return ""
        }
    }
}
