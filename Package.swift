// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "dreamclass-reconcile",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dreamclass-reconcile", targets: ["dreamclass-reconcile"]),
        .executable(name: "dreamclass-sim", targets: ["dreamclass-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.25.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
    ],
    targets: [
        // The PostgreSQL C client. Only the `Postgres` target imports it.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // glibc's allocator settings (`mallopt`), which Glibc's module map leaves out.
        .systemLibrary(name: "CMalloc"),
        // Allocator tuning for the executables that run the job; no library calls it.
        .target(name: "MallocTuning", dependencies: ["CMalloc"]),
        // What every stage speaks: enrollments, periods, students, webhook envelopes, drift, runs,
        // timestamps. Plain value types; Foundation only.
        .target(name: "Models", dependencies: ["TextCodec"]),
        // Hex and UUID text without Foundation's slow parsers: shared by the models and the libpq
        // wrapper, which knows no domain type.
        .target(name: "TextCodec"),
        // The pure core: the fold, the diff, the history of runs, delete confirmation, the run's
        // status, backfill decisions and the mass-delete guard. Models only; no I/O.
        .target(name: "Reconciliation", dependencies: ["Models"]),
        // What a person reads: the drift and backfill reports, the run summary. No database, no network.
        .target(name: "Reports", dependencies: ["Models", "Reconciliation", "FileOutput"]),
        // HMAC signatures of webhooks and the deterministic ids of synthetic events.
        .target(name: "Signing", dependencies: ["Models", .product(name: "Crypto", package: "swift-crypto")]),
        // Writes that fail as errors, never traps: stdout/stderr, and whole files replaced atomically.
        .target(name: "FileOutput"),
        // The libpq wrapper: nothing else touches a C pointer.
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                "TextCodec",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // A throwaway PostgreSQL server, for the tests and the demo.
        .target(name: "PostgresServer"),
        // How to reach a school's DreamClass API (paths, headers, limits, secrets from the
        // environment): what the settings reader needs, without linking the HTTP client.
        .target(name: "APIConfiguration", dependencies: ["Models"]),
        // The DreamClass REST client, and the signed webhook sender.
        .target(
            name: "DreamClassAPI",
            dependencies: [
                "APIConfiguration", "Models", "Signing",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "EmbedSQLTool"),
        .plugin(name: "EmbedSQL", capability: .buildTool(), dependencies: ["EmbedSQLTool"]),
        .executableTarget(name: "EmbedVersionTool"),
        .plugin(name: "EmbedVersion", capability: .buildTool(), dependencies: ["EmbedVersionTool"]),
        // The release version, the commit and how the Swift runtime is linked, for `--version`.
        .target(name: "BuildInfo", plugins: ["EmbedVersion"]),
        // All SQL: the events, the runs, the backfill and the receiver's inbox, one store each.
        .target(
            name: "EventStore",
            dependencies: [
                "Postgres", "Models", "Reconciliation", "Signing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["EmbedSQL"]
        ),
        // The configuration file of many schools (YAML), with the environment and flags over it.
        .target(
            name: "Settings",
            dependencies: [
                "APIConfiguration", "Reconciliation", "Reports", "Models", "Signing", "FileOutput",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Metrics for node_exporter's textfile collector, and health-check pings.
        .target(
            name: "Monitoring",
            dependencies: [
                "Models", "FileOutput",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Hummingbird applications served in-process, started and stopped gracefully.
        .target(
            name: "HTTPServing",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `serve`: the webhook receiver that fills the event store.
        .target(
            name: "Receiver",
            dependencies: [
                "Postgres", "EventStore", "Models", "Signing", "HTTPServing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The main job: read, call the core, write. The CLI and the tests drive it.
        .target(
            name: "ReconcileJob",
            dependencies: [
                "Postgres", "DreamClassAPI", "EventStore", "Reconciliation", "Reports", "Models", "FileOutput",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Writing the missed events back, and delivering them as signed webhooks.
        .target(
            name: "Backfill",
            dependencies: [
                "Postgres", "DreamClassAPI", "EventStore", "Reconciliation", "Reports", "Models", "Signing", "FileOutput",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Many schools, one process: which schools, in rounds (a school another worker holds is
        // tried again), connections kept between them, a run then its backfill, and the one map
        // from what happened to the exit code. The command line only parses and prints.
        .target(
            name: "FleetJob",
            dependencies: [
                "ReconcileJob", "Backfill", "Settings", "EventStore", "Postgres", "DreamClassAPI", "Reconciliation", "Reports",
                "Models", "Signing", "FileOutput", "Receiver", "Monitoring",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `demo`: the whole job on a throwaway PostgreSQL and the simulator.
        .target(
            name: "DemoJob",
            dependencies: [
                "ReconcileJob", "EventStore", "Postgres", "PostgresServer", "DreamClassAPI", "DreamClassSimulator", "Reports", "Models",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DreamClassSimulator",
            dependencies: [
                "DreamClassAPI", "Models", "HTTPServing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "dreamclass-reconcile",
            dependencies: [
                "Postgres", "DreamClassAPI", "EventStore", "ReconcileJob", "Reports", "Models", "Signing", "Reconciliation", "Backfill",
                "Settings", "Monitoring", "Receiver", "FileOutput", "BuildInfo", "MallocTuning", "FleetJob", "DemoJob",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "dreamclass-sim",
            dependencies: [
                "DreamClassAPI", "DreamClassSimulator", "Models", "FileOutput", "BuildInfo", "Signing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "dreamclass-bench",
            dependencies: [
                "Postgres", "PostgresServer", "EventStore", "DreamClassAPI", "DreamClassSimulator", "ReconcileJob", "Receiver", "Models",
                "MallocTuning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The test suites' throwaway PostgreSQL server, a database per suite.
        .target(
            name: "TestSupport",
            dependencies: [
                "Postgres", "PostgresServer", "EventStore", "HTTPServing", "ReconcileJob", "DreamClassAPI", "DreamClassSimulator", "Models",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "ModelsTests", dependencies: ["Models"]),
        .testTarget(name: "SigningTests", dependencies: ["Signing"]),
        .testTarget(name: "SettingsTests", dependencies: ["Settings", "APIConfiguration", "Reconciliation", "Models", "TestSupport"]),
        .testTarget(name: "ReconciliationTests", dependencies: ["Reconciliation", "Models"]),
        .testTarget(
            name: "DemoJobTests",
            dependencies: ["DemoJob", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "FleetJobTests",
            dependencies: [
                "FleetJob", "Settings", "APIConfiguration", "EventStore", "DreamClassSimulator", "Reconciliation", "Models", "Postgres", "TestSupport",
                "Receiver", "Signing",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Models"]),
        .testTarget(
            name: "ReconcileJobTests",
            dependencies: [
                "ReconcileJob", "EventStore", "DreamClassAPI", "DreamClassSimulator", "Reports", "Models", "Postgres", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "BackfillTests",
            dependencies: [
                "Backfill", "ReconcileJob", "EventStore", "DreamClassAPI", "DreamClassSimulator", "Reports", "Reconciliation", "Models", "Signing", "Postgres", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "OperationsTests",
            dependencies: [
                "Settings", "Monitoring", "EventStore", "DreamClassAPI", "DreamClassSimulator", "Models", "Postgres", "Signing", "TestSupport",
                "FleetJob",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "ReceiverTests",
            dependencies: [
                "Receiver", "Backfill", "ReconcileJob", "EventStore", "DreamClassAPI", "DreamClassSimulator", "Models", "Signing", "Postgres", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FaultTests",
            dependencies: [
                "Backfill", "ReconcileJob", "EventStore", "DreamClassAPI", "DreamClassSimulator", "Models", "Postgres", "PostgresServer",
                "Receiver", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PostgresTests", dependencies: ["Postgres", "PostgresServer", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "FileOutputTests", dependencies: ["FileOutput"]),
        .testTarget(name: "EventStoreTests", dependencies: ["EventStore", "Models", "Postgres", "Reconciliation", "Signing", "TestSupport"]),
        .testTarget(
            name: "DreamClassAPITests",
            dependencies: [
                "DreamClassAPI", "DreamClassSimulator", "Models", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
