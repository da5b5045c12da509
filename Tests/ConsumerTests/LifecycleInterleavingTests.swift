import AWSClient
import ConsumerStore
import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import TestSupport
@testable import Consumer

/// Seeded, reproducible random interleavings of SE commands and AWS behaviour, through the real
/// reconciler and the real SQLite store, against an in-memory model of RAM and EC2 (describe lag, lost
/// create and delete answers, throttling, out-of-band deletes). Whatever the interleaving, no removed
/// customer keeps a live endpoint, no customer has two, a removed customer never comes back, and no
/// registration is lost. A failure names its seed: `LIFECYCLE_SEED=<n>` replays exactly that case.
/// The unit suite runs 40 cases (a few seconds, beside the rest of the suite on two cores);
/// `LIFECYCLE_CASES=2000 swift test --filter LifecycleInterleavingTests` runs thousands.
@Suite(.calmPool) struct LifecycleInterleavingTests {
    static let names = ["acme", "globex", "initech"]
    static let arns = (1...3).map { testARN(900 + $0) }

    @Test func randomInterleavingsKeepTheInvariants() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64] = environment["LIFECYCLE_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? (1...UInt64(environment["LIFECYCLE_CASES"].flatMap(Int.init) ?? 40)).map { $0 }
        let dir = TemporaryDirectory("plc-interleavings", base: "/dev/shm")
        // One migrated empty state file, copied for each case (a fresh database each, without migrating each).
        let template = dir.file("template.sqlite3")
        _ = try SQLiteStore(path: template)
        let started = Date()
        var slowest: (seed: UInt64, seconds: Double) = (0, 0)
        for seed in seeds {
            let caseStart = Date()
            try FileManager.default.createDirectory(atPath: dir.file("case-\(seed)"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: template, toPath: dir.file("case-\(seed)/state.sqlite3"))
            let failures = try await Self.run(seed: seed, directory: dir.file("case-\(seed)")) { now in
                try SQLiteStore(path: dir.file("case-\(seed)/state.sqlite3"), now: now)
            }
            let seconds = Date().timeIntervalSince(caseStart)
            if seconds > slowest.seconds { slowest = (seed, seconds) }
            #expect(failures.isEmpty, "seed \(seed) (replay with LIFECYCLE_SEED=\(seed)): \(failures.joined(separator: "; "))")
            if !failures.isEmpty { break }
            try? FileManager.default.removeItem(atPath: dir.file("case-\(seed)"))
            // The suite runs in parallel with timing-sensitive tests on two cores: let them in between cases.
            await Task.yield()
        }
        print("lifecycle interleavings: \(seeds.count) cases in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; slowest seed \(slowest.seed) took \(String(format: "%.2f", slowest.seconds)) s")
    }

    /// The same interleavings against PostgreSQL (a fresh database per case): the invariants hold in the
    /// shared store too. Fewer cases (each creates a database); `LIFECYCLE_PG_CASES` runs more.
    @Test func randomInterleavingsKeepTheInvariantsOnPostgres() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seeds: [UInt64] = environment["LIFECYCLE_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? (1...UInt64(environment["LIFECYCLE_PG_CASES"].flatMap(Int.init) ?? 8)).map { 1000 + $0 }
        let dir = TemporaryDirectory("plc-interleavings-pg")
        for seed in seeds {
            let config = try await TestPostgresDatabase.make()
            let failures = try await Self.run(seed: seed, directory: dir.path) { now in try await PostgresStore.open(config, now: now) }
            #expect(failures.isEmpty, "seed \(seed) (replay with LIFECYCLE_SEED=\(seed)): \(failures.joined(separator: "; "))")
            if !failures.isEmpty { break }
        }
    }

    /// One example's world: a fresh state file, a clock, the model AWS with `seed`, and reconcilers over them.
    struct Example {
        let dir: TemporaryDirectory
        let clock = TestClock()
        let path: String
        let store: SQLiteStore
        let model: ModelAWS
        let config: ConsumerConfig
        let policy = ReconcilePolicy(missingGrace: 30, maxEndpointFailures: 1000, failureBackoffBase: 1, failureBackoffCap: 5)

        init(_ label: String, seed: UInt64) throws {
            dir = TemporaryDirectory("plc-\(label)")
            path = dir.file("state.sqlite3")
            let clock = self.clock
            store = try SQLiteStore(path: path, now: { clock.now })
            model = ModelAWS(seed: seed, clock: clock)
            var config = TestConfig(directory: dir.path)
            config.extra = [:]
            self.config = try ConfigLoader.parse(Data(config.json.utf8), source: "test")
        }

        func reconciler(_ pacer: MutationPacer = .unpaced) -> Reconciler {
            let clock = self.clock
            return Reconciler(config: config, store: store, aws: model, events: HealthLogOutbox(store: store, writer: nil), policy: policy,
                              pacer: pacer, now: { clock.now }, logger: Logger(label: "example", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
    }

    /// A pass writes consecutive generation changes together; when that write fails for one of them (here a
    /// trigger of the test's refuses acme's endpoint becoming available), each is written again on its own: the
    /// others land, and only acme's fails, in every pass.
    @Test func oneRefusedChangeOfSeveralCostsOnlyItself() async throws {
        let example = try Example("batch", seed: 11)
        let (clock, path, store, reconciler) = (example.clock, example.path, example.store, example.reconciler())
        var customers: [Customer] = []
        for (n, name) in ["acme", "globex", "initech"].enumerated() {
            customers.append(try await store.addCustomer(NewCustomer(name: name, arn: try ResourceConfigurationARN.parse(Self.arns[n]).get()),
                                                         by: .cli(user: "se")))
        }
        let acme = try #require(customers.first?.id)
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: """
                CREATE TRIGGER test_refuses_acme BEFORE UPDATE OF state ON endpoint
                WHEN NEW.customerId = \(acme) AND NEW.state = 'available'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """)
        }
        var errors: [Int] = []
        for _ in 0..<10 {
            clock.advance(5)
            errors.append(await reconciler.pass().errors)
        }
        #expect(try await store.customer(named: "globex")?.state == .ready)
        #expect(try await store.customer(named: "initech")?.state == .ready)
        #expect(try await store.customer(named: "acme")?.state != .ready)
        // Once the endpoints are listed available: one failure a pass, acme's own.
        #expect(errors.last == 1, "\(errors)")
    }

    /// Another writer moves a generation while its CreateVpcEndpoint is in flight: the SE removes the customer
    /// with `--keep-endpoint` between the call and its answer, which releases the generation. The answer is
    /// dropped: neither it nor its step is written over the release, and the customer sits out the rest of that
    /// pass. Later passes keep the endpoint the call made, as the SE asked, and never create another.
    @Test func aCreateAnswerForAGenerationAnotherWriterMovedWritesNothing() async throws {
        let example = try Example("moved", seed: 5)
        let (clock, store, model, reconciler) = (example.clock, example.store, example.model, example.reconciler())
        let acme = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(Self.arns[0]).get()),
                                               by: .cli(user: "se"))
        var generation: Int64?
        for _ in 0..<4 where generation == nil {
            clock.advance(5)
            // Armed for each pass: a pass that ends before its create leaves nothing behind for the next.
            model.interruptOnce(at: "CreateVpcEndpoint")
            let pass = Task {
                let summary = await reconciler.pass()
                model.passEnded()
                return summary
            }
            await model.waitForInterruption()
            if model.isPaused {
                // The call is on its way (its ClientToken stored); the SE removes the customer, keeping its endpoint.
                let row = try #require(try await store.endpointGenerations(customerId: acme.id!).last)
                #expect(row.state == .creating)
                generation = row.id
                _ = try await store.requestRemoval(named: "acme", keepEndpoint: true, by: .cli(user: "se"))
                model.resume()
            }
            _ = await pass.value
        }
        let id = try #require(generation, "no pass called CreateVpcEndpoint")
        #expect(model.createCount == 1)
        // The answer (an endpoint id, `pending`) and its step were not written over the release.
        let after = try #require(try await store.endpointGeneration(id))
        #expect(after.state == .released && after.vpcEndpointId == nil, "\(after.state) \(after.vpcEndpointId ?? "-")")
        #expect(try await store.customer(named: "acme")?.state != .endpointPending)

        // Later passes: the endpoint the call made is kept; no second one.
        for _ in 0..<8 {
            clock.advance(40)
            _ = await reconciler.pass()
        }
        let live = model.liveEndpoints()
        #expect(live.count == 1, "\(live.map(\.id))")
        #expect(model.createCount == 1, "\(model.createCount) endpoints made")
        // Released, and no pass deleted what the SE asked to keep, nor began another generation.
        #expect(try await store.endpointGeneration(id)?.state == .released)
        #expect(try await store.endpointGenerations(customerId: acme.id!).map(\.id) == [id])
    }

    /// EC2's mutation budget spent: the create is deferred before anything is written. The customer stays where
    /// it was (no "creating the endpoint" step without a generation), and the next pass with a token creates it.
    /// An example beside the random cases, which run unpaced.
    @Test func aCreateDeferredByThePacerWritesNothing() async throws {
        let example = try Example("deferred", seed: 7)
        let (clock, store, model) = (example.clock, example.store, example.model)
        let reconciler = example.reconciler
        let acme = try await store.addCustomer(NewCustomer(name: "acme", arn: try ResourceConfigurationARN.parse(Self.arns[0]).get()),
                                               by: .cli(user: "se"))
        // No token, and the next one more than the executor's 10 s wait away.
        let spent = MutationPacer(capacity: 0, refillPerSecond: 0.01, now: { clock.now })
        let paced = reconciler(spent)
        for _ in 0..<4 {
            clock.advance(5)
            _ = await paced.pass()
        }
        let waiting = try #require(try await store.customer(named: "acme"))
        // RAM lists the share, so the pass goes straight to creating the endpoint (awaiting_share → endpoint_pending),
        // and the deferral leaves the customer where it was.
        #expect(waiting.state == .awaitingShare, "\(waiting.state)")
        #expect(try await store.endpointGenerations(customerId: acme.id!).isEmpty)
        #expect(model.createCount == 0)
        #expect(try await store.events(customerId: acme.id!).allSatisfy { $0.toState != .endpointPending })

        let unpaced = reconciler(.unpaced)
        for _ in 0..<4 {
            clock.advance(5)
            _ = await unpaced.pass()
        }
        #expect(model.createCount == 1)
        #expect(try await store.endpointGenerations(customerId: acme.id!).count == 1)
        #expect(try await store.customer(named: "acme")?.state != .awaitingShare)
    }

    /// One case: random steps, then a quiet period without faults in which everything must converge.
    static func run(seed: UInt64, directory: String,
                    open: (@escaping @Sendable () -> Date) async throws -> any StateStore) async throws -> [String] {
        var random = SeededRandom(seed: seed)
        let clock = TestClock()
        let store = try await open({ clock.now })
        let model = ModelAWS(seed: seed &* 7919, clock: clock)
        var config = TestConfig(directory: directory)
        config.extra = [:]
        let parsed = try ConfigLoader.parse(Data(config.json.utf8), source: "test")
        let policy = ReconcilePolicy(missingGrace: 30, maxEndpointFailures: 1000, failureBackoffBase: 1, failureBackoffCap: 5)
        let reconciler = Reconciler(config: parsed, store: store, aws: model, events: HealthLogOutbox(store: store, writer: nil),
                                    policy: policy, pacer: .unpaced, now: { clock.now }, logger: Logger(label: "interleavings", factory: { _ in SwiftLogNoOpLogHandler() }))
        let cli = LifecycleActor.cli(user: "se")
        var failures: [String] = []
        var registered: [Int64: String] = [:]   // customer id → name, for registrations the CLI confirmed
        var removed: Set<Int64> = []
        var transcript: [String] = []
        // Endpoints kept by `--keep-endpoint`, with the model's call count when they were kept: never deleted after.
        var kept: [String: Int] = [:]

        func noteKept() async throws {
            for row in try await store.endpointGenerations() where row.state == .released {
                if let id = row.vpcEndpointId, kept[id] == nil { kept[id] = model.callCount }
            }
        }

        func keptDeleted() -> [String] {
            kept.compactMap { id, call in model.deletes(after: call).contains(id) ? "kept endpoint \(id) was deleted" : nil }
        }

        /// Ready customers whose endpoint EC2 holds available: what a blink must not change.
        func readyEndpoints() async throws -> [Int64: String] {
            let live = Dictionary(model.liveEndpoints().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var result: [Int64: String] = [:]
            for customer in try await store.customers() where customer.state == .ready {
                if let row = try await store.liveEndpoint(customerId: customer.id!), let id = row.vpcEndpointId,
                   live[id]?.state == .available, live[id]!.hiddenUntil <= clock.now {
                    result[customer.id!] = id
                }
            }
            return result
        }

        func cliStep(_ random: inout SeededRandom) async {
            let index = random.next(3)
            let name = names[index]
            switch random.next(4) {
            case 0, 1:
                // Re-adding the same name with the same or another ARN, or another name with the same ARN.
                let arn = arns[random.next(3) == 0 ? (index + 1) % 3 : index]
                if let customer = try? await store.addCustomer(NewCustomer(name: name, arn: try! ResourceConfigurationARN.parse(arn).get()), by: cli) {
                    registered[customer.id!] = name
                    transcript.append("add \(name)")
                }
            default:
                let keep = random.next(4) == 0
                if let customer = try? await store.requestRemoval(named: name, keepEndpoint: keep, by: cli) {
                    registered[customer.id!] = nil
                    if keep { try? await noteKept() }
                    if customer.state == .removed { removed.insert(customer.id!) }
                    transcript.append("remove \(name)\(keep ? " --keep-endpoint" : "") → \(customer.state.rawValue)")
                }
            }
        }

        for _ in 0..<(12 + random.next(14)) {
            clock.advance(Double(random.next(25)))
            switch random.next(11) {
            case 0, 1, 2:
                await cliStep(&random)
            case 3:
                model.deleteOutOfBand(pick: random.next(100))
                transcript.append("out-of-band delete")
            case 4:
                model.setFaults(throttleEvery: random.next(4), loseEvery: random.next(4), lag: random.next(4))
                transcript.append("faults")
            case 5:
                // A blink: the next listings leave out every ready customer's endpoint, or every shared resource,
                // or both. A pass must change none of them.
                let before = try await readyEndpoints()
                let what = random.next(3)
                let listings = 1 + random.next(2)
                model.blink((what != 1 ? Array(before.values) : []) + (what != 0 ? arns : []), listings: listings)
                let calls = model.callCount
                _ = await reconciler.pass()
                transcript.append("blink(\(["endpoints", "resources", "both"][what]) × \(listings)) pass")
                for (id, endpoint) in before {
                    let customer = try await store.customers(includeRemoved: true).first { $0.id == id }
                    // The SE may have removed it meanwhile; otherwise it is ready on the same endpoint.
                    guard customer?.state != .removing, customer?.state != .removed else { continue }
                    let now = try await store.liveEndpoint(customerId: id)?.vpcEndpointId
                    if customer?.state != .ready || now != endpoint {
                        failures.append("blink moved customer \(id) to \(customer?.state.rawValue ?? "gone") on \(now ?? "no endpoint") (was ready on \(endpoint))")
                    }
                    if model.deletes(after: calls).contains(endpoint) { failures.append("blink deleted \(endpoint)") }
                }
            default:
                // A pass, with the SE typing in the middle of it now and then.
                if random.next(3) == 0 {
                    var inner = SeededRandom(seed: random.nextRaw())
                    model.interruptOnce(afterCalls: 1 + random.next(5))
                    let pass = Task {
                        let summary = await reconciler.pass()
                        model.passEnded()
                        return summary
                    }
                    await model.waitForInterruption()
                    transcript.append("pass, with:")
                    await cliStep(&inner)
                    model.resume()
                    _ = await pass.value
                } else {
                    _ = await reconciler.pass()
                    transcript.append("pass")
                }
            }
            try await noteKept()
            failures += keptDeleted()
            failures += try await check(store: store, model: model, removed: &removed, registered: registered, final: false)
            if !failures.isEmpty { return failures + ["steps: " + transcript.joined(separator: ", ")] }
        }
        // Quiet: no faults, time passes, passes run until nothing changes.
        model.setFaults(throttleEvery: 0, loseEvery: 0, lag: 0)
        for _ in 0..<8 {
            clock.advance(40)
            _ = await reconciler.pass()
        }
        try await noteKept()
        failures += keptDeleted()
        failures += try await check(store: store, model: model, removed: &removed, registered: registered, final: true)
        return failures.isEmpty ? [] : failures + ["steps: " + transcript.joined(separator: ", ")]
    }

    /// The invariants, read from the store and the model.
    static func check(store: any StateStore, model: ModelAWS, removed: inout Set<Int64>, registered: [Int64: String],
                      final: Bool) async throws -> [String] {
        var failures: [String] = []
        let customers = try await store.customers(includeRemoved: true)
        let byId = Dictionary(uniqueKeysWithValues: customers.map { ($0.id!, $0) })
        // A removed customer never comes back.
        for id in removed where byId[id]?.state != .removed {
            failures.append("removed customer \(id) is \(byId[id]?.state.rawValue ?? "gone")")
        }
        for customer in customers where customer.state == .removed { removed.insert(customer.id!) }
        // No registration lost: what the CLI registered and did not remove is still registered.
        for (id, name) in registered where byId[id] == nil || byId[id]?.state == .removed || byId[id]?.state == .removing {
            failures.append("registration \(name) (\(id)) lost: \(byId[id]?.state.rawValue ?? "gone")")
        }
        let rows = try await store.endpointGenerations()
        let live = model.liveEndpoints()
        // No removed customer holds a live endpoint that is ours to delete; no customer has two current ones.
        var perCustomer: [Int64: Int] = [:]
        // An endpoint already being deleted (by us or by hand) is on its way out whatever the store says.
        for endpoint in live where endpoint.state != .deleting {
            let open: [EndpointRecord] = rows.filter { (row: EndpointRecord) -> Bool in
                !row.state.isClosed && (row.vpcEndpointId == endpoint.id || row.clientToken == endpoint.token)
            }
            let row: EndpointRecord? = open.last
            let released: Bool = rows.contains { (row: EndpointRecord) -> Bool in
                row.state == .released && (row.vpcEndpointId == endpoint.id || row.clientToken == endpoint.token)
            }
            guard let row else {
                if !released {
                    failures.append("endpoint \(endpoint.id) (\(endpoint.tag), \(endpoint.state), hidden until \(endpoint.hiddenUntil.timeIntervalSince1970)) is ours but no generation records it; generations: "
                        + rows.map { "\($0.customerId)/\($0.generation) \($0.state.rawValue) \($0.vpcEndpointId ?? "-") \($0.awsState ?? "-") created \($0.createdAt.timeIntervalSince1970) seen \($0.lastSeenAt?.timeIntervalSince1970 ?? 0) \($0.lastError ?? "")" }.joined(separator: " | "))
                }
                continue
            }
            if byId[row.customerId]?.state == .removed { failures.append("removed customer \(row.customerId) holds live \(endpoint.id)") }
            perCustomer[row.customerId, default: 0] += 1
        }
        for (id, count) in perCustomer where count > 1 {
            failures.append("customer \(id) has \(count) live endpoints")
        }
        if final {
            // Converged: every registered customer ready with exactly one endpoint; every removal finished.
            for customer in customers where customer.state != .removed {
                if customer.state == .removing { failures.append("\(customer.name) (\(customer.id!)) still removing") }
                else if customer.state != .ready { failures.append("\(customer.name) (\(customer.id!)) is \(customer.state.rawValue): \(customer.stateDetail ?? "")") }
            }
            let open = rows.filter { !$0.state.isClosed && byId[$0.customerId]?.state == .removed }
            if !open.isEmpty { failures.append("open generations of removed customers: \(open.map { $0.id ?? 0 })") }
        }
        return failures
    }
}

