import FlowhoundState
import Foundation
import Testing

@testable import FlowhoundPipeline

/// `scan --incremental`: ingest.md §2 items A 1–7 and C 23–30 (see docs/ingest-checklist.md).
@Suite("scan --incremental")
struct IncrementalTests {
    @Test("1: renamed file keeps its identity: only the appended lines are read")
    func renamed() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("a", 1...100))
        #expect(try s.cron(["app.log"]).lines.count == 100)
        try s.move("app.log", "app.log.1")
        try s.append("app.log.1", Scratch.lines("b", 1...5))
        try s.write("app.log", "")
        let r = try s.cron(["app.log"])
        #expect(r.lines == (1...5).map { "b-\($0)" })
        #expect(r.status == 0)
    }

    @Test("2: an inode reused by a new file is a new identity (different prefix): read from 0")
    func inodeReuse() throws {
        let s = try Scratch()
        try s.write("f", Scratch.lines("old", 1...5))
        _ = try s.cron(["f"])
        // rewrite in place: same inode, other content (what inode reuse looks like to a reader)
        try s.sh("seq -f new-%g 1 20 > f")
        let r = try s.cron(["f"])
        #expect(r.lines == (1...20).map { "new-\($0)" })
    }

    @Test("3: two files with the same first 2 KiB are two identities")
    func identicalPrefixes() throws {
        let s = try Scratch()
        let header = String(repeating: "same header line\n", count: 130)  // 2,210 bytes
        try s.write("a.log", header + "a-1\n")
        try s.write("b.log", header + "b-1\n")
        _ = try s.cron(["a.log", "b.log"])
        try s.append("a.log", "a-2\n")
        try s.append("b.log", "b-2\n")
        let r = try s.cron(["a.log", "b.log"])
        #expect(r.lines == ["a-2", "b-2"])
    }

    @Test("4: a file shorter than the fingerprint is read at once and its fingerprint grows")
    func shortFile() throws {
        let s = try Scratch()
        try s.write("f", "x\n")
        #expect(try s.cron(["f"]).lines == ["x"])
        let more = (1...40).map { "line-\($0)-" + String(repeating: "y", count: 30) + "\n" }.joined()  // > 1,500 bytes
        try s.append("f", more)
        let r = try s.cron(["f"])
        #expect(r.lines.count == 40)
        #expect(r.lines.first == "line-1-" + String(repeating: "y", count: 30))
        try s.append("f", "z\n")
        #expect(try s.cron(["f"]).lines == ["z"])
    }

    @Test("5: truncated, and truncated then regrown past the saved offset: detected by the marker, read from 0")
    func truncatedRegrown() throws {
        let s = try Scratch()
        try s.write("f", Scratch.lines("a", 1...10))
        _ = try s.cron(["f"])
        try s.write("f", Scratch.lines("b", 1...30))  // truncate + 30 new lines, longer than before
        let r = try s.cron(["f"])
        #expect(r.lines == (1...30).map { "b-\($0)" })
        #expect(r.stderr.contains("truncated"))
        try s.write("f", Scratch.lines("c", 1...2))  // shorter than the offset
        #expect(try s.cron(["f"]).lines == ["c-1", "c-2"])
    }

    @Test("6: an unreadable state file is exit 2 with a message and reads nothing, unless --reset-state")
    func corruptState() throws {
        let s = try Scratch()
        try s.write("f", Scratch.lines("a", 1...3))
        try s.write("state.db", String(repeating: "garbage ", count: 600))
        let r = try s.cron(["f"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("state"))
        let reset = try s.cron(["f"], ["--reset-state"])
        #expect(reset.lines == ["a-1", "a-2", "a-3"])
        #expect(reset.stderr.contains("state_reset"))
    }

    @Test("7: identities of removed generations are forgotten; the state stays bounded")
    func stateGarbageCollection() throws {
        guard haveProgram("logrotate") else {
            print("skipped: logrotate is not installed")
            return
        }
        let s = try Scratch()
        try s.write("lr.conf", "\(s.path("app.log")) {\n rotate 2\n create\n missingok\n}\n")
        try s.write("app.log", "")
        var seen: [String] = []
        for round in 1...10 {
            try s.append("app.log", Scratch.lines("r\(round)", 1...3))
            seen += try s.cron(["app.log"], ["--forget-after", "0"]).lines
            try s.sh("logrotate -s lr.state -f lr.conf")
        }
        seen += try s.cron(["app.log"], ["--forget-after", "0"]).lines
        #expect(seen == (1...10).flatMap { r in (1...3).map { "r\(r)-\($0)" } })
        let count = try runSQL(s.path("state.db"), "SELECT COUNT(*) FROM checkpoint")
        #expect(Int(count) ?? 99 <= 3, "checkpoints kept: \(count)")
    }

    @Test("14 and 24: several rotations between runs, every naming, oldest first")
    func severalRotationsAndNamings() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("c", 1...3))
        _ = try s.cron(["app.log"])
        try s.append("app.log", Scratch.lines("c", 4...6))
        // three rotations while no run happened: .3.gz (compressed), .2 and .1, then the active file
        try s.move("app.log", "app.log.3")
        try s.sh("gzip app.log.3")
        try s.write("app.log", Scratch.lines("c", 7...9))
        try s.move("app.log", "app.log.2")
        try s.write("app.log", Scratch.lines("c", 10...12))
        try s.move("app.log", "app.log.1")
        try s.write("app.log", Scratch.lines("c", 13...14))
        let r = try s.cron(["app.log"])
        #expect(r.lines == (4...14).map { "c-\($0)" })

        // dateext with an epoch suffix and compression, and savelog's .0
        let d = try Scratch()
        try d.write("x.log", Scratch.lines("d", 1...2))
        _ = try d.cron(["x.log"])
        try d.append("x.log", Scratch.lines("d", 3...4))
        try d.move("x.log", "x.log-20260301-1772400000")
        try d.sh("gzip x.log-20260301-1772400000")
        try d.write("x.log", Scratch.lines("d", 5...6))
        try d.move("x.log", "x.log-20260302-1772486400")
        try d.write("x.log", Scratch.lines("d", 7...7))
        #expect(try d.cron(["x.log"]).lines == (3...7).map { "d-\($0)" })
        let z = try Scratch()
        try z.write("s.log", "s-1\n")
        _ = try z.cron(["s.log"])
        try z.append("s.log", "s-2\n")
        try z.move("s.log", "s.log.0")
        try z.write("s.log", "s-3\n")
        #expect(try z.cron(["s.log"]).lines == ["s-2", "s-3"])
    }

    @Test("24: zeekctl archives of current/conn.log are generations")
    func zeekctlArchives() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.path("current"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.path("2026-03-02"), withIntermediateDirectories: true)
        try s.write("current/conn.log", Scratch.lines("z", 1...2))
        _ = try s.cron(["current/conn.log"])
        try s.append("current/conn.log", Scratch.lines("z", 3...4))
        try s.move("current/conn.log", "2026-03-02/conn.10:00:00-11:00:00.log")
        try s.sh("gzip 2026-03-02/conn.10:00:00-11:00:00.log")
        try s.write("current/conn.log", Scratch.lines("z", 5...5))
        #expect(try s.cron(["current/conn.log"]).lines == (3...5).map { "z-\($0)" })
    }

    @Test("24: --rotated-glob finds generations elsewhere (logrotate olddir)")
    func oldDirectory() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.path("old"), withIntermediateDirectories: true)
        try s.write("app.log", "o-1\n")
        _ = try s.cron(["app.log"], ["--rotated-glob", s.path("old/app.log.*")])
        try s.append("app.log", "o-2\n")
        try s.move("app.log", "old/app.log.1")
        try s.write("app.log", "o-3\n")
        #expect(try s.cron(["app.log"], ["--rotated-glob", s.path("old/app.log.*")]).lines == ["o-2", "o-3"])
    }

    @Test("7 flood: 200 generations on disk keep at most 64 saved identities per file; carried lines are capped")
    func identityFlood() throws {
        let s = try Scratch()
        for i in 1...200 { try s.write("app.log.\(i)", "gen-\(i)\n") }
        try s.write("app.log", "now\n")
        let r = try s.cron(["app.log"], ["--include-archives"])
        #expect(r.lines.count == 201)
        #expect(r.lines.first == "gen-200" && r.lines.last == "now")
        let count = Int(try runSQL(s.path("state.db"), "SELECT COUNT(*) FROM checkpoint")) ?? -1
        #expect(count == 64)
        #expect(try s.cron(["app.log"]).lines.isEmpty, "the newest generations stay known")
        let journal = CarryJournal(maxLines: 100, maxBytes: 1 << 20)
        for i in 0..<10_000 {
            journal.add(
                CarriedLine(path: "p", line: Int64(i), offset: 0, format: "syslog", header: false, bytes: [1, 2, 3]),
                time: Int64(i))
        }
        #expect(journal.dropped == 9_900)
        #expect(journal.carried(from: 0).count == 100)
        #expect(journal.carried(from: 9_950).count == 50)
    }

    @Test("25: X.1 and X.1.gz both present (compressing): read X.1 once; a fresh truncated .gz is retried")
    func compressInProgress() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("k", 1...2000))
        _ = try s.cron(["app.log"])
        try s.append("app.log", Scratch.lines("m", 1...3))
        try s.move("app.log", "app.log.1")
        try s.sh("gzip -c app.log.1 > app.log.1.gz")
        try s.write("app.log", "")
        #expect(try s.cron(["app.log"]).lines == ["m-1", "m-2", "m-3"])
        // now only a cut .gz exists (fresh): complete lines, no error; the rest once when complete
        let t = try Scratch()
        try t.sh("seq -f 'g-%g' 1 20000 | gzip > full.gz")
        try t.write("app.log", "")
        _ = try t.cron(["app.log"])
        try t.sh("head -c $(( $(stat -c %s full.gz) / 2 )) full.gz > app.log.1.gz")
        let first = try t.cron(["app.log"])
        #expect(first.status == 0)
        #expect(first.lines.count > 100)
        try t.sh("cp full.gz app.log.1.gz")
        let second = try t.cron(["app.log"])
        #expect(first.lines + second.lines == (1...20000).map { "g-\($0)" })
        // an old truncated .gz is an error (exit 2), reported once
        let u = try Scratch()
        try u.sh("seq -f 'u-%g' 1 20000 > app.log")
        _ = try u.cron(["app.log"])
        try u.append("app.log", "u-more\n")
        try u.sh("mv app.log app.log.1 && gzip app.log.1 && head -c 30000 app.log.1.gz > cut && mv cut app.log.1.gz")
        try u.sh("touch -d '-1 hour' app.log.1.gz && : > app.log")
        let old = try u.cron(["app.log"])
        #expect(old.status == 2)
        #expect(old.stderr.contains("gzip_truncated"))
        #expect(try u.cron(["app.log"]).status == 0, "reported once, then the file is done")
    }

    @Test("26: the active file rotated away and removed before the run: warning, exit 2, new file from 0")
    func lostTrack() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("a", 1...3))
        _ = try s.cron(["app.log"])
        try s.append("app.log", Scratch.lines("a", 4...5))
        try s.remove("app.log")
        try s.write("app.log", Scratch.lines("n", 1...2))
        let r = try s.cron(["app.log"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("lost_track"))
        #expect(r.lines == ["n-1", "n-2"])
    }

    @Test("20: a partial last line is never emitted early, and the next run gives it whole")
    func partialLine() throws {
        let s = try Scratch()
        try s.write("f", "one\ntwo-part")
        #expect(try s.cron(["f"]).lines == ["one"])
        try s.append("f", "-rest\nthree\n")
        #expect(try s.cron(["f"]).lines == ["two-part-rest", "three"])
    }

    @Test("21: a 5 MiB line is cut once, the lines around it are read exactly once")
    func longLine() throws {
        let s = try Scratch()
        try s.write("f", "before\n" + String(repeating: "L", count: 5 << 20))
        let first = try s.cron(["f"])
        #expect(first.lines.count == 2)
        #expect(first.lines.first == "before")
        #expect(first.lines.last?.count == 1 << 20)
        try s.append("f", String(repeating: "L", count: 1000) + "\nafter\n")
        #expect(try s.cron(["f"]).lines == ["after"])
        #expect(try s.cron(["f"]).lines.isEmpty)
    }

    @Test("23: first run --from beginning (default) or end")
    func firstRunPolicy() throws {
        let s = try Scratch()
        try s.write("f", Scratch.lines("a", 1...3))
        #expect(try s.cron(["f"], ["--from", "end"]).lines.isEmpty)
        try s.append("f", "a-4\n")
        #expect(try s.cron(["f"]).lines == ["a-4"])
        let b = try Scratch()
        try b.write("f", Scratch.lines("a", 1...3))
        #expect(try b.cron(["f"], ["--from", "beginning"]).lines.count == 3)
    }

    @Test("28: a second run while the lock is held exits 2 with a message; --wait waits")
    func lock() throws {
        let s = try Scratch()
        try s.write("f", "a\n")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [s.path("state.db.lock"), "sleep", "2"]
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else {
            print("skipped: flock(1) missing")
            return
        }
        try holder.run()
        Thread.sleep(forTimeInterval: 0.3)
        let r = try s.cron(["f"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("state_locked"))
        #expect(r.stdout.isEmpty)
        let w = try s.cron(["f"], ["--wait"])
        #expect(w.lines == ["a"])
        holder.waitUntilExit()
    }

    @Test("30: an append that keeps the old mtime is still read")
    func mtimeNotTrusted() throws {
        let s = try Scratch()
        try s.write("f", "a\n")
        try s.sh("touch -d '-1 hour' f")
        _ = try s.cron(["f"])
        try s.append("f", "b\n")
        try s.sh("touch -d '-1 hour' f")
        #expect(try s.cron(["f"]).lines == ["b"])
    }

    @Test("38: resume inside a .gz at the decompressed offset")
    func resumeInsideGzip() throws {
        let s = try Scratch()
        try s.write("app.log", Scratch.lines("g", 1...5000))
        #expect(try s.cron(["app.log"]).lines.count == 5000)
        try s.append("app.log", Scratch.lines("h", 1...7))
        try s.move("app.log", "app.log.1")
        try s.sh("gzip app.log.1")
        try s.write("app.log", "")
        #expect(try s.cron(["app.log"]).lines == (1...7).map { "h-\($0)" })
        #expect(try s.cron(["app.log"]).lines.isEmpty)
    }

    @Test("39: a member appended to a .gz that is followed as the active file")
    func gzipAppended() throws {
        let s = try Scratch()
        try s.sh("seq -f a-%g 1 3 | gzip > f.gz")
        #expect(try s.cron(["f.gz"]).lines == ["a-1", "a-2", "a-3"])
        try s.sh("seq -f b-%g 1 2 | gzip >> f.gz")
        #expect(try s.cron(["f.gz"]).lines == ["b-1", "b-2"])
    }

    @Test("29: a correlation window split over two runs (3 + 2 failures) fires once; a crash before commit repeats it")
    func windowAcrossRuns() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.path("rules"), withIntermediateDirectories: true)
        let rule = try String(contentsOfFile: Repo.root + "/Rules/flowhound/linux/sshd_password_guessing.yml", encoding: .utf8)
            .replacingOccurrences(of: "gte: 10", with: "gte: 5").replacingOccurrences(of: "timespan: 5m", with: "timespan: 60s")
        try rule.write(toFile: s.path("rules/r.yml"), atomically: true, encoding: .utf8)
        func failure(_ i: Int) -> String {
            "Mar  2 10:00:0\(i) srv sshd[12\(i)]: Failed password for root from 10.0.0.5 port 4000\(i) ssh2\n"
        }
        func run() throws -> CommandResult {
            try runFlowhound([
                "scan", "--incremental", "--state", s.path("state.db"), "--rules", s.path("rules"), s.path("auth.log"),
            ])
        }
        try s.write("auth.log", (1...3).map(failure).joined())
        let r1 = try run()
        #expect(r1.status == 0 && r1.stdout.isEmpty)
        try s.sh("cp state.db state.after1.db")
        try s.append("auth.log", (4...5).map(failure).joined())
        let r2 = try run()
        #expect(r2.status == 1)
        #expect(r2.lines.count == 1)
        #expect(r2.stdout.contains("4b95648e-58ef-488a-9caa-a07b0204e175"))
        #expect(r2.stdout.contains("\"count\":5"))
        let r3 = try run()
        #expect(r3.status == 0 && r3.stdout.isEmpty, "the finding must not repeat: \(r3.stdout)")
        // the second run crashed after writing the alert and before committing: the alert comes again
        try s.sh("cp state.after1.db state.db && rm -f state.db-wal state.db-shm")
        let again = try run()
        #expect(again.lines.count == 1)
    }

    @Test("a Zeek TSV log split over two runs gives the findings of one scan (its header is read again on resume)")
    func zeekAcrossRuns() throws {
        let s = try Scratch()
        let text = try String(contentsOfFile: Repo.root + "/SampleLogs/zeek/conn.log", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let cut = lines.count / 2
        try (lines[..<cut].joined(separator: "\n") + "\n").write(toFile: s.path("conn.log"), atomically: false, encoding: .utf8)
        let args = ["--rules", Repo.root + "/Rules/flowhound/zeek", "--merge-window", "0", "--alert-format", "json"]
        func run() throws -> CommandResult {
            try runFlowhound(["scan", "--incremental", "--state", s.path("state.db")] + args + [s.path("conn.log")])
        }
        let first = try run()
        try s.append("conn.log", lines[cut...].joined(separator: "\n"))
        let second = try run()
        #expect(first.status != 2 && second.status != 2, "\(first.stderr)\(second.stderr)")
        let whole = try runFlowhound(["scan"] + args + [Repo.root + "/SampleLogs/zeek/conn.log"])
        func key(_ l: String) -> String {
            // the same finding whatever the file was called
            l.replacingOccurrences(of: s.path("conn.log"), with: "F")
                .replacingOccurrences(of: Repo.root + "/SampleLogs/zeek/conn.log", with: "F")
        }
        #expect(!whole.lines.isEmpty)
        #expect((first.lines + second.lines).map(key) == whole.lines.map(key))
    }

    @Test("40 and 41: exit codes, and silence when nothing is new")
    func exitCodesAndSilence() throws {
        let s = try Scratch()
        try s.write("f", Scratch.lines("a", 1...3))
        _ = try s.cron(["f"])
        let quiet = try s.cron(["f"])
        #expect(quiet.status == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty)
        let missing = try s.cron(["nothere"])
        #expect(missing.status == 2 && missing.stderr.contains("nothere"))
        let stdin = try runFlowhound(["scan", "--incremental", "--state", s.path("state.db"), "-"])
        #expect(stdin.status == 2)
        let usage = try runFlowhound(["scan", "--wait", s.path("f")])
        #expect(usage.status == 2)
        try s.sh("printf 'x\\n' | gzip > bad.gz && printf 'junk' >> bad.gz")
        let garbage = try s.cron(["bad.gz"])
        #expect(garbage.status == 2 && garbage.lines == ["x"])
        #expect(try s.cron(["bad.gz"]).stdout.isEmpty, "a damaged file is marked done, not retried")
    }

    @Test("42: default state location: STATE_DIRECTORY, then XDG_STATE_HOME, mode 0700")
    func stateLocation() throws {
        let s = try Scratch()
        try s.write("f", "a\n")
        let sd = s.path("sd")
        try FileManager.default.createDirectory(atPath: sd, withIntermediateDirectories: true)
        let r = try runFlowhound(
            ["scan", "--incremental", "--emit-raw", s.path("f")], environment: ["STATE_DIRECTORY": sd])
        #expect(r.lines == ["a"])
        #expect(FileManager.default.fileExists(atPath: sd + "/state.sqlite"))
        #expect(StateLocation.directory(environment: ["STATE_DIRECTORY": "/a:/b"], isRoot: true) == "/a")
        #expect(StateLocation.directory(environment: [:], isRoot: true) == "/var/lib/flowhound")
        #expect(StateLocation.directory(environment: ["XDG_STATE_HOME": "/x", "HOME": "/h"], isRoot: false) == "/x/flowhound")
        #expect(StateLocation.directory(environment: ["HOME": "/h"], isRoot: false) == "/h/.local/state/flowhound")
        let xdg = s.path("xdg")
        let made = StateLocation.defaultStore(environment: ["XDG_STATE_HOME": xdg], isRoot: false)
        #expect((try? made.get()) == xdg + "/flowhound/state.sqlite")
        let attrs = try FileManager.default.attributesOfItem(atPath: xdg + "/flowhound")
        #expect((attrs[.posixPermissions] as? Int) == 0o700)
    }
}

/// One value from a SQLite query (through the sqlite3 program when present, else GRDB is not reachable here).
func runSQL(_ db: String, _ sql: String) throws -> String {
    let p = Process()
    let py = "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])"
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = ["-c", py, db, sql]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    p.waitUntilExit()
    return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
}
