import Foundation
import FlowhoundTestSupport
import Testing
import FlowhoundCore
@testable import FlowhoundParse

/// Decodes one corpus file the way the pipeline would: sniff the first non-empty line, make the decoder,
/// feed every line. btest baselines start with a `### BTest` marker line that is not Zeek output: dropped.
func decodeCorpusFile(_ rel: String, requested: Set<String> = []) throws -> (LogFormat?, RunResult, Int) {
    let url = corpusRoot.appendingPathComponent(rel)
    var bytes = try Fixtures.readMaybeGzip(url)
    if bytes.starts(with: Array("### BTest".utf8)), let nl = bytes.firstIndex(of: 10) {
        bytes.removeSubrange(0...nl)
    }
    // independent count of non-empty, non-comment lines
    var dataLines = 0
    var firstLine: [UInt8] = []
    for line in bytes.split(separator: 10, omittingEmptySubsequences: true) {
        if firstLine.isEmpty { firstLine = Array(line) }
        if line.first != 35 { dataLines += 1 }
    }
    let name = url.lastPathComponent
    var format = firstLine.withUnsafeBufferPointer { FormatSniffer.sniff($0.baseAddress!, $0.count, fileName: name) }
    // btest JSON baselines use test records without Zeek keys: decode them as Zeek JSON anyway (`--format`).
    if format == .json && rel.hasPrefix("zeek-btest-baselines") { format = .zeekJSON }
    guard let format, let d = makeDecoder(format: format, fileName: name, requestedFields: requested, maxLineLength: 1 << 20)
    else { return (format, RunResult(), dataLines) }
    if firstLine.starts(with: Array("ts\t".utf8)) { dataLines -= 1 }  // field-name line of Zeek's "tsv" mode
    return (format, run(d, bytes, capture: 100), dataLines)
}

func corpusFiles(_ folder: String) -> [String] {
    let root = corpusRoot.appendingPathComponent(folder)
    guard let en = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
    var out: [String] = []
    for case let u as URL in en {
        let rel = u.path.replacingOccurrences(of: corpusRoot.path + "/", with: "")
        let n = u.lastPathComponent
        if n == "LICENSE" || n == "COPYING" || n.hasSuffix(".md") || n.hasSuffix(".cff") || n.hasSuffix(".config") { continue }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
    }
    return out.sorted()
}

func summary(_ f: LogFormat?, _ r: RunResult) -> String {
    let m = r.malformed.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }
        .joined(separator: ",")
    return "\(f?.rawValue ?? "none") \(r.events) [\(m)]"
}

@Suite(.enabled(if: corpusAvailable, "corpus folder ../shared/corpus is absent")) struct CorpusTests {
    /// Exact per-file results: format, events, malformed by reason.
    static let expected: [String: String] = corpusExpected

    @Test func everyFileMatchesTable() throws {
        var seen = 0
        var report: [String] = []
        for folder in ["zed-sample-data", "rita-test-data", "zeek-btest-baselines",
                       "stratosphere-security-datasets-for-testing", "elastic-beats/x-pack/filebeat/module/zeek"] {
            for rel in corpusFiles(folder) {
                if rel.hasSuffix("-expected.json") { continue }
                let (f, r, dataLines) = try decodeCorpusFile(rel)
                let s = summary(f, r)
                report.append("        \"\(rel)\": \"\(s)\",")
                if f == .zeekTSV || f == .zeekJSON {
                    // every data line is accounted for exactly once
                    #expect(r.events + r.malformedTotal == dataLines, "\(rel)")
                }
                if let want = Self.expected[rel] {
                    #expect(s == want, "\(rel)")
                    seen += 1
                } else {
                    Issue.record("no expectation for \(rel): \(s)")
                }
            }
        }
        if ProcessInfo.processInfo.environment["FLOWHOUND_PRINT_CORPUS"] != nil {
            print(report.joined(separator: "\n"))
        }
        #expect(seen == Self.expected.count)
    }
}

