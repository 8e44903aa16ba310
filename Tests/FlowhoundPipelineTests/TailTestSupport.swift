import Foundation
import Testing

/// A running `flowhound tail`, its standard output collected in the background.
final class TailProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private let outPipe = Pipe()
    private let errPipe = Pipe()

    /// `prefix`: a program that runs flowhound in its place (`prlimit --nofile=N`; it must exec, keeping the PID).
    init(_ arguments: [String], environment: [String: String] = [:], prefix: [String] = []) throws {
        if let wrapper = prefix.first {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [wrapper] + prefix.dropFirst() + [Repo.executable, "tail"] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Repo.executable)
            process.arguments = ["tail"] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock()
            self.out.append(d)
            self.lock.unlock()
        }
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock()
            self.err.append(d)
            self.lock.unlock()
        }
        try process.run()
    }

    var stdout: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: out, as: UTF8.self)
    }

    var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: err, as: UTF8.self)
    }

    /// Complete output lines so far.
    var lines: [String] {
        let s = stdout
        var parts = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast()  // the text after the last newline (empty, or a line not finished yet)
        return parts
    }

    /// Waits until `predicate` holds for the output lines, at most `timeout` seconds; returns whether it held.
    @discardableResult
    func waitFor(_ timeout: Double = 10, _ predicate: ([String]) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if predicate(lines) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return predicate(lines)
    }

    @discardableResult
    func waitForCount(_ n: Int, _ timeout: Double = 10) -> Bool { waitFor(timeout) { $0.count >= n } }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    /// SIGTERM, then waits for the exit; returns the exit status, or -1 if the process ignored SIGTERM for
    /// `timeout` seconds (then it is killed, so a lost signal fails the test instead of hanging the suite).
    func stop(timeout: Double = 60) -> Int32 {
        signal(SIGTERM)
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
        let ignored = process.isRunning
        if ignored { signal(SIGKILL) }
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1)
        outPipe.fileHandleForReading.readabilityHandler = nil
        errPipe.fileHandleForReading.readabilityHandler = nil
        let rest = outPipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        out.append(rest)
        lock.unlock()
        return ignored ? -1 : process.terminationStatus
    }

    func kill9() {
        signal(SIGKILL)
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1)
        outPipe.fileHandleForReading.readabilityHandler = nil
        errPipe.fileHandleForReading.readabilityHandler = nil
        let rest = outPipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        out.append(rest)
        lock.unlock()
    }
}

/// A writer that keeps its descriptor open like a daemon (so renames and deletes leave it writing to the old
/// inode until `reopen`).
final class DaemonWriter {
    let path: String
    private(set) var fd: Int32
    let append: Bool

    init(_ path: String, append: Bool = true) {
        self.path = path
        self.append = append
        fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : 0), 0o644)
        if !append { lseek(fd, 0, SEEK_END) }
    }

    deinit { close(fd) }

    func write(_ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    func reopen() {
        close(fd)
        fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : 0), 0o644)
        if !append { lseek(fd, 0, SEEK_END) }
    }
}

/// Standard tail arguments for the tests: raw lines, quick grace and commits.
func tailArgs(_ s: Scratch, _ files: [String], state: Bool = true, extra: [String] = []) -> [String] {
    ["--emit-raw", "--from", "beginning", "--rotate-grace", "0.5", "--commit-interval", "100"]
        + (state ? ["--state", s.path("state.db")] : []) + extra + files.map { s.path($0) }
}
