import FlowhoundCore
import Testing

@testable import FlowhoundRules

@Suite struct ValueMatchingTests {
    @Test func plainValueIsWholeValueCaseInsensitive() {
        #expect(check("proto: tcp", [["proto": "TCP"], ["proto": "tcpx"], ["proto": "tcp"], [:]]) == [true, false, true, false])
    }

    @Test func mapIsAndListOfValuesIsOr() {
        #expect(check("{id.resp_p: 22, proto: tcp}", [["id.resp_p": "22", "proto": "udp"], ["id.resp_p": "22", "proto": "tcp"]])
            == [false, true])
        #expect(check("query: [TXT, 'NULL']", [["query": "null"], ["query": "txt"], ["query": "A"]]) == [true, true, false])
    }

    @Test func listOfMapsIsOr() {
        let yaml = ruleYAML("    sel:\n        - proto: tcp\n        - query: x\n    condition: sel")
        #expect(evaluate(yaml, [TestEvent(["query": "x"]), TestEvent(["proto": "udp"])]) == [true, false])
    }

    @Test func wildcards() {
        #expect(check("query: 'a?c.*'", [["query": "abc.x"], ["query": "ac.x"], ["query": "ABC."], ["query": "aéc.z"]])
            == [true, false, true, true])
        #expect(check("query: '*.evil.com'", [["query": "x.EVIL.com"], ["query": "evil.com"]]) == [true, false])
        #expect(check("query: 'a*b*c'", [["query": "aXbYc"], ["query": "abc"], ["query": "acb"]]) == [true, true, false])
    }

    @Test func escapedWildcardsAndBackslashes() {
        // YAML single-quoted '\\\\\*\\IPC$' is the Sigma string \\\\\*\\IPC$ → literal \\*\IPC$
        #expect(check(#"path: '\\\\\*\\IPC$'"#, [["path": #"\\*\IPC$"#], ["path": #"\\x\IPC$"#]]) == [true, false])
        #expect(check(#"path: 'a\?'"#, [["path": "a?"], ["path": "ab"]]) == [true, false])
        #expect(check(#"path: 'C:\Windows\'"#, [["path": #"c:\windows\"#]]) == [true])
        #expect(check(#"path: 'a\\*'"#, [["path": #"a\anything"#], ["path": "a"]]) == [true, false])
    }

    @Test func containsStartsEndsWith() {
        #expect(check("uri|contains: 'a*b'", [["uri": "/xaYbz"], ["uri": "/xbz"]]) == [true, false])
        #expect(check("uri|endswith: '.exe'", [["uri": "/A.EXE"], ["uri": "/a.exe.txt"]]) == [true, false])
        #expect(check("uri|startswith: '/adm'", [["uri": "/ADMIN"], ["uri": "x/admin"]]) == [true, false])
        #expect(check("uri|contains: 'min'", [["uri": "/ADMIN"], ["uri": "/mi"]]) == [true, false])
    }

    @Test func allModifier() {
        #expect(check("query|contains|all: [abc, xyz]", [["query": "abc.xyz"], ["query": "abc.q"]]) == [true, false])
    }

    @Test func cased() {
        #expect(check("user_agent|cased: 'curl/*'", [["user_agent": "curl/7"], ["user_agent": "Curl/7"]]) == [true, false])
        #expect(check("user_agent|contains|cased: 'Bot'", [["user_agent": "xBotx"], ["user_agent": "xbotx"]]) == [true, false])
    }

    @Test func nullEmptyAndExists() {
        #expect(check("note: null", [[:], ["note": ""], ["note": "x"]]) == [true, false, false])
        #expect(check("note: ''", [[:], ["note": ""], ["note": "x"]]) == [false, true, false])
        #expect(check("note|exists: true", [[:], ["note": ""]]) == [false, true])
        #expect(check("note|exists: false", [[:], ["note": ""]]) == [true, false])
    }

    @Test func numbersEqualTheirText() {
        #expect(check("id.resp_p: 22", [["id.resp_p": "22"], ["id.resp_p": "22.0"], ["id.resp_p": "220"], [:]])
            == [true, true, false, false])
        #expect(check("dst_port: [445, 139]", [["id.resp_p": "139"], ["id.resp_p": "80"]]) == [true, false])
        #expect(check("id.resp_p: '22'", [["id.resp_p": "22"]]) == [true])
    }

    @Test func booleansEqualTheirSpelling() {
        #expect(check("rejected: true", [["rejected": "true"], ["rejected": "T"], ["rejected": "F"], ["rejected": "false"]])
            == [true, true, false, false])
        #expect(check("rejected: 'false'", [["rejected": "F"], ["rejected": "false"], ["rejected": "T"]]) == [true, true, false])
        // a string field compares the spelling only
        #expect(check("note: true", [["note": "TRUE"], ["note": "t"]]) == [true, false])
    }

    @Test func numericComparisons() {
        #expect(check("orig_bytes|lt: 100", [["orig_bytes": "99"], ["orig_bytes": "40"], ["orig_bytes": "abc"], ["orig_bytes": "100"], [:]])
            == [true, true, false, false, false])
        #expect(check("orig_bytes|lte: 100", [["orig_bytes": "100"], ["orig_bytes": "100.5"]]) == [true, false])
        #expect(check("orig_bytes|gt: 1.5", [["orig_bytes": "2"], ["orig_bytes": "1.5"], ["orig_bytes": "1e3"]]) == [true, false, true])
        #expect(check("orig_bytes|gte: -3", [["orig_bytes": "-3"], ["orig_bytes": "-4"]]) == [true, false])
    }

    @Test func numericRangeParsesOnceAndCombines() {
        #expect(check("{orig_bytes|gt: 10, orig_bytes|lt: 20}", [["orig_bytes": "15"], ["orig_bytes": "25"]]) == [true, false])
    }

    @Test func neq() {
        #expect(check("proto|neq: [tcp, udp]", [["proto": "icmp"], [:], ["proto": "UDP"]]) == [true, true, false])
    }

    @Test func cidr() {
        #expect(check("id.orig_h|cidr: 10.0.0.0/8", [["id.orig_h": "10.1.2.3"], ["id.orig_h": "100.0.0.1"], ["id.orig_h": "x"]])
            == [true, false, false])
        #expect(check("id.orig_h|cidr: ['fe80::/10', '192.168.0.0/16']",
                      [["id.orig_h": "FE80::1"], ["id.orig_h": "fe80:0:0::1"], ["id.orig_h": "192.168.4.4"], ["id.orig_h": "fec0::1"]])
            == [true, true, true, false])
        #expect(check("id.orig_h|cidr: 10.0.0.5", [["id.orig_h": "10.0.0.5"], ["id.orig_h": "10.0.0.6"]]) == [true, false])
    }

    @Test func regexIsUnanchoredSearchCaseSensitiveByDefault() {
        #expect(check(#"query|re: '^abc\.'"#, [["query": "abc.x"], ["query": "AbC.x"], ["query": "xabc.x"]]) == [true, false, false])
        #expect(check(#"query|re|i: '^abc\.'"#, [["query": "AbC.x"]]) == [true])
        #expect(check(#"query|re: '\d{3}-[\w.]+'"#, [["query": "id 123-a.b"], ["query": "12-ab"]]) == [true, false])
        #expect(check(#"query|re: 'ab.*?c'"#, [["query": "xxabzzc"], ["query": "ab"]]) == [true, false])
        #expect(check(#"query|re: '(?i)^EVIL'"#, [["query": "evil.com"]]) == [true])
        #expect(check(#"query|re: '[\]\-x]'"#, [["query": "a]"], ["query": "-"], ["query": "b"]]) == [true, true, false])
    }

    @Test func base64() {
        #expect(check("cmd|base64|contains: 'ping'", [["cmd": "xxcGluZw==yy"], ["cmd": "ping"]]) == [true, false])
    }

    @Test func base64offsetVectors() {
        #expect(ValueTransform.base64Offsets(Array("ping".utf8)).map { String(decoding: $0, as: UTF8.self) }
            == ["cGluZ", "Bpbm", "waW5n"])
        let wide = ValueTransform.utf16(SigmaPattern(sigma: "cmd"), bigEndian: false, bom: false)
        guard case .literal(let b) = wide.pieces[0] else { Issue.record("not literal"); return }
        #expect(ValueTransform.base64Offsets(b).map { String(decoding: $0, as: UTF8.self) } == ["YwBtAGQA", "MAbQBkA", "jAG0AZA"])
        #expect(check("cmd|base64offset|contains: 'ping'", [["cmd": "..Bpbm.."], ["cmd": "..waW5n"], ["cmd": "pin"]]) == [true, true, false])
    }

    @Test func utf16leIsWide() {
        let a = check("cmd|wide|base64offset|contains: 'cmd'", [["cmd": "zzMAbQBkAzz"], ["cmd": "cmd"]])
        let b = check("cmd|utf16le|base64offset|contains: 'cmd'", [["cmd": "zzMAbQBkAzz"], ["cmd": "cmd"]])
        #expect(a == [true, false])
        #expect(a == b)
    }

    @Test func windash() {
        #expect(check("cmd|contains|windash: ' -enc'",
                      [["cmd": "ps /enc x"], ["cmd": "ps \u{2013}enc x"], ["cmd": "ps -enc"], ["cmd": "ps +enc"]])
            == [true, true, true, false])
        #expect(ValueTransform.windash(SigmaPattern(sigma: "-a -b"))?.count == 25)
    }

    @Test func listFieldsMatchAnyElementAndNotAppliesToWhole() {
        let yaml = ruleYAML("""
                sel:
                    query|endswith: '.pool.com'
                exclude:
                    answers: ['127.0.0.1', '0.0.0.0']
                condition: sel and not exclude
            """)
        let events = [
            TestEvent(["query": "a.pool.com", "answers": "127.0.0.1,1.2.3.4"]),
            TestEvent(["query": "a.pool.com", "answers": "1.2.3.4,5.6.7.8"]),
            TestEvent(["query": "a.pool.com"]),
        ]
        #expect(evaluate(yaml, events) == [false, true, true])
        #expect(check("answers|cidr: 10.0.0.0/8", [["answers": "1.1.1.1,10.2.2.2"], ["answers": "1.1.1.1"], ["answers": ""]])
            == [true, false, false])
    }

    @Test func fieldref() {
        #expect(check("id.orig_h|fieldref: id.resp_h", [["id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.1"],
                                                       ["id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.2"], ["id.orig_h": "x"]])
            == [true, false, false])
        #expect(check("uri|fieldref|contains: query", [["uri": "/a/EVIL/b", "query": "evil"], ["uri": "/a", "query": "evil"]])
            == [true, false])
    }

    @Test func expandResolvesPlaceholders() {
        let yaml = ruleYAML("    sel:\n        id.orig_h|expand: '%servers%'\n    condition: sel")
        let e = [TestEvent(["id.orig_h": "10.0.0.9"]), TestEvent(["id.orig_h": "10.0.0.1"])]
        #expect(evaluate(yaml, e, placeholders: ["servers": ["10.0.0.9", "10.0.0.8"]]) == [true, false])
        // unresolved: the compiler reports and leaves the rule out
        guard let rule = loadRule(yaml) else { return }
        let set = CompiledRuleSet(rules: [rule], schema: testSchema)
        #expect(set.matchers.isEmpty)
        #expect(set.diagnostics.map(\.code) == ["unresolved_placeholder"])
        #expect(set.diagnostics.first?.location?.line == 10)
    }

    @Test func keywordsSearchTheRawLine() {
        let yaml = ruleYAML("    keywords:\n        - 'Failed password'\n        - 'Invalid user'\n    condition: keywords")
        let events = [TestEvent([:], line: "sshd: failed PASSWORD for root"), TestEvent([:], line: "Accepted password")]
        #expect(evaluate(yaml, events) == [true, false])
        let all = ruleYAML("    keywords:\n        '|all':\n            - BGP\n            - 'MD5'\n    condition: keywords")
        let e2 = [TestEvent([:], line: "bgp peer md5 failed"), TestEvent([:], line: "bgp peer down")]
        #expect(evaluate(all, e2) == [true, false])
        let scalar = ruleYAML("    keywords: 'seg*fault'\n    condition: keywords")
        #expect(evaluate(scalar, [TestEvent([:], line: "kernel: SEGV fault"), TestEvent([:], line: "fault seg")]) == [true, false])
    }
}

