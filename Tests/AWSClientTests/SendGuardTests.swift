import Foundation
import LatticeSimulator
import Logging
import Synchronization
import Testing
import TestSupport
@testable import AWSClient

/// A call that changes something is checked immediately before each attempt is written to the socket:
/// a daemon whose lease ran out between its last check and the send (or between two attempts) sends nothing.
@Suite(.calmPool) struct SendGuardTests {
    @Test func aRefusingGuardSendsNothing() async throws {
        let server = try await RequestExecutorTests.server { _ in .json(200, "{}") }
        let executor = RequestExecutorTests().executor(server)
        let refused = AWSRequestExecutor.SendGuard { "this daemon no longer holds the leadership lease" }
        let error = await #expect(throws: AWSClientError.self) {
            try await AWSRequestExecutor.$sendGuard.withValue(refused) {
                _ = try await executor.send(RequestExecutorTests.ramRequest, credentials: StaticCredentialProvider(RequestExecutorTests.credentials))
            }
        }
        #expect(error?.kind == .cancelled)
        #expect(error?.message.contains("not sent") == true)
        #expect(server.requests.isEmpty, "a request reached the server")
        try await server.shutdown()
    }

    @Test func aLeaseLostBetweenTwoAttemptsStopsTheRetry() async throws {
        // The first attempt is throttled; the lease runs out during the backoff; the retry is never sent.
        let server = try await RequestExecutorTests.server { _ in RequestExecutorTests.throttled }
        let holds = Atomic<Bool>(true)
        let sleeper = RequestExecutorTests.SleepRecorder()
        let executor = AWSRequestExecutor(endpoints: EndpointResolver(environment: ["AWS_ENDPOINT_URL": server.baseURL]),
                                          retryPolicy: RetryPolicy(maxAttempts: 3),
                                          sleep: { duration in
                                              try await sleeper.sleep(duration)
                                              holds.store(false, ordering: .relaxed)
                                          },
                                          random: { 0.5 }, logger: Logger(label: "test"))
        let guarded = AWSRequestExecutor.SendGuard { holds.load(ordering: .relaxed) ? nil : "lease ran out" }
        let error = await #expect(throws: AWSClientError.self) {
            try await AWSRequestExecutor.$sendGuard.withValue(guarded) {
                _ = try await executor.send(RequestExecutorTests.ramRequest, credentials: StaticCredentialProvider(RequestExecutorTests.credentials))
            }
        }
        #expect(error?.kind == .cancelled)
        #expect(server.requests.count == 1, "the retry was sent after the lease ran out")
        try await server.shutdown()
    }

    @Test func withoutAGuardNothingChanges() async throws {
        let server = try await RequestExecutorTests.server { _ in .json(200, "{}") }
        let response = try await RequestExecutorTests().executor(server)
            .send(RequestExecutorTests.ramRequest, credentials: StaticCredentialProvider(RequestExecutorTests.credentials))
        #expect(response.status == 200)
        #expect(server.requests.count == 1)
        try await server.shutdown()
    }
}
