import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// `LatticeClient.resourceConfiguration` against a real `LatticeSimulator`: the normal answers (found,
/// access denied, not found) and the faults.
@Suite(.timeLimit(.minutes(2)), .calmPool)
struct LatticeClientTests {
    static let owner = "111122223333"

    static func share(_ simulator: LatticeSimulator, _ arns: [String]) {
        simulator.addOrganizationShare(owner: owner, shareName: "org", resources: arns.map { SharedResource(arn: $0) })
    }

    @Test func aSharedDNSResourceIsFoundByArnAndById() async throws {
        try await withSimulator { simulator, clients in
            let arn = testARN(1)
            Self.share(simulator, [arn])
            simulator.setResourceConfiguration(SimulatedResourceConfiguration(
                arn: arn, name: "acme-db", definition: .dns(domainName: "acme.cluster-c0ffee.us-east-1.rds.amazonaws.com"),
                portRanges: ["5432", "6000-6002"], customDomainName: "db.acme.internal"))
            guard case .found(let configuration) = try await clients.lattice.resourceConfiguration(arn) else {
                Issue.record("expected the configuration to be found")
                return
            }
            #expect(configuration.arn == arn)
            #expect(configuration.id == "rcfg-00000000000000001")
            #expect(configuration.name == "acme-db")
            #expect(configuration.type == "SINGLE")
            #expect(configuration.status == "ACTIVE")
            #expect(configuration.protocol == "TCP")
            #expect(configuration.customDomainName == "db.acme.internal")
            #expect(configuration.resourceConfigurationDefinition?.dnsResource?.domainName == "acme.cluster-c0ffee.us-east-1.rds.amazonaws.com")
            #expect(configuration.resourceConfigurationDefinition?.dnsResource?.ipAddressType == "IPV4")
            #expect(!configuration.isIPResource)
            #expect(configuration.allows(port: 5432) == true)
            #expect(configuration.allows(port: 6001) == true)
            #expect(configuration.allows(port: 5433) == false)

            #expect(try await clients.lattice.resourceConfiguration("rcfg-00000000000000001") == .found(configuration))
            #expect(simulator.callCounts["vpc-lattice:GetResourceConfiguration"] == 2)
        }
    }