/// A controllable clock for the store, the planner and the model.
final class TestClock: Sendable {
    private let value = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// RAM and EC2 of one region, in memory: every registered ARN is shared (same organization), endpoints
/// appear in DescribeVpcEndpoints only after `lag` describes, become available one describe later, and
/// vanish one describe after a delete. Faults: throttling (no effect) and lost answers (effect, no answer).
final class ModelAWS: ReconcilerAWS, @unchecked Sendable {
    struct Endpoint {
        var id: String
        var arn: String
        var tag: String
        var token: String
        var request: String
        var state: VpcEndpointState
        /// EC2's eventual consistency: not listed, and NotFound to a delete, until then.
        var hiddenUntil: Date
    }

    private struct State {
        var endpoints: [Endpoint] = []
        var tokens: [String: String] = [:]
        var deletedTokens: Set<String> = []
        var throttleEvery = 0
        var loseEvery = 0
        var lag = 0
        var calls = 0
        var nextId = 1
        var interruptAt: Int?
        /// Or: the next call of this operation stops.
        var interruptOperation: String?
        var random: SeededRandom
        /// Endpoint ids and resource ARNs the next listings leave out (eventual consistency), by how many more.
        var hidden: [String: Int] = [:]
        /// Every DeleteVpcEndpoints item, in call order: (the call's number, the endpoint id).
        var deletes: [(call: Int, id: String)] = []
        var creates = 0
    }

