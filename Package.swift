// swift-tools-version:6.1
import Foundation
import PackageDescription

/// The ISA-L inflate path (P7): used when Debian's libisal-dev is installed, unless FLOWHOUND_ZLIB_ONLY=1.
/// System zlib is always built in and is the fallback (and can be chosen at run time, FLOWHOUND_INFLATER=zlib).
let useISAL = FileManager.default.fileExists(atPath: "/usr/include/isa-l/igzip_lib.h")
    && Context.environment["FLOWHOUND_ZLIB_ONLY"] != "1"

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // Release builds skip the dynamic exclusivity checks (swift_beginAccess on every class-property access of the
    // per-line paths: ~7% of the syslog scan). Debug builds, which the tests use, keep them.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "flowhound",
    products: [.executable(name: "flowhound", targets: ["flowhound"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "flowhound",
            dependencies: ["FlowhoundPipeline", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: settings),
        .target(
            name: "FlowhoundPipeline",
            dependencies: ["FlowhoundCore", "FlowhoundIngest", "FlowhoundParse", "FlowhoundRules", "FlowhoundDetect",
                           "FlowhoundSinks", "FlowhoundState", "FlowhoundReport"],
            swiftSettings: settings),
        .target(name: "FlowhoundCore", dependencies: ["CByteScan"], swiftSettings: settings),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(name: "CIsal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "FlowhoundIngest",
            dependencies: ["FlowhoundCore", "CZlib"] + (useISAL ? ["CIsal"] : []),
            swiftSettings: settings + (useISAL ? [.define("FLOWHOUND_ISAL")] : [])),
        // Vectorised byte scans for the decoders' hot loops (SSE4.2 when the CPU has it; callers keep a portable path).
        .target(name: "CByteScan"),
        .target(name: "FlowhoundParse", dependencies: ["FlowhoundCore", "CByteScan"], swiftSettings: settings),
        .target(
            name: "FlowhoundRules",
            dependencies: ["FlowhoundCore", "CPCRE2", .product(name: "Yams", package: "Yams")],
            swiftSettings: settings),
        .target(name: "FlowhoundDetect", dependencies: ["FlowhoundCore", "FlowhoundRules"], swiftSettings: settings),
        .target(name: "FlowhoundSinks", dependencies: ["FlowhoundCore", "CCurl", "CLibPQ"], swiftSettings: settings),
        .target(name: "FlowhoundReport", dependencies: ["FlowhoundCore", "FlowhoundSinks"], swiftSettings: settings),
        .target(
            name: "FlowhoundState",
            dependencies: ["FlowhoundCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: settings),
        .target(name: "FlowhoundTestSupport", exclude: ["Helpers"], swiftSettings: settings),
        .testTarget(name: "FlowhoundCoreTests", dependencies: ["FlowhoundCore"], swiftSettings: settings),
        .testTarget(name: "FlowhoundIngestTests", dependencies: ["FlowhoundIngest"], swiftSettings: settings),
        .testTarget(name: "FlowhoundParseTests", dependencies: ["FlowhoundParse", "CByteScan", "FlowhoundTestSupport"], swiftSettings: settings),
        .testTarget(name: "FlowhoundRulesTests", dependencies: ["FlowhoundRules", "FlowhoundParse", "FlowhoundTestSupport"], swiftSettings: settings),
        .testTarget(name: "FlowhoundDetectTests", dependencies: ["FlowhoundDetect", "FlowhoundParse", "FlowhoundTestSupport"], swiftSettings: settings),
        .testTarget(name: "FlowhoundStateTests", dependencies: ["FlowhoundState"], swiftSettings: settings),
        .testTarget(
            name: "FlowhoundSinksTests", dependencies: ["FlowhoundSinks", "FlowhoundTestSupport"], swiftSettings: settings),
        .testTarget(
            name: "FlowhoundPipelineTests",
            dependencies: ["FlowhoundPipeline", "FlowhoundTestSupport"],
            swiftSettings: settings),
    ]
)
