import Testing
import FlowhoundCore
@testable import FlowhoundParse

private let header = """
#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2024-01-01-00-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\tlocal_orig\ttunnel_parents
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tbool\tset[string]

"""

@Suite struct TSVTests {
    @Test func headerAndValues() throws {
        let r = tsv(header + "1300475167.096535\tCabc\t10.0.0.1\t5353\t224.0.0.251\t53\tudp\tdns\t-\tT\t(empty)\n#close\t2024\n")
        #expect(r.events == 1)
        #expect(r.schemaChanges == 1)
        #expect(r.malformedTotal == 0)
        let s = try #require(r.schemas.first)
        #expect(s.logType == "conn")
        #expect(s.format == .zeekTSV)
        #expect(s.fieldCount == 11)
        #expect(s.slot("source.ip") == 2 && s.slot("src_ip") == 2 && s.slot("id_orig_h") == 2)
        #expect(s.slot("destination.port") == 5 && s.slot("dst_port") == 5)
        #expect(s.slot("network.transport") == 6 && s.slot("network.protocol") == 7)
        #expect(s.slot("zeek.connection.local_orig") == 9)
        #expect(s.slot(.sourceIP) == 2 && s.slot(.timestamp) == 0 && s.slot(.destinationPort) == 5)
        #expect(s.logSources.contains(LogSource(product: "zeek", service: "conn")))
        #expect(s.logSources.contains(LogSource(category: "firewall")))
        #expect(s.fields[10].type == .list && s.fields[10].listSeparator == 44)
        let e = r.captured[0]
        #expect(e.values["id.orig_h"] == "10.0.0.1")
        #expect(e.values["duration"] == .some(nil))
        #expect(e.values["local_orig"] == "true")
        #expect(e.values["tunnel_parents"] == "")
        #expect(e.timestamp == Timestamp(seconds: 1_300_475_167, nanos: 96_535_000))
    }

