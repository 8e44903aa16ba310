import FlowhoundCore
import FlowhoundPipeline
import FlowhoundState
import FlowhoundTestSupport
import Foundation
import Testing

/// `flowhound baseline push` / `pull` against a real PostgreSQL server started by the test (initdb + pg_ctl).
@Suite(.serialized) struct SharedBaselineTests {
    static let header = """
        #separator \\x09
        #set_separator\t,
        #empty_field\t(empty)
        #unset_field\t-
        #path\tconn
        #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\thistory
        #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tstring

        """
    /// 2026-03-01 08:00 UTC.
    static let day0: Int64 = 1_772_352_000

    /// One established TCP session per (source, destination, port) at `t`.
    static func conn(_ sessions: [(String, String, Int)], at t: Int64) -> String {
        sessions.enumerated().map { i, s in
            "\(t + Int64(i)).000000\tC\(t)x\(i)\t\(s.0)\t5\(i)000\t\(s.1)\t\(s.2)\ttcp\t-\t12.0\t4000\t9000\tSF\tShADadFf\n"
        }.joined()
    }

    func write(_ text: String, _ name: String, in dir: String) throws -> String {
        let p = dir + "/" + name
        try (Self.header + text).write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func newEdges(_ alerts: [[String: Any]]) -> Set<String> {
        Set(alerts.filter { ($0["rule"] as? [String: Any])?["id"] as? String == "net.new_internal_edge" }.map { a in
            "\((a["source"] as? [String: Any])?["ip"] as? String ?? "?")>\((a["destination"] as? [String: Any])?["ip"] as? String ?? "?")"
        })
    }

    @Test("two hosts push their baselines; a third pulls them and no longer reports the edges they learned")
    func threeHosts() throws {
        try LocalPostgres.with { server in
            let dir = try Repo.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let e0 = ("10.3.0.13", "10.9.0.23", 3389), e1 = ("10.1.0.11", "10.9.0.21", 3389)
            let e2 = ("10.2.0.12", "10.9.0.22", 22), e3 = ("10.3.0.14", "10.9.0.24", 3389)
            // learning (day 0 and 1): A sees e1, B sees e2, C sees only e0
            let learnA = try write(Self.conn([e1], at: Self.day0) + Self.conn([e1], at: Self.day0 + 86_400), "a.log", in: dir)
            let learnB = try write(Self.conn([e2], at: Self.day0 + 3600), "b.log", in: dir)
            let learnC = try write(Self.conn([e0], at: Self.day0 + 7200), "c.log", in: dir)
            // day 20: C's network shows all four edges
            let later = try write(Self.conn([e0, e1, e2, e3], at: Self.day0 + 20 * 86_400), "later.log", in: dir)
            for (host, log) in [("a", learnA), ("b", learnB), ("c", learnC)] {
                let r = try runFlowhound(["baseline", "learn", "--state", "\(dir)/\(host).sqlite", log], cwd: Repo.root)
                #expect(r.status == 0, "\(r.stderr)")
            }
            for host in ["a", "b"] {
                let r = try runFlowhound(
                    ["baseline", "push", "--state", "\(dir)/\(host).sqlite", "--to", server.url, "--source", "host-\(host)"], cwd: Repo.root)
                #expect(r.status == 0, "\(r.stderr)")
                #expect(r.stderr.contains("as source 'host-\(host)'"), "\(r.stderr)")
            }
            // pushing again replaces, it does not add
            let again = try runFlowhound(
                ["baseline", "push", "--state", "\(dir)/a.sqlite", "--to", server.url, "--source", "host-a"], cwd: Repo.root)
            #expect(again.stderr.contains("(2 sources stored)"), "\(again.stderr)")

            // without the shared baseline, C reports the edges A and B knew
            try FileManager.default.copyItem(atPath: "\(dir)/c.sqlite", toPath: "\(dir)/c-alone.sqlite")
            let alone = try runFlowhound(["scan", "--state", "\(dir)/c-alone.sqlite", "--alert-format", "json", later], cwd: Repo.root)
            #expect(newEdges(try jsonLines(alone.stdout)) == ["10.1.0.11>10.9.0.21", "10.2.0.12>10.9.0.22", "10.3.0.14>10.9.0.24"], "\(alone.stderr)")

            let pull = try runFlowhound(
                ["baseline", "pull", "--state", "\(dir)/c.sqlite", "--from", server.url, "--source", "host-c"], cwd: Repo.root)
            #expect(pull.status == 0, "\(pull.stderr)")
            #expect(pull.stderr.contains("of 2 sources ('host-a', 'host-b')"), "\(pull.stderr)")
            let show = try runFlowhound(["baseline", "show", "--state", "\(dir)/c.sqlite", "--edges"], cwd: Repo.root)
            #expect(show.stdout.contains("net.new_internal_edge\t10.1.0.11\t10.9.0.21\t"), "\(show.stdout)")
            #expect(show.stdout.contains("net.new_internal_edge\t10.2.0.12\t10.9.0.22\t"), "\(show.stdout)")
            #expect(show.stdout.contains("net.new_internal_edge\t10.3.0.13\t10.9.0.23\t"), "\(show.stdout)")
            // A saw e1 on two separate days
            #expect(show.stdout.contains("\t10.1.0.11\t10.9.0.21\t") && show.stdout.split(separator: "\n").contains { $0.contains("10.1.0.11\t10.9.0.21") && $0.hasSuffix("\t2") })

            let scan = try runFlowhound(["scan", "--state", "\(dir)/c.sqlite", "--alert-format", "json", later], cwd: Repo.root)
            #expect(scan.status == 1, "\(scan.stderr)")
            #expect(newEdges(try jsonLines(scan.stdout)) == ["10.3.0.14>10.9.0.24"], "\(scan.stdout)")
        }
    }

    static func volume(_ address: String, _ hours: UInt32, bucket: Int) -> BaselineSnapshot.Volume {
        var out = [UInt32](repeating: 0, count: 48), pcr = [UInt32](repeating: 0, count: 10)
        out[bucket] = hours
        pcr[9] = hours
        return .init(detector: "net.exfil_volume", address: IPAddress.parse(address)!, hourlyBytesOut: out, hourlyPCR: pcr)
    }

    @Test("volume profiles add up across hosts once: repeated pushes and pulls, and pushes after a pull, count no hour twice")
    func volumesAddUpOnce() throws {
        try LocalPostgres.with { server in
            let dir = try Repo.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var a = BaselineSnapshot(), b = BaselineSnapshot(), c = BaselineSnapshot()
            a.learningStart = 1_000
            a.clock = 5_000
            a.volumes = [Self.volume("10.5.0.1", 30, bucket: 20)]
            b.learningStart = 500
            b.clock = 9_000
            b.volumes = [Self.volume("10.5.0.1", 12, bucket: 22), Self.volume("10.5.0.2", 7, bucket: 10)]
            c.learningStart = 2_000
            c.volumes = [Self.volume("10.5.0.1", 1, bucket: 20)]
            for (name, s) in [("a", a), ("b", b), ("c", c)] { try StateStore(path: "\(dir)/\(name).sqlite").saveBaseline(s) }
            for name in ["a", "b", "a", "b"] {
                let (lines, status) = BaselineSharing.push(statePath: "\(dir)/\(name).sqlite", url: server.url, source: name)
                #expect(status == 0, "\(lines)")
            }
            for _ in 0..<2 {
                let (lines, status) = BaselineSharing.pull(statePath: "\(dir)/c.sqlite", url: server.url, source: "c")
                #expect(status == 0, "\(lines)")
            }
            let merged = try #require(try StateStore(path: "\(dir)/c.sqlite").loadBaseline())
            #expect(merged.learningStart == 500)
            #expect(merged.clock == 9_000)
            let v1 = try #require(merged.volumes.first { $0.address == IPAddress.parse("10.5.0.1") })
            #expect(v1.hourlyBytesOut[20] == 31)
            #expect(v1.hourlyBytesOut[22] == 12)
            #expect(v1.hourlyPCR[9] == 43)
            #expect(merged.volumes.first { $0.address == IPAddress.parse("10.5.0.2") }?.hourlyPCR[9] == 7)
            // C pushes: only its own hour goes out, so a fourth host sees every hour once
            #expect(BaselineSharing.push(statePath: "\(dir)/c.sqlite", url: server.url, source: "c").1 == 0)
            let (lines, status) = BaselineSharing.pull(statePath: "\(dir)/d.sqlite", url: server.url, source: "d")
            #expect(status == 0, "\(lines)")
            let d = try #require(try StateStore(path: "\(dir)/d.sqlite").loadBaseline())
            #expect(d.volumes.first { $0.address == IPAddress.parse("10.5.0.1") }?.hourlyPCR[9] == 43)
            #expect(d.volumes.first { $0.address == IPAddress.parse("10.5.0.2") }?.hourlyPCR[9] == 7)
        }
    }

    @Test("a URL that is not PostgreSQL, and a server that is down: clear errors naming the URL without its password; the local state is unchanged")
    func errors() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try write(Self.conn([("10.1.0.11", "10.9.0.21", 3389)], at: Self.day0), "a.log", in: dir)
        let state = "\(dir)/a.sqlite"
        #expect(try runFlowhound(["baseline", "learn", "--state", state, log], cwd: Repo.root).status == 0)
        let before = try runFlowhound(["baseline", "show", "--state", state, "--edges"], cwd: Repo.root).stdout

        let notPG = try runFlowhound(["baseline", "push", "--state", state, "--to", "mysql://fh:hunter2@db/x"], cwd: Repo.root)
        #expect(notPG.status == 2)
        #expect(notPG.stderr.contains("'mysql://fh:***@db/x' is not a PostgreSQL URL"), "\(notPG.stderr)")
        #expect(!notPG.stderr.contains("hunter2"))

        let missing = try runFlowhound(["baseline", "push", "--state", "\(dir)/none.sqlite", "--to", "postgresql:///x"], cwd: Repo.root)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no baseline stored yet"), "\(missing.stderr)")

        let down = "postgresql://fh:hunter2@/postgres?host=\(dir)/no-server&port=5433"
        let push = try runFlowhound(["baseline", "push", "--state", state, "--to", down], cwd: Repo.root)
        #expect(push.status == 2)
        #expect(push.stderr.contains("error[baseline_push]: cannot push the baseline to postgresql://fh:***@/postgres?host="), "\(push.stderr)")
        #expect(push.stderr.contains("cannot connect"), "\(push.stderr)")
        #expect(!push.stderr.contains("hunter2"))
        let pull = try runFlowhound(["baseline", "pull", "--state", state, "--from", down + "&password=hunter2"], cwd: Repo.root)
        #expect(pull.status == 2)
        #expect(pull.stderr.contains("error[baseline_pull]: cannot pull the baseline from postgresql://fh:***@"), "\(pull.stderr)")
        #expect(pull.stderr.contains("password=***"), "\(pull.stderr)")
        #expect(!pull.stderr.contains("hunter2"))
        #expect(try runFlowhound(["baseline", "show", "--state", state, "--edges"], cwd: Repo.root).stdout == before)

        // a server stopped after the tables exist
        try LocalPostgres.with { server in
            #expect(BaselineSharing.push(statePath: state, url: server.url, source: "a").1 == 0)
            try server.stop()
            let (lines, status) = BaselineSharing.push(statePath: state, url: server.url, source: "a")
            #expect(status == 2)
            #expect(lines.first?.contains("cannot push the baseline to \(server.url)") == true, "\(lines)")
        }
    }
}
