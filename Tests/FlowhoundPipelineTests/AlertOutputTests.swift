import FlowhoundTestSupport
import Foundation
import Testing

/// The sample's header and its planted RDP pivot (10.20.1.23 → 10.20.10.40:3389), with a uid that tries to
/// forge a second alert, recolour the terminal, break out of HTML and carry invalid UTF-8.
func hostileConnLog() throws -> Data {
    let sample = try String(contentsOfFile: Repo.root + "/SampleLogs/zeek/conn.log", encoding: .utf8)
    let lines = sample.split(separator: "\n")
    let header = lines.prefix { $0.hasPrefix("#") && !$0.hasPrefix("#close") }
    let pivot = try #require(lines.first { $0.contains("\t10.20.1.23\t") && $0.contains("\t10.20.10.40\t3389\ttcp\trdp\t") })
    var fields = pivot.split(separator: "\t", omittingEmptySubsequences: false).map { Array($0.utf8) }
    fields[1] = Array("C\"}{\"rule\":{\"id\":\"forged\"}}\u{1B}[31mRED\u{1B}]0;pwn\u{7}\r".utf8) + [0xFF, 0xFE, 0xC0]
        + Array("</script><script>alert(1)</script>\u{202E}".utf8)
    var out = Data(header.joined(separator: "\n").utf8)
    out.append(0x0A)
    out.append(contentsOf: fields.joined(separator: [0x09]))
    out.append(0x0A)
    return out
}

func rawControlBytes(_ d: Data, allowCR: Bool = false) -> [UInt8] {
    d.filter { ($0 < 0x20 && $0 != 0x0A && !(allowCR && $0 == 0x0D)) || $0 == 0x7F }
}