    private let state: Mutex<State>
    private let clock: TestClock
    /// How long one unit of `lag` hides a new endpoint: well inside the planner's `missingGrace` (30 s here),
    /// as EC2's consistency window is inside the daemon's default.
    static let lagUnit: TimeInterval = 6
    private let interruption = Mutex<(reached: CheckedContinuation<Void, Never>?, resume: CheckedContinuation<Void, Never>?, hit: Bool, released: Bool)>((nil, nil, false, false))

    init(seed: UInt64, clock: TestClock) {
        state = Mutex(State(random: SeededRandom(seed: seed)))
        self.clock = clock
    }

    /// The next `listings` listings (DescribeVpcEndpoints or ListResources) leave these out; lookups by id still find them.
    func blink(_ ids: [String], listings: Int) {
        state.withLock { state in for id in ids { state.hidden[id] = listings } }
    }

    /// The number of calls made so far (a point in the model's history).
    var callCount: Int { state.withLock { $0.calls } }
    var createCount: Int { state.withLock { $0.creates } }

    /// The endpoint ids DeleteVpcEndpoints was called for after call number `after`.
    func deletes(after call: Int) -> [String] {
        state.withLock { $0.deletes.filter { $0.call > call }.map(\.id) }
    }

    /// Whether a listing leaves `id` out now (and counts the listing).
    private static func hides(_ id: String, _ state: inout State) -> Bool {
        guard let left = state.hidden[id], left > 0 else { return false }
        state.hidden[id] = left - 1
        return true
    }

