import FlowhoundCore
import FlowhoundTestSupport
import Foundation
import Testing

@testable import FlowhoundRules

/// Two-pass matching (LateFields.swift): a record decoded without the late fields, then, only when a rule was
/// deferred, in full. The matches must be those of one pass over the full record.
@Suite struct LateFieldsTests {
    /// Rules 1 and 2 are candidates on any record (no port guard); rules 3-6 are keyed by the port and read fields
    /// no unkeyed rule reads (`uri`, `user_agent`, `note`, `answers`), which are therefore late.
    static let yaml = [
        GuardOrderTests.rule(1, """
                sel:
                    id.orig_h|cidr: \(GuardOrderTests.privateRanges)
                    orig_bytes|gte: 1000
                condition: sel
            """),
        GuardOrderTests.rule(2, """
                sel:
                    query|contains: evil
                condition: sel
            """),
        GuardOrderTests.rule(3, """
                sel:
                    id.resp_p: [80, 8080]
                    id.orig_h|cidr: 10.20.1.0/24
                    uri|contains: /admin
                condition: sel
            """),
        GuardOrderTests.rule(4, """
                sel:
                    id.resp_p: [80, 443]
                    user_agent|startswith: curl
                filter:
                    note: benign
                condition: sel and not filter
            """),
        GuardOrderTests.rule(5, """
                a:
                    id.resp_p: 53
                    answers: 10.0.0.1
                b:
                    id.resp_p: 53
                    query|endswith: .evil
                condition: 1 of a or b
            """),
        GuardOrderTests.rule(6, """
                sel:
                    id.resp_p: [22, 80]
                    orig_bytes|gt: 10
                    note|exists: true
                condition: sel
            """),
    ].joined(separator: "\n---\n")

    static func event(_ rng: inout SplitMix, late: Bool) -> [String: String] {
        var f: [String: String] = [:]
        f["id.orig_h"] = rng.pick(["10.20.1.\(rng.below(256))", "10.3.4.5", "8.8.8.8", "192.168.1.9"])
        f["id.resp_p"] = rng.pick(["80", "443", "53", "22", "8080", "445"])
        if rng.below(5) != 0 { f["orig_bytes"] = String(rng.below(5000)) }
        if rng.below(3) == 0 { f["query"] = rng.pick(["evil.example", "x.evil", "good"]) }
        if late {
            if rng.below(2) == 0 { f["uri"] = rng.pick(["/admin/x", "/", "/index"]) }
            if rng.below(2) == 0 { f["user_agent"] = rng.pick(["curl/8.0", "Mozilla"]) }
            if rng.below(3) == 0 { f["note"] = rng.pick(["benign", "odd"]) }
            if rng.below(3) == 0 { f["answers"] = rng.pick(["10.0.0.1,10.0.0.2", "1.1.1.1"]) }
        }
        return f
    }

    @Test("the fields only port-keyed rules read are late; the keys and what unkeyed rules read are not")
    func lateSlotsAreThoseOfKeyedRulesOnly() throws {
        let loaded = SigmaLoader.load(yaml: Self.yaml, path: "late.yml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let set = CompiledRuleSet(rules: loaded.rules, schema: testSchema)
        let names = Set(set.lateSlots.map { testSchema.fields[$0].name })
        #expect(names == ["uri", "user_agent", "note", "answers"])
        #expect(Set(set.firstPassSlots).isDisjoint(with: set.lateSlots))
        #expect(Set(set.firstPassSlots).union(set.lateSlots) == Set(set.referencedSlots))
        // Without a number key nothing is late (any rule may be a candidate on any record).
        let plain = CompiledRuleSet(rules: loaded.rules, schema: testSchema, discriminate: false)
        #expect(plain.lateSlots.isEmpty)
    }

    @Test("20,000 records: first pass without late fields plus the deferred pass equal one pass over the full record")
    func twoPassesMatchOnePass() throws {
        let loaded = SigmaLoader.load(yaml: Self.yaml, path: "late.yml")
        try #require(loaded.errors.isEmpty)
        let set = CompiledRuleSet(rules: loaded.rules, schema: testSchema)
        let reference = CompiledRuleSet(rules: loaded.rules, schema: testSchema, adaptive: false)
        var scratch = set.makeScratch()
        var refScratch = reference.makeScratch()
        defer {
            scratch.deallocate()
            refScratch.deallocate()
        }
        var rng = SplitMix(state: 31)
        var deferredRecords = 0
        var skippedFull = 0
        var matched = 0
        var bad = 0
        for _ in 0..<20_000 {
            let full = Self.event(&rng, late: true)
            let first = full.filter { !["uri", "user_agent", "note", "answers"].contains($0.key) }
            let fullEvent = TestEvent(full)
            let firstEvent = TestEvent(first)
            var want: [Int] = []
            reference.matches(fullEvent.record, scratch: &refScratch, into: &want)
            var got: [Int] = []
            if set.matches(firstEvent.record, scratch: &scratch, deferringLateInto: &got) {
                deferredRecords += 1
                set.matchDeferred(fullEvent.record, scratch: &scratch, into: &got)
                got.sort()
            } else {
                skippedFull += 1
            }
            if got != want { bad += 1 }
            matched += want.count
        }
        #expect(bad == 0)
        // Both kinds of record occur, and rules do match.
        #expect(deferredRecords > 1000)
        #expect(skippedFull > 5000)
        #expect(matched > 3000)
        // Nothing stays deferred into the next record.
        #expect((0..<scratch.deferredCapacity).allSatisfy { scratch.deferred[$0] == 0 })
    }
}
