import Foundation
import Testing

/// A scratch directory with helpers for the incremental and tail tests.
struct Scratch {
    let dir: String

    init() throws { dir = try Repo.temporaryDirectory() }

    func path(_ name: String) -> String { dir + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: false, encoding: .utf8)
    }

    func append(_ name: String, _ text: String) throws {
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path(name)))
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
        try h.close()
    }

    func move(_ a: String, _ b: String) throws { try FileManager.default.moveItem(atPath: path(a), toPath: path(b)) }

    func remove(_ name: String) throws { try FileManager.default.removeItem(atPath: path(name)) }

    /// Runs a shell command in the directory (gzip, truncate, logrotate…).
    @discardableResult
    func sh(_ command: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// `scan --incremental --emit-raw` on `files` with the state in this directory.
    func cron(_ files: [String], _ extra: [String] = []) throws -> CommandResult {
        try runFlowhound(
            ["scan", "--incremental", "--emit-raw", "--state", path("state.db")] + extra + files.map { path($0) })
    }

    /// Lines `prefix-a` … `prefix-b`, each ending in a newline.
    static func lines(_ prefix: String, _ range: ClosedRange<Int>) -> String {
        range.map { "\(prefix)-\($0)\n" }.joined()
    }
}

extension CommandResult {
    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
}

/// Whether a program is on the PATH (logrotate, strace…).
func haveProgram(_ name: String) -> Bool {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    return paths.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
}
