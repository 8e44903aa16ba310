import FlowhoundTestSupport
import Foundation
import Testing
import FlowhoundCore
@testable import FlowhoundParse

@Suite struct WindowsAndGenericJSONTests {
    let winlogbeat4624 = #"{"@timestamp":"2024-05-01T10:00:00.123Z","event":{"code":"4624"},"winlog":{"channel":"Security","event_id":4624,"computer_name":"DC01.corp","provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"LogonType":"3","TargetUserName":"alice","TargetDomainName":"CORP","IpAddress":"10.0.0.5","IpPort":"51234","WorkstationName":"WS7"}},"host":{"name":"DC01"}}"#
    let nxlog4625 = #"{"EventTime":"2024-05-01T10:00:01Z","Hostname":"SRV2","EventID":4625,"Channel":"Security","TargetUserName":"bob","IpAddress":"10.0.0.9","IpPort":"-","LogonType":10,"Status":"0xc000006d","SubStatus":"0xc000006a"}"#
    let sysmon3 = #"{"EventTime":"2024-05-01T10:00:02Z","EventID":3,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\rundll32.exe","User":"CORP\\alice","Protocol":"tcp","Initiated":"true","SourceIp":"10.0.0.5","SourcePort":"50000","DestinationIp":"10.0.0.20","DestinationPort":"445"}"#
    let sysmon1 = #"{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS7","TimeCreated":{"SystemTime":"2024-05-01T10:00:03.5Z"}},"EventData":{"Image":"C:\\x\\psexec.exe","CommandLine":"psexec \\\\10.0.0.20 cmd","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\alice"}}}"#
    let svc7045 = #"{"EventTime":"2024-05-01T10:00:04Z","EventID":7045,"Channel":"System","ServiceName":"PSEXESVC","ImagePath":"%SystemRoot%\\PSEXESVC.exe","AccountName":"LocalSystem"}"#
    let kerb = #"{"winlog":{"channel":"Security","event_id":4769,"event_data":{"TargetUserName":"alice@CORP","ServiceName":"cifs/srv2","IpAddress":"::ffff:10.0.0.5","Status":"0x0","TicketEncryptionType":"0x17"}}}"#
    let share = #"{"EventID":5140,"Channel":"Security","SubjectUserName":"alice","IpAddress":"10.0.0.5","ShareName":"\\\\*\\ADMIN$"}"#
    let evt4776 = #"{"EventID":4776,"Channel":"Security","TargetUserName":"bob","Workstation":"WS9","Status":"0xC000006A"}"#
    let evt4648 = #"{"EventID":4648,"Channel":"Security","SubjectUserName":"alice","TargetUserName":"admin","TargetServerName":"srv2","IpAddress":"10.0.0.5","IpPort":"0"}"#
    let evt4768 = #"{"EventID":4768,"Channel":"Security","TargetUserName":"carol","IpAddress":"::ffff:10.0.0.8","Status":"0x6","PreAuthType":"2"}"#
    let evt5145 = #"{"EventID":5145,"Channel":"Security","SubjectUserName":"alice","IpAddress":"10.0.0.5","ShareName":"\\\\*\\C$","RelativeTargetName":"Windows\\Temp\\x.exe"}"#

