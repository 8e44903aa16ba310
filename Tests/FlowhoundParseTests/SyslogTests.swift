import Foundation
import Testing
import FlowhoundCore
@testable import FlowhoundParse

@Suite struct SyslogFramingTests {
    @Test func rfc3164SshdFailedPassword() {
        let r = decodeText(syslogDecoder(), "Feb  5 02:13:44 bastion sshd[4242]: Failed password for invalid user admin from 203.0.113.9 port 50122 ssh2")
        #expect(r.count == 1 && r[0].outcome == .event)
        let e = r[0]
        #expect(e.logType == "sshd")
        #expect(e["host"] == "bastion" && e["host.hostname"] == "bastion")
        #expect(e["program"] == "sshd" && e["pid"] == "4242")
        #expect(e["user.name"] == "admin" && e["invalid_user"] == "true")
        #expect(e["source.ip"] == "203.0.113.9" && e["source.port"] == "50122")
        #expect(e["event.outcome"] == "failure" && e["event.action"] == "failed")
        #expect(e["system.auth.ssh.method"] == "password" && e["system.auth.ssh.event"] == "Failed")
        #expect(e.timestamp == ts("2026-02-05T02:13:44Z"))
        #expect(e.schema!.logSources.contains(LogSource(product: "linux", service: "sshd")))
        #expect(e.schema!.logSources.contains(LogSource(product: "linux", service: "auth")))
        #expect(e.schema!.slot(.sourceIP) == e.schema!.slot("src_ip"))
    }

    @Test func decemberLinesInAJanuaryFileBelongToLastYear() {
        let d = syslogDecoder(ref: "2026-01-02T10:00:00Z")
        let r = decodeText(d, "Dec 31 23:59:59 h sshd[1]: Connection closed by 10.0.0.1 port 22\nJan  1 00:00:01 h sshd[1]: Connection closed by 10.0.0.1 port 22")
        #expect(r[0].timestamp == ts("2025-12-31T23:59:59Z"))
        #expect(r[1].timestamp == ts("2026-01-01T00:00:01Z"))
        // same month as the reference: this year
        let r2 = decodeText(syslogDecoder(ref: "2026-12-31T10:00:00Z"), "Dec 31 09:00:00 h x: y")
        #expect(r2[0].timestamp == ts("2026-12-31T09:00:00Z"))
    }

    @Test func zones() throws {
        let tokyo = try #require(LogTimeZone.named("Asia/Tokyo"))
        let r = decodeText(syslogDecoder(zone: tokyo), "Mar  2 09:15:02 h cron[1]: x")
        #expect(r[0].timestamp == ts("2026-03-02T00:15:02Z"))
        let berlin = try #require(LogTimeZone.named("Europe/Berlin"))
        let s = decodeText(syslogDecoder(ref: "2026-08-01T00:00:00Z", zone: berlin), "Jul  1 12:00:00 h x: y\nJan  1 12:00:00 h x: y")
        #expect(s[0].timestamp == ts("2026-07-01T10:00:00Z"))  // CEST
        #expect(s[1].timestamp == ts("2026-01-01T11:00:00Z"))  // CET
        // far future: footer rule
        #expect(berlin.utc(fromLocal: ts("2090-07-01T12:00:00Z").seconds) == ts("2090-07-01T10:00:00Z").seconds)
        #expect(LogTimeZone.named("+09:00") == .fixed(seconds: 32400))
        #expect(LogTimeZone.named("No/Such_Zone") == nil)
        let fixed = decodeText(syslogDecoder(zone: .fixed(seconds: -5 * 3600)), "Mar  2 09:15:02 h x: y")
        #expect(fixed[0].timestamp == ts("2026-03-02T14:15:02Z"))
    }