    func setFaults(throttleEvery: Int, loseEvery: Int, lag: Int) {
        state.withLock { $0.throttleEvery = throttleEvery; $0.loseEvery = loseEvery; $0.lag = lag }
    }

    /// The next pass stops inside its `afterCalls`-th AWS call until `resume()`.
    func interruptOnce(afterCalls: Int) {
        state.withLock { $0.interruptAt = $0.calls + afterCalls }
        interruption.withLock { $0 = (nil, nil, false, false) }
    }

    /// The next call of `operation` stops until `resume()`.
    func interruptOnce(at operation: String) {
        state.withLock { $0.interruptOperation = operation }
        interruption.withLock { $0 = (nil, nil, false, false) }
    }

    /// A call is stopped now, waiting for `resume()`.
    var isPaused: Bool { interruption.withLock { $0.resume != nil } }

    func waitForInterruption() async {
        await withCheckedContinuation { continuation in
            let hit = interruption.withLock { value -> Bool in
                if value.hit { return true }
                value.reached = continuation
                return false
            }
            if hit { continuation.resume() }
        }
    }

    /// The pass ended (perhaps before the call it was to stop in): nobody waits for an interruption.
    func passEnded() {
        state.withLock { ($0.interruptAt, $0.interruptOperation) = (nil, nil) }
        let waiting = interruption.withLock { value -> CheckedContinuation<Void, Never>? in
            value.hit = true
            defer { value.reached = nil }
            return value.reached
        }
        waiting?.resume()
    }

