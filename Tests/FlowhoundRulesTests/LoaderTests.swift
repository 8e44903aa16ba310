import FlowhoundCore
import Foundation
import Testing

@testable import FlowhoundRules

@Suite struct LoaderTests {
    @Test func metadataAndDetectionTree() throws {
        let yaml = """
            title: SSH to many hosts
            id: 11111111-2222-3333-4444-555555555555
            status: experimental
            description: Something
            level: critical
            tags:
                - attack.lateral_movement
                - attack.t1021.004
            falsepositives: Admins
            fields: [id.orig_h, id.resp_h]
            logsource:
                product: Zeek
                service: conn
            detection:
                selection:
                    id.resp_p: 22
                condition: selection
            """
        let rule = try #require(loadRule(yaml))
        #expect(rule.id == "11111111-2222-3333-4444-555555555555")
        #expect(rule.title == "SSH to many hosts")
        #expect(rule.status == "experimental")
        #expect(rule.level == .critical)
        #expect(rule.tags == ["attack.lateral_movement", "attack.t1021.004"])
        #expect(rule.falsepositives == ["Admins"])
        #expect(rule.fields == ["id.orig_h", "id.resp_h"])
        #expect(rule.logsource == LogSource(product: "zeek", service: "conn"))
        #expect(rule.location == FileLocation(path: "t.yml", line: 1, column: 1))
        #expect(rule.detection.conditions == [.search("selection")])
        let sel = try #require(rule.detection.search(named: "selection"))
        #expect(sel.location == FileLocation(path: "t.yml", line: 15, column: 5))
        guard case .item(let item) = sel.expression, case .values(let vals, false, false) = item.test else {
            Issue.record("unexpected tree \(sel.expression)")
            return
        }
        #expect(item.field == "id.resp_p")
        #expect(vals == [[.number(22, spelling: "22")]])
        #expect(referencedFields([rule]) == ["id.resp_p"])
    }

    @Test func multiDocumentFileWithCorrelationFilterAndTrailingSeparator() throws {
        let yaml = """
            title: base
            name: ssh_attempt
            logsource: {product: zeek, service: conn}
            detection:
                sel: {id.resp_p: 22}
                condition: sel
            ---
            title: SSH scan
            correlation:
                type: value_count
                rules: ssh_attempt
                group-by: [id.orig_h]
                timespan: 5m
                condition:
                    gte: 10
                    field: id.resp_h
            level: high
            ---
            title: not from jump hosts
            logsource: {product: zeek, service: conn}
            filter:
                rules: [ssh_attempt]
                selection: {id.orig_h: 10.0.0.1}
                condition: not selection
            ---
            """
        let r = SigmaLoader.load(yaml: yaml, path: "m.yml")
        #expect(r.errors.isEmpty, "\(r.errors)")
        #expect(r.rules.count == 1)
        #expect(r.correlations.count == 1)
        #expect(r.filters.count == 1)
        #expect(r.documentsRead == 3)
        let c = try #require(r.correlations.first?.correlation)
        #expect(c.type == .valueCount)
        #expect(c.rules == ["ssh_attempt"])
        #expect(c.groupBy == ["id.orig_h"])
        #expect(c.timespanSeconds == 300)
        #expect(c.field == "id.resp_h")
        #expect(c.condition.count == 1 && c.condition[0].op == .gte && c.condition[0].value == 10)
        #expect(r.correlations.first?.level == .high)
    }

    @Test func timespans() {
        #expect(SigmaCorrelation.parseTimespan("30s") == 30)
        #expect(SigmaCorrelation.parseTimespan("2h") == 7200)
        #expect(SigmaCorrelation.parseTimespan("1M") == 2_592_000)
        #expect(SigmaCorrelation.parseTimespan("1y") == 31_536_000)
        #expect(SigmaCorrelation.parseTimespan("5x") == nil)
        #expect(SigmaCorrelation.parseTimespan("m") == nil)
    }

    @Test func yamlScalarsFollowTheCoreSchema() {
        #expect(check("note: yes", [["note": "yes"], ["note": "true"]]) == [true, false])
        #expect(check("id.resp_p: 0x17", [["id.resp_p": "23"]]) == [true])
        #expect(check("id.resp_p: 010", [["id.resp_p": "10"], ["id.resp_p": "8"]]) == [true, false])
        #expect(check("note: 2023-01-01", [["note": "2023-01-01"]]) == [true])
    }
}

