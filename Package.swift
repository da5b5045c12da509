// swift-tools-version: 6.0
import PackageDescription

/// This manifest's folder, with a trailing slash.
let packageRoot = String(#filePath.dropLast("Package.swift".count))

let package = Package(
    name: "privatelink-consumer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "privatelink-consumer", targets: ["privatelink-consumer"]),
        .executable(name: "lattice-simulator", targets: ["lattice-simulator"]),
        .executable(name: "privatelink-consumer-bench", targets: ["privatelink-consumer-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        // The AWS APIs' value types (endpoints, invitations, shared resources): no I/O, for decision code.
        .target(name: "AWSModels"),
        // SigV4, credential providers, transport, retry, and the RAM / EC2 / Lattice / STS clients.
        .target(
            name: "AWSClient",
            dependencies: [
                "AWSModels",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Pure decisions, no I/O (no NIO, GRDB or HTTP): the customer lifecycle (states, events, the one table
        // of allowed edges), the records it reasons about, the invitation and endpoint matchers, the planner
        // and its actions and outcome rules.
        .target(name: "ConsumerCore", dependencies: ["AWSModels"]),
        // The state behind one contract (`StateStore`): the SQLite file (GRDB) or a shared PostgreSQL
        // (postgres-nio), each with its schema, migrations and invariant-preserving writes.
        .target(
            name: "ConsumerStore",
            dependencies: [
                "ConsumerCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // DNS → TCP → PostgreSQL protocol (→ login) with per-stage timing.
        .target(
            name: "PostgresProbe",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Configuration, matcher, reconciler, probe scheduler, health log, daemon services, CLI actions.
        .target(
            name: "Consumer",
            dependencies: [
                "AWSClient",
                "ConsumerCore",
                "ConsumerStore",
                "PostgresProbe",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            plugins: ["VersionStamp"]
        ),
        // The release version (VERSION) and the git commit, stamped into `Consumer` at build time.
        .executableTarget(name: "version-stamp"),
        .plugin(name: "VersionStamp", capability: .buildTool(), dependencies: ["version-stamp"]),
        // An AWS stand-in (RAM + EC2 + Lattice + STS subset) over real loopback HTTP, verifying SigV4.
        .target(
            name: "LatticeSimulator",
            dependencies: [
                "AWSClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `demo`: the whole flow against the simulator and a throwaway PostgreSQL (also the tests' PostgreSQL).
        .target(
            name: "ConsumerDemo",
            dependencies: [
                "Consumer",
                "ConsumerStore",
                "AWSClient",
                "LatticeSimulator",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The thin executable: argument parsing only.
        .executableTarget(
            name: "privatelink-consumer",
            dependencies: [
                "Consumer",
                "ConsumerDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The code a daemon runs, laid out together (Deploy/link-order.txt, see Deploy/README.md "Code layout").
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "--symbol-ordering-file=\(packageRoot)Deploy/link-order.txt",
                              "-Xlinker", "--no-warn-symbol-ordering"],
                             .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        // The simulator as a process, driven by a JSON scenario (demo, manual testing).
        .executableTarget(
            name: "lattice-simulator",
            dependencies: [
                "LatticeSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"]
        ),
        // The benchmark: figures for the steady pass, onboarding, probe sweeps, idle footprint, status.
        .executableTarget(
            name: "privatelink-consumer-bench",
            dependencies: [
                "Consumer",
                "ConsumerDemo",
                "ConsumerStore",
                "AWSClient",
                "LatticeSimulator",
                "PostgresProbe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Helpers shared by the test targets: temporary directories, process runner, log capture.
        .target(
            name: "TestSupport",
            dependencies: [
                "AWSClient",
                "LatticeSimulator",
                "ConsumerDemo",
                "ConsumerStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "AWSClientTests", dependencies: ["AWSClient", "LatticeSimulator", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ConsumerCoreTests", dependencies: ["ConsumerCore", "AWSModels", "TestSupport"]),
        .testTarget(name: "ConsumerStoreTests", dependencies: [
            "ConsumerStore", "TestSupport",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .testTarget(name: "PostgresProbeTests", dependencies: ["PostgresProbe", "TestSupport"]),
        .testTarget(name: "ConsumerTests", dependencies: [
            "Consumer", "TestSupport",
            // The metrics connection guard's states, driven byte by byte on an EmbeddedChannel.
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // A trigger of a test's own in the state file (a write the store refuses).
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "LatticeSimulatorTests", dependencies: ["LatticeSimulator", "AWSClient", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Consumer", "ConsumerStore", "LatticeSimulator", "TestSupport",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
    ]
)

// Release builds put each of this package's functions in a section of its own, so that the link can lay the
// ones the daemon runs next to each other (the kernel maps code 64 KiB around every page a process touches).
for target in package.targets where target.type == .regular || target.type == .executable {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .unsafeFlags(["-Xfrontend", "-function-sections"], .when(platforms: [.linux], configuration: .release)),
    ]
}
