import FlowhoundCore
import FlowhoundTestSupport
import Foundation
import Testing

@testable import FlowhoundRules

/// The rule index (pre-selection by one numeric field) must never change which rules match.
@Suite struct RuleIndexTests {
    static let ports = ["22", "23", "80", "135", "139", "443", "445", "1433", "3389", "5985", "0"]

    /// One random rule: a selection that may require the port (one or two lists), a protocol and bytes,
    /// sometimes a filter on the port or an `or` with another selection.
    static func randomRule(_ n: Int, _ rng: inout SplitMix) -> String {
        var sel: [String] = []
        func portList() -> String {
            let k = 1 + rng.below(4)
            return "[" + (0..<k).map { _ in rng.pick(ports) }.joined(separator: ", ") + "]"
        }
        switch rng.below(4) {
        case 0: break
        case 1, 2: sel.append("id.resp_p: \(portList())")
        default:
            sel.append("id.resp_p: \(portList())")
            sel.append("id.resp_p|gte: \(rng.pick([0, 100, 1000]))")
        }
        if rng.below(2) == 0 { sel.append("proto: \(rng.pick(["tcp", "udp"]))") }
        if rng.below(3) == 0 { sel.append("orig_bytes|gt: \(rng.pick([0, 10, 1000]))") }
        if sel.isEmpty { sel.append("proto: tcp") }
        var detection = "    sel:\n" + sel.map { "        \($0)\n" }.joined()
        var condition = "sel"
        switch rng.below(5) {
        case 0:
            detection += "    filter:\n        id.resp_p: \(portList())\n"
            condition = "sel and not filter"
        case 1:
            detection += "    other:\n        id.resp_p: \(portList())\n        proto: icmp\n"
            condition = "sel or other"
        case 2:
            // The port list written as two selections joined by `and`: both must accept the value.
            detection += "    also:\n        id.resp_p: \(portList())\n"
            condition = "sel and also"
        default: break
        }
        detection += "    condition: \(condition)"
        return """
            title: random rule \(n)
            id: 00000000-0000-0000-0000-\(String(format: "%012d", n))
            status: test
            level: low
            logsource:
                product: zeek
                service: test
            detection:
            \(detection)
            """
    }

    static func randomEvent(_ rng: inout SplitMix) -> TestEvent {
        var f: [String: String] = [:]
        let port = rng.below(22)
        if port < ports.count {
            f["id.resp_p"] = ports[port]
        } else {
            // Numbers the direct port table must send to the no-value row or to the row of the integer they equal.
            switch port {
            case 11: f["id.resp_p"] = "445.0"
            case 12: f["id.resp_p"] = "-0"
            case 13: f["id.resp_p"] = "https"
            case 14: f["id.resp_p"] = "4.45e2"
            case 15: f["id.resp_p"] = rng.pick(["22.5", "0.5", "444.9999"])
            case 16: f["id.resp_p"] = "70000"
            case 17: f["id.resp_p"] = "-22"
            case 18: f["id.resp_p"] = "1e400"
            case 19: f["id.resp_p"] = "5986"
            case 20: f["id.resp_p"] = "00022"
            default: break  // absent
            }
        }
        if rng.below(5) != 0 { f["proto"] = rng.pick(["tcp", "udp", "icmp"]) }
        if rng.below(3) != 0 { f["orig_bytes"] = rng.pick(["0", "5", "50", "5000", "x"]) }
        return TestEvent(f)
    }

    @Test("70 random rules (two index words), 3,000 random events: indexed and unindexed sets match the same rules")
    func sameMatchesAsWithoutIndex() throws {
        var rng = SplitMix(state: 20261201)
        let yaml = (0..<70).map { Self.randomRule($0, &rng) }.joined(separator: "\n---\n")
        let loaded = SigmaLoader.load(yaml: yaml, path: "random.yml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        try #require(loaded.rules.count == 70)
        let indexed = CompiledRuleSet(rules: loaded.rules, schema: testSchema)
        let plain = CompiledRuleSet(rules: loaded.rules, schema: testSchema, discriminate: false)
        #expect(indexed.discriminatorSlot == testSchema.slot("id.resp_p"))
        #expect(indexed.program.index?.pointee.number?.hasDirectRows == true)
        #expect(plain.discriminatorSlot == nil)
        var a: [Int] = []
        var b: [Int] = []
        var matched = 0
        var skippedSome = 0
        for _ in 0..<3000 {
            let e = Self.randomEvent(&rng)
            a.removeAll(keepingCapacity: true)
            b.removeAll(keepingCapacity: true)
            indexed.matches(e.record, into: &a)
            plain.matches(e.record, into: &b)
            #expect(a == b)
            matched += a.count
            if a.count < 70 { skippedSome += 1 }
        }
        // The workload is not trivial: rules do match, and not all of them on every event.
        #expect(matched > 3000)
        #expect(skippedSome > 2000)
    }

    @Test("no index unless a field is required to equal a number by two rules; a negated port does not count")
    func indexNeedsTwoRequiringRules() throws {
        func set(_ docs: [String]) throws -> CompiledRuleSet {
            let yaml = docs.enumerated().map { i, d in
                ruleYAML(d, title: "r\(i)").replacingOccurrences(
                    of: "0000-000000000001", with: "0000-00000000000\(i + 1)")
            }.joined(separator: "\n---\n")
            let loaded = SigmaLoader.load(yaml: yaml, path: "t.yml")
            #expect(loaded.errors.isEmpty, "\(loaded.errors)")
            return CompiledRuleSet(rules: loaded.rules, schema: testSchema)
        }
        let one = try set([
            "    sel:\n        id.resp_p: 445\n    condition: sel",
            "    sel:\n        proto: tcp\n    condition: sel",
        ])
        #expect(one.discriminatorSlot == nil)
        let negated = try set([
            "    sel:\n        id.resp_p: 445\n    condition: sel",
            "    sel:\n        proto: tcp\n    f:\n        id.resp_p: 22\n    condition: sel and not f",
        ])
        #expect(negated.discriminatorSlot == nil)
        let two = try set([
            "    sel:\n        id.resp_p: 445\n        orig_bytes: 7\n    condition: sel",
            "    sel:\n        id.resp_p: [22, 445]\n    condition: sel",
            "    sel:\n        orig_bytes: [1, 2, 3]\n        id.resp_p: 22\n    condition: sel",
        ])
        #expect(two.discriminatorSlot == testSchema.slot("id.resp_p"))
        var out: [Int] = []
        for (port, expected) in [("445", [1]), ("22", [1]), ("23", []), ("445", [0, 1])] {
            let bytes = expected == [0, 1] ? "7" : "9"
            let e = TestEvent(["id.resp_p": port, "orig_bytes": bytes])
            out.removeAll()
            two.matches(e.record, into: &out)
            #expect(out == expected, "port \(port) bytes \(bytes)")
        }
    }
}
