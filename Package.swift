// swift-tools-version:6.1
import PackageDescription

// Layers, one-way (an arrow is an import): HistSys (syscalls) sits below HistConfig, HistProc and HistCore;
// HistModel <- HistConfig; HistModel, CShim <- HistProc <- HistCore <- HistControl;
// HistModel <- HistStore <- HistReports <- HistctlCommands (histctl's command tree) <- histctl;
// HistReports <- HistFleet (PostgreSQL: histctl-fleet and histd-ship only, never histd or histctl); HistCore + HistStore <- HistMetrics (beside the wiring, imported by
// neither); HistStore, HistProc <- HistTestSupport (not shipped: tests, histbench, histstore-probe). HistCore and
// HistStore never import each other: the histd executable wires the engine's event stream into the store's
// writer (and starts every component as a ServiceStack service). HistctlCommands imports HistConfig and HistReports
// (and HistModel, and HistSys for its socket), never HistCore, HistProc or HistControl: it speaks the control protocol as plain JSON lines.
// histctl links the Swift runtime and Foundation statically in release builds, as
// `--static-swift-stdlib` does for a whole build: a dynamic histctl spent about 60 % of its
// start in the dynamic loader (10,000 symbol relocations against 20 Swift libraries) and every process
// paid for its own copy of those libraries' dirty pages (BENCHMARKS.md, "Process start"). Only libc,
// libm, libstdc++, libgcc_s and libsqlite3 stay dynamic. `-static-stdlib` is also a compile flag because
// it selects the static modules, whose autolink entries name the archives Foundation itself needs
// (CoreFoundation, _FoundationICU, ...). Debug builds and the test bundle (which links the executables'
// objects beside the dynamic XCTest/Testing) stay dynamic: `swift test` is unchanged. A release test build
// (`swift test -c release`) would link a static runtime beside the dynamic test libraries, so it is not
// supported. histd stays dynamic: a static one measured 30.8-31.0 MiB PSS against 22.6-23.3 for the
// dynamic one, whose Swift runtime pages are shared with other Swift processes (BENCHMARKS.md, issue 18).
let staticStdlib = (
    swift: [SwiftSetting.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))],
    linker: [LinkerSetting.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))]
)

// histctl's release links also keep its symbols out of the dynamic symbol table. The toolchain exports every
// symbol of an executable (40,631 for histctl), and glibc's dladdr(), which the Swift runtime calls once at
// start, walks that whole table: 1-2 ms of each histctl run (BENCHMARKS.md, issue 14). Nothing loads histctl's
// symbols dynamically; backtraces read the file's own symbol table.
let histctlLinker = staticStdlib.linker + [LinkerSetting.unsafeFlags(
    ["-Xlinker", "--version-script=" + Context.packageDirectory + "/Sources/histctl/dynamic-symbols.map"],
    .when(platforms: [.linux], configuration: .release))]