    @Test func emptyVersusUnsetAndListPresence() {
        let d = ZeekTSVDecoder(fileName: "x.log", maxLineLength: 4096)
        var rec = EventRecord(capacity: 1)
        defer { rec.deallocate() }
        let text = header + "1.5\tC\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t(empty)\t-\tF\ta,b,c\n"
        var results: [DecodeOutcome] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var l = Array(line.utf8)
            l.withUnsafeMutableBufferPointer { b in
                var o = d.decode(b.baseAddress!, b.count, into: &rec)
                if o == .schemaChanged { rec.ensureCapacity(d.schema.fieldCount); o = d.decode(b.baseAddress!, b.count, into: &rec) }
                results.append(o)
                if o == .event {
                    #expect(rec[7].isPresent && rec[7].count == 0)       // (empty) string
                    #expect(!rec[8].isPresent)                             // unset
                    #expect(rec[9].string == "false")
                    #expect(rec[10].listSeparator == 44)
                    var elems: [String] = []
                    _ = rec[10].anyElement { p, n in
                        elems.append(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)); return false
                    }
                    #expect(elems == ["a", "b", "c"])
                    #expect(rec.timestamp == Timestamp(seconds: 1, nanos: 500_000_000))
                }
            }
        }
        #expect(results.filter { $0 == .event }.count == 1)
    }

    @Test func escapesAndEscapedSetSeparator() {
        let text = header + "1.0\tC\\x41B\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t\\x2d\t-\tT\t\\x2c,CC,\\x2c\\x2c,AA\n"
        let r = tsv(text)
        #expect(r.events == 1)
        let e = r.captured[0]
        #expect(e.values["uid"] == "CAB")
        #expect(e.values["service"] == "-")  // escaped dash is a real value, not unset
        #expect(elements(e.values["tunnel_parents"]!, "\u{1F}") == [",", "CC", ",,", "AA"])
    }

    @Test func customSeparator() {
        let text = """
            #separator ||
            #set_separator||,
            #empty_field||(empty)
            #unset_field||-
            #path||ssh
            #fields||ts||id.orig_h||status||country
            #types||time||addr||string||string
            1.25||1.2.3.4||fa\\x7c\\x7cure||UK
            2.0||1.2.3.4||ok||-

            """
        let r = tsv(text, fileName: "whatever")
        #expect(r.events == 2)
        #expect(r.malformedTotal == 0)
        #expect(r.captured[0].values["status"] == "fa||ure")
        #expect(r.captured[0].values["country"] == "UK")
        #expect(r.captured[1].values["country"] == .some(nil))
        #expect(r.schemas.first?.logType == "ssh")
        #expect(r.captured[0].timestamp == Timestamp(seconds: 1, nanos: 250_000_000))
    }

    @Test func customMarkers() {
        let text = """
            #separator \\x2c
            #set_separator,;
            #empty_field,EMPTY
            #unset_field,NONE
            #fields,ts,a,s
            #types,time,string,set[string]
            3.0,NONE,x;y
            4.0,EMPTY,EMPTY

            """
        let r = tsv(text, fileName: "t.log")
        #expect(r.events == 2)
        #expect(r.captured[0].values["a"] == .some(nil))
        #expect(elements(r.captured[0].values["s"]!, ";") == ["x", "y"])
        #expect(r.captured[1].values["a"] == "")
        #expect(r.captured[1].values["s"] == "")
    }

    @Test func schemaChangeMidFileAndRepeatedHeader() {
        let second = """
            #separator \\x09
            #fields\tts\tquery
            #types\ttime\tstring
            5.0\texample.com

            """
        let text = header + "1.0\tC\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\tT\t-\n" + header
            + "2.0\tD\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\tT\t-\n" + second
        let r = tsv(text)
        #expect(r.events == 3)
        #expect(r.schemaChanges == 2)  // the identical second conn header does not count
        #expect(r.schemas.last?.fieldCount == 2)
        #expect(r.captured[2].values["query"] == "example.com")
        #expect(r.captured[2].timestamp == Timestamp(seconds: 5))
    }

    @Test func fieldCountAndNoHeader() {
        let r = tsv("hello\tworld\n" + header + "1.0\tC\t10.0.0.1\n1.0\tC\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\tT\t-\textra\n")
        #expect(r.malformed[.noHeader] == 1)
        #expect(r.malformed[.fieldCount] == 2)
        #expect(r.events == 0)
    }

    @Test func badTimestampKeepsValues() {
        let r = tsv(header + "XXXXXXXXXX.XXXXXX\tC\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\tT\t-\n")
        #expect(r.malformed[.badTimestamp] == 1)
    }

    @Test func ritaNodeNameColumn() {
        let text = """
            #separator \\x09
            #path\tconn
            #fields\t_node_name\tts\tuid\tid.orig_h
            #types\tstring\ttime\tstring\taddr
            worker-eth0-1\t1713520795.434188\tCg\t120.245.134.197

            """
        let r = tsv(text)
        #expect(r.events == 1)
        #expect(r.captured[0].values["_node_name"] == "worker-eth0-1")
        #expect(r.schemas[0].slot("observer.name") == 0)
        #expect(r.schemas[0].slot(.timestamp) == 1)
        #expect(r.captured[0].timestamp == Timestamp(seconds: 1_713_520_795, nanos: 434_188_000))
    }

    @Test func headerlessConnInferred() {
        let line = "1517336042.090842\tCi85EB2YjUI9a2eql6\t10.55.182.100\t14291\t10.233.233.5\t80\ttcp\t-\t3.000158\t0\t0\tS0\tT\tT\t0\tS\t2\t104\t0\t0\t(empty)\n"
        let d = ZeekTSVDecoder(fileName: "conn_top.log", maxLineLength: 4096)
        let r = run(d, Array((line + line).utf8))
        #expect(d.inferredHeader)
        #expect(r.events == 2)
        #expect(r.schemaChanges == 1)
        #expect(r.captured[0].values["id.resp_h"] == "10.233.233.5")
        #expect(r.captured[0].values["conn_state"] == "S0")
        #expect(d.schema.logType == "conn")
    }

    @Test func commentsAndCRLF() {
        let r = tsv(header + "#some comment\n1.0\tC\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\tT\t-\r\n\n")
        #expect(r.events == 1)
        #expect(r.captured[0].values["tunnel_parents"] == .some(nil))
        #expect(r.malformedTotal == 0)
    }

    @Test func tooLong() {
        let d = ZeekTSVDecoder(fileName: "conn.log", maxLineLength: 32)
        let r = run(d, Array((header + String(repeating: "a", count: 100) + "\n").utf8))
        #expect(r.malformed[.lineTooLong] == 1)  // header lines may be longer
        #expect(r.schemaChanges == 1)
    }
}