    @Test func rfc3339AndJournal() {
        let d = syslogDecoder()
        let r = decodeText(d, """
            -- Logs begin at Mon 2026-03-02 00:00:00 JST, end at Mon 2026-03-02 10:00:00 JST. --
            2026-03-02T09:15:02.123456+09:00 web1 sshd[77]: Accepted publickey for deploy from 2001:db8::7 port 40022 ssh2: ED25519 SHA256:abc
            2026-03-02T09:15:03+0900 web1 sshd[77]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)
            2026-03-02T09:15:04 web1 kernel: hello
            """)
        #expect(r[0].outcome == .skipped)
        #expect(r[1].timestamp == Timestamp(nanoseconds: ts("2026-03-02T00:15:02Z").nanoseconds + 123_456_000))
        #expect(r[1]["source.ip"] == "2001:db8::7" && r[1]["source.port"] == "40022" && r[1]["user.name"] == "deploy")
        #expect(r[1]["system.auth.ssh.signature"] == "ED25519 SHA256:abc" && r[1]["event.outcome"] == "success")
        #expect(r[2]["user.name"] == "deploy" && r[2]["event.action"] == "session_opened")
        #expect(r[2].timestamp == ts("2026-03-02T00:15:03Z"))
        #expect(r[3].timestamp == ts("2026-03-02T09:15:04Z"))  // no zone: configured (UTC)
        #expect(r[3].logType == "kernel")
    }

    @Test func rfc5424StructuredData() {
        let d = syslogDecoder(requested: ["exampleSDID@32473.iut", "exampleSDID@32473.eventSource", "origin.ip"])
        let line = #"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App \"x\" \]" eventID="1011"][origin ip="192.0.2.1"] \#u{FEFF}An application event"#
        let r = decodeText(d, line)
        #expect(r[0].outcome == .event)
        let e = r[0]
        #expect(e["host"] == "mymachine.example.com" && e["program"] == "evntslog" && e["pid"] == nil)
        #expect(e["msgid"] == "ID47" && e["facility"] == "20" && e["severity"] == "5")
        #expect(e["exampleSDID@32473.iut"] == "3")
        #expect(e["exampleSDID@32473.eventSource"] == #"App "x" ]"#)
        #expect(e["origin.ip"] == "192.0.2.1")
        #expect(e["message"] == "An application event")
        #expect(e.timestamp == Timestamp(nanoseconds: ts("2003-10-11T22:14:15Z").nanoseconds + 3_000_000))
        let nil5424 = decodeText(syslogDecoder(), "<34>1 - - - - - -")
        #expect(nil5424[0].outcome == .event && nil5424[0].timestamp == nil)
    }

    @Test func malformedAndEdgeLines() {
        let r = decodeText(syslogDecoder(), "garbage line\nFeb 30 25:99:99 h x: y\n\n   \n%ASA-4-106023: Deny tcp src a:10.0.0.1/1 dst b:10.0.0.2/445 by access-group \"x\"")
        #expect(r[0].outcome == .malformed(.badHeader))
        #expect(r[1].outcome == .malformed(.badTimestamp) && r[1]["host"] == "h")
        #expect(r[2].outcome == .skipped && r[3].outcome == .skipped)
        #expect(r[4].outcome == .event && r[4]["destination.port"] == "445" && r[4].timestamp == nil)
    }

    @Test func userNameCannotMoveTheAddress() {
        let r = decodeText(syslogDecoder(), "Mar  1 00:00:00 h sshd[1]: Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 198.51.100.4 port 2200 ssh2")
        #expect(r[0]["source.ip"] == "198.51.100.4" && r[0]["source.port"] == "2200")
        #expect(r[0]["user.name"] == "x from 6.6.6.6 port 1 ssh2")
        // an sshd user name cannot make a firewall event either
        let f = decodeText(syslogDecoder(), "Mar  1 00:00:00 h sshd[1]: Invalid user IN= OUT= SRC=1.2.3.4 from 10.0.0.9")
        #expect(f[0].logType == "sshd" && f[0]["source.ip"] == "10.0.0.9")
    }

