import Foundation
import FlowhoundTestSupport
import Testing

/// Paths and helpers shared by the end-to-end tests.
enum Repo {
    /// The package root (three levels above this file).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let sharedCorpus = root + "/../shared/corpus"
    static var corpusAvailable: Bool { FileManager.default.fileExists(atPath: sharedCorpus) }

    /// The `flowhound` executable built next to the test bundle.
    static var executable: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // `swift test` runs <bin>/flowhoundPackageTests.xctest; the bundle may be a directory on some setups.
        if dir.lastPathComponent.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("flowhound").path
    }

    /// A new empty directory under the system temporary directory, removed when the test process exits.
    static func temporaryDirectory() throws -> String {
        try ScratchDirectories.make(prefix: "flowhound-test-")
    }
}

/// The result of running the real binary.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `flowhound` with `arguments`, optional standard input, and the given extra environment.
func runFlowhound(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:], cwd: String? = nil)
    throws -> CommandResult
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Repo.executable)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    // read both pipes fully before waiting, so a chatty child cannot block on a full pipe
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data(), errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return CommandResult(
        status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Parses JSON lines into dictionaries.
func jsonLines(_ s: String) throws -> [[String: Any]] {
    try s.split(separator: "\n").map { line in
        let obj = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(obj as? [String: Any])
    }
}

/// Compares `actual` with the golden file `Golden/<name>`; `FLOWHOUND_RECORD_GOLDEN=1` rewrites it and fails.
func assertGolden(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = Repo.root + "/Tests/FlowhoundPipelineTests/Golden/" + name
    if ProcessInfo.processInfo.environment["FLOWHOUND_RECORD_GOLDEN"] == "1" {
        try actual.write(toFile: path, atomically: true, encoding: .utf8)
        Issue.record("recorded \(path); unset FLOWHOUND_RECORD_GOLDEN and run again", sourceLocation: sourceLocation)
        return
    }
    let expected = try String(contentsOfFile: path, encoding: .utf8)
    if expected != actual {
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
        Issue.record(
            """
            output differs from \(name) at line \(first + 1) (expected \(e.count) lines, got \(a.count)):
            expected: \(first < e.count ? String(e[first]) : "<end>")
            actual:   \(first < a.count ? String(a[first]) : "<end>")
            re-record with FLOWHOUND_RECORD_GOLDEN=1 swift test --filter FlowhoundPipelineTests if the change is intended
            """, sourceLocation: sourceLocation)
    }
}
