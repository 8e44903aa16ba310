import CByteScan
import Foundation
import FlowhoundTestSupport
import Testing
import FlowhoundCore
@testable import FlowhoundParse

/// The Zeek JSON decoder's C fast path (`flowhound_zeek_json_scan`) against the Swift parser it sits in front of
/// (the previous behaviour: `fastPath = false`), on random, mutated and corpus lines, and against Foundation's
/// `JSONSerialization` (here in the test only) on valid ones.
@Suite struct JSONFastPathTests {
    /// Fields rules typically read (a sparse restriction as the scan sets it).
    static let ruleFields = ["id.orig_h", "id.resp_h", "id.resp_p", "proto", "service", "conn_state", "history",
                             "orig_bytes", "resp_bytes", "duration", "query"]

    enum Restriction: CaseIterable { case none, ruleFields, nothing }

    /// What a decoder made of one line.
    struct Snapshot: Equatable {
        var outcome: String
        var logType: String
        var timestamp: Timestamp?
        var fields: [String]  // per slot: "-" absent, else separator + hex bytes
    }

    final class Harness {
        let decoder: ZeekJSONDecoder
        let restriction: Restriction
        var record = EventRecord(capacity: 4)

        init(fileName: String, requested: Set<String>, restriction: Restriction, fast: Bool) {
            decoder = ZeekJSONDecoder(fileName: fileName, requestedFields: requested, maxLineLength: 4096)
            decoder.fastPath = fast
            self.restriction = restriction
            restrict()
        }

        deinit { record.deallocate() }

        func restrict() {
            switch restriction {
            case .none: decoder.decodeOnly(slots: nil)
            case .ruleFields:
                decoder.decodeOnly(slots: JSONFastPathTests.ruleFields.compactMap { decoder.schema.slot($0) })
            case .nothing: decoder.decodeOnly(slots: [])
            }
        }

        /// Decodes one line as the scan does (adopting a changed schema, then decoding the line again).
        func feed(_ line: [UInt8]) -> Snapshot {
            record.ensureCapacity(decoder.schema.fieldCount)
            var outcome = line.withUnsafeBufferPointer { b in
                decoder.decode(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count, into: &record)
            }
            var changes = 0
            while outcome == .schemaChanged && changes < 3 {
                changes += 1
                record.ensureCapacity(decoder.schema.fieldCount)
                restrict()
                outcome = line.withUnsafeBufferPointer { b in
                    decoder.decode(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count, into: &record)
                }
            }
            return snapshot(outcome, changes: changes)
        }

        func snapshot(_ outcome: DecodeOutcome, changes: Int) -> Snapshot {
            var s = Snapshot(
                outcome: "\(outcome)/\(changes)", logType: decoder.schema.logType, timestamp: nil, fields: [])
            if outcome == .event || outcome == .malformed(.badTimestamp) {
                s.timestamp = record.timestamp
                for k in 0..<decoder.schema.fieldCount {
                    let v = record[k]
                    guard let base = v.base else {
                        s.fields.append("-")
                        continue
                    }
                    let bytes = UnsafeBufferPointer(start: base, count: v.count)
                    s.fields.append("\(v.listSeparator):" + bytes.map { String($0, radix: 16) }.joined(separator: " "))
                }
            }
            return s
        }

        /// Decodes one line with every field (`decodeAllFields`, as the scan does for a line that matched).
        func feedAll(_ line: [UInt8]) -> Snapshot {
            record.ensureCapacity(decoder.schema.fieldCount)
            let outcome = line.withUnsafeBufferPointer { b in
                decoder.decodeAllFields(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count, into: &record)
            }
            if outcome == .schemaChanged {
                restrict()
                return Snapshot(outcome: "schemaChanged", logType: decoder.schema.logType, timestamp: nil, fields: [])
            }
            return snapshot(outcome, changes: 0)
        }
    }

