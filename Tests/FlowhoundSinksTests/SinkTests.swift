import FlowhoundCore
import FlowhoundSinks
import FlowhoundTestSupport
import Foundation
import Testing

/// A string that tries everything: a line break followed by a forged JSON alert, a forged CSV row, a forged
/// RFC 5424 message and a forged octet-counted frame, ANSI colour and OSC title sequences, bell, carriage
/// return, NUL, DEL, a C1 CSI, U+2028, a bidi override, a `</script>` break-out, a spreadsheet formula, and
/// the replacement character that invalid UTF-8 becomes.
let hostile =
    "=cmd|' /C calc'!A0\"}\n{\"rule\":{\"id\":\"forged\"}}\r\n2026-01-01,forged,row\n<13>1 - - forged - - - x\n"
    + "12 <13>1 forged\u{1B}[31mRED\u{1B}]0;pwn\u{7}\u{0}\u{7F}\u{9B}2J\u{2028}\u{202E}</script><script>alert(1)</script>\u{FFFD}\\"

func hostileFinding(level: Severity = .high) -> Finding {
    Finding(
        ruleID: "r-1", title: "SMB between workstations", level: level, tags: ["attack.lateral_movement", "attack.t1021.002"],
        firstSeen: Timestamp(seconds: 1_772_442_000), lastSeen: Timestamp(seconds: 1_772_442_060),
        group: ["source.ip": "10.20.1.23", "user": hostile], sourceIP: "10.20.1.23", sourcePort: 50_123,
        destinationIP: "10.20.1.40", destinationPort: 445, userName: hostile, count: 2, format: "zeek-tsv",
        evidence: [
            Evidence(path: "conn.log", line: 12, byteOffset: 900, excerpt: hostile),
            Evidence(path: "conn.log", line: 13, byteOffset: 990, excerpt: "second"),
        ])
}

/// Bytes that must never come out of any renderer for text from a log.
func assertNoControlBytes(_ bytes: [UInt8], allowedNewlines: Int? = nil, allowCR: Bool = false, _ what: String) {
    let bad = bytes.filter { ($0 < 0x20 && $0 != 0x0A && !(allowCR && $0 == 0x0D)) || $0 == 0x7F }
    #expect(bad.isEmpty, "\(what): control bytes \(bad)")
    let s = String(decoding: bytes, as: UTF8.self)
    #expect(!s.unicodeScalars.contains { (0x80..<0xA0).contains($0.value) || $0.value == 0x2028 || $0.value == 0x202E }, "\(what)")
    if let n = allowedNewlines { #expect(bytes.filter { $0 == 0x0A }.count == n, "\(what): line count") }
}

@Suite struct CSVFormatTests {
    @Test func headerAndRowHaveTheSameColumns() {
        let header = String(decoding: AlertFormatter.csvHeader, as: UTF8.self)
        #expect(header.hasPrefix("timestamp,start,end,rule_id,rule_name,level,"))
        #expect(header.hasSuffix("\r\n"))
        var f = hostileFinding()
        f.userName = "alice"
        f.group = ["source.ip": "10.20.1.23"]
        f.evidence = [Evidence(path: "conn.log", line: 12, byteOffset: 900, excerpt: "a,b \"c\"")]
        let row = String(decoding: AlertFormatter.csv(f), as: UTF8.self)
        #expect(
            row == "2026-03-02T09:01:00.000000Z,2026-03-02T09:00:00.000000Z,2026-03-02T09:01:00.000000Z,r-1,"
                + "\"SMB between workstations\",high,75,10.20.1.23,50123,10.20.1.40,445,alice,2,,T1021.002,"
                + "lateral_movement,source.ip=10.20.1.23,zeek-tsv,1,conn.log,12,\"a,b \"\"c\"\"\"\r\n")
    }

    @Test func hostileFieldsCannotAddRowsColumnsFormulasOrEscapes() throws {
        let row = AlertFormatter.csv(hostileFinding())
        assertNoControlBytes(row, allowedNewlines: 1, allowCR: true, "csv")
        #expect(row.filter { $0 == 0x0D }.count == 1 && row.suffix(2) == [0x0D, 0x0A])
        // parse it back with RFC 4180 rules: the same number of fields as the header, the user field intact
        let fields = parseCSVRow(String(decoding: row.dropLast(2), as: UTF8.self))
        #expect(fields.count == AlertFormatter.csvColumns.count)
        let user = fields[AlertFormatter.csvColumns.firstIndex(of: "user")!]
        #expect(user.hasPrefix("'=cmd|"), "a formula is neutralised with a leading quote")
        #expect(user.contains("\\x0a{\"rule\""))
        #expect(Escaping.csvField("-1") == "-1" && Escaping.csvField("-") == "-" && Escaping.csvField("@x") == "'@x")
    }

    func parseCSVRow(_ s: String) -> [String] {
        var fields: [String] = [], cur = "", quoted = false, i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if quoted {
                if c == "\"" {
                    let n = s.index(after: i)
                    if n < s.endIndex && s[n] == "\"" {
                        cur.append("\"")
                        i = n
                    } else {
                        quoted = false
                    }
                } else {
                    cur.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(cur)
                cur = ""
            } else {
                cur.append(c)
            }
            i = s.index(after: i)
        }
        fields.append(cur)
        return fields
    }
}