let package = Package(
    name: "histd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "histd", targets: ["histd"]),
        .executable(name: "histctl", targets: ["histctl"]),
        .executable(name: "histctl-fleet", targets: ["histctl-fleet"]),
        .executable(name: "histbench", targets: ["histbench"]),
        .executable(name: "histd-ship", targets: ["histd-ship"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        // Metrics: the registry and text exposition (needs only swift-atomics and swift-metrics).
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        // Fleet shipping and fleet reports (docs/FLEET.md). Only histd-ship and histctl-fleet link it, never histd
        // or histctl: it pulls in SwiftNIO, and histd's footprint and histctl's start stay small (issues 18, 14).
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
    ],
    targets: [
        // Syscalls Swift cannot call directly: variadic prctl/syscall, W* macros, vfork+exec spawn.
        .target(name: "CShim"),
        // sqlite3_db_config (variadic) and a deadline progress handler for histctl's untrusted SQL.
        .target(name: "CSQLiteGuard", linkerSettings: [.linkedLibrary("sqlite3")]),
        // Shared value types; no dependencies.
        .target(name: "HistModel"),
        // The one syscall layer (EINTR retried in one place); below every module that calls libc for I/O.
        .target(name: "HistSys"),
        // TOML -> Config with file:line:key errors.
        .target(name: "HistConfig", dependencies: [
            "HistModel", "HistSys",
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        // /proc reader (root path injectable), scans, cgroups.
        .target(name: "HistProc", dependencies: [
            "HistModel", "HistSys", "CShim",
        ]),
        // Pure lifecycle state machine, spawner, reaper, event loop, pools.
        .target(name: "HistCore", dependencies: [
            "HistModel", "HistSys", "HistProc", "CShim",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The control socket: unix-socket server on its own thread, SO_PEERCRED authorization, NDJSON protocol.
        .target(name: "HistControl", dependencies: [
            "HistModel", "HistSys", "HistCore", "CShim",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Generator that turns migrations/*.sql and queries/*.sql into Swift string literals.
        .executableTarget(name: "EmbedSQLGen"),
        .plugin(name: "EmbedSQL", capability: .buildTool(), dependencies: ["EmbedSQLGen"]),
        // Schema, migrator, single writer, retention.
        .target(name: "HistStore", dependencies: [
            "HistModel", "HistSys",
            .product(name: "GRDB", package: "GRDB.swift"),
            // The raw sqlite3 C API for the writer's hot path (RawBinding.swift).
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ], plugins: ["EmbedSQL"]),
        // Read-only report runner and output formatting for histctl.
        .target(name: "HistReports", dependencies: [
            "HistModel", "HistSys", "HistStore", "CSQLiteGuard",
            .product(name: "GRDB", package: "GRDB.swift"),
            // The postmortem's usage series step through one snapshot range scan (UsageReader.swift).
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        // Not shipped: a synthetic history generator (HistoryFixture) and the writer benchmarks
        // (WriterBenchmark), shared by the tests, histbench and histstore-probe.
        .target(name: "HistTestSupport", dependencies: [
            "HistModel", "HistSys", "HistProc", "HistStore",
            .product(name: "GRDB", package: "GRDB.swift"),
            // The fixture generator binds its ~22 M inserts through the sqlite3 C API (FixtureInsert.swift).
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        // Prometheus metrics: a HistorySink fed from the event stream, gauges read at scrape time
        // from the supervisor and the writer, the /metrics endpoint and the textfile. Beside the
        // executable's wiring (it sees both HistCore and HistStore); neither of those imports it.
        .target(name: "HistMetrics", dependencies: [
            "HistModel", "HistSys", "HistCore", "HistStore",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Test helper: a process that writes through HistoryWriter until SIGKILLed (HistStoreTests).
        .executableTarget(name: "histstore-probe", dependencies: ["HistStore", "HistModel", "HistTestSupport"]),
        .executableTarget(name: "histd", dependencies: [
            "HistModel", "HistSys", "HistConfig", "HistProc", "HistCore", "HistStore", "HistControl", "HistMetrics",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // histctl's command tree (every subcommand, the local reports, the control client), shared by the two
        // executables below. It never imports HistFleet: fleet requests go through its FleetBackend protocol.
        .target(name: "HistctlCommands", dependencies: [
            "HistModel", "HistSys", "HistConfig", "HistStore", "HistReports",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: staticStdlib.swift),
        // histctl: the command tree without PostgreSQL's client, so that local reports start fast; a
        // postgres:// --db execs histctl-fleet (HistctlCommands/FleetMode.swift, BENCHMARKS.md issue 14).
        .executableTarget(name: "histctl", dependencies: ["HistctlCommands"], exclude: ["dynamic-symbols.map"],
                          swiftSettings: staticStdlib.swift, linkerSettings: histctlLinker),
        // histctl-fleet: the same command tree with the PostgreSQL backend (HistFleet).
        .executableTarget(name: "histctl-fleet", dependencies: [
            "HistctlCommands", "HistFleet", "HistReports",
        ], swiftSettings: staticStdlib.swift, linkerSettings: histctlLinker),
        // PostgreSQL access for the fleet: connection (URL, password file), the central migrator and the fleet
        // reports (queries/postgres/*.sql). Used by histd-ship and histctl-fleet, never by histd or histctl.
        .target(name: "HistFleet", dependencies: [
            "HistModel", "HistReports",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ], plugins: ["EmbedSQL"]),
        // The fleet shipper: a separate process (not a task inside histd) that copies the local SQLite
        // history to PostgreSQL. docs/FLEET.md says why it is a process.
        .executableTarget(name: "histd-ship", dependencies: [
            "HistModel", "HistSys", "HistStore", "HistFleet",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .executableTarget(name: "histbench", dependencies: [
            "HistModel", "HistSys", "HistConfig", "HistProc", "HistCore", "HistStore", "HistReports", "HistControl",
            "HistMetrics", "HistTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),

        // Test-only: the `.blocking` trait, which runs tests that block (processes, sleeps) on threads of
        // their own instead of Swift's cooperative pool (Sources/TestThreads/BlockingTest.swift says why).
        .target(name: "TestThreads"),
        .testTarget(name: "HistModelTests", dependencies: ["HistModel"]),
        .testTarget(name: "HistConfigTests", dependencies: ["HistConfig", "HistModel"]),
        .testTarget(name: "HistProcTests", dependencies: ["HistProc", "HistModel", "CShim", "TestThreads", "HistTestSupport"]),
        .testTarget(name: "HistCoreTests", dependencies: ["HistCore", "HistModel", "HistProc", "CShim", "HistTestSupport"]),
        .testTarget(name: "HistControlTests", dependencies: ["HistControl", "HistCore", "HistModel"]),
        .testTarget(name: "HistStoreTests", dependencies: [
            "HistStore", "HistModel", "HistTestSupport", "histstore-probe", "TestThreads", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "HistReportsTests", dependencies: [
            "HistReports", "HistStore", "HistModel", "HistTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "HistMetricsTests", dependencies: [
            "HistMetrics", "HistCore", "HistStore", "HistModel", "HistTestSupport",
        ]),
        // End-to-end: runs the built histd/histctl binaries against real processes and databases.
        .testTarget(name: "EndToEndTests", dependencies: [
            "histd", "histctl", "histctl-fleet", "histd-ship", "HistctlCommands", "HistModel", "HistStore", "HistTestSupport", "TestThreads", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)
