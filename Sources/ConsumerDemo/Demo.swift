import AWSClient
import Consumer
import ConsumerStore
import Foundation
import LatticeSimulator
import Logging

/// `privatelink-consumer demo`: the whole product on this machine in under a minute, nothing leaving
/// it. The LatticeSimulator plays AWS; a throwaway PostgreSQL plays a customer's RDS; an SE registers
/// customers; the daemon's own parts accept the matching shares, create the endpoints and probe them.
public enum Demo {
    public static func run(logger: Logger, print: @escaping (String) -> Void) async throws {
        let work = NSTemporaryDirectory() + "privatelink-consumer-demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        func step(_ text: String) { print("\n== \(text)") }

        step("a customer's database: a throwaway PostgreSQL on 127.0.0.1")
        var postgresPort: Int?
        do {
            let postgres = try await ThrowawayPostgres.shared()
            postgresPort = postgres.port
            print("PostgreSQL \(postgres.majorVersion) listening on 127.0.0.1:\(postgres.port) (stopped and deleted at exit)")
        } catch {
            print("no local PostgreSQL (\(error)); acme will show as unreachable")
        }
        let closedPort = try freeLoopbackPort()

        step("AWS: the LatticeSimulator on loopback (RAM, EC2, VPC Lattice, STS; every signature verified)")
        let simulator = try await LatticeSimulator.start(SimulatorConfiguration(provisioning: .instant))
        let acme = "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0a1b2c3d4e5f60718"
        let globex = "arn:aws:vpc-lattice:us-east-1:444455556666:resourceconfiguration/rcfg-0f1e2d3c4b5a69788"
        let stranger = "arn:aws:vpc-lattice:us-east-1:555566667777:resourceconfiguration/rcfg-0123456789abcdef0"
        simulator.addInvitation(sender: "111122223333", shareName: "acme-rds", resources: [SharedResource(arn: acme)])
        simulator.addInvitation(sender: "444455556666", shareName: "globex-rds", resources: [SharedResource(arn: globex)])
        simulator.addInvitation(sender: "555566667777", shareName: "who-is-this", resources: [SharedResource(arn: stranger)])
        // The configurations carry the ports the demo really uses (acme's database, globex's closed port), so that
        // only globex shows a warning: it made the setup guide's third mistake, pointing at an IP.
        let ports = (acme: postgresPort ?? closedPort, globex: closedPort)
        simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: acme, portRanges: [String(ports.acme)]))
        simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: globex, definition: .ip(address: "10.0.12.34"),
                                                                          portRanges: [String(ports.globex)]))
        print("\(simulator.endpointURL): 3 pending RAM invitations (acme, globex, and one nobody registered); "
              + "globex's resource configuration is an IP resource")
        do {
            try await walkthrough(work: work, simulator: simulator, ports: ports,
                                  arns: (acme, globex), logger: logger, print: print, step: step)
        } catch {
            try? await simulator.shutdown()
            throw error
        }
        try? await simulator.shutdown()
        step("done: the simulator, the state file and the PostgreSQL cluster are gone")
    }

    static func walkthrough(work: String, simulator: LatticeSimulator, ports: (acme: Int, globex: Int), arns: (acme: String, globex: String),
                            logger: Logger, print: @escaping (String) -> Void, step: (String) -> Void) async throws {
        let configPath = work + "/config.json"
        try Data("""
            {"stateDatabase": "state/state.sqlite3", "healthLog": "log/health.jsonl",
             "regions": {"us-east-1": {"vpcId": "vpc-0123456789abcdef0",
               "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"], "securityGroupIds": ["sg-0123456789abcdef0"]}},
             "probe": {"timeoutSeconds": 2}, "ec2Pacing": {"burst": 10, "refillPerSecond": 10}}
            """.utf8).write(to: URL(fileURLWithPath: configPath))
        let app = try ConsumerApp(configPath: configPath, environment: [:])

        step("an SE registers the ARNs the customers sent")
        print("$ privatelink-consumer customer add acme --arn \(arns.acme) --port \(ports.acme)")
        print(try await CustomerCommands.add(app, name: "acme", arn: arns.acme, port: ports.acme, note: "demo"))
        print("$ privatelink-consumer customer add globex --arn \(arns.globex) --port \(ports.globex)")
        print(try await CustomerCommands.add(app, name: "globex", arn: arns.globex, port: ports.globex, note: "nothing listens on this port"))

        step("the daemon's passes (what `run` does every poll interval)")
        var environment = simulator.endpointEnvironment
        environment["AWS_ACCESS_KEY_ID"] = SimulatorConfiguration.defaultCredentials.accessKeyId
        environment["AWS_SECRET_ACCESS_KEY"] = SimulatorConfiguration.defaultCredentials.secretAccessKey
        environment["AWS_REGION"] = "us-east-1"
        let parts = try await DaemonParts.make(app, environment: environment, logger: logger)
        for pass in 1...6 {
            let summary = await parts.reconciler.pass()
            print("pass \(pass): \(summary.line)")
            if summary.customers > 0 && summary.ready == summary.customers { break }
        }
        let probes = try await parts.scheduler.sweep()
        print("probe sweep: \(probes.healthy)/\(probes.probed) healthy")

        step("on-call: privatelink-consumer status")
        print(try await StatusCommand.render(app, json: false))
        step("on-call: privatelink-consumer explain globex (its whole story and the likely cause)")
        print(try await ExplainCommand.render(app, name: "globex", json: false).output)
        step("SE: privatelink-consumer invitations")
        print(try await AWSCommands.invitations(app, context: parts.aws, json: false))
        step("on-call: privatelink-consumer health (the JSON-lines health log)")
        let lines = try await HealthCommand.read(app, customer: nil, since: nil, json: false).split(separator: "\n")
        print(lines.suffix(6).joined(separator: "\n"))
    }
}