@Suite struct HostileTextEveryFormatTests {
    @Test func jsonStaysOneLineAndRoundTrips() throws {
        let json = AlertFormatter.json(hostileFinding())
        assertNoControlBytes(json, allowedNewlines: 1, "json")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        #expect((obj["user"] as? [String: Any])?["name"] as? String == hostile, "escaped, not altered")
    }

    @Test func textHasOneSummaryLinePlusEvidenceLinesAndNoEscapes() {
        for colour in [false, true] {
            let text = AlertFormatter.text(hostileFinding(), colour: colour)
            let s = String(decoding: text, as: UTF8.self)
            #expect(s.split(separator: "\n").count == 3, "summary + 2 evidence lines")
            let withoutOwnColour = s.replacingOccurrences(of: "\u{1B}[1;31m", with: "").replacingOccurrences(of: "\u{1B}[0m", with: "")
            assertNoControlBytes(Array(withoutOwnColour.utf8), allowedNewlines: 3, "text colour=\(colour)")
            #expect(s.contains("\\x1b[31mRED"))
        }
    }

    @Test func syslogMessageHasNoLineBreakNULOrEscape() throws {
        for format in [AlertFormat.json, .text] {
            let m = SyslogMessage.render(
                hostileFinding(), facility: 16, hostname: "host\nname", appName: "flowhound", procID: "42", format: format)
            assertNoControlBytes(m, allowedNewlines: 0, "syslog \(format)")
            let s = String(decoding: m, as: UTF8.self)
            #expect(s.hasPrefix("<131>1 2026-03-02T09:01:00.000000Z hostname flowhound 42 alert - \u{FEFF}"))
        }
        let whole = SyslogMessage.render(hostileFinding(), facility: 4, hostname: "h", appName: "a", procID: "1", format: .json)
        let big = SyslogMessage.render(
            hostileFinding(), facility: 4, hostname: "h", appName: "a", procID: "1", format: .json, maxBytes: whole.count - 1)
        #expect(big.count < whole.count && big.count > 1000)
        let body = String(decoding: big.drop { $0 != 0xEF }.dropFirst(3), as: UTF8.self)
        let cut = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "evidence is cut, the JSON stays whole")
        #expect(((cut["flowhound"] as? [String: Any])?["evidence"] as? [Any])?.count == 1, "2 lines did not fit, 1 does")
    }

    @Test func htmlEscapingLeavesNoMarkup() {
        let h = Escaping.html(hostile)
        #expect(!h.contains("<") && !h.contains(">") && !h.contains("\""))
        assertNoControlBytes(Array(h.utf8), allowedNewlines: 0, "html")
        let js = Escaping.scriptSafeJSON(AlertFormatter.json(hostileFinding()))
        #expect(!js.contains("</script") && !js.contains("<!--"))
    }
}

@Suite struct OutputSpecTests {
    @Test func everyFormParses() throws {
        #expect(try OutputSpec.parse("-").kind == .stdout)
        #expect(try OutputSpec.parse("alerts.jsonl").kind == .file("alerts.jsonl"))
        #expect(try OutputSpec.parse("my alerts.csv format=csv").kind == .file("my alerts.csv"))
        #expect(try OutputSpec.parse("my alerts.csv format=csv").format == .csv)
        #expect(try OutputSpec.parse("file:/var/log/a b.log").kind == .file("/var/log/a b.log"))
        #expect(try OutputSpec.parse("syslog+udp://127.0.0.1:5514").kind == .syslog(.udp(host: "127.0.0.1", port: 5514)))
        #expect(try OutputSpec.parse("syslog://loghost").kind == .syslog(.udp(host: "loghost", port: 514)))
        #expect(try OutputSpec.parse("syslog+tcp://[::1]:601 facility=auth").kind == .syslog(.tcp(host: "::1", port: 601)))
        #expect(try OutputSpec.parse("syslog+unix:///dev/log").kind == .syslog(.unix(path: "/dev/log")))
        let w = try OutputSpec.parse("https://hooks.example/x header=Authorization:Bearer%20t0k%25n")
        #expect(w.kind == .webhook("https://hooks.example/x") && w.headers == ["Authorization:Bearer t0k%n"])
        let w2 = try OutputSpec.parse("https://bot:secret@hooks.example/x batch=10 header=X-Token:abc retries=2")
        #expect(w2.kind == .webhook("https://bot:secret@hooks.example/x") && w2.headers == ["X-Token:abc"])
        #expect(w2.display == "https://bot:***@hooks.example/x" && w2.int("retries") == 2)
        #expect(try OutputSpec.parse("sqlite:/var/lib/fh.sqlite").kind == .sqlite("/var/lib/fh.sqlite"))
    }

