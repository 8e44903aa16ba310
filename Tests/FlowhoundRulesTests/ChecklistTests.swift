import FlowhoundCore
import FlowhoundParse
import Foundation
import Testing

@testable import FlowhoundRules

/// Tests for the items of the Sigma checklist (../shared/reference/sigma.md §7) that the older suites did not
/// pin. Each test names its item number; docs/sigma-checklist.md maps every item to its tests.
@Suite struct ChecklistTests {
    /// The error diagnostics of a YAML text (warnings left out).
    func errorCodes(_ yaml: String) -> [String] { diagnostics(yaml).filter { $0.kind == .error }.map(\.code) }

    /// A Zeek schema from the catalog, as a scan would build it before reading any line.
    func zeekSchema(_ logType: String) throws -> Schema {
        try #require(FieldCatalog.schemas(format: .zeekJSON).first { $0.logType == logType })
    }

    /// Decodes one Zeek JSON line of `fileName` with the real decoder, compiles `yaml` for the schema the decoder
    /// settles on and tells whether the rule matches. nil when the line does not decode to an event.
    func matchZeekJSON(_ yaml: String, _ line: String, fileName: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool? {
        guard let rule = loadRule(yaml, sourceLocation: sourceLocation) else { return nil }
        guard let decoder = makeDecoder(
            format: .zeekJSON, fileName: fileName, requestedFields: referencedFields([rule]), maxLineLength: 1 << 16)
        else { return nil }
        let bytes = Array(line.utf8)
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        buf.initialize(from: bytes, count: bytes.count)
        var record = EventRecord(capacity: 4)
        defer {
            record.deallocate()
            buf.deallocate()
        }
        var outcome = decoder.decode(buf, bytes.count, into: &record)
        if outcome == .schemaChanged {
            record.ensureCapacity(decoder.schema.fieldCount)
            outcome = decoder.decode(buf, bytes.count, into: &record)
        }
        guard outcome == .event else { return nil }
        let set = CompiledRuleSet(rules: [rule], schema: decoder.schema)
        var out: [Int] = []
        set.matches(record, into: &out)
        return out == [0]
    }

    func dnsRule(_ selection: String) -> String {
        """
        title: dns test
        id: 00000000-0000-0000-0000-00000000d0d0
        logsource: {product: zeek, service: dns}
        detection:
            sel:
                \(selection)
            condition: sel
        """
    }

    // MARK: values

    /// #4: an unquoted `NULL` in a value list is YAML null (as in PyYAML), so the list means "TXT, or no value".
    @Test func item04UnquotedNullInAValueListIsNull() {
        #expect(check("query: [TXT, NULL]", [["query": "txt"], ["query": "NULL"], [:], ["query": "A"]])
            == [true, false, true, false])
        #expect(check("query: [TXT, 'NULL']", [["query": "NULL"], [:]]) == [true, false])
    }

