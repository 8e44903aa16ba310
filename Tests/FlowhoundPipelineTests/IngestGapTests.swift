import FlowhoundCore
import FlowhoundState
import Foundation
import Testing

/// ingest.md §2 items 22 (descriptor cap), 23 (`--since` / `tail --from TIME`) and 28 (`--stale-after`).
@Suite("ingest: start time, stale state, descriptor cap", .serialized)
struct IngestGapTests {
    /// `n` sshd lines one second apart from 2026-03-02 00:00:00 (syslog stamps, no year), line i has port i.
    static func syslog(_ range: ClosedRange<Int>) -> String {
        range.map { i in
            let t = String(format: "%02d:%02d:%02d", i / 3600, (i / 60) % 60, i % 60)
            return "Mar  2 \(t) srv sshd[\(i)]: Failed password for root from 10.0.0.1 port \(i) ssh2\n"
        }.joined()
    }

    static func ports(_ lines: [String]) -> [Int] {
        lines.compactMap { l in l.range(of: " port ").flatMap { Int(l[$0.upperBound...].prefix { $0.isNumber }) } }
    }

    /// Sets the file's modification time (syslog stamps take their year from it).
    static func touch(_ s: Scratch, _ name: String) throws { try s.sh("touch -d 2026-03-05T00:00:00Z '\(name)'") }

    @Test("23: scan --incremental --since TIME starts a plain file at its first line at or after TIME (binary search)")
    func sincePlain() throws {
        let s = try Scratch()
        try s.write("auth.log", Self.syslog(0...19999))
        try Self.touch(s, "auth.log")
        let r = try s.cron(["auth.log"], ["--since", "2026-03-02T03:00:00Z"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.ports(r.lines) == Array(10800...19999))
        try s.append("auth.log", Self.syslog(20000...20001))
        #expect(Self.ports(try s.cron(["auth.log"], ["--since", "2026-03-02T03:00:00Z"]).lines) == [20000, 20001],
            "--since applies to first runs only")
        // before the first line: everything; after the last: nothing, but the position is taken
        let s2 = try Scratch()
        try s2.write("a.log", Self.syslog(100...199))
        try Self.touch(s2, "a.log")
        #expect(try s2.cron(["a.log"], ["--since", "2026-03-01"]).lines.count == 100)
        let s3 = try Scratch()
        try s3.write("a.log", Self.syslog(100...199))
        try Self.touch(s3, "a.log")
        #expect(try s3.cron(["a.log"], ["--since", "2026-03-03"]).lines.isEmpty)
        try s3.append("a.log", Self.syslog(200...200))
        #expect(Self.ports(try s3.cron(["a.log"]).lines) == [200])
    }

