import FlowhoundTestSupport
import Testing
import FlowhoundCore
@testable import FlowhoundParse

@Suite struct JSONTests {
    @Test func dottedUnderscoreNested() throws {
        let text = """
            {"ts":1547188415.857497,"uid":"C1","id.orig_h":"192.168.86.167","id.orig_p":38339,"id.resp_h":"192.168.86.1","id.resp_p":53,"proto":"udp","conn_state":"SF","local_orig":true,"orig_bytes":null}
            {"ts":2,"uid":"C2","id_orig_h":"10.0.0.1","id_resp_p":22}
            {"ts":3,"id":{"orig_h":"10.0.0.2","resp_h":"10.0.0.3","resp_p":445},"proto":"tcp"}

            """
        let r = json(text, fileName: "conn.log")
        #expect(r.events == 3)
        #expect(r.malformedTotal == 0)
        #expect(r.schemaChanges == 0)
        let e = r.captured
        #expect(e[0].values["id.orig_h"] == "192.168.86.167")
        #expect(e[0].values["id.orig_p"] == "38339")
        #expect(e[0].values["local_orig"] == "true")
        #expect(e[0].values["orig_bytes"] == .some(nil))
        #expect(e[0].timestamp == Timestamp(seconds: 1_547_188_415, nanos: 857_497_000))
        #expect(e[1].values["id.orig_h"] == "10.0.0.1")
        #expect(e[1].values["id.resp_p"] == "22")
        #expect(e[2].values["id.orig_h"] == "10.0.0.2")
        #expect(e[2].values["id.resp_p"] == "445")
        #expect(e[2].values["proto"] == "tcp")
    }

    @Test func isoAndEpochTimestamps() {
        let text = """
            {"ts":"2020-09-14T16:43:47.409Z"}
            {"ts":"2020-09-14T16:43:47.409123456+09:00"}
            {"ts":"2020-09-14T16:43:47Z"}
            {"ts":"2020-09-14T16:43:47.4-0130"}
            {"ts":"1960-01-01T00:00:00.000000Z"}
            {"ts":-315619200.0}
            {"ts":1600101827409}
            {"ts":"not a time"}
            {"ts":18446743758090351616}

            """
        let r = json(text, fileName: "conn.log")
        #expect(r.events == 7)
        #expect(r.malformed[.badTimestamp] == 2)
        let base: Int64 = 1_600_101_827
        let t = r.captured.map { $0.timestamp }
        #expect(t[0] == Timestamp(seconds: base, nanos: 409_000_000))
        #expect(t[1] == Timestamp(seconds: base - 9 * 3600, nanos: 409_123_456))
        #expect(t[2] == Timestamp(seconds: base))
        #expect(t[3] == Timestamp(seconds: base + 5400, nanos: 400_000_000))
        #expect(t[4] == Timestamp(seconds: -315_619_200))
        #expect(t[5] == Timestamp(seconds: -315_619_200))
        #expect(t[6] == Timestamp(seconds: base, nanos: 409_000_000))
        #expect(t[0]?.iso8601 == "2020-09-14T16:43:47.409000Z")
    }

