@testable import FlowhoundPipeline
import FlowhoundIngest
import FlowhoundState
import Foundation
import Testing

/// Exactly-once delivery to output files across `kill -9` (docs/ingest-checklist.md, item 19 and "Delivery"):
/// a real `flowhound tail` or `scan --incremental` child is killed with SIGKILL while it writes, restarted, and
/// the output file must hold every line (or alert) exactly once.
@Suite("exactly once to files", .serialized)
struct ExactlyOnceTests {
    static func fileLines(_ path: String) -> [String] {
        guard let d = FileManager.default.contents(atPath: path) else { return [] }
        // split on the byte: a CSV "\r\n" is one Character for String
        var parts = d.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        parts.removeLast()
        return parts
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// Waits until `path` holds at least `n` complete lines.
    @discardableResult
    static func waitForLines(_ path: String, _ n: Int, _ timeout: Double = 15) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if fileLines(path).count >= n { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return fileLines(path).count >= n
    }

    static func seq(_ p: String, _ r: ClosedRange<Int>) -> [String] { r.map { "\(p)-\($0)" } }

    @Test("tail --emit-raw --output FILE: lines written after the last commit are cut back and written once")
    func tailUncommittedWindow() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("a", 1...100))
        let out = s.path("out.txt")
        // a commit at start-up (after the catch-up), then none for a minute: what follows is uncommitted
        let args = [
            "--emit-raw", "--from", "beginning", "--commit-interval", "60000", "--state", s.path("st.db"), "--output", out,
            s.path("app.log"),
        ]
        let t = try TailProcess(args)
        #expect(Self.waitForLines(out, 100))
        Thread.sleep(forTimeInterval: 0.3)  // the start-up commit
        try s.append("app.log", Scratch.lines("b", 1...100))
        #expect(Self.waitForLines(out, 200))
        t.kill9()
        #expect(Self.fileLines(out).count == 200, "written, not committed")
        let t2 = try TailProcess(args)
        #expect(t2.waitFor(10) { _ in t2.stderr.contains("removed") })
        try s.append("app.log", Scratch.lines("c", 1...50))
        #expect(Self.waitForLines(out, 250))
        #expect(t2.stop() == 0)
        #expect(Self.fileLines(out) == Self.seq("a", 1...100) + Self.seq("b", 1...100) + Self.seq("c", 1...50))
        let uncommitted = Scratch.lines("b", 1...100).utf8.count
        #expect(t2.stderr.contains("out.txt: removed \(uncommitted) bytes written after the last commit"))
    }

    @Test("tail: kill -9 three times while a writer appends and the log rotates: every line once in the file")
    func tailKilledMidStream() throws {
        let s = try Scratch()
        let log = s.path("app.log")
        let out = s.path("out.txt")
        try s.write("app.log", "")
        let args = [
            "--emit-raw", "--from", "beginning", "--rotate-grace", "0.5", "--commit-interval", "150", "--state",
            s.path("st.db"), "--output", out, log,
        ]
        let writer = DaemonWriter(log)
        var t = try TailProcess(args)
        // The first tail must have looked at the file before it is rotated: a generation rotated away before a
        // first start's first look is an archive (not read without --include-archives), and under heavy load
        // the process can take over a second to get there. Two lines that reached the output show it has.
        writer.write("L-1\nL-2\n")
        var n = 2
        #expect(Self.waitForLines(out, 2, 60), "the first tail never wrote its first lines")
        for round in 0..<4 {
            // ~0.8 s of lines, 2 per 10 ms, a rename + create in the middle of each round
            for i in 0..<80 {
                writer.write("L-\(n + 1)\nL-\(n + 2)\n")
                n += 2
                if i == 40 {
                    try s.sh("for i in 4 3 2 1; do [ -f app.log.$i ] && mv app.log.$i app.log.$((i+1)); done; mv app.log app.log.1")
                    writer.reopen()
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
            if round < 3 {
                t.kill9()
                t = try TailProcess(args)
            }
        }
        #expect(Self.waitForLines(out, n, 60))
        #expect(t.stop() == 0)
        let got = Self.fileLines(out)
        #expect(got.count == n)
        #expect(Set(got).count == got.count, "no line twice")
        #expect(Set(got) == Set((1...n).map { "L-\($0)" }))
    }

    /// The bytes of the file's last line (without its newline), read from its end.
    static func lastLine(_ path: String) -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()) ?? 0
        try? h.seek(toOffset: size > 64 ? size - 64 : 0)
        let d = (try? h.readToEnd()) ?? Data()
        guard d.last == 10 else { return "" }
        return String(decoding: d.dropLast().split(separator: 10).last ?? [], as: UTF8.self)
    }

    @Test("tail killed during its first catch-up while the file is rotated: the restart resumes it, every line once")
    func tailKilledBeforeFirstCommit() throws {
        let s = try Scratch()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }  // 55 MB
        let out = s.path("out.txt")
        // large enough that reading it takes a while after the first 256 KiB reached the output
        try s.sh("seq -f 'A-%.0f' 1 2000000 > app.log")
        let args = [
            "--emit-raw", "--from", "beginning", "--commit-interval", "60000", "--state", s.path("st.db"), "--output",
            out, s.path("app.log"),
        ]
        let t = try TailProcess(args)
        let end = Date().addingTimeInterval(60)
        while Self.fileSize(out) == 0 && Date() < end { Thread.sleep(forTimeInterval: 0.001) }
        t.signal(SIGSTOP)
        let total = Self.fileSize(s.path("app.log"))
        // the catch-up is under way: its lines are reaching the output, the commit after it has not happened
        let stoppedAt = Self.fileSize(out)
        if stoppedAt == 0 || stoppedAt >= total { t.kill9() }
        try #require(stoppedAt > 0 && stoppedAt < total, "stopped at \(stoppedAt) of \(total) bytes")
        // logrotate runs, then the process dies before any commit after its catch-up
        try s.sh("mv app.log app.log.1 && seq -f 'B-%.0f' 1 10 > app.log")
        t.kill9()
        let t2 = try TailProcess(args)
        // the rotated file first (it is older), then the new one
        let done = Date().addingTimeInterval(120)
        while Self.lastLine(out) != "B-10" && Date() < done { Thread.sleep(forTimeInterval: 0.05) }
        #expect(t2.stop() == 0)
        let expected = (FileManager.default.contents(atPath: s.path("app.log.1")) ?? Data())
            + (FileManager.default.contents(atPath: s.path("app.log")) ?? Data())
        let got = FileManager.default.contents(atPath: out) ?? Data()
        #expect(got.count == expected.count, "\(got.count) bytes written, \(expected.count) expected; \(t2.stderr)")
        let same = got == expected  // a Bool: a failing #expect would diff the two 18 MB values
        #expect(same, "every line of both files once, in order")
    }

    @Test("tail detecting, alerts to a file: alerts after the last commit are rewritten once after kill -9")
    func tailAlertsToFile() throws {
        let s = try Scratch()
        try s.sh("mkdir rules")
        try Self.rule.write(toFile: s.path("rules/r.yml"), atomically: true, encoding: .utf8)
        try s.write("auth.log", (1...30).map(Self.failure).joined())
        let out = s.path("alerts.json")
        let args = [
            "--rules", s.path("rules"), "--from", "beginning", "--commit-interval", "60000", "--state", s.path("st.db"),
            "--output", "file:" + out, "--output", "file:" + s.path("copy.json"), s.path("auth.log"),
        ]
        let t = try TailProcess(args)
        #expect(Self.waitForLines(out, 30))
        Thread.sleep(forTimeInterval: 0.3)
        try s.append("auth.log", (31...60).map(Self.failure).joined())
        #expect(Self.waitForLines(out, 60))
        t.kill9()
        let t2 = try TailProcess(args)
        try s.append("auth.log", (61...70).map(Self.failure).joined())
        #expect(Self.waitForLines(out, 70))
        Thread.sleep(forTimeInterval: 0.3)
        #expect(t2.stop() == 0)
        for file in [out, s.path("copy.json")] {
            let lines = Self.fileLines(file)
            #expect(Self.summary(lines.map(Self.evidenceLine), 70) == "ok", "\(file)")
        }
    }

    @Test("tail: an output file rotated while tail was down is left alone, with a one-line notice")
    func tailOutputRotated() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("a", 1...10))
        let out = s.path("out.txt")
        let args = [
            "--emit-raw", "--from", "beginning", "--commit-interval", "60000", "--state", s.path("st.db"), "--output", out,
            s.path("app.log"),
        ]
        let t = try TailProcess(args)
        #expect(Self.waitForLines(out, 10))
        Thread.sleep(forTimeInterval: 0.3)
        try s.append("app.log", Scratch.lines("b", 1...5))
        #expect(Self.waitForLines(out, 15))
        t.kill9()
        try s.move("out.txt", "out.txt.1")
        try s.write("out.txt", "kept-1\n")
        let t2 = try TailProcess(args)
        #expect(Self.waitForLines(out, 6))
        #expect(t2.stop() == 0)
        #expect(Self.fileLines(s.path("out.txt.1")) == Self.seq("a", 1...10) + Self.seq("b", 1...5))
        // the lines after the commit are written again, to the new file, after what it held
        #expect(Self.fileLines(out) == ["kept-1"] + Self.seq("b", 1...5))
        let notices = t2.stderr.split(separator: "\n").filter { $0.contains("not the output file of the last commit") }
        #expect(notices.count == 1)
    }

    @Test("scan --incremental --emit-raw --output FILE: a run killed mid-way is cut back and redone once")
    func cronKilledMidRun() throws {
        let s = try Scratch()
        try s.sh("seq -f 'line-%.0f' 1 20000 > app.log")
        let out = s.path("out.txt")
        let args = ["scan", "--incremental", "--emit-raw", "--state", s.path("st.db"), "--output", out, s.path("app.log")]
        #expect(try runFlowhound(args).status == 0)
        #expect(Self.fileLines(out).count == 20000)
        // a big second part, so that the run can be killed while it writes
        try s.sh("seq -f 'line-%.0f' 20001 1000000 >> app.log")
        let killedMidway = try Self.killWhileWriting(args, out, timeout: 30)
        #expect(killedMidway, "the run finished before it could be killed (machine too fast for this input)")
        #expect(Self.fileSize(out) > 20000 * 10, "the killed run wrote lines it did not commit")
        try s.sh("seq -f 'line-%.0f' 1000001 1000010 >> app.log")
        let r = try runFlowhound(args)
        #expect(r.status == 0)
        #expect(r.stderr.contains("written after the last commit"))
        let got = Self.fileLines(out)
        #expect(got.count == 1_000_010)
        #expect(got.first == "line-1")
        #expect(got.last == "line-1000010")
        var ok = true
        for (i, l) in got.enumerated() where l != "line-\(i + 1)" {
            ok = false
            Issue.record("line \(i + 1) is \(l)")
            break
        }
        #expect(ok)
    }

    @Test("scan --incremental detecting, alerts to a file: a killed run's alerts are not left twice")
    func cronAlertsKilled() throws {
        let s = try Scratch()
        try s.sh("mkdir rules")
        try Self.rule.write(toFile: s.path("rules/r.yml"), atomically: true, encoding: .utf8)
        try s.write("auth.log", (1...5).map(Self.failure).joined())
        let out = s.path("alerts.json")
        let args = [
            "scan", "--incremental", "--rules", s.path("rules"), "--merge-window", "0", "--state", s.path("st.db"),
            "--output", out, s.path("auth.log"),
        ]
        #expect(try runFlowhound(args).status == 1)
        #expect(Self.fileLines(out).count == 5)
        try s.write("more", (6...15000).map(Self.failure).joined())
        try s.sh("cat more >> auth.log")
        let killedMidway = try Self.killWhileWriting(args, out)
        #expect(killedMidway, "the run finished before it could be killed")
        let r = try runFlowhound(args)
        #expect(r.status == 1)
        #expect(Self.summary(Self.fileLines(out).map(Self.evidenceLine), 15000) == "ok", "(15,000 alerts: below the queue capacity of 16,384, so none is dropped)")
    }

    /// Runs `args` and kills it with SIGKILL as soon as `out` has grown past its size at the start (up to 3
    /// tries: a run that finishes first is not killed). Returns whether a run was killed while writing.
    static func killWhileWriting(_ args: [String], _ out: String, timeout: Double = 60) throws -> Bool {
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Repo.executable)
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            let before = Self.fileSize(out)
            try p.run()
            let end = Date().addingTimeInterval(timeout)
            while p.isRunning && Self.fileSize(out) <= before && Date() < end { usleep(1000) }
            let killed = p.isRunning
            if killed { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            if killed { return true }
        }
        return false
    }

    /// An alert file's lines with the evidence's file names left out (the same line is `auth.log` when read
    /// before the rotation and `auth.log.1` after it).
    static func withoutFileNames(_ lines: [String]) -> [String] {
        lines.map { $0.replacingOccurrences(of: #""file":"[^"]*""#, with: #""file":"""#, options: .regularExpression) }
    }

    /// The sshd pid of an alert's evidence (1000 + the `failure` number), or -1.
    static func evidencePid(_ alert: String) -> Int {
        guard let r = alert.range(of: "sshd[") else { return -1 }
        return (Int(alert[r.upperBound...].prefix { $0.isNumber }) ?? -1000) - 1000
    }

    @Test("scan --incremental killed during its first run, the log rotated before the next: every alert once, as uninterrupted")
    func cronKilledInFirstRun() throws {
        let n = 15_000  // below the alert queue's 16,384, so none is dropped
        func setUp(_ s: Scratch) throws -> [String] {
            try s.sh("mkdir rules")
            try Self.rule.write(toFile: s.path("rules/r.yml"), atomically: true, encoding: .utf8)
            try s.write("auth.log", (1...n).map(Self.failure).joined())
            return [
                "scan", "--incremental", "--rules", s.path("rules"), "--merge-window", "0", "--state", s.path("st.db"),
                "--output", s.path("alerts.json"), s.path("auth.log"),
            ]
        }
        func rotate(_ s: Scratch) throws {
            try s.move("auth.log", "auth.log.1")
            try s.write("auth.log", (n + 1...n + 10).map(Self.failure).joined())
        }
        // one uninterrupted first run, logrotate, the next run
        let reference = try Scratch()
        defer { try? FileManager.default.removeItem(atPath: reference.dir) }
        let refArgs = try setUp(reference)
        #expect(try runFlowhound(refArgs).status == 1)
        try rotate(reference)
        #expect(try runFlowhound(refArgs).status == 1)
        let expected = Self.withoutFileNames(Self.fileLines(reference.path("alerts.json")))
        #expect(Self.summary(expected.map(Self.evidencePid), n + 10) == "ok")

        // the same with the first run killed while it writes its alerts (before its only commit at the end)
        let s = try Scratch()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let args = try setUp(s)
        try #require(try Self.killWhileWriting(args, s.path("alerts.json")), "the first run finished before it could be killed")
        let written = Self.fileLines(s.path("alerts.json")).count
        try rotate(s)
        let r = try runFlowhound(args)
        #expect(r.status == 1, "\(r.stderr)")
        let got = Self.withoutFileNames(Self.fileLines(s.path("alerts.json")))
        #expect(
            Self.summary(got.map(Self.evidencePid), n + 10) == "ok",
            "the killed first run had written \(written) alerts; \(r.stderr)")
        let same = got == expected  // a Bool: a failing #expect would print both 15,010 alerts
        #expect(same, "the same alerts, in the same order, as one uninterrupted first run")
    }

    @Test("scan --incremental: a file new to the state, the run killed while reading it, rotated: every alert once")
    func cronKilledReadingANewFile() throws {
        // a.log is known to the state; b.log is named for the first time in the run that is killed
        let s = try Scratch()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        try s.sh("mkdir rules")
        try Self.rule.write(toFile: s.path("rules/r.yml"), atomically: true, encoding: .utf8)
        try s.write("a.log", (20_001...20_005).map(Self.failure).joined())
        let out = s.path("alerts.json")
        let base = [
            "scan", "--incremental", "--rules", s.path("rules"), "--merge-window", "0", "--state", s.path("st.db"),
            "--output", out,
        ]
        #expect(try runFlowhound(base + [s.path("a.log")]).status == 1)
        try s.append("a.log", (20_006...20_010).map(Self.failure).joined())
        try s.write("b.log", (1...15_000).map(Self.failure).joined())
        let args = base + [s.path("a.log"), s.path("b.log")]
        try #require(try Self.killWhileWriting(args, out), "the run finished before it could be killed")
        try s.move("b.log", "b.log.1")
        try s.write("b.log", (15_001...15_010).map(Self.failure).joined())
        let r = try runFlowhound(args)
        #expect(r.status == 1, "\(r.stderr)")
        // the first run's 5 alerts of a.log, then the rest in log-time order: each once
        let got = Self.fileLines(out).map(Self.evidencePid)
        #expect(Array(got.prefix(5)) == Array(20_001...20_005))
        let want = Array(1...15_010) + Array(20_001...20_010)
        let same = got.sorted() == want
        let account =
            "\(got.count) alerts, \(want.count) expected: \(Set(want).subtracting(got).count) missing, "
            + "\(got.count - Set(got).count) repeated; \(r.stderr)"
        #expect(same, "\(account)")
    }

    static let rule = """
        title: Test marker
        id: 0d2c5a56-2b47-4a4d-9d0a-3c4b4f7e0001
        logsource:
            product: linux
            service: sshd
        detection:
            selection:
                event.outcome: failure
            condition: selection
        level: high
        """

    static func failure(_ i: Int) -> String {
        let sec = i % 60, min = (i / 60) % 60, hour = i / 3600
        let t = String(format: "%02d:%02d:%02d", hour % 24, min, sec)
        return "Mar  2 \(t) srv sshd[\(1000 + i)]: Failed password for root from 10.0.\(i / 250 % 250).\(i % 250 + 1) port \(1024 + i) ssh2\n"
    }

    /// "ok" when `got` is 1…n in order, else a short account (counts, first repeats and gaps).
    static func summary(_ got: [Int], _ n: Int) -> String {
        if got == Array(1...n) { return "ok" }
        var seen = Set<Int>(), repeats: [Int] = []
        for g in got where !seen.insert(g).inserted { repeats.append(g) }
        let missing = (1...n).filter { !seen.contains($0) }
        let firstOut = got.indices.first { got[$0] != $0 + 1 }
        return "\(got.count) lines, \(repeats.count) repeated (first \(repeats.prefix(5))), \(missing.count) missing "
            + "(first \(missing.prefix(5))), first out of place at index \(firstOut.map(String.init) ?? "-")"
    }

    /// The line number of an alert's (first) evidence, or -1.
    static func evidenceLine(_ alert: String) -> Int {
        guard let r = alert.range(of: "\"line\":") else { return -1 }
        return Int(alert[r.upperBound...].prefix { $0.isNumber }) ?? -1
    }
}