    /// Lines where the fast and the general parser disagree (with the first few described).
    func differences(_ lines: [[UInt8]], fileName: String, requested: Set<String> = []) -> (Int, [String]) {
        var count = 0
        var notes: [String] = []
        for r in Restriction.allCases {
            let fast = Harness(fileName: fileName, requested: requested, restriction: r, fast: true)
            let slow = Harness(fileName: fileName, requested: requested, restriction: r, fast: false)
            for line in lines {
                let a = fast.feed(line)
                let b = slow.feed(line)
                if a != b {
                    count += 1
                    if notes.count < 5 {
                        notes.append("\(r): \(String(decoding: line, as: UTF8.self))\n fast \(a)\n slow \(b)")
                    }
                }
            }
        }
        return (count, notes)
    }

    // MARK: random Zeek-like lines

    static let states = ["SF", "S0", "REJ", "RSTO", "RSTR", "SH", "OTH", "S1"]

    static func ip(_ g: inout SplitMix) -> String {
        if g.below(10) == 0 { return "fe80::\(String(g.below(65536), radix: 16)):1" }
        return "\(g.below(2) == 0 ? 10 : g.below(256)).\(g.below(256)).\(g.below(256)).\(g.below(256))"
    }

    static func number(_ g: inout SplitMix) -> String {
        switch g.below(8) {
        case 0: return "-\(g.below(1000))"
        case 1: return "\(g.below(100)).\(g.below(1_000_000))e\(g.below(2) == 0 ? "+" : "-")\(g.below(5))"
        case 2: return "0"
        case 3: return "\(g.next() % 1_000_000_000_000_000)"
        default: return "\(g.below(100_000))"
        }
    }

    /// A JSON string literal (quotes included) with occasional escapes and non-ASCII text.
    static func string(_ g: inout SplitMix, plain: String, escapes: Bool) -> String {
        guard escapes else { return "\"\(plain)\"" }
        switch g.below(12) {
        case 0: return "\"\(plain)\\\"q\""
        case 1: return "\"a\\\\b\\/c\\n\\t\""
        case 2: return "\"x\\u00e9y\\u0041\""
        case 3: return "\"\\ud83d\\ude80 rocket\""
        case 4: return "\"héllo \(plain)\""
        default: return "\"\(plain)\""
        }
    }

    /// One key/value pair of a conn-like line.
    static func pair(_ key: String, _ g: inout SplitMix, escapes: Bool) -> String {
        let value: String
        switch key {
        case "ts":
            value = g.below(6) == 0
                ? "\"2023-11-14T22:13:20.\(g.below(1000))Z\"" : "1699999\(g.below(1000)).\(g.below(1_000_000))"
        case "uid": value = string(&g, plain: "C\(g.next() % 1_000_000_000)", escapes: escapes)
        case "id.orig_h", "id.resp_h": value = "\"\(ip(&g))\""
        case "id.orig_p", "id.resp_p", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "resp_pkts":
            value = g.below(15) == 0 ? "null" : "\(g.below(70000))"
        case "duration": value = number(&g)
        case "proto": value = ["\"tcp\"", "\"udp\"", "\"icmp\""][g.below(3)]
        case "service":
            let plain = ["dns", "ssl", "http", "smb,krb"][g.below(4)]
            value = g.below(8) == 0 ? "null" : string(&g, plain: plain, escapes: escapes)
        case "conn_state": value = "\"\(states[g.below(states.count)])\""
        case "local_orig", "local_resp": value = g.below(2) == 0 ? "true" : "false"
        case "history": value = string(&g, plain: "ShADad", escapes: escapes)
        case "tunnel_parents": value = g.below(2) == 0 ? "[]" : "[\"Cabc\",\"Cdef\"]"
        case "_path": value = g.below(10) == 0 ? "\"dns\"" : "\"conn\""
        case "id": value = "{\"orig_h\":\"\(ip(&g))\",\"resp_p\":\(g.below(65536))}"
        case "query": value = string(&g, plain: "example.com", escapes: escapes)
        default: value = g.below(3) == 0 ? "[1,{\"a\":[2]},\"x\"]" : (g.below(2) == 0 ? "{\"k\":\"v\"}" : number(&g))
        }
        return "\"\(key)\":" + value
    }