    @Test func arraysAndEscapes() {
        let text = #"""
            {"ts":1,"query":"a\"b\\c\/d\n","answers":["1.2.3.4","x\u00e9y",7,null,{"skip":[1]},"z"],"TTLs":[],"qtype_name":"\ud83d\ude80!","rcode_name":"\ud800x"}
            """#
        let r = json(text + "\n", fileName: "dns.log")
        #expect(r.events == 1)
        let e = r.captured[0]
        #expect(e.values["query"] == "a\"b\\c/d\n")
        #expect(elements(e.values["answers"]!, "\u{1F}") == ["1.2.3.4", "xéy", "7", "z"])
        #expect(e.values["TTLs"] == "")
        #expect(e.values["qtype_name"] == "🚀!")
        #expect(e.values["rcode_name"] == "\u{FFFD}x")
    }

    @Test func listValueCarriesSeparator() {
        let d = ZeekJSONDecoder(fileName: "dns.log", requestedFields: [], maxLineLength: 4096)
        var rec = EventRecord(capacity: 1)
        defer { rec.deallocate() }
        var line = Array(#"{"answers":["a","b"],"query":"plain"}"#.utf8)
        let o = line.withUnsafeMutableBufferPointer { d.decode($0.baseAddress!, $0.count, into: &rec) }
        #expect(o == .event)
        let slot = d.schema.slot("dns.answers.data")!
        #expect(rec[slot].listSeparator == 0x1F)
        #expect(rec[slot].count == 3)
        let q = rec[d.schema.slot("query")!]
        line.withUnsafeBufferPointer { b in
            #expect(q.base == b.baseAddress! + 30)  // unescaped strings point into the line
        }
    }

    @Test func requestedLiteralKeysAndAliases() throws {
        let text = #"{"ts":1,"_path":"conn","community_id":"1:abc","custom":{"deep":{"k":"v"}},"source":{"ip":"9.9.9.9"}}"#
        let r = json(text + "\n", fileName: "stream.json", requested: ["custom.deep.k", "src_ip", "network.community_id"])
        #expect(r.events == 1)
        #expect(r.schemaChanges == 1)
        let s = try #require(r.schemas.last)
        #expect(s.logType == "conn")
        #expect(s.slot("custom.deep.k") != nil)
        #expect(r.captured[0].values["custom.deep.k"] == "v")
        #expect(r.captured[0].values["community_id"] == "1:abc")
        #expect(r.captured[0].values["id.orig_h"] == "9.9.9.9")  // ECS-shaped key reaches the native slot
    }

    @Test func pathSwitchesSchema() {
        let text = """
            {"_path":"dns","ts":1,"query":"a.example"}
            {"_path":"conn","ts":2,"conn_state":"S0"}
            {"_path":"dns","ts":3,"query":"b.example"}

            """
        let r = json(text, fileName: "all.json")
        #expect(r.events == 3)
        #expect(r.schemaChanges == 3)
        #expect(r.schemas.map(\.logType) == ["dns", "conn", "dns"])
        #expect(r.captured[2].values["query"] == "b.example")
    }

    @Test func keyHeuristic() {
        #expect(json(#"{"ts":1,"uid":"C","conn_state":"S0"}"# + "\n", fileName: "x.json").schemas.first?.logType == "conn")
        #expect(json(#"{"ts":1,"query":"a","qtype_name":"A"}"# + "\n", fileName: "x.json").schemas.first?.logType == "dns")
        #expect(json(#"{"ts":1,"named_pipe":"\\pipe\\x"}"# + "\n", fileName: "x.json").schemas.first?.logType == "dce_rpc")
    }

    @Test(arguments: [
        "{", "{\"a\"", "{\"a\":", "{\"a\":\"x", "{\"a\":1", "{\"a\":1,", "[1,2]", "garbage", "{\"a\":tru}",
        "{\"a\":1}}", "{\"a\":\"\\q\"}", "{\"a\":[1,2}", "{\"ts\":1,\"uid\":\"C\"", "{\"a\" 1}", "{'a':1}",
        "{\"a\":{\"b\":1}", "{\"a\":\"\\u12\"}", "{\"a\":1 2}",
    ])
    func badJSON(_ s: String) {
        let r = json(s + "\n", fileName: "conn.log", requested: ["a", "a.b"])
        #expect(r.events == 0)
        #expect(r.malformed[.badJSON] == 1, "\(s)")
    }
}

@Suite struct FuzzTests {
    static let seeds: [String] = [
        #"{"ts":"2018-03-24T17:16:39.739898Z","uid":"C\u00e9","id.orig_h":"10.0.0.1","answers":["a","b\n"],"id":{"resp_h":"1.2.3.4"},"x":[[1],{"y":2}],"n":null,"b":true,"d":-1.5e3}"#,
        "#separator \\x09",
        "#fields\tts\tuid\tid.orig_h\ttunnel_parents\tlocal_orig",
        "#types\ttime\tstring\taddr\tset[string]\tbool",
        "1.0\tC\\x41\t10.0.0.1\ta,b\\x2c,c\tT",
        "1.0\t(empty)\t-\t(empty)\tF",
        "#set_separator\t\\xc2\\xae",
        "#separator ||",
    ]

    func mutate(_ s: [UInt8], _ g: inout SplitMix) -> [UInt8] {
        var b = s
        let alphabet: [UInt8] = Array("{}[]\":,\\u0123456789abcdefxXT F-.#\t\n\r ".utf8) + [0, 0xFF, 0xC3, 0xED]
        switch g.next() % 4 {
        case 0: if !b.isEmpty { b = Array(b.prefix(Int(g.next() % UInt64(b.count)))) }  // truncate
        case 1:
            for _ in 0..<(1 + g.next() % 8) where !b.isEmpty {
                b[Int(g.next() % UInt64(b.count))] = alphabet[Int(g.next() % UInt64(alphabet.count))]
            }
        case 2: b = (0..<Int(g.next() % 200)).map { _ in UInt8(truncatingIfNeeded: g.next()) }  // byte soup
        default:
            b = (0..<Int(g.next() % 120)).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }
        }
        return b
    }

    @Test func randomInputsNeverCrashOrHang() {
        var g = SplitMix(state: 0xF10A_4D)
        let tsvD = ZeekTSVDecoder(fileName: "conn.log", maxLineLength: 512)
        let jsonD = ZeekJSONDecoder(fileName: "conn.log", requestedFields: ["a.b", "x"], maxLineLength: 512)
        var rec = EventRecord(capacity: 2)
        defer { rec.deallocate() }
        var outcomes = 0
        for i in 0..<6000 {
            let seed = Array(Self.seeds[i % Self.seeds.count].utf8)
            var line = i % 10 == 0 ? seed : mutate(seed, &g)
            line.reserveCapacity(line.count + 1)
            line.withUnsafeMutableBufferPointer { b in
                let p = UnsafePointer(b.baseAddress ?? UnsafeMutablePointer<UInt8>.allocate(capacity: 1))
                for d in [tsvD as any LineDecoder, jsonD] {
                    var o = d.decode(p, b.count, into: &rec)
                    if o == .schemaChanged { o = d.decode(p, b.count, into: &rec) }
                    if o == .event {
                        // every present value must lie inside the record's reach and be readable
                        for k in 0..<d.schema.fieldCount { _ = rec[k].string }
                    }
                    outcomes += 1
                }
            }
        }
        #expect(outcomes == 12000)
    }
}