@Suite(.enabled(if: corpusAvailable, "corpus folder ../shared/corpus is absent")) struct CorpusValueTests {
    func first(_ rel: String) throws -> (RunResult, Decoded) {
        let (_, r, _) = try decodeCorpusFile(rel, requested: ["t", "s"])
        return (r, try #require(r.captured.first, "\(rel)"))
    }

    @Test func zedRdpSameInBothFormats() throws {
        let (tr, t) = try first("zed-sample-data/zeek-default/rdp.log.gz")
        let (jr, j) = try first("zed-sample-data/zeek-json/rdp.json.gz")
        for e in [t, j] {
            #expect(e.values["uid"] == "CMwJl820SlYyy434c8")
            #expect(e.values["id.orig_h"] == "10.164.94.120")
            #expect(e.values["id.resp_p"] == "3389")
            #expect(e.timestamp == Timestamp(seconds: 1_521_911_721, nanos: 258_458_000))
        }
        #expect(tr.schemas.last?.logType == "rdp")
        #expect(jr.schemaChanges == 0)  // file name already gave rdp, `_path` agrees
        #expect(jr.captured[0].values["_path"] == "rdp")
    }

    @Test func ritaNodeNameFirstColumn() throws {
        let (r, e) = try first("rita-test-data/test_data/missing_host/2024-04-19/conn.10:00:00-11:00:00.log.gz")
        #expect(e.values["_node_name"] == "worker-eth0-1")
        #expect(e.values["id.orig_h"] == "120.245.134.197")
        #expect(e.timestamp == Timestamp(seconds: 1_713_520_795, nanos: 434_188_000))
        #expect(r.schemas.last?.slot("observer.name") == 0)
        #expect(r.schemas.last?.slot("source.ip") == 3)
    }

    @Test func ritaTruncatedAndHeaderless() throws {
        // conn.log: 58 complete lines, the 59th is cut in the middle of a column → field_count.
        let (a, ae) = try first("rita-test-data/test_data/truncated/conn.log")
        #expect(a.events == 58 && a.malformed == [.fieldCount: 1])
        #expect(ae.values["uid"] == "Ci85EB2YjUI9a2eql6")
        // conn_top.log: the same lines without any header: default conn layout assumed, last line cut.
        let (b, be) = try first("rita-test-data/test_data/truncated/conn_top.log")
        #expect(b.events == 58 && b.malformed == [.fieldCount: 1])
        #expect(be.values["id.resp_h"] == "10.233.233.5")
        #expect(b.schemas.first?.logType == "conn")
        // conn_json.log: 4 lines, the second is cut mid-object → bad_json.
        let (c, ce) = try first("rita-test-data/test_data/truncated/conn_json.log")
        #expect(c.events == 3 && c.malformed == [.badJSON: 1])
        #expect(ce.values["id.orig_h"] == "10.50.200.10")
        // has_unknown_field: 30 declared columns (incl. i_dont_exist); one line has 29 → field_count.
        let (d, _) = try first("rita-test-data/test_data/has_unknown_field/http.log")
        #expect(d.events == 4 && d.malformed == [.fieldCount: 1])
    }

    @Test func ritaProxyDnsListsAndStratosphereJSON() throws {
        let (_, e) = try first("rita-test-data/test_data/proxy/dns.log")
        #expect(e.values["query"] == "_homekit._tcp.local")
        #expect(e.values["qclass_name"] == "qclass-32769")
        let (_, s) = try first("stratosphere-security-datasets-for-testing/002-zeek-scenario-port-scanning/conn.log.gz")
        #expect(s.values["id.orig_h"] == "172.16.1.11")
        #expect(s.values["service"] == "dns")
        #expect(s.timestamp == Timestamp(seconds: 1_664_462_456, nanos: 755_299_000))
    }

    @Test func btestEscapesAndTimestamps() throws {
        let base = "zeek-btest-baselines/testing/btest/Baseline/scripts.base.frameworks.logging."
        let (esc, _) = try first(base + "ascii-escape/ssh.log")
        #expect(esc.captured.map { $0.values["status"] } == ["success", "failure", "fa||ure", "su||ess", "failure"])
        let (sep, s) = try first(base + "ascii-escape-set-separator/test.log")
        #expect(elements(s.values["ss"]!, "\u{1F}") == [",", "CC", ",,", "AA"])
        #expect(sep.events == 1)
        let (_, iso) = try first(base + "ascii-json-iso-timestamps/ssh.log")
        #expect(iso.values["t"] == "2008-07-09T16:13:30.005432Z")
        let (_, neg) = try first(base + "ascii-negative-ts/test.log.ts_iso8601")
        #expect(neg.timestamp == Timestamp(seconds: -315_619_200))
        let (_, ms) = try first(base + "ascii-negative-ts/test.log.ts_millis")
        #expect(ms.timestamp == Timestamp(seconds: -315_619_200))
        let (ts, _) = try first(base + "ascii-timestamps/test.log")
        #expect(ts.captured[2].values["data"] == "1234567890.010000")
        let (lc, _) = try first(base + "ascii-line-like-comment/test.log")
        #expect(lc.captured.map { $0.values["data"] } == ["Test1", "#Kaputt", "Test2"])
        let (u8, _) = try first(base + "ascii-json-utf8/ssh.log.hex")
        #expect(u8.captured[1].values["s"] == "\u{8}\u{c}\n\r\t\\x00\\x15")
    }
}