@Suite struct DiagnosticTests {
    func only(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> Diagnostic? {
        let errs = diagnostics(yaml).filter { $0.kind == .error }
        #expect(errs.count == 1, "\(errs)", sourceLocation: sourceLocation)
        return errs.first
    }

    @Test func unknownModifierWithSuggestionAndColumn() throws {
        let d = try #require(only(ruleYAML("    sel:\n        query|contans: x\n    condition: sel")))
        #expect(d.code == "unknown_modifier")
        #expect(d.message == "'contans' is not a Sigma modifier; did you mean 'contains'?")
        #expect(d.location == FileLocation(path: "t.yml", line: 10, column: 15))
        #expect(d.description == "t.yml:10:15: error[unknown_modifier]: 'contans' is not a Sigma modifier; did you mean 'contains'?")
        let u = try #require(only(ruleYAML("    sel:\n        ts|hour: 3\n    condition: sel")))
        #expect(u.code == "unsupported_modifier")
    }

    @Test func badConditionPointsAtTheToken() throws {
        let d = try #require(only(ruleYAML("    sel:\n        proto: tcp\n    condition: sel AND sel")))
        #expect(d.code == "bad_condition")
        #expect(d.location == FileLocation(path: "t.yml", line: 11, column: 20))
        let q = try #require(only(ruleYAML("    sel:\n        proto: tcp\n    condition: 'sel and (sel'")))
        #expect(q.code == "bad_condition")
        #expect(q.location?.column == 29)  // end of the condition text inside the quotes
        let agg = try #require(only(ruleYAML("    sel:\n        proto: tcp\n    condition: sel | count() > 5")))
        #expect(agg.location?.column == 20)
        #expect(agg.message.contains("correlation"))
        let two = try #require(only(ruleYAML("    sel:\n        proto: tcp\n    condition: 2 of sel")))
        #expect(two.location?.column == 16)
    }

    @Test func undefinedIdentifier() throws {
        let d = try #require(only(ruleYAML("    selection:\n        proto: tcp\n    condition: selection and selectoin")))
        #expect(d.code == "undefined_identifier")
        #expect(d.message == "'selectoin' is not a search identifier of this rule; did you mean 'selection'?")
        #expect(d.location == FileLocation(path: "t.yml", line: 11, column: 30))
        let p = try #require(only(ruleYAML("    sel:\n        proto: tcp\n    condition: 1 of filter_*")))
        #expect(p.code == "undefined_identifier")
        #expect(p.location?.column == 21)
    }

    @Test func missingParts() throws {
        let noTitle = try #require(only("logsource: {product: zeek}\ndetection:\n    s: {a: 1}\n    condition: s\n"))
        #expect(noTitle.code == "missing_title")
        #expect(noTitle.location == FileLocation(path: "t.yml", line: 1, column: 1))
        let noDet = try #require(only("title: x\nlogsource: {product: zeek}\n"))
        #expect(noDet.code == "missing_detection")
        let noCond = try #require(only("title: x\nlogsource: {product: zeek}\ndetection:\n    s: {a: 1}\n"))
        #expect(noCond.code == "missing_condition")
        #expect(noCond.location == FileLocation(path: "t.yml", line: 4, column: 5))
    }

    @Test func badLevel() throws {
        let d = try #require(only(ruleYAML("    sel:\n        proto: tcp\n    condition: sel").replacingOccurrences(of: "level: high", with: "level: hihg")))
        #expect(d.code == "bad_level")
        #expect(d.location == FileLocation(path: "t.yml", line: 4, column: 8))
        #expect(d.message.hasSuffix("did you mean 'high'?"))
    }

    @Test func yamlSyntaxError() throws {
        let d = try #require(only("title: x\ndetection:\n  sel: [a, b\n  condition: sel\n"))
        #expect(d.code == "yaml_syntax")
        #expect(d.location?.line == 4)
    }

    @Test func duplicateKeys() throws {
        // Yams rejects the mapping itself; we report the second occurrence
        let d = try #require(only(ruleYAML("    sel:\n        proto: tcp\n        proto: udp\n    condition: sel")))
        #expect(d.code == "duplicate_key")
        #expect(d.location == FileLocation(path: "t.yml", line: 11, column: 9))
        #expect(d.message.contains("first at line 10"))
        // keys that differ only in YAML tag are caught by our own check
        let t = try #require(only(ruleYAML("    sel:\n        '1': a\n        1: b\n    condition: sel")))
        #expect(t.code == "duplicate_key")
        #expect(t.location?.line == 11)
    }

    @Test func badValuesAreLocated() throws {
        let cidr = try #require(only(ruleYAML("    sel:\n        id.orig_h|cidr: 10.0.0.0/33\n    condition: sel")))
        #expect(cidr.code == "bad_cidr")
        #expect(cidr.location == FileLocation(path: "t.yml", line: 10, column: 25))
        let gt = try #require(only(ruleYAML("    sel:\n        orig_bytes|gt: '100'\n    condition: sel")))
        #expect(gt.code == "bad_value")
        let re = try #require(only(ruleYAML("    sel:\n        query|re: '(?=x'\n    condition: sel")))
        #expect(re.code == "bad_regex")
        let ex = try #require(only(ruleYAML("    sel:\n        query|exists: maybe\n    condition: sel")))
        #expect(ex.code == "bad_value")
        let order = try #require(only(ruleYAML("    sel:\n        query|contains|re: x\n    condition: sel")))
        #expect(order.code == "bad_modifier")
    }

    @Test func badRuleDoesNotStopOthers() {
        let yaml = ruleYAML("    sel:\n        a|nope: 1\n    condition: sel") + "\n---\n"
            + ruleYAML("    sel:\n        a: 1\n    condition: sel", title: "good").replacingOccurrences(of: "0001", with: "0002")
        let r = SigmaLoader.load(yaml: yaml, path: "t.yml")
        #expect(r.rules.map(\.title) == ["good"])
        #expect(r.errors.map(\.code) == ["unknown_modifier"])
    }

    @Test func duplicateIDsAcrossDocuments() {
        let one = ruleYAML("    sel:\n        a: 1\n    condition: sel")
        let r = SigmaLoader.load(yaml: one + "\n---\n" + one, path: "t.yml")
        #expect(r.rules.count == 1)
        #expect(r.errors.map(\.code) == ["duplicate_id"])
        #expect(r.errors.first?.location?.line == 13)
    }
}

@Suite struct CorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("../shared/corpus/sigmahq-rules").standardized.path

