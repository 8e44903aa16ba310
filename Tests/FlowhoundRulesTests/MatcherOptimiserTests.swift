import FlowhoundCore
import FlowhoundTestSupport
import Foundation
import Testing

@testable import FlowhoundRules

/// The optimiser (flattening, merging, factoring shared conjuncts out of ORs) and the compiled program (guards,
/// number and text index) must decide exactly what the unoptimised tree decides.
@Suite struct MatcherOptimiserTests {
    static let proto = testSchema.slot("proto")!
    static let port = testSchema.slot("id.resp_p")!
    static let orig = testSchema.slot("id.orig_h")!
    static let bytes = testSchema.slot("orig_bytes")!
    static let query = testSchema.slot("query")!
    static let answers = testSchema.slot("answers")!

    /// A small pool, so that alternatives often share leaves (what factoring looks for). Cache indices: numbers
    /// 0 (port) and 1 (bytes), addresses 0; the list field parses per element (-1).
    static let leaves: [Matcher] = [
        .equals(proto, Array("tcp".utf8), cased: false),
        .equals(proto, Array("udp".utf8), cased: false),
        .equals(proto, Array("icmp".utf8), cased: false),
        .equalsAny(proto, NeedleSet([Array("tcp".utf8), Array("sctp".utf8)], cased: false)),
        .numberEquals(port, [22, 445], cache: 0),
        .numberEquals(port, [443], cache: 0),
        .compare(bytes, .gte, 1000, cache: 1),
        .compare(bytes, .lt, 10, cache: 1),
        .cidr(orig, [CIDR("10.0.0.0/8")!], cache: 0),
        .equals(query, Array("ExampleQueryName.internal".utf8), cased: true),
        .equals(query, Array("short".utf8), cased: false),
        .equals(answers, Array("1.2.3.4".utf8), cased: true),
        .present(bytes),
        .absent(query),
    ]

    static func randomTree(_ depth: Int, _ rng: inout SplitMix) -> Matcher {
        if depth == 0 || rng.below(4) == 0 {
            let leaf = rng.pick(leaves)
            return rng.below(6) == 0 ? .not(leaf) : leaf
        }
        let n = 1 + rng.below(4)
        // Often the same conjunct at the front of every alternative, as `1 of selection_*` rules write it.
        let shared = rng.below(2) == 0 ? rng.pick(leaves) : nil
        let kids = (0..<n).map { _ -> Matcher in
            let k = randomTree(depth - 1, &rng)
            guard let shared else { return k }
            return .all(rng.below(2) == 0 ? [shared, k] : [k, shared])
        }
        switch rng.below(5) {
        case 0: return .not(.any(kids))
        case 1, 2: return .any(kids)
        default: return .all(kids)
        }
    }

    static func randomEvent(_ rng: inout SplitMix) -> TestEvent {
        var f: [String: String] = [:]
        if rng.below(6) != 0 { f["proto"] = rng.pick(["tcp", "TCP", "udp", "icmp", "Icmp", "sctp", "tc", "tcpx", ""]) }
        if rng.below(6) != 0 { f["id.resp_p"] = rng.pick(["22", "445", "443", "80", "445.0", "x"]) }
        if rng.below(6) != 0 { f["orig_bytes"] = rng.pick(["0", "5", "999", "1000", "50000", "-"]) }
        if rng.below(6) != 0 { f["id.orig_h"] = rng.pick(["10.1.2.3", "192.168.1.1", "10.0.0.256", "::1"]) }
        if rng.below(3) != 0 {
            f["query"] = rng.pick(["ExampleQueryName.internal", "examplequeryname.internal", "short", "SHORT", "x"])
        }
        if rng.below(3) != 0 { f["answers"] = rng.pick(["1.2.3.4", "5.6.7.8,1.2.3.4", "1.2.3.44"]) }
        return TestEvent(f)
    }