    func resume() {
        let waiting = interruption.withLock { value -> CheckedContinuation<Void, Never>? in
            value.released = true
            defer { value.resume = nil }
            return value.resume
        }
        waiting?.resume()
    }

    /// Counts a call; pauses it when asked to; decides its fault.
    private func call(_ operation: String) async -> (throttle: Bool, lose: Bool) {
        let (fault, pause) = state.withLock { state -> ((Bool, Bool), Bool) in
            state.calls += 1
            let pause = state.interruptAt == state.calls || state.interruptOperation == operation
            if pause { (state.interruptAt, state.interruptOperation) = (nil, nil) }
            let throttle = state.throttleEvery > 0 && state.calls % (state.throttleEvery + 2) == 0
            let lose = !throttle && state.loseEvery > 0 && state.calls % (state.loseEvery + 2) == 1
            return ((throttle, lose), pause)
        }
        if pause {
            await withCheckedContinuation { continuation in
                let (reached, released) = interruption.withLock { value -> (CheckedContinuation<Void, Never>?, Bool) in
                    value.hit = true
                    if !value.released { value.resume = continuation }
                    defer { value.reached = nil }
                    return (value.reached, value.released)
                }
                reached?.resume()
                if released { continuation.resume() }
            }
        }
        return fault
    }

