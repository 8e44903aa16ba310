import Foundation
import Testing

/// `tail` has the alert outputs of `scan` (issue #7 for tail): repeatable `--output`, `--outputs-file`,
/// `--store`, `--suppress`, and SIGHUP reopens file outputs (logrotate) as well as reloading rules.
@Suite("tail outputs", .serialized)
struct TailOutputsTests {
    static func setUp() throws -> Scratch {
        let s = try Scratch()
        try s.sh("mkdir rules")
        try ExactlyOnceTests.rule.write(toFile: s.path("rules/r.yml"), atomically: true, encoding: .utf8)
        try s.write("auth.log", "")
        return s
    }

    /// A failed login at 10:00:`sec` from 10.0.0.`host`.
    static func failure(_ host: Int, _ sec: Int) -> String {
        "Mar  2 10:\(String(format: "%02d:%02d", sec / 60, sec % 60)) srv sshd[9\(host)]: Failed password for root from 10.0.0.\(host) port 4000 ssh2\n"
    }

    static func lines(_ path: String) -> [String] { ExactlyOnceTests.fileLines(path) }

    @Test("repeatable --output and --store: every alert in each file, in the store, nothing on stdout")
    func severalOutputs() throws {
        let s = try Self.setUp()
        let t = try TailProcess([
            "--rules", s.path("rules"), "--from", "beginning", "--output", s.path("a.json"), "--output",
            "file:" + s.path("b.csv") + " format=csv", "--store", s.path("alerts.db"), s.path("auth.log"),
        ])
        Thread.sleep(forTimeInterval: 0.4)
        try s.append("auth.log", Self.failure(1, 1) + Self.failure(2, 2))
        #expect(ExactlyOnceTests.waitForLines(s.path("a.json"), 2))
        #expect(ExactlyOnceTests.waitForLines(s.path("b.csv"), 3), "\(Self.lines(s.path("b.csv")))")
        #expect(t.stop() == 0)
        #expect(t.stdout.isEmpty)
        #expect(Self.lines(s.path("a.json")).count == 2)
        #expect(Self.lines(s.path("a.json")).allSatisfy { $0.hasPrefix("{\"@timestamp\"") })
        let csv = Self.lines(s.path("b.csv"))
        #expect(csv.count == 3 && csv[0].contains("rule"), "a header and two rows")
        let stored = try runFlowhound(["alerts", "--store", s.path("alerts.db"), "--format", "json"])
        #expect(stored.status == 0)
        #expect(stored.lines.count == 2)
        #expect(stored.lines.contains { $0.contains("10.0.0.2") })
    }

    @Test("--outputs-file: the outputs listed in a file")
    func outputsFile() throws {
        let s = try Self.setUp()
        try s.write("outputs.conf", "# alerts\nfile:\(s.path("x.json"))\n\nfile:\(s.path("y.json"))\n")
        let t = try TailProcess([
            "--rules", s.path("rules"), "--from", "beginning", "--outputs-file", s.path("outputs.conf"), s.path("auth.log"),
        ])
        Thread.sleep(forTimeInterval: 0.4)
        try s.append("auth.log", Self.failure(3, 1))
        #expect(ExactlyOnceTests.waitForLines(s.path("x.json"), 1))
        #expect(ExactlyOnceTests.waitForLines(s.path("y.json"), 1))
        #expect(t.stop() == 0)
        #expect(Self.lines(s.path("x.json")) == Self.lines(s.path("y.json")))
        #expect(t.stdout.isEmpty)
    }

    @Test("--suppress: repeats within the interval are merged, also across a restart through the store")
    func suppress() throws {
        let s = try Self.setUp()
        let args = [
            "--rules", s.path("rules"), "--from", "beginning", "--suppress", "1h", "--output", s.path("a.json"), "--store",
            s.path("alerts.db"), "--state", s.path("st.db"), s.path("auth.log"),
        ]
        let t = try TailProcess(args)
        Thread.sleep(forTimeInterval: 0.4)
        try s.append("auth.log", Self.failure(1, 1) + Self.failure(1, 30) + Self.failure(2, 40))
        #expect(ExactlyOnceTests.waitForLines(s.path("a.json"), 2))
        Thread.sleep(forTimeInterval: 0.5)
        #expect(t.stop() == 0)
        #expect(Self.lines(s.path("a.json")).count == 2, "10.0.0.1 twice within an hour: one alert")
        // a restart: the same source again within the hour is merged through the store, a new one is not
        let t2 = try TailProcess(args)
        Thread.sleep(forTimeInterval: 0.4)
        try s.append("auth.log", Self.failure(1, 120) + Self.failure(4, 130))
        #expect(ExactlyOnceTests.waitForLines(s.path("a.json"), 3))
        Thread.sleep(forTimeInterval: 0.5)
        #expect(t2.stop() == 0)
        let a = Self.lines(s.path("a.json"))
        #expect(a.count == 3)
        #expect(a.filter { $0.contains("10.0.0.1\"") }.count == 1)
        let stored = try runFlowhound(["alerts", "--store", s.path("alerts.db"), "--format", "json"])
        #expect(stored.lines.count == 3)
        #expect(stored.lines.first { $0.contains("10.0.0.1\"") }?.contains("\"count\":3") == true, "\(stored.stdout)")
    }