    @Test("400 random trees, 300 random events: raw tree, optimised tree and compiled program agree")
    func optimisedAndCompiledAgree() {
        var rng = SplitMix(state: 0x0F7A_C708)
        let trees = (0..<400).map { _ in Self.randomTree(3, &rng) }
        let optimised = trees.map(MatcherOptimiser.optimise)
        var factoredCount = 0
        func countFactorable(_ m: Matcher) {
            switch m {
            case .any(let xs):
                if xs.count >= 2 && MatcherOptimiser.factored(xs) != nil { factoredCount += 1 }
                xs.forEach(countFactorable)
            case .all(let xs): xs.forEach(countFactorable)
            case .not(let x): countFactorable(x)
            default: break
            }
        }
        trees.forEach(countFactorable)
        // Rules in the program: the optimised trees, less those that are `false` (as the rule set drops them).
        let active = optimised.enumerated().filter { $0.element != .constant(false) }.map { (ruleIndex: $0.offset, matcher: $0.element) }
        let indexed = MatchProgram(active, discriminate: true) { $0 == Self.answers }
        let plain = MatchProgram(active, discriminate: false)
        #expect(indexed.index?.pointee.text?.slot == Self.proto)
        #expect(indexed.index?.pointee.number?.slot == Self.port)
        var scratch = MatchScratch(numbers: 2, addresses: 1, leaves: max(indexed.leafCount, plain.leafCount))
        defer { scratch.deallocate() }
        var disagreements = 0
        var matched = 0
        var a: [Int] = []
        var b: [Int] = []
        for _ in 0..<300 {
            let e = Self.randomEvent(&rng)
            func context() -> MatchContext {
                MatchContext(
                    values: e.record.values, line: e.record.line, lineLength: e.record.lineLength,
                    numbers: scratch.numbers, addresses: scratch.addresses, leaves: scratch.leaves,
                    generation: scratch.nextGeneration())
            }
            let ctx = context()
            var expected: [Int] = []
            for (i, t) in trees.enumerated() {
                let raw = t.evaluate(ctx)
                if raw != optimised[i].evaluate(ctx) { disagreements += 1 }
                if raw { expected.append(i) }
            }
            a.removeAll(keepingCapacity: true)
            b.removeAll(keepingCapacity: true)
            indexed.matches(context(), into: &a)
            plain.matches(context(), into: &b)
            #expect(a == expected)
            #expect(b == expected)
            matched += expected.count
            withExtendedLifetime(e) {}
        }
        #expect(disagreements == 0)
        // The workload exercises what it tests: many ORs have a shared part, rules match, but not all.
        #expect(factoredCount > 100, "only \(factoredCount) factorable ORs")
        #expect(matched > 300 * 20 && matched < 300 * 380, "\(matched) matches")
    }