    private static func throttled(_ operation: String) -> AWSClientError {
        AWSClientError(.service, service: "ec2", operation: operation, httpStatus: 503, code: "RequestLimitExceeded", message: "Request limit exceeded.")
    }

    private static func lost(_ operation: String) -> AWSClientError {
        AWSClientError(.transport, service: "ec2", operation: operation, message: "connection closed before the answer")
    }

    func invitations(region: String) async throws(AWSClientError) -> [ResourceShareInvitation] {
        _ = await call("GetResourceShareInvitations")
        return []
    }

    func invitationResources(region: String, invitationArn: String) async throws(AWSClientError) -> [RAMResource] { [] }

    func sharedResourceConfigurations(region: String, known: KnownStrings) async throws(AWSClientError) -> [String: RAMResource] {
        let hidden = state.withLock { state in Set(LifecycleInterleavingTests.arns.filter { Self.hides($0, &state) }) }
        return Dictionary(LifecycleInterleavingTests.arns.filter { !hidden.contains($0) }.map { ($0, Self.shared($0)) }, uniquingKeysWith: { _, last in last })
    }

    static func shared(_ arn: String) -> RAMResource {
        RAMResource(arn: arn, type: RAMResource.resourceConfigurationType, resourceShareArn: "arn:aws:ram:us-east-1:111122223333:resource-share/org",
                    status: "AVAILABLE")
    }