    @Test func windowsFlavours() {
        let d = WindowsJSONDecoder(maxLineLength: 1 << 16)
        let r = decodeText(d, [winlogbeat4624, nxlog4625, sysmon3, sysmon1, svc7045, kerb, share, evt4776, evt4648, evt4768, evt5145].joined(separator: "\n"))
        #expect(r.allSatisfy { $0.outcome == .event })
        let a = r[0]
        #expect(a.logType == "security" && a["EventID"] == "4624" && a["LogonType"] == "3" && a["TargetUserName"] == "alice")
        #expect(a["source.ip"] == "10.0.0.5" && a["source.port"] == "51234" && a["user.name"] == "alice" && a["Computer"] == "DC01.corp")
        #expect(a["event.outcome"] == "success" && a["event.action"] == "logged-in" && a["winlog.event_data.WorkstationName"] == "WS7")
        #expect(a.timestamp == Timestamp(nanoseconds: ts("2024-05-01T10:00:00Z").nanoseconds + 123_000_000))
        #expect(a.schema!.logSources == [LogSource(product: "windows", service: "security")])
        #expect(a.schema!.slot(.sourceIP) == a.schema!.slot("IpAddress"))
        let b = r[1]
        #expect(b["event.outcome"] == "failure" && b["IpPort"] == nil && b["Computer"] == "SRV2" && b["SubStatus"] == "0xc000006a")
        #expect(b.timestamp == ts("2024-05-01T10:00:01Z"))
        let c = r[2]
        #expect(c.logType == "sysmon_network_connection" && c["source.ip"] == "10.0.0.5" && c["destination.port"] == "445")
        #expect(c["Image"] == #"C:\Windows\System32\rundll32.exe"# && c["Initiated"] == "true" && c["network.transport"] == "tcp")
        #expect(c.schema!.logSources.contains(LogSource(product: "windows", category: "network_connection")))
        #expect(c.schema!.slot(.destinationIP) == c.schema!.slot("DestinationIp"))
        let e = r[3]
        #expect(e.logType == "sysmon_process_creation" && e["CommandLine"] == #"psexec \\10.0.0.20 cmd"# && e["Computer"] == "WS7")
        #expect(e.schema!.logSources.contains(LogSource(product: "windows", category: "process_creation")))
        #expect(e.timestamp == Timestamp(nanoseconds: ts("2024-05-01T10:00:03Z").nanoseconds + 500_000_000))
        #expect(r[4].logType == "system" && r[4]["service.name"] == "PSEXESVC" && r[4]["event.action"] == "service-installed")
        #expect(r[5]["event.outcome"] == "success" && r[5]["IpAddress"] == "::ffff:10.0.0.5" && r[5]["ServiceName"] == "cifs/srv2")
        #expect(r[6]["ShareName"] == #"\\*\ADMIN$"# && r[6]["event.action"] == "network-share-object-accessed")
        #expect(r[7]["event.outcome"] == "failure" && r[7]["Workstation"] == "WS9")
        #expect(r[8]["TargetServerName"] == "srv2" && r[8]["event.action"] == "logged-in-explicit")
        #expect(r[9]["event.outcome"] == "failure")
        #expect(r[10]["RelativeTargetName"] == #"Windows\Temp\x.exe"#)
        let bad = decodeText(WindowsJSONDecoder(maxLineLength: 1024), #"{"EventID":4624,"#)
        #expect(bad[0].outcome == .malformed(.badJSON))
    }

    @Test func genericECSAndShortNames() {
        let d = GenericJSONDecoder(requestedFields: ["custom.thing"], maxLineLength: 1 << 16)
        let r = decodeText(d, """
            {"@timestamp":"2024-05-01T10:00:00Z","source":{"ip":"10.0.0.1","port":1234},"destination":{"ip":"10.0.0.2","port":22},"network":{"transport":"tcp"},"event":{"outcome":"failure","action":"ssh_login","category":["authentication","network"]},"user":{"name":"root"},"custom":{"thing":"x"}}
            {"ts":1714557600.5,"src_ip":"10.0.0.3","dst_ip":"10.0.0.4","dst_port":3389,"action":"allow","bytes_out":100}
            {"a":[1,2
            not json
            """)
        #expect(r[0]["source.ip"] == "10.0.0.1" && r[0]["source.port"] == "1234" && r[0]["dst_port"] == "22")
        #expect(r[0]["event.category"] == "authentication\u{1F}network" && r[0]["custom.thing"] == "x" && r[0]["user.name"] == "root")
        #expect(r[0].timestamp == ts("2024-05-01T10:00:00Z"))
        #expect(r[1]["source.ip"] == "10.0.0.3" && r[1]["destination.port"] == "3389" && r[1]["event.action"] == "allow")
        #expect(r[1]["source.bytes"] == "100" && r[1].timestamp == Timestamp(nanoseconds: 1_714_557_600_500_000_000))
        #expect(r[2].outcome == .malformed(.badJSON) && r[3].outcome == .malformed(.badJSON))
        #expect(d.schema.slot(.sourceIP) == d.schema.slot("source.ip") && d.schema.logSources == [LogSource(product: "json")])
    }

    @Test func fieldMap() {
        let map = FieldMap(logType: "acme-fw", logSources: [LogSource(product: "acme", category: "firewall")], entries: [
            .init(key: "s", name: "source.ip"), .init(key: "d.port", name: "destination.port"),
            .init(key: "verdict", name: "acme.verdict", role: .action), .init(key: "when", name: "@timestamp"),
        ])
        let ctx = DecoderContext(fieldMap: map)
        let d = makeDecoder(format: .json, fileName: "fw.json", requestedFields: [], maxLineLength: 4096, context: ctx)!
        let r = decodeText(d, #"{"when":"2024-05-01T00:00:00Z","s":"192.0.2.1","d":{"port":"8080"},"verdict":"drop"}"#)
        #expect(r[0]["source.ip"] == "192.0.2.1" && r[0]["dst_port"] == "8080" && r[0]["acme.verdict"] == "drop")
        #expect(r[0].timestamp == ts("2024-05-01T00:00:00Z"))
        #expect(d.schema.logType == "acme-fw" && d.schema.logSources == [LogSource(product: "acme", category: "firewall")])
        #expect(d.schema.slot(.action) == d.schema.slot("acme.verdict"))
    }
}

@Suite struct P3FuzzTests {
    static let seeds: [String] = [
        "Feb  5 02:13:44 host sshd[1]: Failed password for invalid user admin from 203.0.113.9 port 50122 ssh2",
        "<34>1 2003-10-11T22:14:15.003Z h app 1 ID47 [a@1 k=\"v\\\"x\"][b c=\"d\"] msg",
        "Mar  1 00:00:00 fw kernel: [ 1.2] [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2 SYN URGP=0",
        "Apr 29 2013 12:59:50: %ASA-6-302013: Built outbound TCP connection 1 for outside:192.0.2.43/443 (192.0.2.43/443) to inside:10.1.1.1/4952 (10.1.1.1/1)",
        "%ASA-6-302014: Teardown TCP connection 4211 for external:171.70.168.183/53 to mgmt:192.168.1.185/1032 duration 0:00:00 bytes 526",
        "2026-03-02T09:15:02.123456+09:00 web1 sudo:  alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
        "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        #"{"winlog":{"channel":"Security","event_id":4624,"event_data":{"IpAddress":"10.0.0.5","TargetUserName":"a\u00e9"}}}"#,
        #"{"source":{"ip":"1.2.3.4"},"a":[1,"x",{"b":null}],"@timestamp":"2020-01-01T00:00:00Z"}"#,
    ]

    @Test func randomInputsNeverCrashOrHang() {
        var rng = SplitMix(state: 0xF10_4D)
        var record = EventRecord(capacity: 8)
        defer { record.deallocate() }
        let decoders: [any LineDecoder] = [
            SyslogDecoder(requestedFields: ["a@1.k", "b.c"], maxLineLength: 2048),
            VPCFlowDecoder(maxLineLength: 2048),
            WindowsJSONDecoder(maxLineLength: 2048),
            GenericJSONDecoder(requestedFields: ["x.y"], maxLineLength: 2048),
        ]
        var outcomes = 0
        for round in 0..<4000 {
            var line: [UInt8]
            let seed = Array(Self.seeds[Int(rng.next() % UInt64(Self.seeds.count))].utf8)
            switch round % 4 {
            case 0: line = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: line = Array(seed.prefix(Int(rng.next() % UInt64(seed.count + 1))))
            case 2:
                line = seed
                for _ in 0..<(1 + Int(rng.next() % 6)) where !line.isEmpty {
                    line[Int(rng.next() % UInt64(line.count))] = [0xFF, 0xC3, 0x80, 0, 34, 91, 93, 123, 125, 32, 61, 58, 92][Int(rng.next() % 13)]
                }
            default:
                line = seed + [0xE2, 0x82] + Array(seed.shuffled(using: &rng).prefix(40))
            }
            if round % 97 == 0 { line = [UInt8](repeating: 32, count: 3000) + line }  // too long
            for d in decoders {
                record.ensureCapacity(d.schema.fieldCount)
                var o = line.withUnsafeBufferPointer { d.decode($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count, into: &record) }
                if o == .schemaChanged {
                    record.ensureCapacity(d.schema.fieldCount)
                    o = line.withUnsafeBufferPointer { d.decode($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count, into: &record) }
                    #expect(o != .schemaChanged)
                }
                if o == .event {
                    // every value points into the line or decoder-owned memory and is readable
                    for i in 0..<d.schema.fieldCount { _ = record[i].string }
                }
                outcomes += 1
            }
        }
        #expect(outcomes == 16000)
    }
}