@Suite struct ConditionTests {
    /// a = proto tcp, b = query x, c = uri y
    func run(_ condition: String, _ events: [[String: String]], extra: String = "") -> [Bool] {
        let yaml = ruleYAML("""
                a:
                    proto: tcp
                b:
                    query: x
                c:
                    uri: y
                _d:
                    note: z
            \(extra)    condition: \(condition)
            """)
        return evaluate(yaml, events.map { TestEvent($0) })
    }

    @Test func precedenceOrAndNot() {
        // a or (b and (not c))
        #expect(run("a or b and not c", [["proto": "tcp", "uri": "y"], ["query": "x"], ["query": "x", "uri": "y"], [:]])
            == [true, true, false, false])
        // ((not a) and b) or c
        #expect(run("not a and b or c", [["proto": "tcp", "query": "x"], ["uri": "y", "proto": "tcp"], ["query": "x"]])
            == [false, true, true])
        #expect(run("(a or b) and c", [["proto": "tcp"], ["query": "x", "uri": "y"]]) == [false, true])
    }

    @Test func parsedTree() throws {
        let c = try ConditionParser.parse("a or b and not c", identifiers: ["a", "b", "c"])
        #expect(c == .or([.search("a"), .and([.search("b"), .not(.search("c"))])]))
        let d = try ConditionParser.parse("not 1 of s* and all of them", identifiers: ["s1", "s2", "t", "_u"])
        #expect(d == .and([.not(.oneOf(["s1", "s2"])), .allOf(["s1", "s2", "t"])]))
    }

    @Test func selectors() {
        let yaml = ruleYAML("""
                sel_a:
                    proto: tcp
                sel_b:
                    query: x
                _hidden:
                    uri: y
                condition: 1 of sel*
            """)
        #expect(evaluate(yaml, [TestEvent(["query": "x"]), TestEvent(["uri": "y"])]) == [true, false])
        #expect(run("all of them", [["proto": "tcp", "query": "x", "uri": "y"], ["proto": "tcp", "query": "x"]]) == [true, false])
        // `them` ignores _d, so _d need not hold
        #expect(run("1 of them", [["note": "z"], ["uri": "y"]]) == [false, true])
        #expect(run("1 of _*", [["note": "z"]]) == [true])
    }

    @Test func conditionListIsAny() {
        let yaml = ruleYAML("    a:\n        proto: tcp\n    b:\n        query: x\n    condition:\n        - a\n        - b")
        #expect(evaluate(yaml, [TestEvent(["proto": "tcp"]), TestEvent(["query": "x"]), TestEvent([:])]) == [true, true, false])
    }

    @Test func missingFieldsFoldToAbsent() {
        let yaml = ruleYAML("    sel:\n        proto: tcp\n    filter:\n        nosuch: 1\n    condition: sel and not filter")
        guard let rule = loadRule(yaml) else { return }
        let set = CompiledRuleSet(rules: [rule], schema: testSchema)
        #expect(set.missingFields.map(\.description) == ["field nosuch not provided by zeek-json/test"])
        #expect(set.matcher(forRule: 0) == .equals(0, Array("tcp".utf8), cased: false))
        var out: [Int] = []
        let event = TestEvent(["proto": "tcp"])
        withExtendedLifetime(event) { set.matches(event.record, into: &out) }
        #expect(out == [0])
        let nullRule = ruleYAML("    sel:\n        nosuch: null\n    condition: sel")
        #expect(evaluate(nullRule, [TestEvent([:])]) == [true])
    }
}
