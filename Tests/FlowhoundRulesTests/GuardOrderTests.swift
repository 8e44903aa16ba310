import FlowhoundCore
import FlowhoundTestSupport
import Foundation
import Testing

@testable import FlowhoundRules

/// The learned guard order (GuardOrder.swift) changes how much work a record costs, never which rules match.
@Suite struct GuardOrderTests {
    static let privateRanges = "['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']"

    static func rule(_ n: Int, _ body: String) -> String {
        """
        title: guard order rule \(n)
        id: 00000000-0000-0000-0000-\(String(format: "%012d", n))
        status: test
        level: low
        logsource:
            product: zeek
            service: test
        detection:
        \(body)
        """
    }

    /// Five rules sharing the private-source guard (so the static order tests it first: cheapest per sharing rule),
    /// one of which also needs a rare byte count.
    static let rules: [SigmaRule] = {
        let docs = [
            rule(1, """
                    sel:
                        id.orig_h|cidr: \(privateRanges)
                        orig_bytes|gte: 100000000
                    internal:
                        id.resp_h|cidr: \(privateRanges)
                    condition: sel and not internal
                """),
            rule(2, """
                    sel:
                        id.orig_h|cidr: \(privateRanges)
                        id.resp_p: [22, 3389]
                        proto: tcp
                    condition: sel
                """),
            rule(3, """
                    sel:
                        id.orig_h|cidr: \(privateRanges)
                        id.resp_p: 53
                        proto: udp
                    internal:
                        id.resp_h|cidr: \(privateRanges)
                    condition: sel and not internal
                """),
            rule(4, """
                    sel:
                        id.orig_h|cidr: \(privateRanges)
                        id.resp_p: [445, 139]
                    condition: sel
                """),
            rule(5, """
                    sel:
                        id.orig_h|cidr: \(privateRanges)
                        query|contains: evil
                    condition: sel
                """),
        ]
        let loaded = SigmaLoader.load(yaml: docs.joined(separator: "\n---\n"), path: "guard-order.yml")
        precondition(loaded.errors.isEmpty, "\(loaded.errors)")
        return loaded.rules
    }()

    /// A conn-like event. `phase` 0: nearly every source private, byte counts small; phase 1 (drift): sources mostly
    /// public, byte counts often huge.
    static func event(_ rng: inout SplitMix, phase: Int) -> TestEvent {
        var f: [String: String] = [:]
        let privateShare = phase == 0 ? 19 : 2  // out of 20
        f["id.orig_h"] =
            rng.below(20) < privateShare
            ? "10.\(rng.below(256)).\(rng.below(256)).\(rng.below(256))" : "8.\(rng.below(256)).4.\(rng.below(256))"
        if rng.below(10) != 0 {
            f["id.resp_h"] = rng.below(3) == 0 ? "192.168.1.\(rng.below(256))" : "93.184.\(rng.below(256)).34"
        }
        f["id.resp_p"] = rng.pick(["443", "80", "53", "22", "445", "3389", "139", "8080"])
        f["proto"] = rng.pick(["tcp", "udp", "icmp"])
        if rng.below(8) != 0 {
            let huge = phase == 0 ? rng.below(1000) == 0 : rng.below(2) == 0
            f["orig_bytes"] = huge ? "250000000" : String(rng.below(100_000))
        }
        if rng.below(4) == 0 { f["query"] = rng.pick(["evil.example", "good.example", "x"]) }
        return TestEvent(f)
    }

