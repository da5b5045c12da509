import Foundation
@testable import LatticeSimulator
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ScenarioTests {
    static let rcfg1 = "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0"
    static let rcfg2 = "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef1"
    static let rcfg3 = "arn:aws:vpc-lattice:us-east-1:444455556666:resourceconfiguration/rcfg-0123456789abcdef2"

    static let complete = """
        {
          "accountId": "123456789012",
          "region": "eu-west-1",
          "credentials": [{"accessKeyId": "AKIASCENARIO00000001", "secretAccessKey": "scenario-secret"}],
          "pageSize": 2,
          "provisioning": {"endpoints": {"afterDescribes": 2}, "resourcesAvailableAfterListCalls": 1,
                           "emptyPageEvery": 3, "endpointStateCasing": "lowercase", "deletingDescribes": 0},
          "invitations": [
            {"sender": "111122223333", "shareName": "acme", "resources": [
              {"arn": "\(rcfg1)", "dnsName": "localhost", "privateDnsName": "db.acme.internal", "port": 5433},
              {"arn": "\(rcfg2)", "ipAddress": "10.0.0.5", "readable": false}]},
            {"sender": "111122223333", "shareName": "old", "status": "EXPIRED", "resources": [{"arn": "\(rcfg2)"}]},
            {"sender": "111122223333", "shareName": "stale", "expiredButReadsPending": true, "resources": [{"arn": "\(rcfg2)"}]},
            {"sender": "111122223333", "shareName": "done", "status": "ACCEPTED", "resources": [{"arn": "\(rcfg2)"}]}
          ],
          "organizationShares": [{"owner": "444455556666", "shareName": "org", "resources": [{"arn": "\(rcfg3)"}]}],
          "faults": [{"kind": "throttle", "service": "ec2", "operation": "CreateVpcEndpoint", "every": 2},
                     {"kind": "delay", "service": "ram", "delayMilliseconds": 5, "times": 1},
                     {"kind": "htmlPage", "status": 503}]
        }
        """

    @Test func aCompleteScenarioConfiguresEverything() async throws {
        let scenario = try SimulatorScenario.parse(Data(Self.complete.utf8))
        #expect(scenario.configuration.accountId == "123456789012")
        #expect(scenario.configuration.region == "eu-west-1")
        #expect(scenario.configuration.credentials.map(\.accessKeyId) == ["AKIASCENARIO00000001"])
        #expect(scenario.configuration.pageSize == 2)
        #expect(scenario.configuration.provisioning == ProvisioningSettings(
            endpoints: .afterDescribes(2), resourcesAvailableAfterListCalls: 1, emptyPageEvery: 3,
            endpointStateCasing: .lowercase, deletingDescribes: 0))
        #expect(scenario.faults == [
            .throttle(every: 2, on: .operation(.ec2, "CreateVpcEndpoint")),
            SimulatorFault(.delay(.milliseconds(5)), on: .service(.ram), times: 1),
            SimulatorFault(.malformedBody(.htmlPage(status: 503))),
        ])

        let simulator = try await scenario.start()
        defer { Task { try? await simulator.shutdown() } }
        #expect(simulator.invitations.map(\.status) == [.pending, .expired, .pending, .accepted])
        #expect(simulator.invitations.map(\.isExpired) == [false, true, true, false])
        #expect(simulator.shares.map(\.status) == [.awaitingAcceptance, .awaitingAcceptance, .awaitingAcceptance, .active, .active])
        #expect(simulator.resourceConfiguration(Self.rcfg1)?.portRanges == ["5433"])
        #expect(simulator.resourceConfiguration(Self.rcfg2)?.definition == .ip(address: "10.0.0.5"))
        #expect(simulator.resourceConfiguration(Self.rcfg2)?.isReadable == false)
        #expect(simulator.resourceConfiguration(Self.rcfg3)?.isReadable == true)
        #expect(simulator.faultFirings == [0, 0, 0])

        let lines = simulator.exportLines
        #expect(lines.contains("AWS_ENDPOINT_URL=\(simulator.endpointURL)"))
        #expect(lines.contains("AWS_ACCESS_KEY_ID=AKIASCENARIO00000001"))
        #expect(lines.contains("AWS_SECRET_ACCESS_KEY=scenario-secret"))
        #expect(lines.contains("AWS_REGION=eu-west-1"))
        #expect(lines == lines.sorted())
        try await simulator.shutdown()
    }

    @Test func anEmptyDocumentIsTheDefaultSimulator() throws {
        let scenario = try SimulatorScenario.parse(Data("{}".utf8))
        #expect(scenario.configuration.accountId == "999999999999")
        #expect(scenario.configuration.credentials == [SimulatorConfiguration.defaultCredentials])
        #expect(scenario.invitations.isEmpty && scenario.faults.isEmpty)
        #expect(scenario.configuration.provisioning == ProvisioningSettings())
    }

    @Test(arguments: [
        (#"{"pageSize": "2"}"#, "pageSize", SimulatorScenarioError.Code.wrongType),
        (#"{"pageSize": 2.5}"#, "pageSize", .wrongType),
        (#"{"pageSize": 0}"#, "pageSize", .invalidValue),
        (#"{"acountId": "123456789012"}"#, "acountId", .unknownKey),
        (#"{"accountId": "12345"}"#, "accountId", .invalidValue),
        (#"{"credentials": []}"#, "credentials", .invalidValue),
        (#"{"credentials": [{"accessKeyId": "A"}]}"#, "credentials[0].secretAccessKey", .missingKey),
        (#"{"provisioning": {"endpoints": "slow"}}"#, "provisioning.endpoints", .invalidValue),
        (#"{"provisioning": {"endpoints": {"afterDescribes": true}}}"#, "provisioning.endpoints.afterDescribes", .wrongType),
        (#"{"provisioning": {"endpointStateCasing": "UPPER"}}"#, "provisioning.endpointStateCasing", .invalidValue),
        (#"{"invitations": {}}"#, "invitations", .wrongType),
        (#"{"invitations": [{"sender": "111122223333", "shareName": "x"}]}"#, "invitations[0].resources", .missingKey),
        (#"{"invitations": [{"sender": "111122223333", "shareName": "x", "resources": [{"arn": "arn:x", "port": 70000}]}]}"#,
         "invitations[0].resources[0].port", .invalidValue),
        (#"{"invitations": [{"sender": "111122223333", "shareName": "x", "resources": [{"arn": "arn:x", "readable": "no"}]}]}"#,
         "invitations[0].resources[0].readable", .wrongType),
        (#"{"invitations": [{"sender": "111122223333", "shareName": "x", "status": "LOST", "resources": []}]}"#,
         "invitations[0].status", .invalidValue),
        (#"{"organizationShares": [{"owner": "111122223333", "shareName": "x", "resources": [{"type": "t"}]}]}"#,
         "organizationShares[0].resources[0].arn", .missingKey),
        (#"{"faults": [{"kind": "explode"}]}"#, "faults[0].kind", .invalidValue),
        (#"{"faults": [{"kind": "delay"}]}"#, "faults[0].delayMilliseconds", .missingKey),
        (#"{"faults": [{"kind": "throttle", "operation": "CreateVpcEndpoint"}]}"#, "faults[0].service", .missingKey),
        (#"{"faults": [{"kind": "throttle", "service": "s3"}]}"#, "faults[0].service", .invalidValue),
        (#"[1, 2]"#, "", .wrongType),
        (#"{"pageSize": 2"#, "", .invalidJSON),
    ])
    func badDocumentsNameTheKey(document: String, keyPath: String, code: SimulatorScenarioError.Code) {
        let error = #expect(throws: SimulatorScenarioError.self) { try SimulatorScenario.parse(Data(document.utf8)) }
        #expect(error?.keyPath == keyPath)
        #expect(error?.code == code)
        if let error {
            #expect(!error.description.contains("\n"))
            #expect(keyPath.isEmpty || error.description.contains(keyPath))
        }
    }

    @Test func anUnreadableFileIsReported() {
        let error = #expect(throws: SimulatorScenarioError.self) {
            try SimulatorScenario.load(contentsOf: "/nonexistent/scenario.json")
        }
        #expect(error?.code == .unreadable)
    }
}