    @Test("23: the start in a plain file is found by binary search: a few dozen small reads, not a pass of 4 KiB reads")
    func sinceIsBinarySearch() throws {
        guard haveProgram("strace") else {
            print("skipped: strace is not installed")
            return
        }
        let s = try Scratch()
        // 86,000 lines (one day), about 7 MB; the time is near the end
        try s.sh(
            "awk 'BEGIN { for (i = 0; i < 86000; i++) printf \"Mar  2 %02d:%02d:%02d srv sshd[%d]: Failed password for root from 10.0.0.1 port %d ssh2\\n\", i / 3600 % 24, i / 60 % 60, i % 60, i, i }' > big.log && touch -d 2026-03-05T00:00:00Z big.log")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "strace", "-f", "-qq", "-e", "trace=pread64", "-o", s.path("trace"), Repo.executable, "scan", "--incremental",
            "--emit-raw", "--state", s.path("st.db"), "--since", "2026-03-02T23:53:10Z", s.path("big.log"),
        ]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 10)
        #expect(lines.first?.hasPrefix("Mar  2 23:53:10 ") == true)
        let trace = (try? String(contentsOfFile: s.path("trace"), encoding: .utf8)) ?? ""
        // preads of big.log: the probes (4 KiB) and the newline count (1 MiB); a forward scan would need ~1,800
        let fd = trace.split(separator: "\n").filter { $0.contains("pread64(") }.count
        #expect(fd > 0 && fd < 300, "\(fd) pread64 calls")
    }

    @Test("23: --since in a .gz scans forward; in a Zeek TSV log the header is read first; line numbers are right")
    func sinceGzipAndZeek() throws {
        let s = try Scratch()
        try s.write("auth.log", Self.syslog(0...4999))
        try s.sh("gzip auth.log && mv auth.log.gz auth.gz.log")
        try Self.touch(s, "auth.gz.log")
        let r = try s.cron(["auth.gz.log"], ["--since", "2026-03-02T01:00:00Z"])
        #expect(Self.ports(r.lines) == Array(3600...4999))
        // Zeek TSV: ts column, header lines at the top
        var tsv = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
        tsv += "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
        tsv += "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\n"
        for i in 0..<3000 { tsv += "\(1_772_409_600 + i).000000\tC\(i)\t10.0.0.1\t\(i)\t10.0.0.2\t22\ttcp\n" }
        try s.write("conn.log", tsv)
        let z = try s.cron(["conn.log"], ["--since", "\(1_772_409_600 + 2500)"])
        #expect(z.lines.count == 500)
        #expect(z.lines.first?.contains("\tC2500\t") == true)
        // detection: the evidence names the real line number of a line found by the search
        try s.sh("mkdir rules")
        try ExactlyOnceTests.rule.write(toFile: s.path("rules/r.yml"), atomically: true, encoding: .utf8)
        try s.write("d.log", Self.syslog(0...999))
        try Self.touch(s, "d.log")
        let d = try runFlowhound([
            "scan", "--incremental", "--state", s.path("d.db"), "--rules", s.path("rules"), "--merge-window", "0",
            "--since", "2026-03-02T00:16:00Z", s.path("d.log"),
        ])
        #expect(d.status == 1)
        #expect(d.lines.count == 1000 - 960)
        #expect(d.lines.first?.contains("\"line\":961,") == true, "\(d.lines.first ?? "")")
    }

    @Test("23: a file without readable times is read from the start, with a warning")
    func sinceNoTimes() throws {
        let s = try Scratch()
        try s.write("plain.log", Scratch.lines("x", 1...5))
        let r = try s.cron(["plain.log"], ["--since", "2h"])
        #expect(r.lines.count == 5)
        #expect(r.stderr.contains("plain.log: warning[since_no_format]"))
        let bad = try s.cron(["plain.log"], ["--since", "yesterday-ish"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--since: cannot read the time 'yesterday-ish'"))
    }

    @Test("23: tail --from TIME starts at the first line at or after TIME; files created later start at 0")
    func tailFromTime() throws {
        let s = try Scratch()
        try s.write("auth.log", Self.syslog(0...9999))
        try Self.touch(s, "auth.log")
        let t = try TailProcess([
            "--emit-raw", "--from", "2026-03-02T02:30:00Z", "--state", s.path("st.db"), s.path("*.log"),
        ])
        #expect(t.waitForCount(10000 - 9000))
        try s.write("new.log", Self.syslog(5...6))
        #expect(t.waitForCount(1002))
        #expect(t.stop() == 0)
        #expect(Self.ports(t.lines) == Array(9000...9999) + [5, 6])
    }

    @Test("28: --stale-after warns when the saved state was committed longer ago (commit time), and about an old lock")
    func staleAfter() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("a", 1...3))
        #expect(try s.cron(["app.log"], ["--stale-after", "1h"]).stderr.isEmpty)
        // the last commit 3 hours ago (what a stopped timer looks like)
        let store = try StateStore(path: s.path("state.db"))
        var state = try store.loadIngestState()
        #expect(state.committedAt > 0)
        state.committedAt -= 3 * 3600 * 1_000_000_000
        try store.commit(state, baseline: nil)
        try s.append("app.log", "a-4\n")
        let late = try s.cron(["app.log"], ["--stale-after", "1h"])
        #expect(late.lines == ["a-4"])
        #expect(late.status == 0, "a warning only")
        #expect(late.stderr.contains("warning[state_stale]: the saved positions were last committed 3h ago, more than --stale-after 1h"))
        // that run committed: no warning now, and none without the option
        #expect(try s.cron(["app.log"], ["--stale-after", "1h"]).stderr.isEmpty)
        state = try store.loadIngestState()
        state.committedAt -= 3 * 3600 * 1_000_000_000
        try store.commit(state, baseline: nil)
        #expect(try s.cron(["app.log"], ["--stale-after", "4h"]).stderr.isEmpty)
        #expect(try s.cron(["app.log"]).stderr.isEmpty)
        // a lock held (here by this test) since 2 days ago: the second run says the holder may be stuck
        let fd = open(s.path("state.db.lock"), O_RDWR | O_CREAT, 0o600)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        try s.sh("touch -d '2 days ago' state.db.lock")
        let busy = try s.cron(["app.log"], ["--stale-after", "6h"])
        #expect(busy.status == 2)
        #expect(busy.stderr.contains("warning[state_lock_stale]: the run holding this lock"))
        #expect(busy.stderr.contains("took it 2d ago, more than --stale-after 6h"))
        #expect(busy.stderr.contains("error[state_locked]"))
        // tail checks the state's age at start too
        flock(fd, LOCK_UN)
        state = try store.loadIngestState()
        state.committedAt -= 26 * 3600 * 1_000_000_000
        try store.commit(state, baseline: nil)
        let t = try TailProcess(tailArgs(s, ["app.log"], extra: ["--stale-after", "1d"]))
        #expect(t.waitFor(5) { _ in t.stderr.contains("warning[state_stale]") })
        #expect(t.stop() == 0)
    }

    @Test("17: in a user namespace with max_inotify_watches lowered to 12, 20 files in 20 directories lose nothing")
    func loweredWatchLimit() throws {
        let s = try Scratch()
        guard haveProgram("unshare"), try s.sh("unshare -Ur sh -c 'echo 12 > /proc/sys/user/max_inotify_watches'") == 0 else {
            print("skipped: no user namespace can be made here (unshare -Ur), or its inotify limit cannot be set")
            return
        }
        for i in 1...20 {
            try s.sh("mkdir d\(i)")
            try s.write("d\(i)/f.log", "f\(i)-1\n")
        }
        let t = try TailProcess(
            ["--emit-raw", "--from", "beginning", "--poll-interval", "100", s.path("d*/f.log")],
            prefix: ["unshare", "-Ur", "sh", "-c", "echo 12 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\""])
        #expect(t.waitForCount(20))
        // the limit was hit: the process holds at most 12 watches for 40 paths (20 files and their directories)
        let pid = t.process.processIdentifier
        var watches = 0
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fdinfo")) ?? [] {
            let info = (try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8)) ?? ""
            watches += info.split(separator: "\n").filter { $0.hasPrefix("inotify wd:") }.count
        }
        #expect(watches > 0 && watches <= 12, "\(watches) watches")
        for round in 2...4 {
            for i in 1...20 { try s.append("d\(i)/f.log", "f\(i)-\(round)\n") }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(t.waitForCount(80))
        #expect(t.stop() == 0)
        #expect(Set(t.lines) == Set((1...20).flatMap { i in (1...4).map { "f\(i)-\($0)" } }))
        #expect(t.lines.count == 80)
    }

    @Test("22: tail under a low descriptor limit (prlimit) with many files: keeps working, names what it could not open")
    func descriptorCap() throws {
        guard haveProgram("prlimit") else {
            print("skipped: prlimit (util-linux) is not installed")
            return
        }
        let s = try Scratch()
        try s.sh("mkdir logs")
        for i in 1...60 { try s.write("logs/f\(i).log", "f\(i)-1\n") }
        let state = s.path("st.db")
        let p = try TailProcess([
            "--emit-raw", "--from", "beginning", "--commit-interval", "100", "--state", state, s.path("logs/*.log"),
        ], prefix: ["prlimit", "--nofile=40"])
        // some files are followed, the others are named once each
        #expect(p.waitFor(10) { _ in p.stderr.components(separatedBy: "warning[not_followed]").count > 1 })
        Thread.sleep(forTimeInterval: 0.5)
        for i in 1...60 { try s.append("logs/f\(i).log", "f\(i)-2\n") }
        Thread.sleep(forTimeInterval: 1)
        #expect(p.process.isRunning, "still running")
        #expect(p.stop() == 0)
        let followed = Set(p.lines)
        let refused = p.stderr.split(separator: "\n").filter { $0.contains("warning[not_followed]") }
        #expect(!followed.isEmpty)
        #expect(refused.count >= 20, "\(refused.count) files named")
        #expect(refused.allSatisfy { $0.contains("no file descriptor left (RLIMIT_NOFILE 40") })
        #expect(Set(refused).count == refused.count, "each file named once")
        #expect(!p.stderr.contains("state_store"), "the state store could still commit")
        // every followed file's lines, in order; a restart without the limit reads the rest exactly once
        let t2 = try TailProcess(["--emit-raw", "--from", "beginning", "--state", state, s.path("logs/*.log")])
        #expect(t2.waitForCount(120 - p.lines.count))
        Thread.sleep(forTimeInterval: 0.3)
        #expect(t2.stop() == 0)
        let all = p.lines + t2.lines
        #expect(all.count == 120)
        #expect(Set(all).count == 120)
    }
}
