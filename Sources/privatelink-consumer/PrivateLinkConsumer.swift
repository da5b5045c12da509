import ArgumentParser
import Consumer
import Foundation

/// `privatelink-consumer`: argument parsing only; the work is in the Consumer library.
@main
struct PrivateLinkConsumer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privatelink-consumer",
        abstract: "Accepts customers' RAM-shared VPC Lattice resource configurations, creates Resource VPC endpoints and probes their PostgreSQL.",
        discussion: "Exit status: 0 success, 1 runtime failure, 64 usage or validation error.",
        version: ConsumerVersion.string,
        subcommands: [CustomerCommand.self, CheckConfig.self]
    )
}

/// `--config`, shared by every command.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (default: $PRIVATELINK_CONSUMER_CONFIG, else /etc/privatelink-consumer/config.json).", valueName: "path"))
    var config: String?

    func app() throws -> ConsumerApp {
        try ConsumerApp(configPath: config)
    }
}

/// Runs a command body, printing its output, or its failure on one stderr line with the right exit status.
func perform(_ body: () async throws -> String) async throws {
    do {
        let output = try await body()
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

    func run() async throws {
        try await perform {
            CheckConfigCommand.summary(of: try options.app().config)
        }
    }
}

struct CustomerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer",
        abstract: "Register, list, show and remove customers (for SEs).",
        subcommands: [Add.self, List.self, Show.self, Remove.self]
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
            try await perform {
                try await CustomerCommands.add(try options.app(), name: name, arn: arn, port: port, note: note)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered customers and their state.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await perform { try await CustomerCommands.list(try options.app(), json: json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one customer with its recent lifecycle events.")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await perform { try await CustomerCommands.show(try options.app(), name: name, json: json) }
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
            try await perform {
                try await CustomerCommands.remove(try options.app(), name: name, keepEndpoint: keepEndpoint)
            }
        }
    }
}