    static let connKeys = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
                           "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
                           "missed_bytes", "history", "orig_pkts", "resp_pkts", "tunnel_parents"]
    static let otherKeys = ["_path", "_write_ts", "id", "id_orig_h", "a_rather_long_unknown_key_name", "x", "query",
                            "id\\u002eresp_p", ""]

    /// A conn-like line: canonical key order with omissions, sometimes shuffled, extra keys, duplicates, blanks.
    static func randomLine(_ g: inout SplitMix, allowExtras: Bool = true) -> String {
        var keys = connKeys.filter { _ in g.below(6) != 0 }
        if allowExtras {
            if g.below(4) == 0 { keys.insert(otherKeys[g.below(otherKeys.count)], at: g.below(keys.count + 1)) }
            if g.below(8) == 0 { keys.insert("_path", at: g.below(2) == 0 ? 0 : keys.count) }
            if g.below(10) == 0, let k = keys.randomElement(using: &g) { keys.append(k) }  // duplicate
            if g.below(10) == 0 { keys.shuffle(using: &g) }
        }
        let pairs = keys.map { pair($0, &g, escapes: allowExtras) }
        if allowExtras && g.below(8) == 0 {
            let sep = [" , ", ",\t", ", "][g.below(3)]
            return "{ " + pairs.map { $0.replacingOccurrences(of: "\":", with: "\" : ") }.joined(separator: sep) + " }"
        }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    static func mutate(_ s: [UInt8], _ g: inout SplitMix) -> [UInt8] {
        var b = s
        let alphabet: [UInt8] = Array("{}[]\":,\\u0123456789abcdefnulltrsE+-. _p\t\r\n".utf8) + [0, 0xFF, 0xC3]
        for _ in 0...g.below(3) {
            switch g.below(5) {
            case 0: if !b.isEmpty { b = Array(b.prefix(g.below(b.count))) }
            case 1: b.insert(alphabet[g.below(alphabet.count)], at: g.below(b.count + 1))
            case 2: if !b.isEmpty { b.remove(at: g.below(b.count)) }
            case 3: if !b.isEmpty { b[g.below(b.count)] = alphabet[g.below(alphabet.count)] }
            default:
                if b.count > 2 {
                    let i = g.below(b.count - 1)
                    b.swapAt(i, i + 1)
                }
            }
        }
        return b
    }

    // MARK: tests

    @Test func fastPathTakesPlainLinesAndHandsBackTheRest() {
        let d = ZeekJSONDecoder(fileName: "conn.log", requestedFields: [], maxLineLength: 4096)
        let table = d.table
        var generation: Int64 = 0
        func scan(_ s: String, wanted: [String]? = nil) -> Int64 {
            generation += 1  // a new restriction each call (the flags array may reuse an address)
            var flags = [UInt8](repeating: 0, count: d.schema.fieldCount)
            for w in wanted ?? [] { flags[d.schema.slot(w)!] = 1 }
            var values = [flowhound_field](repeating: flowhound_field(), count: d.schema.fieldCount)
            var end: Int64 = 0
            var found: Int64 = 0
            let line = Array(s.utf8)
            return flags.withUnsafeBufferPointer { f in
                var a = flowhound_json_scan_args(
                    table: table.raw, wanted: wanted == nil ? nil : f.baseAddress,
                    wanted_count: Int64(wanted?.count ?? -1),
                    stop_after: Int64(wanted.map { $0.count - 1 } ?? d.schema.fieldCount),
                    path_slot: Int64(d.schema.slot("_path") ?? -1), wanted_generation: generation,
                    clear: nil, clear_count: 0)
                return flowhound_zeek_json_scan(line, Int64(line.count), 0, &a, &values, &end, &found)
            }
        }
        let plain = #"{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.resp_p":445,"local_orig":true,"x":null}"#
        #expect(scan(plain) == 1)
        #expect(scan(plain, wanted: ["ts", "_path", "id.orig_h"]) == 2)  // stopped after id.orig_h
        #expect(scan(#"{"ts":1,"uid":"C\"1"}"#) == -1)  // decoded string with an escape
        #expect(scan(#"{"ts":1,"uid":"C\"1"}"#, wanted: ["ts", "_path", "id.orig_h"]) == 1)  // not decoded: skipped
        #expect(scan(#"{"ts":1,"id":{"orig_h":"10.0.0.1"}}"#) == -1)  // nested object
        #expect(scan(#"{"ts":1,"tunnel_parents":["C"]}"#) == -1)  // decoded array
        #expect(scan(#"{"ts":1,"other":[1,{"a":2}]}"#) == 1)  // skipped array
        #expect(scan(#"{"ts":1,"uid":tru}"#) == 0)
        #expect(scan(#"{"ts":1,}"#) == 1)  // as the Swift parser: a trailing comma is accepted
        #expect(scan(#"{"ts":1,"local_orig":true ,"x":false}"#) == 1)  // blanks after a literal
        #expect(scan(#"{ "ts" : 1 , "uid" : "C" }"#) == 1)
        #expect(scan(#"{"ts":1,"local_orig":truex}"#) == 0)
        #expect(scan(#"{"ts":1,"uid":"C"} x"#) == 0)  // the object must end the line
        #expect(scan(#"{"ts":1,"uid":"C"}}"#) == 1)  // closed before the end: the decoder rejects the rest
        #expect(scan(#"{"ts":1.5e+3,"id.resp_p":-0,"duration":1E5}"#) == 1)
        #expect(scan(#"{"ts":1.5x,"uid":"C"}"#) == 0)
    }

    @Test func randomLinesDecodeAlikeOnBothPaths() {
        var g = SplitMix(seed: 0x5EED_0008)
        var lines: [[UInt8]] = []
        for _ in 0..<3000 { lines.append(Array(Self.randomLine(&g).utf8)) }
        let (n, notes) = differences(lines, fileName: "conn.log", requested: ["a_rather_long_unknown_key_name"])
        #expect(n == 0, "\(notes.joined(separator: "\n"))")
    }

    @Test func mutatedLinesDecodeAlikeOnBothPaths() {
        var g = SplitMix(seed: 0xBAD_5EED)
        var lines: [[UInt8]] = []
        for _ in 0..<6000 { lines.append(Self.mutate(Array(Self.randomLine(&g).utf8), &g)) }
        let (n, notes) = differences(lines, fileName: "conn.log")
        #expect(n == 0, "\(notes.joined(separator: "\n"))")
        // The same lines in a file without a log type in its name (the key heuristic, `_path` switches).
        let (m, notes2) = differences(lines, fileName: "stream.json")
        #expect(m == 0, "\(notes2.joined(separator: "\n"))")
    }

    /// Valid lines: every decoded field equals what JSONSerialization reads for that key.
    @Test func validLinesMatchJSONSerialization() throws {
        var g = SplitMix(seed: 42)
        let d = ZeekJSONDecoder(fileName: "conn.log", requestedFields: [], maxLineLength: 4096)
        var record = EventRecord(capacity: d.schema.fieldCount)
        defer { record.deallocate() }
        var checked = 0
        for _ in 0..<2000 {
            var text = Self.randomLine(&g, allowExtras: false)
            if g.below(3) == 0 { text = text.replacingOccurrences(of: "\"uid\":\"", with: "\"uid\":\"\\u00e9\\\"") }
            let line = Array(text.utf8)
            let outcome = line.withUnsafeBufferPointer { d.decode($0.baseAddress!, $0.count, into: &record) }
            #expect(outcome == .event, "\(text)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            for (key, value) in object {
                let slot = try #require(d.schema.slot(key), "\(key)")
                let got = record[slot]
                switch value {
                case is NSNull:
                    #expect(got.base == nil, "\(key) in \(text)")
                case let s as String:
                    #expect(got.string == s, "\(key) in \(text)")
                case let a as [String]:
                    let parts = got.count == 0
                        ? [] : got.string!.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
                    #expect(parts == a, "\(key) in \(text)")
                case let n as NSNumber:
                    let s = try #require(got.string, "\(key) in \(text)")
                    if s == "true" || s == "false" {
                        #expect(n.boolValue == (s == "true"), "\(key) in \(text)")
                    } else {
                        #expect(Double(s) == n.doubleValue, "\(key) \(s) vs \(n) in \(text)")
                    }
                default:
                    Issue.record("unexpected value for \(key) in \(text)")
                }
                checked += 1
            }
        }
        #expect(checked > 20_000)
    }

    /// The restriction changes between lines (and `decodeAllFields` interleaves) as the scan does on schema changes
    /// and matches: the C table's per-key restriction must follow every change.
    @Test func changingRestrictionsDecodeAlike() {
        var g = SplitMix(seed: 0xC0FFEE)
        let fast = Harness(fileName: "conn.log", requested: [], restriction: .none, fast: true)
        let slow = Harness(fileName: "conn.log", requested: [], restriction: .none, fast: false)
        var differing: [String] = []
        for _ in 0..<4000 {
            var line = Array(Self.randomLine(&g).utf8)
            if g.below(4) == 0 { line = Self.mutate(line, &g) }
            let action = g.below(5)
            for h in [fast, slow] {
                switch action {
                case 0: h.decoder.decodeOnly(slots: nil)
                case 1: h.decoder.decodeOnly(slots: Self.ruleFields.compactMap { h.decoder.schema.slot($0) })
                case 2: h.decoder.decodeOnly(slots: [])
                case 3: h.decoder.decodeOnly(slots: ["ts", "history"].compactMap { h.decoder.schema.slot($0) })
                default: break  // keep the restriction of the line before
                }
            }
            let a: Snapshot
            let b: Snapshot
            if g.below(6) == 0 {
                a = fast.feedAll(line)
                b = slow.feedAll(line)
            } else {
                a = fast.feed(line)
                b = slow.feed(line)
            }
            if a != b && differing.count < 5 {
                differing.append("\(String(decoding: line, as: UTF8.self))\n \(a)\n \(b)")
            }
        }
        #expect(differing.isEmpty, "\(differing.joined(separator: "\n"))")
    }

    @Test func corpusZeekJSONDecodesAlikeOnBothPaths() throws {
        guard corpusAvailable else { return }
        let files = [
            "rita-test-data/test_data/json_with_all_fields/conn.log",
            "rita-test-data/test_data/json_with_all_fields/open_conn.log",
            "rita-test-data/test_data/json_with_all_fields/dns.log",
            "rita-test-data/test_data/json_with_all_fields/http.log",
            "rita-test-data/test_data/json_with_all_fields/ssl.log",
            "rita-test-data/test_data/truncated/conn_json.log",
            "elastic-beats/x-pack/filebeat/module/zeek/connection/test/connection-json.log",
            "elastic-beats/x-pack/filebeat/module/zeek/ssh/test/ssh-json.log",
            "elastic-beats/x-pack/filebeat/module/zeek/kerberos/test/kerberos-json.log",
            "elastic-beats/x-pack/filebeat/module/zeek/dce_rpc/test/dce_rpc-json.log",
            "elastic-beats/x-pack/filebeat/module/zeek/rdp/test/rdp-json.log",
            "elastic-beats/x-pack/filebeat/module/zeek/ntlm/test/ntlm-json.log",
            "zeek-btest-baselines/testing/btest/Baseline/scripts.base.frameworks.logging.json-non-printable-escaping/http.log.json",
        ]
        var total = 0
        var g = SplitMix(seed: 7)
        for f in files {
            let url = corpusRoot.appendingPathComponent(f)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                print("note: corpus file \(f) is absent; skipped")
                continue
            }
            let lines = data.split(separator: 10, omittingEmptySubsequences: false).prefix(20_000).map { Array($0) }
            total += lines.count
            let name = url.lastPathComponent
            let (n, notes) = differences(lines, fileName: name)
            #expect(n == 0, "\(f): \(notes.joined(separator: "\n"))")
            let mutated = lines.prefix(2000).map { Self.mutate($0, &g) }
            let (m, notes2) = differences(mutated, fileName: name)
            #expect(m == 0, "\(f) mutated: \(notes2.joined(separator: "\n"))")
        }
        #expect(total > 100)
    }

    // MARK: value lengths, alternating key sets, Zeek time

    /// A compact line whose strings and numbers have lengths 0-40 (across the 16- and 32-byte steps of the scan),
    /// with keys from one of two key sets (as conn lines with and without `service` / `duration`), sometimes
    /// mutated or with a long unpredictable key, so the key-order predictions (first and second guess) and every
    /// value-length case of the C loops meet the Swift parser.
    static func lengthLine(_ g: inout SplitMix) -> [UInt8] {
        let digits = Array("0123456789")
        func digitRun(_ n: Int) -> String { String((0..<n).map { _ in digits[g.below(10)] }) }
        func number() -> String {
            let n = g.below(41)
            switch g.below(8) {
            case 0: return "-" + digitRun(max(n, 1))
            case 1: return digitRun(max(n / 2, 1)) + "." + digitRun(max(n / 2, 1))
            case 2: return digitRun(max(n / 2, 1)) + "e" + (g.below(2) == 0 ? "+" : "-") + digitRun(1 + g.below(3))
            default: return digitRun(max(n, 1))
            }
        }
        func string() -> String {
            let n = g.below(41)
            let letters = Array("abcdefghijklmnopqrstuvwxyzABC_.:,{}[] 0123456789")
            var text = String((0..<n).map { _ in letters[g.below(letters.count)] })
            if g.below(12) == 0, !text.isEmpty { text.insert(contentsOf: "\\\"", at: text.index(text.startIndex, offsetBy: g.below(text.count))) }
            return "\"" + text + "\""
        }
        let withService = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
                           "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "missed_bytes",
                           "history", "orig_pkts", "resp_ip_bytes"]
        var keys = g.below(2) == 0 ? withService : withService.filter { $0 != "service" && $0 != "duration" }
        if g.below(5) == 0 { keys.insert("a_rather_long_unknown_key_name", at: g.below(keys.count + 1)) }
        if g.below(7) == 0 { keys.remove(at: g.below(keys.count)) }
        let pairs = keys.map { key -> String in
            let value: String
            switch key {
            case "ts":
                // exponent forms too, including ones past the Int64 nanosecond range (9999999999.5e0: bad_timestamp)
                value =
                    g.below(4) == 0
                    ? digitRun(1 + g.below(20))
                    : g.below(8) == 0
                        ? "\(digitRun(1 + g.below(11))).\(digitRun(1 + g.below(3)))e\(g.below(2) == 0 ? "" : "-")\(g.below(3))"
                        : "1699\(digitRun(6)).\(digitRun(6))"
            case "local_orig": value = ["true", "false", "null", "tru"][g.below(g.below(20) == 0 ? 4 : 3)]
            default: value = g.below(2) == 0 ? number() : string()
            }
            return "\"\(key)\":\(value)"
        }
        var line = Array(("{" + pairs.joined(separator: ",") + "}").utf8)
        if g.below(6) == 0 { line = mutate(line, &g) }
        return line
    }

    @Test func valueLengthsAndAlternatingKeySetsDecodeAlike() {
        var g = SplitMix(seed: 0x1E_4617)
        var lines: [[UInt8]] = []
        for _ in 0..<6000 { lines.append(Self.lengthLine(&g)) }
        let (n, notes) = differences(lines, fileName: "conn.log", requested: ["a_rather_long_unknown_key_name"])
        #expect(n == 0, "\(notes.joined(separator: "\n"))")
    }

    /// `flowhound_zeek_time` (the decoder's first try for `ts`) against the Swift parser it stands for, on Zeek
    /// times, times with a byte changed, and other lengths.
    @Test func zeekTimeMatchesTheSwiftParser() {
        var g = SplitMix(seed: 0x7133)
        let alphabet = Array("0123456789.:/ -+eE".utf8) + [0, 0x7F, 0xFF, 0x2F, 0x3A]
        var accepted = 0
        for round in 0..<200_000 {
            var b = (0..<17).map { _ in UInt8(48 + g.below(10)) }
            b[10] = 46
            if round % 3 != 0 {
                for _ in 0...g.below(2) { b[g.below(17)] = g.below(3) == 0 ? UInt8(g.below(256)) : alphabet[g.below(alphabet.count)] }
            }
            if round % 41 == 0 { b = Array(b.prefix(g.below(18))) + (g.below(2) == 0 ? [] : [49, 50]) }
            let expected = b.withUnsafeBufferPointer { ZeekTSVDecoder.parseZeekTime($0.baseAddress!, $0.count) }
            var nanos: Int64 = -1
            let ok = b.withUnsafeBufferPointer { flowhound_zeek_time($0.baseAddress!, Int64($0.count), &nanos) }
            #expect((ok != 0) == (expected != nil), "\(String(decoding: b, as: UTF8.self))")
            if let expected, ok != 0 {
                #expect(nanos == expected.nanoseconds, "\(String(decoding: b, as: UTF8.self))")
                accepted += 1
            }
        }
        #expect(accepted > 60_000)
        // what the decoder makes of `ts` equals parseTime's value (ts read through the C parser when it applies)
        let d = ZeekJSONDecoder(fileName: "conn.log", requestedFields: [], maxLineLength: 4096)
        var record = EventRecord(capacity: d.schema.fieldCount)
        defer { record.deallocate() }
        for ts in ["1699999999.295206", "9999999999.999999", "0000000000.000000", "1699999999.2952", "1699999999",
                   "\"2023-11-14T22:13:20.5Z\"", "1699999999123", "\"1699999999.29520x\"", "-1699999999.29520",
                   "\"1699999999.295206\"", "\"169999999a.295206\""] {
            let line = Array("{\"ts\":\(ts),\"uid\":\"C1\"}".utf8)
            let outcome = line.withUnsafeBufferPointer { d.decode($0.baseAddress!, $0.count, into: &record) }
            let raw = Array((ts.hasPrefix("\"") ? String(ts.dropFirst().dropLast()) : ts).utf8)
            let expected = raw.withUnsafeBufferPointer { ZeekJSONDecoder.parseTime($0.baseAddress!, $0.count) }
            if let expected {
                #expect(outcome == .event && record.timestamp == expected, "\(ts)")
            } else {
                #expect(outcome == .malformed(.badTimestamp), "\(ts)")
            }
        }
    }

    /// `flowhound_json_may_contain_path` (whether the sparse scan may stop early) against a plain search.
    @Test func pathKeySearchMatchesAPlainSearch() {
        var g = SplitMix(seed: 0x9A7)
        let alphabet = Array("_path\"hx,:{".utf8)
        let key = Array("_path\"".utf8)
        var found = 0
        for _ in 0..<300_000 {
            var b = (0..<g.below(200)).map { _ in alphabet[g.below(alphabet.count)] }
            if g.below(3) == 0 && b.count >= 6 {
                let at = g.below(b.count - 5)
                b.replaceSubrange(at..<at + 6, with: key)
            }
            let expected = b.count >= 6 && (0...(b.count - 6)).contains { Array(b[$0..<$0 + 6]) == key }
            let got = b.withUnsafeBufferPointer { flowhound_json_may_contain_path($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, Int64($0.count)) }
            #expect((got != 0) == expected, "\(String(decoding: b, as: UTF8.self))")
            if expected { found += 1 }
        }
        #expect(found > 50_000)
    }
}