@Suite struct FileNameAndSnifferTests {
    @Test(arguments: [
        ("conn.log", "conn"), ("/var/log/zeek/conn.04:00:00-05:00:00.log.gz", "conn"), ("conn_20200101.log", "conn"),
        ("smb_mapping.log", "smb_mapping"), ("smb_files.json.gz", "smb_files"), ("dns.log", "dns"),
        ("conn-summary.10:00:00-11:00:00.log.gz", "conn-summary"), ("labeled-conn.log.gz", "conn"),
        ("conn.log.labeled.gz", "conn"), ("open_conn.log", "open_conn"), ("dce_rpc.log", "dce_rpc"),
        ("mystery.log", "mystery"), ("x509.log", "x509"), ("ORIGINALdns.log", "ORIGINALdns"), ("log", ""),
    ])
    func fileNames(_ name: String, _ expected: String) {
        #expect(zeekLogType(fileName: name) == expected)
    }

    func sniff(_ s: String, _ file: String = "x.log") -> LogFormat? {
        var a = Array(s.utf8)
        return a.withUnsafeMutableBufferPointer { FormatSniffer.sniff($0.baseAddress!, $0.count, fileName: file) }
    }

    @Test func sniffing() {
        #expect(sniff("#separator \\x09") == .zeekTSV)
        #expect(sniff("#fields\tts") == .zeekTSV)
        #expect(sniff("{\"ts\":1.0,\"uid\":\"C\"}") == .zeekJSON)
        #expect(sniff("  {\"ts\":\"2020-01-01T00:00:00Z\",\"id_orig_h\":\"1.2.3.4\"}") == .zeekJSON)
        #expect(sniff("{\"ts\":1,\"id\":{\"orig_h\":\"1.2.3.4\"}}") == .zeekJSON)
        #expect(sniff("{\"EventID\":4625}") == .windowsJSON)
        #expect(sniff("Jan  1 00:00:00 host sshd[1]: hi") == .syslog)
        #expect(sniff("1517336042.090842\tC\t10.55.182.100\t14291\t10.233.233.5\t80\ttcp\t-\t3.0\t0\t0\tS0\tT\tT\t0\tS\t2\t104\t0\t0\t(empty)", "conn_top.log") == .zeekTSV)
        #expect(makeDecoder(format: .syslog, fileName: "x", requestedFields: [], maxLineLength: 10) != nil)
        #expect(makeDecoder(format: .zeekTSV, fileName: "x", requestedFields: [], maxLineLength: 10) is ZeekTSVDecoder)
    }

    @Test func catalogCoversBriefTypes() {
        for t in ["conn", "dns", "http", "ssl", "ssh", "smb_mapping", "smb_files", "rdp", "kerberos", "ntlm",
                  "dce_rpc", "files", "notice", "weird", "x509", "dhcp", "software"] {
            #expect(ZeekCatalog.entry(t) != nil, "\(t)")
        }
        let dns = ZeekCatalog.schema(format: .zeekJSON, logType: "dns",
                                     fields: ZeekCatalog.entry("dns")!.fields.map { FieldSpec(name: $0.name) })
        #expect(dns.slot("dns.question.name") == dns.slot("query"))
        #expect(dns.slot("record_type") == dns.slot("qtype_name"))
        #expect(dns.slot("answer") == dns.slot("answers"))
        #expect(dns.logSources.contains(LogSource(category: "dns")))
        let http = ZeekCatalog.schema(format: .zeekJSON, logType: "http",
                                      fields: ZeekCatalog.entry("http")!.fields.map { FieldSpec(name: $0.name) })
        #expect(http.slot("c-uri") == http.slot("uri") && http.slot("url.original") == http.slot("uri"))
        #expect(http.slot("c-useragent") == http.slot("user_agent"))
        #expect(http.logSources.contains(LogSource(category: "proxy")))
    }
}