    /// #5: under `|all` each value must hold, but the variants `windash` makes of one value stay alternatives.
    @Test func item05AllKeepsExpansionVariantsOred() {
        #expect(check("cmd|windash|contains|all: [' -a', ' -b']",
                      [["cmd": "x /a \u{2013}b"], ["cmd": "x -a -b"], ["cmd": "x -a"], ["cmd": "x /b"]])
            == [true, true, false, false])
        #expect(check("cmd|base64offset|contains|all: [ping, pong]",
                      [["cmd": "cGluZ..cG9uZ"], ["cmd": "Bpbm..waW5n"], ["cmd": "Bpbm..Bvbm"], ["cmd": "cGluZ"]])
            == [true, false, true, false])
    }

    /// #6 and §3 decision 2: case folding is ASCII only (as the SQLite oracle's NOCASE), not Unicode.
    @Test func item06CaseFoldingIsASCIIOnly() {
        #expect(check("note: 'Café'", [["note": "CAFé"], ["note": "CAFÉ"], ["note": "café"]]) == [true, false, true])
        #expect(check("note|contains: 'é'", [["note": "CAFÉ"]]) == [false])
    }

    /// #8: the string `'true'` matches a JSON boolean decoded by the real Zeek JSON decoder (zeek_dns_mining_pools).
    @Test func item08StringTrueMatchesJSONBoolean() {
        let line = #"{"ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.1","query":"x.pool.com","rejected":true}"#
        #expect(matchZeekJSON(dnsRule("rejected: 'true'"), line, fileName: "dns.log") == true)
        #expect(matchZeekJSON(dnsRule("rejected: 'false'"), line, fileName: "dns.log") == false)
        #expect(matchZeekJSON(dnsRule("rejected: false"), line.replacingOccurrences(of: "true}", with: "false}"), fileName: "dns.log") == true)
    }

    /// #19 (known deviation, shared with the oracle): a JSON null is decoded as an absent field, so
    /// `exists: true` does not hold on it, and `null` does.
    @Test func item19JSONNullCountsAsAbsent() {
        let line = #"{"ts":1700000000.5,"uid":"C1","query":"x.com","qtype_name":null}"#
        #expect(matchZeekJSON(dnsRule("qtype_name|exists: true"), line, fileName: "dns.log") == false)
        #expect(matchZeekJSON(dnsRule("qtype_name|exists: false"), line, fileName: "dns.log") == true)
        #expect(matchZeekJSON(dnsRule("qtype_name: null"), line, fileName: "dns.log") == true)
        #expect(matchZeekJSON(dnsRule("qtype_name: ''"), line, fileName: "dns.log") == false)
    }

    /// #14: a bare address is a /32 or /128 block, and `cidr` takes no other value modifier.
    @Test func item14CIDRBareAddressesAndNoOtherModifiers() {
        #expect(check("id.orig_h|cidr: 'fe80::1'", [["id.orig_h": "FE80:0::1"], ["id.orig_h": "fe80::2"]]) == [true, false])
        #expect(errorCodes(ruleYAML("    sel:\n        id.orig_h|cidr|contains: 10.0.0.0/8\n    condition: sel")) == ["bad_modifier"])
        #expect(errorCodes(ruleYAML("    sel:\n        id.orig_h|contains|cidr: 10.0.0.0/8\n    condition: sel")) == ["bad_modifier"])
        #expect(errorCodes(ruleYAML("    sel:\n        id.orig_h|cidr|base64: 10.0.0.0/8\n    condition: sel")) == ["bad_modifier"])
    }

    /// #15: `base64` cannot encode a wildcard; `contains` after it adds the wildcards around the encoded text.
    @Test func item15Base64RejectsWildcards() {
        #expect(errorCodes(ruleYAML("    sel:\n        cmd|base64: 'pi*g'\n    condition: sel")) == ["bad_value"])
        #expect(errorCodes(ruleYAML("    sel:\n        cmd|contains|base64: ping\n    condition: sel")) == ["bad_value"])
        #expect(check("cmd|base64: ping", [["cmd": "cGluZw=="], ["cmd": "xcGluZw==x"]]) == [true, false])
    }

    /// #17: `utf16be` and `utf16` (little endian with a byte-order mark) before base64.
    @Test func item17UTF16BigEndianAndBOM() {
        // cmd in UTF-16BE is 00 63 00 6D 00 64; with BOM + LE it is FF FE 63 00 6D 00 64 00
        #expect(check("cmd|utf16be|base64: cmd", [["cmd": "AGMAbQBk"], ["cmd": "YwBtAGQA"]]) == [true, false])
        #expect(check("cmd|utf16|base64: cmd", [["cmd": "//5jAG0AZAA="], ["cmd": "YwBtAGQA"]]) == [true, false])
        #expect(check("cmd|wide|base64: cmd", [["cmd": "YwBtAGQA"]]) == [true])
    }

    /// #18: only a word-initial dash is expanded, and more than 3 expandable dashes in one value is a rule error.
    @Test func item18WindashPositionsAndLimit() {
        #expect(check("cmd|windash: 'a-b'", [["cmd": "a-b"], ["cmd": "a/b"]]) == [true, false])
        #expect(check("cmd|windash: '-x -y -z'", [["cmd": "/x \u{2014}y \u{2015}z"], ["cmd": "+x -y -z"]]) == [true, false])
        #expect(errorCodes(ruleYAML("    sel:\n        cmd|windash: '-a -b -c -d'\n    condition: sel")) == ["bad_value"])
    }

    /// #23: `fieldref` with startswith / endswith / neq, compared case-insensitively.
    @Test func item23FieldrefVariants() {
        #expect(check("uri|fieldref|startswith: query", [["uri": "/ADMIN/x", "query": "/admin"], ["uri": "/x/admin", "query": "/admin"]])
            == [true, false])
        #expect(check("uri|fieldref|endswith: query", [["uri": "/x/ADMIN", "query": "admin"], ["uri": "/admin/x", "query": "admin"]])
            == [true, false])
        #expect(check("id.orig_h|fieldref|neq: id.resp_h",
                      [["id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.1"], ["id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.2"]])
            == [false, true])
        #expect(check("uri|fieldref|cased: query", [["uri": "Ab", "query": "Ab"], ["uri": "Ab", "query": "ab"]]) == [true, false])
    }

    /// #25 (deviation): the time-part modifiers are known but rejected with a dedicated error.
    @Test(arguments: ["minute", "hour", "day", "week", "month", "year"])
    func item25TimePartsAreRejected(part: String) throws {
        let d = diagnostics(ruleYAML("    sel:\n        ts|\(part)|gte: 22\n    condition: sel")).filter { $0.kind == .error }
        #expect(d.map(\.code) == ["unsupported_modifier"])
        #expect(d.first?.message == "the Sigma modifier '\(part)' is not supported by flowhound yet")
    }

    // MARK: conditions

    /// #28: a pattern must match the whole identifier, `any of` is `1 of`, and an `_` pattern reaches `_` names.
    @Test func item28SelectorPatternsMatchWholeIdentifiers() throws {
        let ids = ["sel_a", "my_sel", "selb", "_sel_hidden"]
        #expect(try ConditionParser.parse("1 of sel*", identifiers: ids) == .oneOf(["sel_a", "selb"]))
        #expect(try ConditionParser.parse("any of *sel*", identifiers: ids) == .oneOf(["sel_a", "my_sel", "selb"]))
        #expect(try ConditionParser.parse("all of _*", identifiers: ids) == .allOf(["_sel_hidden"]))
        #expect(try ConditionParser.parse("1 of them", identifiers: ids) == .oneOf(["sel_a", "my_sel", "selb"]))
        #expect(try ConditionParser.parse("1 of *_a", identifiers: ids) == .oneOf(["sel_a"]))
        #expect(throws: ConditionError.self) { try ConditionParser.parse("1 of sel", identifiers: ids) }
        #expect(throws: ConditionError.self) { try ConditionParser.parse("1 of el*", identifiers: ids) }
    }

    /// #29: every operator spelled in capitals is a parse error with a hint.
    @Test func item29UppercaseOperatorsAreRejected() {
        for c in ["a AND b", "a OR b", "NOT a", "a and NOT b", "1 OF them"] {
            #expect(throws: ConditionError.self, "\(c)") { try ConditionParser.parse(c, identifiers: ["a", "b"]) }
        }
        do {
            _ = try ConditionParser.parse("a Or b", identifiers: ["a", "b"])
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "condition operators are lower-case: write 'or' instead of 'Or'")
            #expect(error.offset == 2)
        }
    }

    /// #31: a legacy aggregation rule (modelled on SigmaHQ's unsupported net_dns_high_requests_rate) is rejected
    /// with pointers to correlations, for the `| count()` condition, the `timeframe` key and `near`.
    @Test func item31LegacyAggregationsAreRejected() {
        let yaml = """
            title: High DNS request rate
            id: 00000000-0000-0000-0000-0000000003a1
            logsource: {category: dns}
            detection:
                selection:
                    query: '*'
                timeframe: 1m
                condition: selection | count() by src_ip > 1000
            level: medium
            """
        let r = SigmaLoader.load(yaml: yaml, path: "t.yml")
        #expect(r.rules.isEmpty)
        #expect(r.errors.map(\.code) == ["unsupported_timeframe", "bad_condition"])
        #expect(r.errors.allSatisfy { $0.message.contains("correlation") })
        #expect(r.errors.first?.location == FileLocation(path: "t.yml", line: 7, column: 5))
        let near = errorCodes(ruleYAML("    a:\n        proto: tcp\n    b:\n        query: x\n    condition: a near b"))
        #expect(near == ["bad_condition"])
    }

    // MARK: logsource and fields

    /// #35: a `zeek/dns` rule is compiled for the dns log only; the conn log skips it.
    @Test func item35LogsourceRoutesRulesToTheirLog() throws {
        let rule = try #require(loadRule(dnsRule("query: x")))
        let conn = CompiledRuleSet(rules: [rule], schema: try zeekSchema("conn"))
        #expect(conn.includedRules.isEmpty && conn.skippedByLogSource == 1)
        let dns = CompiledRuleSet(rules: [rule], schema: try zeekSchema("dns"))
        #expect(dns.includedRules == [0] && dns.skippedByLogSource == 0)
        // a rule with an empty logsource runs nowhere
        let bare = try #require(SigmaLoader.load(
            yaml: "title: x\nlogsource: {}\ndetection:\n    s: {query: x}\n    condition: s\n", path: "t.yml").rules.first)
        #expect(CompiledRuleSet(rules: [bare], schema: try zeekSchema("dns")).includedRules.isEmpty)
        // product is compared case-insensitively (rules write Zeek, zeek, ZEEK)
        let upper = try #require(loadRule(dnsRule("query: x").replacingOccurrences(of: "product: zeek", with: "product: Zeek")))
        #expect(CompiledRuleSet(rules: [upper], schema: try zeekSchema("dns")).includedRules == [0])
    }

    /// #36: taxonomy names reach native Zeek fields: a `firewall` rule on `dst_port` matches conn's `id.resp_p`.
    @Test func item36TaxonomyFieldsMapToZeekFields() throws {
        let yaml = """
            title: telnet
            id: 00000000-0000-0000-0000-0000000003b6
            logsource: {category: firewall}
            detection:
                sel:
                    dst_port: 23
                    src_ip|cidr: 10.0.0.0/8
                condition: sel
            """
        let rule = try #require(loadRule(yaml))
        let schema = try zeekSchema("conn")
        let set = CompiledRuleSet(rules: [rule], schema: schema)
        #expect(set.includedRules == [0] && set.missingFields.isEmpty)
        let hit = TestEvent(["id.resp_p": "23", "id.orig_h": "10.1.1.1"], schema: schema)
        let miss = TestEvent(["id.resp_p": "22", "id.orig_h": "10.1.1.1"], schema: schema)
        var out: [Int] = []
        set.matches(hit.record, into: &out)
        #expect(out == [0])
        out = []
        set.matches(miss.record, into: &out)
        #expect(out.isEmpty)
        // the dns log is not a firewall source
        #expect(CompiledRuleSet(rules: [rule], schema: try zeekSchema("dns")).includedRules.isEmpty)
    }

    // MARK: global filters

    func filterRules(_ filter: String) -> String {
        """
        title: telnet a
        id: 00000000-0000-0000-0000-0000000000a1
        name: telnet_a
        logsource: {product: zeek, service: test}
        detection:
            sel: {id.resp_p: 23}
            condition: sel
        ---
        title: telnet b
        id: 00000000-0000-0000-0000-0000000000a2
        logsource: {product: zeek, service: test}
        detection:
            sel: {id.resp_p: 23}
            condition: sel
        ---
        \(filter)
        """
    }

    /// Which of the loaded rules match each event.
    func run(_ yaml: String, _ events: [[String: String]], sourceLocation: SourceLocation = #_sourceLocation) -> [[String]] {
        let r = SigmaLoader.load(yaml: yaml, path: "f.yml")
        #expect(r.errors.isEmpty, "\(r.errors)", sourceLocation: sourceLocation)
        let set = CompiledRuleSet(rules: r.rules, schema: testSchema)
        return events.map { fields in
            let e = TestEvent(fields)
            var out: [Int] = []
            set.matches(e.record, into: &out)
            return out.map { r.rules[$0].title }
        }
    }

    /// #37: a global filter ANDs its condition onto the rules it lists (by id or name), only when the rule's
    /// logsource lies under the filter's.
    @Test func item37GlobalFilterAppliesToListedRulesOnly() {
        let filter = """
            title: not from the jump host
            logsource: {product: zeek}
            filter:
                rules: [00000000-0000-0000-0000-0000000000a1]
                selection: {id.orig_h: 10.0.0.1}
                condition: not selection
            """
        let events = [["id.resp_p": "23", "id.orig_h": "10.0.0.1"], ["id.resp_p": "23", "id.orig_h": "10.0.0.2"], ["id.resp_p": "22"]]
        #expect(run(filterRules(filter), events) == [["telnet b"], ["telnet a", "telnet b"], []])
        // by name, and with the identifier `sel` reused by the filter (filter identifiers are kept apart)
        let byName = """
            title: by name
            logsource: {product: zeek, service: test}
            filter:
                rules: telnet_a
                sel: {id.orig_h: 10.0.0.1}
                condition: not sel
            """
        #expect(run(filterRules(byName), events) == [["telnet b"], ["telnet a", "telnet b"], []])
        // `rules: any` (v2.2) reaches every rule under the logsource
        let any = filter.replacingOccurrences(of: "rules: [00000000-0000-0000-0000-0000000000a1]", with: "rules: any")
        #expect(run(filterRules(any), events) == [[], ["telnet a", "telnet b"], []])
        // a filter for another logsource leaves the rule alone
        let other = filter.replacingOccurrences(of: "logsource: {product: zeek}", with: "logsource: {product: linux}")
        #expect(run(filterRules(other), events) == [["telnet a", "telnet b"], ["telnet a", "telnet b"], []])
    }

    /// #37: a filter's `condition: selection` keeps only matching events (pySigma's AND), and bad filters are errors.
    @Test func item37FilterConditionIsAndedAndValidated() {
        let keep = """
            title: only the jump host
            logsource: {product: zeek, service: test}
            filter:
                rules: [telnet_a]
                selection: {id.orig_h: 10.0.0.1}
                condition: selection
            """
        #expect(run(filterRules(keep), [["id.resp_p": "23", "id.orig_h": "10.0.0.1"], ["id.resp_p": "23", "id.orig_h": "10.0.0.9"]])
            == [["telnet a", "telnet b"], ["telnet b"]])
        let noRules = "title: f\nlogsource: {product: zeek}\nfilter:\n    s: {id.orig_h: 1.1.1.1}\n    condition: not s\n"
        #expect(errorCodes(noRules) == ["bad_filter"])
        let undefined = "title: f\nlogsource: {product: zeek}\nfilter:\n    rules: any\n    s: {id.orig_h: 1.1.1.1}\n    condition: not t\n"
        #expect(errorCodes(undefined) == ["undefined_identifier"])
        let badMod = "title: f\nlogsource: {product: zeek}\nfilter:\n    rules: any\n    s: {id.orig_h|nope: 1}\n    condition: not s\n"
        #expect(errorCodes(badMod) == ["unknown_modifier"])
    }

    /// #37: filters are never applied to correlations, and a filter naming no loaded rule gets a warning.
    @Test func item37FilterLeavesCorrelationsAloneAndWarnsOnUnknownTargets() throws {
        let yaml = filterRules("""
            title: f
            logsource: {product: zeek}
            filter:
                rules: [telnet_a, no_such_rule]
                selection: {id.orig_h: 10.0.0.1}
                condition: not selection
            ---
            title: c
            correlation: {type: event_count, rules: [telnet_a], timespan: 1m, condition: {gte: 2}}
            """)
        let r = SigmaLoader.load(yaml: yaml, path: "f.yml")
        #expect(r.errors.isEmpty, "\(r.errors)")
        #expect(r.diagnostics.filter { $0.kind == .warning }.map(\.code) == ["unknown_filter_target"])
        let c = try #require(r.correlations.first?.correlation)
        #expect(c.rules == ["telnet_a"] && c.condition.map(\.op) == [.gte])
    }
}