    @Test("a rare byte count moves in front of the shared private-source guard; results equal the static order's")
    func learnsToTestTheRareGuardFirst() throws {
        let adaptive = CompiledRuleSet(rules: Self.rules, schema: testSchema)
        let fixed = CompiledRuleSet(rules: Self.rules, schema: testSchema, adaptive: false)
        let program = adaptive.program
        // Rule 1 (program rule 0): its first guard starts as the shared address test.
        let before = program.guardOrder(rule: 0)
        let cidrLeaf = try #require(before.first).leaf
        var scratchA = adaptive.makeScratch()
        var scratchF = fixed.makeScratch()
        defer {
            scratchA.deallocate()
            scratchF.deallocate()
        }
        var rng = SplitMix(state: 7)
        var a: [Int] = []
        var b: [Int] = []
        var matched = 0
        for _ in 0..<3000 {
            let e = Self.event(&rng, phase: 0)
            a.removeAll(keepingCapacity: true)
            b.removeAll(keepingCapacity: true)
            adaptive.matches(e.record, scratch: &scratchA, into: &a)
            fixed.matches(e.record, scratch: &scratchF, into: &b)
            #expect(a == b)
            matched += a.count
        }
        let after = program.guardOrder(rule: 0)
        #expect(after.first?.leaf != cidrLeaf, "static order \(before), learned \(after)")
        // Same guards, only reordered.
        func keys(_ gs: [(leaf: Int, expected: Bool)]) -> Set<Int> { Set(gs.map { $0.leaf << 1 | ($0.expected ? 1 : 0) }) }
        #expect(keys(after) == keys(before))
        #expect(fixed.program.guardOrder(rule: 0).map { $0.leaf } == before.map { $0.leaf })
        #expect(matched > 200)
    }

    @Test("orders revised through a drifting mix (200,000 records, sampled and unsampled) match as the static order")
    func driftNeverChangesResults() {
        let adaptive = CompiledRuleSet(rules: Self.rules, schema: testSchema)
        let fixed = CompiledRuleSet(rules: Self.rules, schema: testSchema, adaptive: false)
        var scratchA = adaptive.makeScratch()
        var scratchF = fixed.makeScratch()
        defer {
            scratchA.deallocate()
            scratchF.deallocate()
        }
        var rng = SplitMix(state: 11)
        // Pre-built events (reused), so the loop is mostly matching.
        let phases = (0..<2).map { phase in (0..<4000).map { _ in Self.event(&rng, phase: phase) } }
        var a: [Int] = []
        var b: [Int] = []
        var mismatches = 0
        var orders = Set<[Int]>()
        for i in 0..<200_000 {
            let e = phases[(i / 50_000) % 2][rng.below(4000)]
            a.removeAll(keepingCapacity: true)
            b.removeAll(keepingCapacity: true)
            adaptive.matches(e.record, scratch: &scratchA, into: &a)
            fixed.matches(e.record, scratch: &scratchF, into: &b)
            if a != b { mismatches += 1 }
            if i % 10_000 == 9_999 { orders.insert(adaptive.program.guardOrder(rule: 0).map { $0.leaf }) }
        }
        #expect(mismatches == 0)
        // The drift did move rule 1's order at least once (else this test would not exercise revisions).
        #expect(orders.count >= 2, "\(orders)")
    }

    @Test("two threads sharing one adaptive rule set, each with its own scratch, match as one thread with the static order")
    func sharedProgramAcrossThreads() async {
        let shared = CompiledRuleSet(rules: Self.rules, schema: testSchema)
        let fixed = CompiledRuleSet(rules: Self.rules, schema: testSchema, adaptive: false)
        var rng = SplitMix(state: 23)
        let events = (0..<2).flatMap { phase in (0..<3000).map { _ in Self.event(&rng, phase: phase) } }
        var expected: [[Int]] = []
        var scratch = fixed.makeScratch()
        for e in events {
            var out: [Int] = []
            fixed.matches(e.record, scratch: &scratch, into: &out)
            expected.append(out)
        }
        scratch.deallocate()
        let box = UncheckedBox((shared, events, expected))
        let failures = await withTaskGroup(of: Int.self) { group in
            for t in 0..<2 {
                group.addTask {
                    let (set, events, expected) = box.value
                    var scratch = set.makeScratch()
                    defer { scratch.deallocate() }
                    var bad = 0
                    var out: [Int] = []
                    for round in 0..<20 {
                        for i in 0..<events.count {
                            let k = (i * (t + 1) + round * 977) % events.count
                            out.removeAll(keepingCapacity: true)
                            set.matches(events[k].record, scratch: &scratch, into: &out)
                            if out != expected[k] { bad += 1 }
                        }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }
}

/// Hands non-Sendable test fixtures (read only) to tasks.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
