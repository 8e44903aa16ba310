import Foundation
import Testing
import FlowhoundCore
@testable import FlowhoundParse

/// Corpus checks for the syslog, VPC flow and JSON decoders against upstream oracles.
@Suite(.enabled(if: corpusAvailable, "corpus folder ../shared/corpus is absent")) struct P3CorpusTests {
    func sniffed(_ bytes: [UInt8], _ name: String) -> LogFormat? {
        guard let nl = bytes.firstIndex(of: 10) ?? Optional(bytes.count) else { return nil }
        var first = Array(bytes[0..<nl])
        return first.withUnsafeMutableBufferPointer { FormatSniffer.sniff($0.baseAddress!, $0.count, fileName: name) }
    }

    /// loghub OpenSSH_2k: user, address, port and action per line from the structured CSV's template.
    @Test func loghubOpenSSHAgainstStructuredCSV() throws {
        let bytes = try corpusText("loghub/OpenSSH/OpenSSH_2k.log")
        #expect(sniffed(bytes, "OpenSSH_2k.log") == .syslog)
        let r = decodeLines(syslogDecoder(ref: "2017-01-05T00:00:00Z"), bytes).filter { $0.outcome != .skipped }
        #expect(r.count == 2000)
        #expect(count(r, .event) == 2000)
        let csv = readCSV(String(decoding: try corpusText("loghub/OpenSSH/OpenSSH_2k.log_structured.csv"), as: UTF8.self))
        let rows = Array(csv.dropFirst())
        #expect(rows.count == 2000)
        // EventId → (action, user capture index or literal, ip capture, port capture)
        let map: [String: (String?, Int?, Int?, Int?, String?)] = [
            "E1": ("accepted", 0, 1, 2, nil), "E2": ("connection_closed", nil, 0, nil, nil),
            "E3": ("no_identification", nil, 0, nil, nil), "E4": ("too_many_auth_failures", nil, nil, nil, "admin"),
            "E5": ("too_many_auth_failures", nil, nil, nil, "root"), "E6": ("received_disconnect", nil, 0, nil, nil),
            "E7": ("received_disconnect", nil, 0, nil, nil), "E8": ("failed", 0, 1, 2, nil), "E9": ("failed", 0, 1, 2, nil),
            "E10": ("failed", 0, 1, 2, nil), "E11": (nil, nil, nil, nil, nil), "E12": ("userauth_invalid_user", 0, nil, nil, nil),
            "E13": ("invalid_user", 0, 1, nil, nil), "E14": ("failed", nil, 1, 2, "root"),
            "E15": ("pam_more_failures", nil, 3, nil, nil), "E16": ("pam_more_failures", nil, 3, nil, nil),
            "E17": ("pam_more_failures", nil, 3, nil, "root"), "E18": ("pam_ignoring_max_retries", nil, nil, nil, nil),
            "E19": ("pam_auth_failure", nil, 2, nil, nil), "E20": ("pam_auth_failure", 3, 2, nil, nil),
            "E21": ("pam_check_pass", nil, nil, nil, nil), "E22": ("session_closed", 0, nil, nil, nil),
            "E23": ("session_opened", 0, nil, nil, nil), "E24": ("received_disconnect", nil, 0, nil, nil),
            "E25": ("received_disconnect", nil, 0, nil, nil), "E26": ("received_disconnect", nil, 0, nil, nil),
            "E27": ("reverse_mapping_failed", nil, 1, nil, nil),
        ]
        var mismatches: [String] = []
        var failures = 0, successes = 0
        for (i, row) in rows.enumerated() where i < r.count {
            let e = r[i]
            let content = row[6], eid = row[7], template = row[8]
            guard let m = map[eid] else { mismatches.append("line \(i + 1): no map for \(eid)"); continue }
            let caps = templateCaptures(template, content) ?? []
            func cap(_ k: Int?) -> String? { k.flatMap { $0 < caps.count ? caps[$0].trimmingCharacters(in: .whitespaces) : nil } }
            var want: [String: String?] = ["event.action": m.0, "program": row[4] == "LabSZ" ? "sshd" : row[4], "pid": row[5],
                                           "host": "LabSZ"]
            if let u = m.4 { want["user.name"] = u } else if m.1 != nil { want["user.name"] = cap(m.1) }
            if m.2 != nil { want["source.address"] = cap(m.2) }
            if m.3 != nil { want["source.port"] = cap(m.3).map { String($0.prefix { $0.isNumber }) } }
            for (k, v) in want where e[k] != v {
                mismatches.append("line \(i + 1) \(eid) \(k): got \(e[k] ?? "nil") want \(v ?? "nil")")
            }
            if let a = cap(m.2), IPAddress.parse(a) != nil, e["source.ip"] != a { mismatches.append("line \(i + 1) source.ip") }
            if e["event.outcome"] == "failure" { failures += 1 }
            if e["event.outcome"] == "success" { successes += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        // Failed password/none (E8-E10, E14 counts once per line), Invalid user (E13), PAM auth failure (E19, E20)
        let decisive: Set<String> = ["E8", "E9", "E10", "E13", "E14", "E19", "E20"]
        #expect(failures == rows.filter { decisive.contains($0[7]) }.count, "failures \(failures)")
        #expect(failures == 1131)
        #expect(successes == rows.filter { $0[7] == "E1" }.count)
        #expect(r[0].timestamp == ts("2016-12-10T06:55:46Z"))  // reference Jan 2017 → December is 2016
    }

    /// loghub Linux_2k: program, pid, host and message per line; rhost/user of PAM lines.
    @Test func loghubLinuxAgainstStructuredCSV() throws {
        let bytes = try corpusText("loghub/Linux/Linux_2k.log")
        let r = decodeLines(syslogDecoder(ref: "2005-08-01T00:00:00Z"), bytes).filter { $0.outcome != .skipped }
        #expect(r.count == 2000 && count(r, .event) == 2000)
        let rows = Array(readCSV(String(decoding: try corpusText("loghub/Linux/Linux_2k.log_structured.csv"), as: UTF8.self)).dropFirst())
        #expect(rows.count == 2000)
        var mismatches: [String] = []
        var pamFailures = 0
        for (i, row) in rows.enumerated() where i < r.count {
            let e = r[i]
            let want: [String: String?] = ["host": row[4], "program": row[5], "pid": row[6].isEmpty ? nil : row[6],
                                           "message": row[7].trimmingCharacters(in: .whitespaces)]
            for (k, v) in want where (k == "message" ? e[k]?.trimmingCharacters(in: .whitespaces) : e[k]) != v { mismatches.append("line \(i + 1) \(k): got \(e[k] ?? "nil") want \(v ?? "nil")") }
            if row[9].contains("rhost=<*>"), let caps = templateCaptures(row[9], row[7]) {
                let rh = caps[caps.count - (row[9].hasSuffix("user=<*>") || row[9].hasSuffix("user=root") ? (row[9].hasSuffix("<*>") ? 2 : 1) : 1)]
                    .trimmingCharacters(in: .whitespaces)
                if e["source.address"] != rh { mismatches.append("line \(i + 1) rhost \(e["source.address"] ?? "nil") want \(rh)") }
            }
            if row[5] == "sshd(pam_unix)" && e["event.action"] == "pam_auth_failure" { pamFailures += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        #expect(pamFailures == 489)  // plus one su(pam_unix) line: 490 `authentication failure … rhost=` lines in all
        #expect(r.filter { $0["event.action"] == "pam_auth_failure" }.count == 490)
        #expect(r[0].timestamp == ts("2005-06-14T15:16:01Z") && r[0].logType == "sshd")
    }

    /// Elastic system/auth pipeline test: user.name, source.ip/port, sshd outcome for the 10 lines with an oracle.
    @Test func elasticAuthLog() throws {
        let base = "elastic-integrations/packages/system/data_stream/auth/_dev/test/pipeline/test-auth.log"
        let r = decodeLines(syslogDecoder(ref: "2022-04-01T00:00:00Z"), try corpusText(base)).filter { $0.outcome != .skipped }
        #expect(r.count == 12 && count(r, .event) == 12)
        let json = try JSONSerialization.jsonObject(with: Data(try corpusText(base + "-expected.json"))) as! [String: Any]
        let expected = json["expected"] as! [[String: Any]]
        #expect(expected.count == 10)
        func get(_ o: [String: Any], _ path: String) -> String? {
            var cur: Any? = o
            for part in path.split(separator: ".") { cur = (cur as? [String: Any])?[String(part)] }
            if let s = cur as? String { return s }
            if let n = cur as? NSNumber { return n.stringValue }
            return nil
        }
        for (i, want) in expected.enumerated() {
            let e = r[i]
            for k in ["user.name", "source.ip", "source.port"] {
                #expect(e[k] == get(want, k), "line \(i + 1) \(k)")
            }
            if e.logType == "sshd" { #expect(e["event.outcome"] == get(want, "event.outcome"), "line \(i + 1) outcome") }
        }
        #expect(r[10]["user.name"] == "test" && r[10]["source.address"] == "test.example.com")
        #expect(r[11]["user.name"] == "root" && r[11]["event.action"] == "pam_auth_failure")
    }

    @Test func wazuhSshdSamples() throws {
        let ini = String(decoding: try corpusText("wazuh-ruleset/tools/rules-testing/tests/sshd.ini"), as: UTF8.self)
        let lines = ini.split(separator: "\n").compactMap { l -> String? in
            guard l.hasPrefix("log "), let eq = l.range(of: " = ") else { return nil }
            return String(l[eq.upperBound...])
        }
        #expect(lines.count == 28)
        let r = decodeText(syslogDecoder(ref: "2020-01-01T00:00:00Z"), lines.joined(separator: "\n"))
        #expect(count(r, .event) == 28)
        #expect(r.allSatisfy { $0.logType == "sshd" })
        let kb = r.first { $0["system.auth.ssh.method"] == "keyboard-interactive/pam" }
        #expect(kb?["user.name"] == "warez" && kb?["invalid_user"] == "true" && kb?["source.ip"] == "192.241.237.101")
        let max = r.first { $0["event.action"] == "max_auth_exceeded" }
        #expect(max?["source.address"] == "183.106.179.x" && max?["source.ip"] == nil && max?["source.port"] == "34100")
        let solaris = r.first { $0["message"]?.contains("[ID 800047") == true }
        #expect(solaris?["user.name"] == "root" && solaris?["source.ip"] == "192.168.1.1")
        let log = decodeLines(syslogDecoder(ref: "2020-01-01T00:00:00Z"), try corpusText("wazuh-ruleset/rules/log-entries/sshd"))
            .filter { $0.outcome != .skipped }
        #expect(log.count == 345 && count(log, .event) == 345)
        #expect(log.filter { $0["event.action"] == "invalid_user" }.count == log.filter { $0["message"]?.hasPrefix("Invalid user") == true }.count)
        let k = decodeLines(syslogDecoder(), try corpusText("wazuh-ruleset/rules/log-entries/kernel")).filter { $0.outcome != .skipped }
        // the first line has no stamp and no PRI
        #expect(k.map(\.outcome) == [.malformed(.badHeader), .event, .event])
    }

    @Test func asaSamples() throws {
        let sample = decodeLines(syslogDecoder(ref: "2021-06-01T00:00:00Z"), try corpusText("elastic-beats/x-pack/filebeat/module/cisco/asa/test/sample.log"))
            .filter { $0.outcome != .skipped }
        #expect(sample.count == 73 && count(sample, .event) == 73)
        #expect(sample.allSatisfy { $0.logType == "asa" && $0["cisco.asa.message_id"] != nil })
        let unparsed = sample.filter { $0["cisco.asa.event"] == nil }.map { $0["cisco.asa.message_id"]! }
        #expect(unparsed.isEmpty, "\(unparsed)")
        let flows = sample.filter { $0["source.ip"] != nil && $0["destination.ip"] != nil }.count
        #expect(flows == 66, "flows \(flows)")  // 7 lines: NAT translations, ICMP from-only, a named host
        let ini = String(decoding: try corpusText("wazuh-ruleset/tools/rules-testing/tests/cisco_asa.ini"), as: UTF8.self)
        let lines = ini.split(separator: "\n").compactMap { l -> String? in
            guard l.hasPrefix("log "), let eq = l.range(of: " = ") else { return nil }
            return String(l[eq.upperBound...])
        }
        #expect(lines.count == 87)
        let w = decodeText(syslogDecoder(), lines.joined(separator: "\n"))
        #expect(count(w, .event) == 87)
        let noPattern = Set(w.filter { $0["cisco.asa.event"] == nil }.compactMap { $0["cisco.asa.message_id"] })
        // ids without flow/user content (module status, memory, failover, licence…) have no pattern on purpose
        #expect(noPattern == ["505015", "106101", "323006", "747011", "321006", "338309", "338310", "444005", "711004",
                              "411001", "405003", "505002", "603109", "603108", "718060", "718062", "338303", "338302",
                              "771002", "405001", "201008", "105005", "105009", "105043", "409023"], "\(noPattern.sorted())")
        let rep = decodeLines(syslogDecoder(ref: "2020-01-01T00:00:00Z"), try corpusText("elastic-integrations/packages/cisco_asa/data_stream/log/_dev/test/pipeline/test-repeat-deny.log"))
            .filter { $0.outcome != .skipped }
        #expect(rep.count == 1 && rep[0].outcome == .event && rep[0]["cisco.asa.message_id"] == "106006")
    }

    @Test func iptablesAgainstExpected() throws {
        let base = "elastic-beats/x-pack/filebeat/module/iptables/log/test/iptables.log"
        let r = decodeLines(syslogDecoder(ref: "2020-02-01T00:00:00Z"), try corpusText(base)).filter { $0.outcome != .skipped }
        #expect(r.count == 12 && count(r, .event) == 12 && r.allSatisfy { $0.logType == "netfilter" })
        let expected = try JSONSerialization.jsonObject(with: Data(try corpusText(base + "-expected.json"))) as! [[String: Any]]
        for (i, want) in expected.enumerated() {
            for k in ["source.ip", "destination.ip", "source.port", "destination.port", "network.transport"] {
                let w = (want[k] as? String) ?? (want[k] as? NSNumber)?.stringValue
                #expect(r[i][k] == w, "line \(i + 1) \(k)")
            }
            #expect(r[i]["event.action"] == "block")
        }
        #expect(r[11]["network.transport"] == "icmp" && r[11]["TYPE"] == "8")
        let raw = decodeLines(syslogDecoder(ref: "2022-01-01T00:00:00Z"),
                              try corpusText("elastic-integrations/packages/iptables/data_stream/log/_dev/test/pipeline/test-iptables-raw.log"))
            .filter { $0.outcome != .skipped }
        #expect(raw.count == 24 && count(raw, .event) == 24)
        #expect(raw.allSatisfy { $0.logType == "netfilter" && $0["source.ip"] != nil })
        #expect(raw.filter { $0["event.action"] == "block" }.count == 15)
        #expect(raw.filter { $0["event.action"] == "allow" }.count == 6)
    }

    @Test func vpcFlowLogs() throws {
        let base = "elastic-beats/x-pack/filebeat/module/aws/vpcflow/test/accept-reject-traffic.log"
        let bytes = try corpusText(base)
        #expect(sniffed(bytes, "accept-reject-traffic.log") == .vpcFlow)
        let r = decodeLines(VPCFlowDecoder(maxLineLength: 4096), bytes).filter { $0.outcome != .skipped }
        #expect(r.count == 4 && count(r, .event) == 4)
        let expected = try JSONSerialization.jsonObject(with: Data(try corpusText(base + "-expected.json"))) as! [[String: Any]]
        for (i, want) in expected.enumerated() {
            for k in ["source.ip", "destination.ip", "source.port", "destination.port", "network.transport", "source.bytes"] {
                let w = (want[k] as? String) ?? (want[k] as? NSNumber)?.stringValue
                if w == nil && k == "network.transport" { continue }  // the oracle leaves ICMP without a transport
                #expect(r[i][k] == w, "record \(i + 1) \(k)")
            }
            #expect(r[i]["action"] == want["aws.vpcflow.action"] as? String)
            #expect(r[i].timestamp == ts(want["event.start"] as! String))
        }
        #expect(r[1]["blocked"] == "true" && r[0]["blocked"] == "false" && r[0]["event.duration"] == "60")
        let v5 = decodeLines(VPCFlowDecoder(maxLineLength: 4096),
                             try corpusText("elastic-integrations/packages/aws/data_stream/vpcflow/_dev/test/pipeline/test-v5-all-fields.log"))
            .filter { $0.outcome != .skipped }
        #expect(v5.count == 1 && v5[0].outcome == .event)
        #expect(v5[0]["flow-direction"] == "ingress" && v5[0]["pkt-srcaddr"] == "89.160.20.156" && v5[0]["region"] == "us-east-1")
        #expect(v5[0]["pkt-src-aws-service"] == "AMAZON" && v5[0]["sublocation-type"] == nil && v5[0]["network.transport"] == "udp")
    }

    /// The AWS user guide's example records, each decoded with the format its prose states.
    @Test func vpcUserGuideExamples() throws {
        let md = String(decoding: try corpusText("aws-vpc-user-guide/doc_source/flow-logs-records-examples.md"), as: UTF8.self)
        var records: [String] = []
        for l in md.split(separator: "\n") {
            let s = String(l)
            if s.count > 2, let f = s.first, "2345".contains(f), s.dropFirst().first == " " { records.append(s) }
        }
        let v2 = records.filter { $0.hasPrefix("2 ") }
        #expect(v2.count == 7)
        let r = decodeText(VPCFlowDecoder(maxLineLength: 4096), v2.joined(separator: "\n"))
        #expect(count(r, .event) == 7)
        let nodata = r.filter { $0["log-status"] == "NODATA" || $0["log-status"] == "SKIPDATA" }
        #expect(nodata.count == 2 && nodata.allSatisfy { $0["source.ip"] == nil && $0.timestamp != nil })
        #expect(r.contains { $0["source.ip"] == "2001:db8:1234:a100:8d6e:3477:df66:f105" && $0["destination.port"] == "22" })
        let v3header = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"
        let v3 = records.filter { $0.hasPrefix("3 vpc-") }
        #expect(v3.count == 8)
        let r3 = decodeText(VPCFlowDecoder(maxLineLength: 4096), ([v3header] + v3).joined(separator: "\n"))
        #expect(r3[0].outcome == DecodeOutcome.skipped && count(r3, .event) == 8)
        #expect(r3[1]["tcp-flags"] == "2" && r3[1]["pkt-dstaddr"] == "10.0.0.62" && r3[1]["destination.port"] == "5001")
        let v5header = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status"
        let v5 = records.filter { $0.hasPrefix("5 ") }
        let r5 = decodeText(VPCFlowDecoder(maxLineLength: 4096), ([v5header] + v5).joined(separator: "\n"))
        #expect(count(r5, .event) == v5.count && v5.count == 2)
        #expect(r5[1]["pkt-src-aws-service"] == "S3" && r5[2]["flow-direction"] == "egress" && r5[2]["traffic-path"] == "8")
    }
}