    @Test func mistakesAreErrorsThatSayWhat() {
        for (spec, words) in [
            ("ftp://x", "unknown output scheme"), ("syslog+tcp://host:99999", "expected syslog"),
            ("syslog+unix://dev/log", "absolute"), ("file:", "needs a path"), ("a.log format=xml", "format must be"),
            ("syslog+udp://h format=csv", "syslog takes"), ("- ca=/x", "does not apply"), ("a.log queue=0", "positive"),
            ("https://h when_full=maybe", "when_full"), ("syslog://h facility=nope", "facility"),
        ] {
            #expect(throws: Diagnostic.self) { try OutputSpec.parse(spec) }
            do { _ = try OutputSpec.parse(spec) } catch { #expect(error.message.contains(words), "\(spec): \(error.message)") }
        }
    }

    @Test func outputsFileNamesTheLineOfAnError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/outputs"
        try "# alerts\n-\n\nfile:\(dir)/a.csv format=csv  # for the spreadsheet\nsyslog+tcp://127.0.0.1:601\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let specs = try OutputSpec.load(file: path)
        #expect(specs.map(\.kind) == [.stdout, .file(dir + "/a.csv"), .syslog(.tcp(host: "127.0.0.1", port: 601))])
        try "-\nnope://x\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try OutputSpec.load(file: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix(path + ":2: error[bad_output]"))
        }
    }
}

@Suite struct SuppressionTests {
    func finding(_ t: Int64, user: String = "u", summary: String = "s") -> Finding {
        Finding(
            ruleID: "r", title: "t", level: .high, firstSeen: Timestamp(seconds: t), lastSeen: Timestamp(seconds: t + 5),
            group: ["summary": summary, "key": "k-" + user], sourceIP: "10.0.0.1", userName: user, format: "x")
    }

    @Test func keyIgnoresDescriptiveFieldsButNotIdentity() {
        #expect(FindingKey.identifier(finding(0, summary: "a")) == FindingKey.identifier(finding(99, summary: "b")))
        #expect(FindingKey.identifier(finding(0)).hasPrefix("r/"))
        var a = finding(0), b = finding(0)
        b.group["key"] = "other"
        #expect(FindingKey.identifier(a) != FindingKey.identifier(b), "the group identifies")
        a.destinationIP = "10.9.9.9"
        #expect(FindingKey.identifier(a) == FindingKey.identifier(finding(0)), "with a group, entities do not")
        a.group = [:]
        b = a
        b.userName = "someone else"
        #expect(FindingKey.identifier(a) != FindingKey.identifier(b), "without a group, entities identify")
    }

    @Test func repeatsWithinTheIntervalMergeThenANewAlertOpensTheNext() {
        var s = AlertSuppressor(intervalSeconds: 3600)
        let k = FindingKey.identifier(finding(0))
        #expect(s.decide(finding(0), key: k) == .emit)
        #expect(s.decide(finding(1800), key: k) == .merge)
        #expect(s.decide(finding(3605), key: k) == .merge, "first event within 1 h of the alert's @timestamp (5 s)")
        #expect(s.decide(finding(3606), key: k) == .emit)
        #expect(s.decide(finding(3700), key: k) == .merge)
        #expect(s.decide(finding(0, user: "other"), key: FindingKey.identifier(finding(0, user: "other"))) == .emit)
        #expect(s.merged == 3)
    }

    @Test func seedsFromAnEarlierRunMergeAndDetectReplays() {
        var s = AlertSuppressor(intervalSeconds: 3600)
        let k = FindingKey.identifier(finding(0))
        s.seed(key: k, anchor: Timestamp(seconds: 5), lastSeen: Timestamp(seconds: 1805))
        #expect(s.decide(finding(0), key: k) == .replay, "the same logs scanned again")
        #expect(s.decide(finding(1800), key: k) == .replay)
        #expect(s.decide(finding(2000), key: k) == .merge, "new, within the stored alert's interval")
        #expect(s.decide(finding(4000), key: k) == .emit)
        #expect(s.replayed == 2)
    }

    @Test func floodOfDistinctKeysStaysWithinCapacity() {
        var s = AlertSuppressor(intervalSeconds: 60, capacity: 1000)
        for i in 0..<200_000 {
            let f = finding(Int64(i / 100), user: "u\(i)")
            _ = s.decide(f, key: FindingKey.identifier(f))
            #expect(s.count <= 1000)
        }
        #expect(s.evicted >= 199_000)
    }
}