    @Test("1 of two selections sharing `proto: icmp` compiles to a guard on proto, keyed by the text index")
    func sharedConjunctBecomesGuard() throws {
        let icmp = """
                selection_out:
                    proto: icmp
                    orig_bytes|gte: 100000
                selection_in:
                    proto: icmp
                    id.resp_p: 0
                condition: 1 of selection_*
            """
        let tcp = "    selection:\n        proto: TCP\n    condition: selection"
        let yaml = [
            ruleYAML(icmp, title: "icmp large"),
            ruleYAML(tcp, title: "tcp").replacingOccurrences(of: "0000-000000000001", with: "0000-000000000002"),
        ].joined(separator: "\n---\n")
        let loaded = SigmaLoader.load(yaml: yaml, path: "t.yml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let set = CompiledRuleSet(rules: loaded.rules, schema: testSchema)
        let m = try #require(set.matcher(forRule: 0))
        guard case .all(let xs) = m else {
            Issue.record("not a conjunction: \(m)")
            return
        }
        #expect(xs.first == .equals(Self.proto, Array("icmp".utf8), cased: false))
        #expect(set.textDiscriminatorSlot == Self.proto)
        var out: [Int] = []
        for (fields, expected) in [
            (["proto": "ICMP", "orig_bytes": "200000"], [0]), (["proto": "icmp", "id.resp_p": "0"], [0]),
            (["proto": "tcp", "orig_bytes": "200000"], [1]), (["proto": "icmpx", "orig_bytes": "200000"], []),
            (["orig_bytes": "200000"], []),
        ] {
            out.removeAll()
            let e = TestEvent(fields)
            withExtendedLifetime(e) { set.matches(e.record, into: &out) }
            #expect(out == expected, "\(fields)")
        }
    }

    @Test("a field tested with different case rules, or a list field, keys no text index")
    func textIndexNeedsOneCaseRuleAndAScalar() {
        let proto = Self.proto
        let mixed = MatchProgram(
            [
                (0, .equals(proto, Array("tcp".utf8), cased: false)),
                (1, .equals(proto, Array("tcp".utf8), cased: true)),
            ], discriminate: true)
        #expect(mixed.index == nil)
        let list = MatchProgram(
            [
                (0, .equals(Self.answers, Array("a".utf8), cased: true)),
                (1, .equals(Self.answers, Array("b".utf8), cased: true)),
            ], discriminate: true) { $0 == Self.answers }
        #expect(list.index == nil)
        let long = MatchProgram(
            [
                (0, .equals(Self.query, Array("a-value-longer-than-eight".utf8), cased: false)),
                (1, .equals(Self.query, Array("a-value-longer-than-eight-too".utf8), cased: false)),
            ], discriminate: true)
        #expect(long.index?.pointee.text?.slot == Self.query)
        var scratch = MatchScratch(leaves: long.leafCount)
        defer { scratch.deallocate() }
        var out: [Int] = []
        for (v, expected) in [
            ("A-Value-Longer-Than-Eight", [0]), ("a-value-longer-than-eight-too", [1]), ("a-value-longer-than-eighT", [0]),
            ("a-value-longer-than-eigh", []), ("a-value-longer-than-eightx", []),
        ] {
            let e = TestEvent(["query": v])
            out.removeAll()
            long.matches(
                MatchContext(
                    values: e.record.values, line: e.record.line, lineLength: 0, numbers: scratch.numbers,
                    addresses: scratch.addresses, leaves: scratch.leaves, generation: scratch.nextGeneration()),
                into: &out)
            withExtendedLifetime(e) {}
            #expect(out == expected, "\(v)")
        }
    }

    @Test("beside a number key, a text key is built only when it can drop a rule the number key keeps everywhere")
    func textKeyOnlyWhenItPrunes() {
        let tcp = Matcher.equals(Self.proto, Array("tcp".utf8), cased: false)
        let udp = Matcher.equals(Self.proto, Array("udp".utf8), cased: false)
        let p22 = Matcher.numberEquals(Self.port, [22], cache: 0)
        let p53 = Matcher.numberEquals(Self.port, [53], cache: 0)
        let big = Matcher.compare(Self.bytes, .gte, 1000, cache: 1)
        // every proto rule also names a port: the port row already holds only rules worth testing
        let ported = MatchProgram([(0, .all([tcp, p22])), (1, .all([udp, p53])), (2, big)], discriminate: true)
        #expect(ported.index?.pointee.number?.slot == Self.port)
        #expect(ported.index?.pointee.text == nil)
        // a proto rule without a port is in every port row: the text key can drop it
        let portless = MatchProgram(
            [(0, .all([tcp, p22])), (1, .all([udp, p53])), (2, .all([udp, big]))], discriminate: true)
        #expect(portless.index?.pointee.number?.slot == Self.port)
        #expect(portless.index?.pointee.text?.slot == Self.proto)
    }

    @Test("lowerWord folds exactly the ASCII capitals of each byte")
    func lowerWordMatchesBytewise() {
        var rng = SplitMix(state: 7)
        for _ in 0..<20_000 {
            var w: UInt64 = 0
            var expected: UInt64 = 0
            for i in 0..<8 {
                let c = UInt8(truncatingIfNeeded: rng.below(4) == 0 ? rng.below(256) : 0x3F + rng.below(0x22))
                w |= UInt64(c) << UInt64(8 * i)
                expected |= UInt64(Bytes.lower(c)) << UInt64(8 * i)
            }
            #expect(Bytes.lowerWord(w) == expected)
        }
    }
}