    @Test func sigmaHQNetworkRulesAllLoad() throws {
        let network = CorpusTests.root + "/rules/network"
        guard FileManager.default.fileExists(atPath: network) else {
            print("skipping: SigmaHQ corpus not found at \(network)")
            return
        }
        var paths = [network]
        let proxy = CorpusTests.root + "/rules/web/proxy_generic"
        let hasProxy = FileManager.default.fileExists(atPath: proxy)
        if hasProxy { paths.append(proxy) }
        let r = SigmaLoader.load(paths: paths)
        #expect(r.errors.isEmpty, "\(r.errors.map(\.description).joined(separator: "\n"))")
        if !hasProxy {
            #expect(r.filesRead == 53)
            #expect(r.rules.count == 53)
        }
        #expect(r.metaRules.isEmpty)
        // the Zeek DNS rules compile against a DNS-like schema, with notes for the fields it lacks
        let dns = Schema(
            format: .zeekJSON, logType: "dns",
            fields: [FieldSpec(name: "query"), FieldSpec(name: "answers", type: .list, listSeparator: 44),
                     FieldSpec(name: "rejected", type: .bool), FieldSpec(name: "qtype_name")],
            logSources: [LogSource(product: "zeek", service: "dns")])
        let set = CompiledRuleSet(rules: r.rules, schema: dns)
        #expect(set.includedRules.count == 5)
        #expect(set.diagnostics.isEmpty)
        #expect(set.skippedByLogSource == r.rules.count - 5)
        #expect(referencedFields(r.rules).contains("id.resp_p"))
    }
}
