import FlowhoundCore
import FlowhoundSinks
import Testing

private func sample(excerpt: String = "plain", title: String = "SMB between workstations") -> Finding {
    Finding(
        ruleID: "r-1", title: title, level: .high, tags: ["attack.lateral_movement", "attack.t1021.002"],
        firstSeen: Timestamp(seconds: 1_772_442_000), lastSeen: Timestamp(seconds: 1_772_442_000),
        sourceIP: "10.20.1.23", sourcePort: 50_123, destinationIP: "10.20.1.40", destinationPort: 445,
        format: "zeek-tsv", evidence: [Evidence(path: "conn.log", line: 12, byteOffset: 900, excerpt: excerpt)])
}

@Suite struct AlertFormatTests {
    @Test func jsonHasFixedKeyOrderAndECSNames() {
        let line = String(decoding: AlertFormatter.json(sample()), as: UTF8.self)
        #expect(
            line == """
                {"@timestamp":"2026-03-02T09:00:00.000000Z","event":{"kind":"alert","start":"2026-03-02T09:00:00.000000Z",\
                "end":"2026-03-02T09:00:00.000000Z","severity":75},"rule":{"id":"r-1","name":"SMB between workstations",\
                "level":"high"},"threat":{"framework":"MITRE ATT&CK","technique":{"id":["T1021.002"]},"tactic":{"name":\
                ["lateral_movement"]}},"source":{"ip":"10.20.1.23","port":50123},"destination":{"ip":"10.20.1.40",\
                "port":445},"flowhound":{"count":1,"group":{},"format":"zeek-tsv","evidence":[{"file":"conn.log",\
                "line":12,"offset":900,"excerpt":"plain"}]}}

                """)
    }

    @Test func hostileExcerptCannotForgeALineOrEscapeTheTerminal() {
        let hostile = "x\"}\n{\"rule\":{\"id\":\"forged\"}}\u{1B}[31mRED\r\u{7}\u{2028}\\"
        let json = AlertFormatter.json(sample(excerpt: hostile))
        #expect(json.filter { $0 == 0x0A }.count == 1)
        #expect(!json.contains(0x1B) && !json.contains(0x0D) && !json.contains(0x07))
        let s = String(decoding: json, as: UTF8.self)
        #expect(s.contains(#""excerpt":"x\"}\n{\"rule\":{\"id\":\"forged\"}}\u001b[31mRED\r\u0007\u2028\\""#))
        let text = AlertFormatter.text(sample(excerpt: hostile, title: "t\u{1B}]0;pwn\u{7}"), colour: false)
        #expect(!text.contains(0x1B) && !text.contains(0x07) && !text.contains(0x0D))
        #expect(text.filter { $0 == 0x0A }.count == 2)
        #expect(String(decoding: text, as: UTF8.self).contains("x\"}\\x0a{"))
    }

    @Test func textColoursOnlyWhenAsked() {
        #expect(!AlertFormatter.text(sample(), colour: false).contains(0x1B))
        #expect(AlertFormatter.text(sample(), colour: true).contains(0x1B))
        let t = String(decoding: AlertFormatter.text(sample(), colour: false), as: UTF8.self)
        #expect(t.hasPrefix("2026-03-02T09:00:00.000000Z HIGH SMB between workstations  10.20.1.23:50123 -> 10.20.1.40:445  count=1  [r-1]\n    conn.log:12: plain\n"))
    }
}