    func sharedResourceConfiguration(region: String, arn: String) async throws(AWSClientError) -> RAMResource? {
        let fault = await call("ListResources")
        if fault.throttle { throw Self.throttled("ListResources") }
        return LifecycleInterleavingTests.arns.contains(arn) ? Self.shared(arn) : nil
    }

    func vpcEndpoint(region: String, id: String) async throws(AWSClientError) -> VpcEndpoint? {
        let fault = await call("DescribeVpcEndpoints")
        if fault.throttle { throw Self.throttled("DescribeVpcEndpoints") }
        let now = clock.now
        return state.withLock { state in
            // Not propagated yet, or gone: InvalidVpcEndpointId.NotFound.
            guard let endpoint = state.endpoints.first(where: { $0.id == id }), endpoint.state != .deleted, endpoint.hiddenUntil <= now else { return nil }
            return VpcEndpoint(vpcEndpointId: endpoint.id, state: endpoint.state, vpcId: "vpc-0123456789abcdef0", resourceConfigurationArn: endpoint.arn,
                               tags: [EndpointTags.customerKey: endpoint.tag])
        }
    }

    func acceptInvitation(region: String, invitationArn: String, clientToken: String) async throws(AWSClientError) -> String { "ACCEPTED" }
    func rejectInvitation(region: String, invitationArn: String, clientToken: String) async throws(AWSClientError) {}
    func accountId() async throws(AWSClientError) -> String { "999999999999" }
    func serviceQuota(region: String, serviceCode: String, quotaCode: String) async throws(AWSClientError) -> Double { 200 }
    func tagEndpoint(region: String, id: String, key: String, value: String) async throws(AWSClientError) {}
    /// Not modelled: the checks' verdicts are `unknown`, which must change nothing in the lifecycle.
    func resourceConfiguration(region: String, arn: String) async -> ResourceConfigurationChecks.Lookup { .unreadable("not modelled") }

    func resourceEndpoints(region: String, vpcIds: [String], known: KnownStrings) async throws(AWSClientError) -> [VpcEndpoint] {
        let vpcId = vpcIds[0]
        let fault = await call("DescribeVpcEndpoints")
        if fault.throttle { throw Self.throttled("DescribeVpcEndpoints") }
        let now = clock.now
        return state.withLock { state in
            var listed: [VpcEndpoint] = []
            for index in state.endpoints.indices {
                if state.endpoints[index].hiddenUntil > now { continue }
                if Self.hides(state.endpoints[index].id, &state) { continue }
                let endpoint = state.endpoints[index]
                guard endpoint.state != .deleted else { continue }
                listed.append(VpcEndpoint(vpcEndpointId: endpoint.id, state: endpoint.state, vpcId: vpcId, resourceConfigurationArn: endpoint.arn,
                                          tags: [EndpointTags.customerKey: endpoint.tag]))
                switch endpoint.state {
                case .pending: state.endpoints[index].state = .available
                case .deleting: state.endpoints[index].state = .deleted
                default: break
                }
            }
            return listed
        }
    }