    @Test func sshdMessages() {
        let lines = """
            Mar  1 00:00:00 h sshd[1]: Invalid user oracle from 192.0.2.5 port 4022
            Mar  1 00:00:00 h sshd[1]: Connection closed by authenticating user root 192.0.2.5 port 4022 [preauth]
            Mar  1 00:00:00 h sshd[1]: Disconnected from invalid user test 2001:db8::1 port 22 [preauth]
            Mar  1 00:00:00 h sshd[1]: error: maximum authentication attempts exceeded for root from 192.0.2.5 port 4022 ssh2 [preauth]
            Mar  1 00:00:00 h sshd-session[1]: Accepted keyboard-interactive/pam for alice from 10.1.1.1 port 5 ssh2
            Mar  1 00:00:00 h sshd[1]: message repeated 3 times: [ Failed password for root from 192.0.2.7 port 601 ssh2]
            Mar  1 00:00:00 h sshd[1]: Received disconnect from 192.0.2.5 port 4022:11: Bye Bye [preauth]
            Mar  1 00:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.8  user=root
            Mar  1 00:00:00 h sshd[1]: Connection from 192.0.2.5 port 4022 on 10.0.0.5 port 22 rdomain ""
            Mar  1 00:00:00 h sshd[1]: Server listening on 0.0.0.0 port 22.
            """
        let r = decodeText(syslogDecoder(), lines)
        #expect(r.allSatisfy { $0.outcome == .event && $0.logType == "sshd" })
        #expect(r[0]["event.action"] == "invalid_user" && r[0]["user.name"] == "oracle" && r[0]["source.port"] == "4022")
        #expect(r[1]["event.action"] == "connection_closed" && r[1]["user.name"] == "root" && r[1]["source.ip"] == "192.0.2.5")
        #expect(r[1]["event.outcome"] == nil)
        #expect(r[2]["source.ip"] == "2001:db8::1" && r[2]["invalid_user"] == "true" && r[2]["user.name"] == "test")
        #expect(r[3]["event.action"] == "max_auth_exceeded" && r[3]["event.outcome"] == "failure")
        #expect(r[4]["system.auth.ssh.method"] == "keyboard-interactive/pam" && r[4]["event.outcome"] == "success")
        #expect(r[5]["repeated"] == "3" && r[5]["source.ip"] == "192.0.2.7" && r[5]["event.action"] == "failed")
        #expect(r[6]["event.action"] == "received_disconnect" && r[6]["source.port"] == "4022")
        #expect(r[7]["event.action"] == "pam_auth_failure" && r[7]["source.ip"] == "192.0.2.8" && r[7]["user.name"] == "root")
        #expect(r[8]["destination.ip"] == "10.0.0.5" && r[8]["destination.port"] == "22")
        #expect(r[9]["event.action"] == nil && r[9]["message"] == "Server listening on 0.0.0.0 port 22.")
    }

    @Test func authPrograms() {
        let r = decodeText(syslogDecoder(), """
            Feb 21 23:35:33 localhost sudo:  vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls
            Feb 24 00:13:02 precise32 sudo:      tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls
            Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin
            Mar  1 00:00:01 bastion01 CRON[20033]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
            """)
        #expect(r[0]["user.name"] == "vagrant" && r[0]["user.effective.name"] == "root" && r[0]["process.command_line"] == "/bin/ls")
        #expect(r[0].logType == "sudo" && r[0].schema!.logSources.contains(LogSource(product: "linux", service: "sudo")))
        #expect(r[1]["event.action"] == "sudo_denied" && r[1]["system.auth.sudo.error"] == "user NOT in sudoers")
        #expect(r[2]["user.name"] == "apache" && r[2]["event.action"] == "user_added")
        #expect(r[3].logType == "cron" && r[3]["user.name"] == "root")
        #expect(r[3].schema!.logSources.contains(LogSource(product: "linux", service: "cron")))
    }

