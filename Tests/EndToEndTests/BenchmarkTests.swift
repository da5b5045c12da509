import Foundation
import Testing
import TestSupport

extension DaemonEndToEnd {
    /// The benchmark at a toy size: every figure is produced, from real runs (figures, not timings, are
    /// checked here; the targets are the benchmark's business).
    @Suite struct BenchmarkTests {
        @Test func everyFigureComesOutOfASmallRun() async throws {
            let output = try await ProcessRunner.run(ProcessRunner.executable("privatelink-consumer-bench"), [
                "--customers", "30", "--onboard", "12", "--history", "500", "--probe-customers", "20", "--passes", "1", "--sweeps", "2", "--onboard-rounds", "2",
                // Probes must all succeed here, whatever the load: generous stage timeouts (the silent
                // listeners then hold their sweeps for 6 s each, which nothing here measures).
                "--idle-seconds", "1", "--probe-timeout-seconds", "6", "--json",
            ], environment: ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()])
            #expect(output.status == 0, "\(output.stderr.suffix(2000))")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any],
                                    "\(output.stdout.prefix(500))")
            func figure(_ name: String) throws -> [String: Any] {
                try #require(json[name] as? [String: Any], "no \(name) in \(json.keys.sorted())")
            }

            let steady = try figure("steady")
            #expect(steady["customers"] as? Int == 30)
            // One page each of invitations, shared resources and endpoints: nothing per customer.
            #expect(steady["awsCallsTotal"] as? Int == 3, "\(steady["awsCalls"] ?? "-")")
            #expect((steady["seconds"] as? Double ?? 0) > 0)

            let onboard = try figure("onboard")
            #expect(onboard["customers"] as? Int == 12)
            let calls = try #require(onboard["awsCalls"] as? [String: Int])
            #expect(calls["ec2:CreateVpcEndpoint"] == 12 && calls["ram:AcceptResourceShareInvitation"] == 12, "\(calls)")

            // Both backends' onboarding, interleaved round by round, and the ratio of each round.
            let postgres = try figure("onboardPostgres")
            #expect(postgres["customers"] as? Int == 12)
            #expect((postgres["rounds"] as? [Double])?.count == 2 && (onboard["rounds"] as? [Double])?.count == 2, "\(postgres)")
            let ratio = try figure("onboardPostgresRatio")
            #expect((ratio["rounds"] as? [Double])?.count == 2 && (ratio["ratio"] as? Double ?? 0) > 0, "\(ratio)")

            let cost = try figure("probeCost")
            #expect((cost["cpuMillisecondsPerProbe"] as? Double ?? 0) > 0, "\(cost)")
            // The floor: the probe threads' blocking work alone, from a child of its own (a difference of two
            // small runs: present, not necessarily above zero at this size).
            #expect((cost["floorCpuMilliseconds"] as? Double)?.isFinite == true, "\(cost)")
            let onboardFullPool = try figure("onboardFullPool")
            #expect(onboardFullPool["endpointsInFullVpcs"] as? Int == 0 && onboardFullPool["refusedCreates"] as? Int == 2, "\(onboardFullPool)")

            let sweep = try figure("probeSweep")
            #expect(sweep["endpoints"] as? Int == 20 && sweep["ok"] as? Int == 20, "\(sweep)")
            #expect((sweep["sweeps"] as? [Double])?.count == 2)
            let responder = try figure("probeSweepResponder")
            #expect(responder["endpoints"] as? Int == 20 && responder["ok"] as? Int == 20, "\(responder)")
            let silent = try figure("probeSweepWithSilent")
            #expect(silent["silent"] as? Int == 2 && silent["ok"] as? Int == 18, "\(silent)")
            #expect(silent["probeTimeoutSeconds"] as? Int == 6 && silent["target"] as? Double == 7, "\(silent)")

            let idle = try figure("idle")
            #expect((idle["rssMiB"] as? Double ?? 0) > 1, "\(idle)")
            #expect(idle["cpuPercent"] is Double)
            let startup = try figure("startup")
            #expect((startup["seconds"] as? Double ?? 0) > 0 && (startup["peakRssMiB"] as? Double ?? 0) > 1, "\(startup)")

            let store = try figure("store")
            #expect((store["bytes"] as? Int ?? 0) > 1000)
            #expect(json["build"] as? String == "debug")
        }
    }
}