    func associations(region: String, endpointIds: [String]) async throws(AWSClientError) -> [String: [VpcEndpointAssociation]] {
        let fault = await call("DescribeVpcEndpointAssociations")
        if fault.throttle { throw Self.throttled("DescribeVpcEndpointAssociations") }
        return Dictionary(uniqueKeysWithValues: endpointIds.map { id in
            (id, [VpcEndpointAssociation(id: "a-\(id)", vpcEndpointId: id, associatedResourceArn: nil, accessibility: "Accessible",
                                         dnsName: "\(id).vpc-lattice-rsc.us-east-1.on.aws", privateDnsName: nil, failureCode: nil, failureReason: nil)])
        })
    }

    func createResourceEndpoint(region: String, _ request: ResourceEndpointRequest) async throws(AWSClientError) -> VpcEndpoint {
        let fault = await call("CreateVpcEndpoint")
        if fault.throttle { throw Self.throttled("CreateVpcEndpoint") }
        let body = StoredCreateRequest(request).json
        let now = clock.now
        let result = state.withLock { state -> Result<VpcEndpoint, AWSClientError> in
            if let id = state.tokens[request.clientToken] {
                let endpoint = state.endpoints.first { $0.id == id }!
                guard endpoint.request == body, endpoint.state != .deleted, endpoint.state != .deleting else {
                    return .failure(AWSClientError(.service, service: "ec2", operation: "CreateVpcEndpoint", httpStatus: 400,
                                                   code: "IdempotentParameterMismatch", message: "already deleted or different parameters"))
                }
                return .success(VpcEndpoint(vpcEndpointId: id, state: endpoint.state, vpcId: request.vpcId,
                                            resourceConfigurationArn: endpoint.arn, tags: [EndpointTags.customerKey: endpoint.tag]))
            }
            let id = String(format: "vpce-%017x", state.nextId)
            state.nextId += 1
            state.creates += 1
            let tag = request.tags.first { $0.key == EndpointTags.customerKey }?.value ?? "?"
            state.endpoints.append(Endpoint(id: id, arn: request.resourceConfigurationArn, tag: tag, token: request.clientToken,
                                            request: body, state: .pending, hiddenUntil: now.addingTimeInterval(Double(state.lag) * Self.lagUnit)))
            state.tokens[request.clientToken] = id
            return .success(VpcEndpoint(vpcEndpointId: id, state: .pending, vpcId: request.vpcId,
                                        resourceConfigurationArn: request.resourceConfigurationArn, tags: [EndpointTags.customerKey: tag]))
        }
        if fault.lose { throw Self.lost("CreateVpcEndpoint") }
        return try result.get()
    }

    func deleteVpcEndpoints(region: String, ids: [String]) async throws(AWSClientError) -> [DeleteFailure] {
        let fault = await call("DeleteVpcEndpoints")
        if fault.throttle { throw Self.throttled("DeleteVpcEndpoints") }
        let now = clock.now
        let failures = state.withLock { state -> [DeleteFailure] in
            for id in ids { state.deletes.append((state.calls, id)) }
            return ids.compactMap { id in
                // Not propagated yet, or gone: EC2 answers NotFound.
                guard let index = state.endpoints.firstIndex(where: { $0.id == id && $0.state != .deleted && $0.hiddenUntil <= now }) else {
                    return DeleteFailure(vpcEndpointId: id, error: .init(code: "InvalidVpcEndpoint.NotFound", message: "does not exist"))
                }
                if state.endpoints[index].state != .deleting { state.endpoints[index].state = .deleting }
                return nil
            }
        }
        if fault.lose { throw Self.lost("DeleteVpcEndpoints") }
        return failures
    }

    /// Someone deletes one of the live endpoints by hand.
    func deleteOutOfBand(pick: Int) {
        state.withLock { state in
            let live = state.endpoints.indices.filter { state.endpoints[$0].state == .available || state.endpoints[$0].state == .pending }
            guard !live.isEmpty else { return }
            state.endpoints[live[pick % live.count]].state = .deleting
        }
    }

    /// Endpoints that exist (not deleted), visible or not.
    func liveEndpoints() -> [Endpoint] {
        state.withLock { $0.endpoints.filter { $0.state != .deleted } }
    }

}