    @Test func netfilterAndUFW() {
        let r = decodeText(syslogDecoder(), """
            Mar  1 00:00:00 bastion01 kernel: [9251200.494062] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=216.244.230.155 DST=10.0.0.5 LEN=44 TOS=0x00 PREC=0x00 TTL=72 ID=35162 PROTO=TCP SPT=45302 DPT=8080 WINDOW=1024 RES=0x00 SYN URGP=0
            Mar  1 00:00:00 fw kernel: [UFW ALLOW] IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.5 LEN=60 PROTO=UDP SPT=53 DPT=5353 LEN=40
            Mar  1 00:00:00 fw kernel: [UFW AUDIT] IN= OUT=lo SRC=fe80::1 DST=ff02::16 LEN=96 PROTO=ICMPv6 TYPE=143 CODE=0
            Jan  8 03:37:09 DENY: IN=eth0 OUT= SRC=192.168.2.71 DST=192.168.2.83 LEN=88 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.168.2.83 DST=192.168.173.191 LEN=60 PROTO=UDP SPT=21458 DPT=62936 LEN=40 ]
            Jan  5 20:17:01 MainFirewall kernel: [WAN_OUT-2000-A]IN=eth0 OUT=eth2 SRC=192.168.134.158 DST=192.168.2.25 LEN=265 PROTO=TCP SPT=43189 DPT=443 WINDOW=159 RES=0x00 ACK PSH URGP=0
            """)
        #expect(r.allSatisfy { $0.outcome == .event && $0.logType == "netfilter" })
        #expect(r[0]["event.action"] == "block" && r[0]["blocked"] == "true" && r[0]["src_ip"] == "216.244.230.155")
        #expect(r[0]["dst_port"] == "8080" && r[0]["network.transport"] == "tcp" && r[0]["prefix"] == "[UFW BLOCK]")
        #expect(r[0]["tcp_flags"] == "SYN" && r[0]["OUT"] == nil && r[0]["IN"] == "eth0")
        #expect(r[1]["action"] == "allow" && r[1]["LEN"] == "60" && r[1]["network.transport"] == "udp")
        #expect(r[2]["action"] == "audit" && r[2]["source.ip"] == "fe80::1" && r[2]["PROTO"] == "ipv6-icmp")
        #expect(r[3]["action"] == "block" && r[3]["DST"] == "192.168.2.83" && r[3]["SPT"] == nil)
        #expect(r[4]["action"] == "allow" && r[4]["tcp_flags"] == "ACK PSH")
        #expect(r[0].schema!.logSources.contains(LogSource(category: "firewall")))
        #expect(r[0].schema!.slot(.destinationPort) == r[0].schema!.slot("DPT"))
    }

    @Test func ciscoASA() {
        let r = decodeText(syslogDecoder(ref: "2014-01-01T00:00:00Z"), """
            Apr 29 2013 12:59:50: %ASA-6-302013: Built outbound TCP connection 89743274 for outside:192.0.2.43/443 (192.0.2.43/443) to inside:10.123.3.42/4952 (10.123.3.42/12834)
            Apr 29 2013 12:59:50: %ASA-6-302016: Teardown UDP connection 666 for outside:192.0.2.222/53 user1 to inside:10.123.1.35/52925 user2 duration 10:00:00 bytes 9999999
            Apr 24 2013 16:00:28 INT-FW01 : %ASA-6-106100: access-list inside denied udp inside/172.29.2.101(1039) -> outside/192.0.2.10(53) hit-cnt 1 first hit [0xd820e56a, 0x0]
            Apr 15 2014 09:34:34 EDT: %ASA-session-5-106100: access-list acl_in permitted tcp inside/10.1.2.16(2241) -> outside/192.0.0.89(2000) hit-cnt 1 first hit [0x71a87d94, 0x0]
            Aug 15 2012 23:30:09 : %ASA-6-302016 Teardown UDP connection 40 for outside:10.44.4.4/500 to inside:10.44.2.2/500 duration 0:02:02 bytes 1416
            Feb  5 02:13:44 fw01 %ASA-3-710003: TCP access denied by ACL from 192.168.0.1/11 to outside:192.168.0.2/22
            """)
        #expect(r.allSatisfy { $0.outcome == .event && $0.logType == "asa" })
        // outbound: the "to" side initiated
        #expect(r[0]["source.ip"] == "10.123.3.42" && r[0]["source.port"] == "4952" && r[0]["destination.ip"] == "192.0.2.43")
        #expect(r[0]["source.nat.port"] == "12834" && r[0]["network.direction"] == "outbound" && r[0]["cisco.asa.connection_id"] == "89743274")
        #expect(r[0]["cisco.asa.source_interface"] == "inside" && r[0]["cisco.asa.message_id"] == "302013" && r[0]["level"] == "6")
        #expect(r[0].timestamp == ts("2013-04-29T12:59:50Z") && r[0]["event.action"] == "allow")
        #expect(r[1]["network.bytes"] == "9999999" && r[1]["event.duration"] == "36000" && r[1]["source.ip"] == "192.0.2.222")
        #expect(r[2]["event.action"] == "block" && r[2]["blocked"] == "true" && r[2]["host"] == "INT-FW01")
        #expect(r[2]["source.port"] == "1039" && r[2]["destination.ip"] == "192.0.2.10" && r[2]["rule.name"] == "inside")
        #expect(r[3]["event.action"] == "allow" && r[3]["network.transport"] == "tcp")
        #expect(r[4]["event.duration"] == "122" && r[4]["destination.port"] == "500")
        #expect(r[5]["host"] == "fw01" && r[5]["destination.port"] == "22" && r[5]["event.action"] == "block")
        #expect(r[0].schema!.logSources.contains(LogSource(product: "cisco", service: "asa")))
    }