    @Test func anIPResourceIsRecognised() async throws {
        try await withSimulator { simulator, clients in
            let arn = testARN(2)
            Self.share(simulator, [arn])
            simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: arn, definition: .ip(address: "10.0.1.23")))
            guard case .found(let configuration) = try await clients.lattice.resourceConfiguration(arn) else {
                Issue.record("expected the configuration to be found")
                return
            }
            #expect(configuration.isIPResource)
            #expect(configuration.resourceConfigurationDefinition?.ipResource?.ipAddress == "10.0.1.23")
            #expect(configuration.resourceConfigurationDefinition?.dnsResource == nil)
        }
    }

    @Test func accessDeniedIsAnAnswerNotAFailure() async throws {
        try await withSimulator { simulator, clients in
            let arn = testARN(3)
            Self.share(simulator, [arn])
            simulator.setResourceConfiguration(SimulatedResourceConfiguration(arn: arn, isReadable: false))
            let lookup = try await clients.lattice.resourceConfiguration(arn)
            guard case .accessDenied(let message) = lookup else {
                Issue.record("expected access denied, got \(lookup)")
                return
            }
            #expect(message.contains("vpc-lattice:GetResourceConfiguration"))
            #expect(simulator.callCounts["vpc-lattice:GetResourceConfiguration"] == 1)
        }
    }

    @Test func notFoundIsAnAnswerNotAFailure() async throws {
        try await withSimulator { simulator, clients in
            let lookup = try await clients.lattice.resourceConfiguration(testARN(4))
            guard case .notFound(let message) = lookup else {
                Issue.record("expected not found, got \(lookup)")
                return
            }
            #expect(message.contains("rcfg-00000000000000004"))
            // A share withdrawn: no longer found.
            let arn = testARN(5)
            let share = simulator.addOrganizationShare(owner: Self.owner, shareName: "org", resources: [SharedResource(arn: arn)])
            guard case .found = try await clients.lattice.resourceConfiguration(arn) else {
                Issue.record("expected the shared configuration to be found")
                return
            }
            simulator.withdrawShare(share.arn)
            guard case .notFound = try await clients.lattice.resourceConfiguration(arn) else {
                Issue.record("expected the withdrawn configuration not to be found")
                return
            }
        }
    }

    @Test func anInvalidIdentifierIsAnError() async throws {
        try await withSimulator { _, clients in
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.lattice.resourceConfiguration("db-1")
            }
            #expect(error?.code == "ValidationException")
            #expect(error?.attempts == 1)
        }
    }

    // MARK: Faults

    @Test func slowAnswersBeyondTheTimeoutAreATimeoutError() async throws {
        try await withSimulator { simulator, _ in
            Self.share(simulator, [testARN(1)])
            simulator.inject(SimulatorFault(.delay(.seconds(30)), on: .service(.vpcLattice)))
            let clients = SimulatorClients(simulator, maxAttempts: 2, timeout: .milliseconds(200))
            let start = ContinuousClock.now
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.lattice.resourceConfiguration(testARN(1))
            }
            #expect(error?.kind == .timeout)
            #expect(error?.attempts == 2)
            // Two 200 ms attempts and a backoff; waiting for the answer would take 30 s.
            #expect(ContinuousClock.now - start < .seconds(8))
            // Never more calls than attempts; under load an attempt's 200 ms may run out before it even reaches
            // the server (then fewer reach it).
            #expect((simulator.callCounts["vpc-lattice:GetResourceConfiguration"] ?? 0) <= 2)

            // Slow, but within the deadline: fine.
            simulator.clearFaults()
            simulator.inject(SimulatorFault(.delay(.milliseconds(50)), on: .service(.vpcLattice)))
            guard case .found = try await SimulatorClients(simulator, timeout: .seconds(10)).lattice.resourceConfiguration(testARN(1)) else {
                Issue.record("expected the configuration to be found")
                return
            }
        }
    }

    @Test func throttlingAndServerErrorsAreRetriedTransparently() async throws {
        try await withSimulator { simulator, clients in
            let arns = (1...3).map { testARN($0) }
            Self.share(simulator, arns)
            simulator.inject(.throttle(every: 2, on: .service(.vpcLattice)))
            for arn in arns {
                guard case .found = try await clients.lattice.resourceConfiguration(arn) else {
                    Issue.record("expected \(arn) to be found")
                    return
                }
            }
            // c1 ok, c2 throttled, c3 ok, c4 throttled, c5 ok.
            #expect(simulator.callCounts["vpc-lattice:GetResourceConfiguration"] == 5)
            simulator.clearFaults()
            simulator.inject(.serverError(on: .service(.vpcLattice), times: 2))
            guard case .found = try await clients.lattice.resourceConfiguration(arns[0]) else {
                Issue.record("expected the configuration to be found after two 500s")
                return
            }
            #expect(simulator.callCounts["vpc-lattice:GetResourceConfiguration"] == 8)
            #expect(clients.backoffs.count == 4)
        }
    }

    @Test func truncatedBodiesAreRetried() async throws {
        try await withSimulator { simulator, clients in
            Self.share(simulator, [testARN(1)])
            simulator.inject(SimulatorFault(.truncatedBody, on: .service(.vpcLattice), times: 1))
            guard case .found = try await clients.lattice.resourceConfiguration(testARN(1)) else {
                Issue.record("expected the configuration to be found")
                return
            }
            #expect(simulator.callCounts["vpc-lattice:GetResourceConfiguration"] == 2)
        }
    }

    @Test(arguments: [SimulatorFault.MalformedBody.cutDocument, .htmlPage(status: 200)])
    func aMalformedBodyIsAClearError(_ body: SimulatorFault.MalformedBody) async throws {
        try await withSimulator { simulator, clients in
            Self.share(simulator, [testARN(1)])
            simulator.inject(SimulatorFault(.malformedBody(body), on: .service(.vpcLattice)))
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.lattice.resourceConfiguration(testARN(1))
            }
            #expect(error?.kind == .malformedResponse)
            #expect(error?.service == "vpc-lattice")
            #expect(error?.operation == "GetResourceConfiguration")
        }
    }

    @Test func aWrongSecretIsSignatureDoesNotMatchNotAccessDenied() async throws {
        try await withSimulator { simulator, _ in
            Self.share(simulator, [testARN(1)])
            let clients = SimulatorClients(simulator, credentials: wrongSecretCredentials)
            let error = await #expect(throws: AWSClientError.self) {
                try await clients.lattice.resourceConfiguration(testARN(1))
            }
            #expect(error?.code == "SignatureDoesNotMatch")
            #expect(error?.httpStatus == 403)
            #expect(error?.attempts == 1)
        }
    }
}