@Suite(.serialized) struct AlertOutputTests {
    @Test func hostileLogLineIsEscapedInEveryFormatAndOutput() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try hostileConnLog().write(to: URL(fileURLWithPath: dir + "/conn.log"))
        let tcp = try SyslogListener(.tcp), udp = try SyslogListener(.udp)
        let unix = try SyslogListener(.unixDatagram(dir + "/log"))
        let http = try HTTPReceiver(directory: dir)
        let r = try runFlowhound([
            "scan", "--rules", "Rules/flowhound/zeek", "--no-progress", "--output", "-", "--output", dir + "/a.txt format=text",
            "--output", "file:\(dir)/a.csv format=csv", "--output", "syslog+tcp://127.0.0.1:\(tcp.port)",
            "--output", "syslog+udp://127.0.0.1:\(udp.port) format=text", "--output", "syslog+unix://\(dir)/log",
            "--output", "http://127.0.0.1:\(http.port)/hook", "--store", dir + "/alerts.sqlite", dir + "/conn.log",
        ], cwd: Repo.root)
        #expect(r.status == 1, "stderr: \(r.stderr)")
        // JSON lines on stdout: one line, one alert, the uid intact after decoding
        #expect(rawControlBytes(Data(r.stdout.utf8)).isEmpty)
        let alerts = try jsonLines(r.stdout)
        #expect(alerts.count == 1)
        let excerpt = try #require(((alerts[0]["flowhound"] as? [String: Any])?["evidence"] as? [[String: Any]])?.first?["excerpt"] as? String)
        #expect(excerpt.contains("\u{1B}[31mRED") && excerpt.contains("\u{FFFD}"), "escaped in JSON, decoded back by the reader")
        #expect(!r.stdout.contains("\u{202E}"))
        for (file, cr) in [("a.txt", false), ("a.csv", true)] {
            let d = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file))
            #expect(rawControlBytes(d, allowCR: cr).isEmpty, "\(file)")
            #expect(!String(decoding: d, as: UTF8.self).contains("\u{202E}"))
        }
        let text = try String(contentsOfFile: dir + "/a.txt", encoding: .utf8)
        #expect(text.split(separator: "\n").count == 2 && text.contains("\\x1b[31mRED"))
        let csv = try String(contentsOfFile: dir + "/a.csv", encoding: .utf8)
        #expect(csv.components(separatedBy: "\r\n").count == 3, "header, one row, end")
        for (name, listener) in [("tcp", tcp), ("udp", udp), ("unix", unix)] {
            let messages = listener.wait(for: 1)
            #expect(messages.count == 1, "\(name)")
            for m in messages {
                #expect(rawControlBytes(Data(m)).isEmpty && !m.contains(0x0A), "\(name)")
            }
        }
        let posted = http.wait(for: 1)
        let body = try #require(posted.first?["body"] as? String)
        #expect(try (JSONSerialization.jsonObject(with: Data(body.utf8)) as? [Any])?.count == 1)
        // the store and `alerts` in every format
        for format in ["json", "text", "csv"] {
            let q = try runFlowhound(["alerts", "--store", dir + "/alerts.sqlite", "--format", format])
            #expect(q.status == 0, "\(q.stderr)")
            #expect(rawControlBytes(Data(q.stdout.utf8), allowCR: format == "csv").isEmpty, "alerts --format \(format)")
            #expect(q.stdout.contains("69595a53-1a53-43cd-8417-4833503df242"))
        }
        // the HTML report: nothing from the log becomes markup
        let report = try runFlowhound(["report", "--rules", "Rules/flowhound/zeek", "--html", dir + "/r.html", dir + "/conn.log"], cwd: Repo.root)
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: dir + "/r.html", encoding: .utf8)
        #expect(rawControlBytes(Data(html.utf8)).isEmpty)
        #expect(html.components(separatedBy: "<script").count - 1 == 3, "only the page's own three script elements")
        #expect(!html.contains("alert(1)</script>") && !html.contains("\u{202E}"))
    }

    @Test func storeSuppressionAndAlertsQueries() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/alerts.sqlite"
        func scan(_ extra: [String]) throws -> CommandResult {
            try runFlowhound(["scan", "--rules", "Rules/flowhound/zeek", "--alert-format", "json", "--store", db] + extra, cwd: Repo.root)
        }
        // without suppression: the sample's 6 merged alerts, two of them the sweep (08:47 and 09:02)
        let plain = try scan(["--output", dir + "/plain.jsonl", "SampleLogs/zeek"])
        #expect(plain.status == 1 && plain.stdout.isEmpty, "outputs named: nothing on stdout")
        #expect(try String(contentsOfFile: dir + "/plain.jsonl", encoding: .utf8).split(separator: "\n").count == 6)
        try FileManager.default.removeItem(atPath: db)
        // with --suppress 1h: the 09:02 sweep is merged into the 08:47 one
        let first = try scan(["--suppress", "1h", "SampleLogs/zeek"])
        #expect(first.status == 1)
        #expect(try jsonLines(first.stdout).count == 5)
        #expect(first.stderr.contains("1 repeated finding merged into earlier alerts (--suppress)"))
        let sweep = try runFlowhound(["alerts", "--store", db, "--rule", "40c43109-6b72-4770-9ec3-1e8c9797c400", "--format", "json"])
        let stored = try jsonLines(sweep.stdout)
        #expect(stored.count == 1)
        #expect((stored.first?["flowhound"] as? [String: Any])?["count"] as? Int == 65, "64 + 1 merged")
        #expect((stored.first?["event"] as? [String: Any])?["end"] as? String == "2026-03-02T09:02:30.550231Z", "last-seen moved")
        // the same logs again (cron run over old files): nothing new, exit 0, silent with --quiet
        let again = try scan(["--suppress", "1h", "--quiet", "SampleLogs/zeek"])
        #expect(again.status == 0 && again.stdout.isEmpty && again.stderr.isEmpty, "\(again.stderr)")
        // queries
        func count(_ args: [String]) throws -> Int {
            let q = try runFlowhound(["alerts", "--store", db, "--format", "json"] + args)
            #expect(q.status == 0, "\(q.stderr)")
            return try jsonLines(q.stdout).count
        }
        #expect(try count([]) == 5)
        #expect(try count(["--level", "high"]) == 3)
        #expect(try count(["--since", "2026-03-02T09:00:00Z"]) == 4)
        #expect(try count(["--since", "2026-03-02T09:00:00Z", "--until", "2026-03-02T09:20:00+00:00"]) == 3)
        #expect(try count(["--limit", "2"]) == 2)
        // durations: back from the wall clock (these alerts are from March), or from the newest alert's log time
        // (09:24:10): 30 minutes back keeps 09:02:30 (the merged sweep), 09:02:43, 09:10:05 and 09:24:10
        #expect(try count(["--since", "24h"]) == 0)
        #expect(try count(["--since", "30m", "--relative-to", "latest"]) == 4)
        #expect(try count(["--since", "3h", "--relative-to", "latest"]) == 5)
        #expect(try count(["--until", "15m", "--relative-to", "latest"]) == 3, "before 09:09:10: 07:41:12, 09:02:30, 09:02:43")
        let csv = try runFlowhound(["alerts", "--store", db, "--format", "csv"])
        #expect(csv.stdout.hasPrefix("timestamp,start,end,rule_id,") && csv.stdout.components(separatedBy: "\r\n").count == 7)
        let bad = try runFlowhound(["alerts", "--store", db, "--since", "yesterday-ish"])
        #expect(bad.status == 2 && bad.stderr.contains("error[bad_time]"))
        let missing = try runFlowhound(["alerts", "--store", dir + "/none.sqlite"])
        #expect(missing.status == 2 && missing.stderr.contains("error[no_store]"))
    }

    @Test func suppressionCarriesAcrossCronRuns() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // split the current log at 09:00 log time, as two hourly cron runs would see it
        let text = try String(contentsOfFile: Repo.root + "/SampleLogs/zeek/conn.log", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = lines.filter { $0.hasPrefix("#") && !$0.hasPrefix("#close") }
        let data = lines.filter { !$0.hasPrefix("#") }
        let before = data.filter { Double($0.prefix { $0 != "\t" })! < 1_772_442_000 }
        let after = data.filter { Double($0.prefix { $0 != "\t" })! >= 1_772_442_000 }
        try (header + before).joined(separator: "\n").appending("\n").write(toFile: dir + "/conn.08.log", atomically: true, encoding: .utf8)
        try (header + after).joined(separator: "\n").appending("\n").write(toFile: dir + "/conn.09.log", atomically: true, encoding: .utf8)
        let db = dir + "/store.sqlite"
        func run(_ file: String) throws -> [[String: Any]] {
            let r = try runFlowhound(
                ["scan", "--rules", "Rules/flowhound/zeek", "--alert-format", "json", "--store", db, "--suppress", "2h", dir + "/" + file],
                cwd: Repo.root)
            #expect(r.status <= 1, "\(r.stderr)")
            return try jsonLines(r.stdout)
        }
        let rule = "40c43109-6b72-4770-9ec3-1e8c9797c400"
        func ids(_ a: [[String: Any]]) -> [String] { a.compactMap { ($0["rule"] as? [String: Any])?["id"] as? String } }
        #expect(ids(try run("conn.08.log")).contains(rule))
        #expect(!ids(try run("conn.09.log")).contains(rule), "the second run merges the 09:02 sweep into the stored alert")
        let q = try jsonLines(try runFlowhound(["alerts", "--store", db, "--rule", rule, "--format", "json"]).stdout)
        #expect(q.count == 1 && (q.first?["flowhound"] as? [String: Any])?["count"] as? Int == 65)
    }

    @Test func aFailingOutputIsAnErrorButTheOthersGetEverything() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runFlowhound(
            ["scan", "--rules", "Rules/flowhound/zeek", "--output", dir + "/ok.jsonl", "--output", "syslog+unix://\(dir)/nobody-listens", "SampleLogs/zeek"],
            cwd: Repo.root)
        #expect(r.status == 2, "a sink that failed is an error")
        #expect(r.stderr.contains("error[syslog_connect]: alert output syslog+unix://\(dir)/nobody-listens"))
        #expect(try String(contentsOfFile: dir + "/ok.jsonl", encoding: .utf8).split(separator: "\n").count == 6)
        let bad = try runFlowhound(["scan", "--output", "gopher://x", "SampleLogs/zeek"], cwd: Repo.root)
        #expect(bad.status == 2 && bad.stderr.contains("error[bad_output]") && bad.stdout.isEmpty)
    }

    @Test func progressBarOnlyOnATerminal() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // ~27 MB of conn log: long enough for the bar to appear (it waits half a second)
        let text = try String(contentsOfFile: Repo.root + "/SampleLogs/zeek/conn.log", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = lines.filter { $0.hasPrefix("#") && !$0.hasPrefix("#close") }.joined(separator: "\n") + "\n"
        let body = lines.filter { !$0.hasPrefix("#") }.joined(separator: "\n") + "\n"
        let handle = try FileHandle(forWritingTo: { () -> URL in
            FileManager.default.createFile(atPath: dir + "/big.log", contents: Data(header.utf8))
            return URL(fileURLWithPath: dir + "/big.log")
        }())
        handle.seekToEndOfFile()
        let chunk = Data(body.utf8)
        for _ in 0..<80 { handle.write(chunk) }
        try handle.close()
        let exe = Repo.executable
        let cmd = "'\(exe)' scan --rules '\(Repo.root)/Rules/flowhound/zeek' --output /dev/null '\(dir)/big.log'"
        // `script` gives the command a terminal; its own output is what the terminal showed
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qfec", cmd, "/dev/null"]
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let shown = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(shown.contains("MB/s") && shown.contains("ETA") && shown.contains("%"), "\(shown.prefix(400))")
        #expect(shown.contains("\r\u{1B}[K"), "the bar is erased at the end")
        let piped = try runFlowhound(["scan", "--rules", "Rules/flowhound/zeek", "--output", "/dev/null", dir + "/big.log"], cwd: Repo.root)
        #expect(!piped.stderr.contains("MB/s") && !piped.stderr.contains("\r"), "silent when stderr is not a terminal")
    }
}