    @Test func sniffing() {
        func sniff(_ s: String, _ f: String = "x.log") -> LogFormat? {
            var a = Array(s.utf8)
            return a.withUnsafeMutableBufferPointer { FormatSniffer.sniff($0.baseAddress!, $0.count, fileName: f) }
        }
        #expect(sniff("Feb  5 02:13:44 host sshd[1]: x") == .syslog)
        #expect(sniff("<34>1 2003-10-11T22:14:15.003Z h su - ID47 - x") == .syslog)
        #expect(sniff("2026-03-02T09:15:02.123456+09:00 host prog[1]: msg") == .syslog)
        #expect(sniff("Apr 15 2013 09:36:50: %ASA-4-106023: Deny") == .syslog)
        #expect(sniff("%ASA-4-106023: Deny tcp") == .syslog)
        #expect(sniff("-- Logs begin at Mon 2026-03-02 00:00:00 JST. --") == .syslog)
        #expect(sniff("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status") == .vpcFlow)
        #expect(sniff("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK") == .vpcFlow)
        #expect(sniff(#"{"winlog":{"event_id":4624}}"#) == .windowsJSON)
        #expect(sniff(#"{"source":{"ip":"1.2.3.4"}}"#) == .json)
        #expect(sniff("hello world") == nil)
        #expect(makeDecoder(format: .syslog, fileName: "x", requestedFields: [], maxLineLength: 10) is SyslogDecoder)
        #expect(makeDecoder(format: .vpcFlow, fileName: "x", requestedFields: [], maxLineLength: 10) is VPCFlowDecoder)
        #expect(makeDecoder(format: .json, fileName: "x", requestedFields: [], maxLineLength: 10) is GenericJSONDecoder)
    }

    @Test func catalogListsEveryFormat() {
        for f in LogFormat.allCases {
            let d = FieldCatalog.describe(format: f)
            #expect(!d.isEmpty, "\(f)")
        }
        let s = FieldCatalog.describe(format: .syslog)
        let src = s.first { $0.logType == "sshd" && $0.native == "src_ip" }
        #expect(src?.aliases.contains("source.ip") == true && src?.roles == [.sourceIP] && src?.type == .address)
        let v = FieldCatalog.describe(format: .vpcFlow).first { $0.native == "dstport" }
        #expect(v?.aliases.contains("dst_port") == true && v?.aliases.contains("destination.port") == true)
        let z = FieldCatalog.describe(format: .zeekTSV).first { $0.logType == "conn" && $0.native == "id.orig_h" }
        #expect(z?.aliases.contains("src_ip") == true)
    }
}
