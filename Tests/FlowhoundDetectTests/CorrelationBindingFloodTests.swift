import FlowhoundCore
import FlowhoundDetect
import FlowhoundRules
import Testing

/// The correlation engine's slot bindings per schema object: at most `CorrelationPolicy.maxSchemaBindings`, those
/// of schemas nobody else holds dropped uncounted, then the least recently used forgotten and counted
/// (`schemaBindingsEvicted`); a forgotten schema's bindings are rebuilt, so findings never change.
@Suite struct CorrelationBindingFloodTests {
    static let yaml = """
        title: base fail
        name: fail
        level: low
        logsource: {product: test}
        detection:
            sel: {kind: fail}
            condition: sel
        ---
        title: twice from one source
        level: high
        correlation:
            type: event_count
            rules: [fail]
            group-by: [src]
            timespan: 2h
            condition: {gte: 2}
        """

    /// A schema whose `src` sits after `layout` padding fields (so another schema's bindings read the wrong field).
    static func schema(layout: Int) -> Schema {
        let names = (0..<layout).map { "pad\($0)" } + ["src", "kind"]
        return Schema(
            format: .syslog, logType: "flood", fields: names.map { FieldSpec(name: $0) },
            roles: [.sourceIP: "src"], logSources: [LogSource(product: "test")])
    }

    /// Feeds hand-made events of any schema to one engine.
    final class Feeder {
        let engine: CorrelationEngine
        let box = Box()
        private var record = EventRecord(capacity: 16)
        private let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
        private(set) var line: Int64 = 0

        final class Box { var findings: [Finding] = [] }

        init(maxSchemaBindings: Int) throws {
            let loaded = SigmaLoader.load(yaml: CorrelationBindingFloodTests.yaml, path: "c.yml")
            try #require(loaded.errors.isEmpty, "\(loaded.errors)")
            let box = self.box
            engine = CorrelationEngine(
                rules: loaded.rules, correlations: loaded.correlations,
                policy: CorrelationPolicy(maxSchemaBindings: maxSchemaBindings)
            ) { box.findings.append($0) }
        }

        deinit {
            record.deallocate()
            buffer.deallocate()
        }

        /// One match of rule 0 at `s` seconds from `src` through `schema` (every padding field holds `pad-<line>`).
        func feed(_ schema: Schema, at s: Int64, src: String) {
            line += 1
            var off = 0
            func put(_ text: String) -> FieldValue {
                let b = Array(text.utf8)
                for (i, c) in b.enumerated() { buffer[off + i] = c }
                defer { off += b.count }
                return FieldValue(base: UnsafePointer(buffer + off), count: b.count)
            }
            let text = "fail from \(src) line \(line)"
            let whole = put(text)
            record.reset(fieldCount: schema.fields.count)
            record.line = whole.base!
            record.lineLength = whole.count
            for (i, f) in schema.fields.enumerated() {
                switch f.name {
                case "src": record[i] = put(src)
                case "kind": record[i] = put("fail")
                default: record[i] = put("pad-\(line)")
                }
            }
            let t = Timestamp(seconds: 1_700_000_000 + s)
            record.timestamp = t
            engine.advance(to: t)
            engine.observe(
                ruleIndex: 0, record: record, schema: schema, origin: EventOrigin(path: "flood.log", line: line, byteOffset: line * 100))
        }
    }

    static func src(_ n: Int) -> String { "10.0.\(n / 256).\(n % 256)" }

    /// `n` schemas all alive (their decoders could present any again), two rounds of one event per schema, each
    /// schema's source seen once per round. Returns the findings, the evictions and the most bindings held.
    static func floodInUse(n: Int, cap: Int) throws -> (findings: [Finding], evicted: Int, held: Int, groups: Int) {
        let f = try Feeder(maxSchemaBindings: cap)
        let schemas = (0..<n).map { schema(layout: $0 % 7) }
        var held = 0
        for round in 0..<2 {
            for (i, s) in schemas.enumerated() {
                f.feed(s, at: Int64(round * n + i), src: src(i))
                held = max(held, f.engine.schemaBindingsHeld)
            }
        }
        let groups = f.engine.groupCount
        #expect(f.engine.counters.missingGroupKey == 0 && f.engine.counters.events == 2 * n)
        f.engine.finish()
        return (f.box.findings, f.engine.schemaBindingsEvicted, held, groups)
    }

    @Test("normal use, 40 schemas: all bindings kept, none evicted")
    func normalUseStaysCached() throws {
        let r = try Self.floodInUse(n: 40, cap: CorrelationPolicy().maxSchemaBindings)
        #expect(r.evicted == 0 && r.held == 40)
        #expect(r.findings.count == 40)
    }

    @Test("3,000 schemas in use: bindings held at the cap, every eviction counted, findings as uncapped and as expected")
    func floodOfSchemasInUse() throws {
        let n = 3_000
        let uncapped = try Self.floodInUse(n: n, cap: Int.max)
        #expect(uncapped.evicted == 0 && uncapped.held == n)
        for cap in [CorrelationPolicy().maxSchemaBindings, 64] {
            let r = try Self.floodInUse(n: n, cap: cap)
            #expect(r.held == cap, "cap \(cap)")
            // round 1 pushes out all but the last `cap`; round 2 visits in the same order, so every lookup misses
            #expect(r.evicted == 2 * n - cap, "cap \(cap)")
            #expect(r.groups == n)
            #expect(r.findings == uncapped.findings, "cap \(cap)")
        }
        // expected from the input: one finding per source, its two events, grouped by the right field
        #expect(uncapped.findings.count == n)
        #expect(Set(uncapped.findings.map { $0.group["src"] ?? "" }) == Set((0..<n).map(Self.src)))
        #expect(uncapped.findings.allSatisfy { $0.count == 2 && $0.evidence.count == 2 })
    }

    @Test("3,000 short-lived schemas of two layouts: dropped without counting, never another schema's bindings")
    func shortLivedSchemasAreDropped() throws {
        let cap = 64
        func run(cap: Int) throws -> (findings: [Finding], evicted: Int, groups: Int) {
            let f = try Feeder(maxSchemaBindings: cap)
            for i in 0..<3_000 {
                // a freed schema's address is soon another's: the other layout's bindings would read a pad field
                f.feed(Self.schema(layout: i % 2 == 0 ? 0 : 3), at: Int64(i), src: "10.1.0.\(i % 50)")
                #expect(f.engine.schemaBindingsHeld <= cap)
            }
            #expect(f.engine.counters.missingGroupKey == 0 && f.engine.counters.events == 3_000)
            let groups = f.engine.groupCount
            f.engine.finish()
            return (f.box.findings, f.engine.schemaBindingsEvicted, groups)
        }
        let capped = try run(cap: cap)
        #expect(capped.evicted == 0, "no schema still in use was forgotten")
        #expect(capped.groups == 50, "each event grouped by its own schema's src")
        #expect(Set(capped.findings.map { $0.group["src"] ?? "" }) == Set((0..<50).map { "10.1.0.\($0)" }))
        #expect(capped.findings == (try run(cap: Int.max)).findings)
    }
}