    @Test("SIGHUP reopens file outputs: after logrotate moved the alert file away, alerts go to a new file")
    func hangupReopens() throws {
        let s = try Self.setUp()
        let t = try TailProcess([
            "--rules", s.path("rules"), "--from", "beginning", "--output", s.path("a.json"), "--output",
            s.path("b.json"), "--state", s.path("st.db"), s.path("auth.log"),
        ])
        Thread.sleep(forTimeInterval: 0.4)
        try s.append("auth.log", Self.failure(1, 1))
        #expect(ExactlyOnceTests.waitForLines(s.path("a.json"), 1))
        #expect(ExactlyOnceTests.waitForLines(s.path("b.json"), 1))
        try s.move("a.json", "a.json.1")
        try s.move("b.json", "b.json.1")
        t.signal(SIGHUP)
        #expect(t.waitFor(5) { _ in t.stderr.contains("1 rules") }, "rules reloaded too")
        try s.append("auth.log", Self.failure(2, 2))
        #expect(ExactlyOnceTests.waitForLines(s.path("a.json"), 1))
        #expect(ExactlyOnceTests.waitForLines(s.path("b.json"), 1))
        #expect(t.stop() == 0)
        for f in ["a.json", "b.json"] {
            #expect(Self.lines(s.path(f + ".1")).count == 1)
            #expect(Self.lines(s.path(f + ".1")).first?.contains("10.0.0.1") == true)
            #expect(Self.lines(s.path(f)).count == 1)
            #expect(Self.lines(s.path(f)).first?.contains("10.0.0.2") == true)
        }
    }

    @Test("SIGHUP with a broken rule set still reopens the outputs (the old rules stay)")
    func hangupBrokenRulesReopens() throws {
        let s = try Self.setUp()
        let t = try TailProcess([
            "--rules", s.path("rules"), "--from", "beginning", "--output", s.path("a.json"), s.path("auth.log"),
        ])
        Thread.sleep(forTimeInterval: 0.4)
        try s.append("auth.log", Self.failure(1, 1))
        #expect(ExactlyOnceTests.waitForLines(s.path("a.json"), 1))
        try "title: broken\nlogsource: {product: linux}\ndetection: {condition: nothing}\n"
            .write(toFile: s.path("rules/bad.yml"), atomically: true, encoding: .utf8)
        try s.move("a.json", "a.json.1")
        t.signal(SIGHUP)
        #expect(t.waitFor(5) { _ in t.stderr.contains("keeping the rules loaded before") })
        try s.append("auth.log", Self.failure(2, 2))
        #expect(ExactlyOnceTests.waitForLines(s.path("a.json"), 1))
        #expect(t.stop() == 0)
        #expect(Self.lines(s.path("a.json.1")).count == 1)
        #expect(Self.lines(s.path("a.json")).first?.contains("10.0.0.2") == true)
    }

    @Test("SIGHUP reopens the --emit-raw output file")
    func hangupReopensRaw() throws {
        let s = try Scratch()
        try s.write("app.log", "a-1\n")
        let out = s.path("raw.txt")
        let t = try TailProcess(tailArgs(s, ["app.log"], extra: ["--output", out]))
        #expect(ExactlyOnceTests.waitForLines(out, 1))
        try s.move("raw.txt", "raw.txt.1")
        t.signal(SIGHUP)
        #expect(t.waitFor(5) { _ in t.stderr.contains("output reopened") })
        try s.append("app.log", "a-2\n")
        #expect(ExactlyOnceTests.waitForLines(out, 1))
        #expect(t.stop() == 0)
        #expect(Self.lines(s.path("raw.txt.1")) == ["a-1"])
        #expect(Self.lines(out) == ["a-2"])
    }

    @Test("--emit-raw with alert outputs is refused with a clear message")
    func emitRawNeedsOnePlainOutput() throws {
        let s = try Scratch()
        try s.write("app.log", "a-1\n")
        let r = try runFlowhound([
            "tail", "--emit-raw", "--output", s.path("a"), "--output", s.path("b"), s.path("app.log"),
        ])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--emit-raw writes the lines read to standard output or to one --output FILE"))
    }
}