/// A rotation between planning and opening (`IncrementalRunner.read` on a planned item whose name now holds
/// another file): the planned file is read where it went, from its planned position.
@Suite("rotation racing a run")
struct RotationRaceTests {
    static func plan(_ s: Scratch, _ name: String, start: Int64) throws -> ReadItem {
        guard case .success(let id) = FileProbe.identity(path: s.path(name)) else { throw CocoaError(.fileReadUnknown) }
        let fd = open(s.path(name), O_RDONLY)
        defer { close(fd) }
        return ReadItem(
            primary: s.path("app.log"), path: s.path(name), identity: id, start: start, firstLine: 3,
            marker: FileProbe.plainMarker(fd: fd, before: start) ?? [], discard: false)
    }

    static func read(_ s: Scratch, _ item: ReadItem) throws -> (Checkpoint?, [String]) {
        let raw = try RawLineOutput(path: s.path("out"))
        var superseded: Checkpoint?
        let (ck, _, _) = IncrementalRunner.read(
            item, stack: nil, raw: raw, journal: nil, inc: IncrementalOptions(statePath: ""), now: 0,
            superseded: &superseded)
        raw.sync()
        return (ck, ExactlyOnceTests.fileLines(s.path("out")))
    }

    @Test("renamed after planning: the rest of the planned file is read from app.log.1, the new app.log is left")
    func renamed() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("a", 1...4))
        let item = try Self.plan(s, "app.log", start: Int64("a-1\na-2\n".utf8.count))
        try s.move("app.log", "app.log.1")
        try s.write("app.log", Scratch.lines("new", 1...3))
        let (ck, lines) = try Self.read(s, item)
        #expect(lines == ["a-3", "a-4"])
        #expect(ck?.path == s.path("app.log.1"))
        #expect(ck?.offset == Int64(Scratch.lines("a", 1...4).utf8.count))
    }

    @Test("renamed and compressed after planning: the rest is read from the .gz at the decoded offset")
    func compressed() throws {
        let s = try Scratch()
        try s.write("app.log.1", Scratch.lines("a", 1...4))
        let item = try Self.plan(s, "app.log.1", start: Int64("a-1\na-2\n".utf8.count))
        try s.sh("gzip app.log.1")
        let (ck, lines) = try Self.read(s, item)
        #expect(lines == ["a-3", "a-4"])
        #expect(ck?.compressed == true)
    }

    @Test("gone after planning, nowhere to be found: nothing read, the planned position kept")
    func gone() throws {
        let s = try Scratch()
        try s.write("app.log.1", Scratch.lines("a", 1...4))
        let item = try Self.plan(s, "app.log.1", start: 8)
        try s.remove("app.log.1")
        let (ck, lines) = try Self.read(s, item)
        #expect(lines.isEmpty)
        #expect(ck?.offset == 8 && ck?.inode == item.identity.inode)
    }
}
