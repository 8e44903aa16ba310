import Foundation
import Testing

/// The remaining ingest.md §2 items that need outside tools: strace fault injection (27a), the shared harness
/// under logrotate (8, 9, 12, 13, 19, 20, 24, 27b), systemd unit verification (43). Each skips with a message
/// when its tool is missing.
@Suite("ingest checklist: tools", .serialized)
struct IngestChecklistTests {
    @Test("27a: a kill at every write, pwrite, fsync and rename of a run loses nothing (repeats allowed)")
    func straceKills() throws {
        guard haveProgram("strace") else {
            print("skipped: strace is not installed")
            return
        }
        let s = try Scratch()
        let probe = try s.sh("strace -o /dev/null -e inject=getpid:error=EPERM:when=1 true 2>/dev/null")
        guard probe == 0 else {
            print("skipped: strace cannot trace here (ptrace not permitted)")
            return
        }
        for call in ["write", "pwrite64", "fsync", "fdatasync", "rename"] {
            for n in [1, 2, 3, 5, 8] {
                let t = try Scratch()
                try t.write("app.log", Scratch.lines("a", 1...20))
                #expect(try t.cron(["app.log"]).lines.count == 20)
                try t.append("app.log", Scratch.lines("b", 1...30))
                let exe = Repo.executable
                try t.sh(
                    "strace -f -o /dev/null -e trace=\(call) -e inject=\(call):signal=KILL:when=\(n) "
                        + "'\(exe)' scan --incremental --emit-raw --state state.db app.log > crashed.out 2>/dev/null; true")
                let crashed = (try? String(contentsOfFile: t.path("crashed.out"), encoding: .utf8)) ?? ""
                let after = try t.cron(["app.log"])
                let seen = Set(crashed.split(separator: "\n").map(String.init) + after.lines)
                let want = Set((1...30).map { "b-\($0)" })
                #expect(seen.isSuperset(of: want), "\(call) #\(n): lost \(want.subtracting(seen).sorted().prefix(5))")
                #expect(!after.lines.contains { $0.hasPrefix("a-") }, "\(call) #\(n): committed lines came back")
                #expect(try t.cron(["app.log"]).lines.isEmpty, "\(call) #\(n): a third run must be silent")
            }
        }
    }

    @Test("36: a gzip file over 4 GiB decoded (ISIZE is the size mod 2^32): every byte, no error")
    func over4GiB() throws {
        guard ProcessInfo.processInfo.environment["FLOWHOUND_SKIP_4G"] == nil else {
            print("skipped: FLOWHOUND_SKIP_4G is set")
            return
        }
        let s = try Scratch()
        // 4,500,000,000 bytes: 1,098,633 lines of 4,095 'a' + newline, then a remainder line; zlib level 1
        let py = """
            import zlib, sys
            c = zlib.compressobj(1, zlib.DEFLATED, 31)
            block = (b'a' * 4095 + b'\\n') * 256
            total = 4_500_000_000
            out = open(sys.argv[1], 'wb')
            left = total
            while left >= len(block):
                out.write(c.compress(block)); left -= len(block)
            out.write(c.compress(b'a' * (left - 1) + b'\\n'))
            out.write(c.flush()); out.close()
            """
        try py.write(toFile: s.path("mk.py"), atomically: true, encoding: .utf8)
        guard try s.sh("python3 mk.py big.gz") == 0 else {
            Issue.record("could not make the test file")
            return
        }
        let r = try runFlowhound([
            "scan", "--rules", Repo.root + "/Rules/flowhound/linux", "--format", "json", s.path("big.gz"),
        ])
        #expect(r.status == 0 || r.status == 2, "\(r.stderr)")
        #expect(!r.stderr.contains("gzip_"), "\(r.stderr)")
        // 4,291 blocks of 256 lines of 4,096 bytes, then one line of the 560,384 bytes left
        #expect(r.stderr.contains("1098497 lines"), "\(r.stderr)")
    }

    @Test("43: the shipped systemd units verify")
    func systemdUnits() throws {
        guard haveProgram("systemd-analyze") else {
            print("skipped: systemd-analyze is not installed")
            return
        }
        let s = try Scratch()
        for unit in ["flowhound-tail.service", "flowhound-scan.service", "flowhound-scan.timer"] {
            let text = try String(contentsOfFile: Repo.root + "/Scripts/systemd/" + unit, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/flowhound", with: Repo.executable)
            try text.write(toFile: s.path(unit), atomically: true, encoding: .utf8)
        }
        let out = s.path("verify.txt")
        let status = try s.sh(
            "SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no flowhound-tail.service flowhound-scan.service "
                + "flowhound-scan.timer > '\(out)' 2>&1")
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        // in a container without systemd as PID 1 verify may not run at all; then only its own complaint is there
        if text.contains("System has not been booted") || text.contains("Failed to connect") {
            print("skipped: systemd-analyze cannot run here: \(text.prefix(200))")
            return
        }
        let ours = text.split(separator: "\n").filter { $0.contains("flowhound") }
        #expect(status == 0 || ours.isEmpty, "\(text)")
        #expect(ours.isEmpty, "\(ours)")
    }

    @Test("8, 9, 12, 13, 19, 20, 24, 27b: the shared harness with real logrotate, both modes, kill -9 (short run)")
    func harness() throws {
        let harness = Repo.root + "/../shared/tools/ingest_harness.py"
        guard FileManager.default.fileExists(atPath: harness), haveProgram("logrotate") else {
            print("skipped: ../shared/tools/ingest_harness.py or logrotate missing (CI runs Scripts/rotation_matrix.py --fast)")
            return
        }
        let s = try Scratch()
        let matrix = "python3 '\(Repo.root)/Scripts/rotation_matrix.py' --flowhound '\(Repo.executable)' --fast --duration 3 --jobs 3"
        let status = try s.sh(
            matrix + " --strategies create-compress,copytruncate,delete-recreate > table.md 2>&1 && "
                + matrix + " --strategies create-delaycompress --partial-every 25 >> table.md 2>&1")
        let table = (try? String(contentsOfFile: s.path("table.md"), encoding: .utf8)) ?? ""
        print(table)
        #expect(status == 0, "\(table)")
        #expect(!table.contains("LOSS") && !table.contains("ERROR"))
    }
}
