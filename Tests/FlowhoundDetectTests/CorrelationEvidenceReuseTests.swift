import FlowhoundCore
import FlowhoundDetect
import FlowhoundRules
import Testing

/// Evidence lines live in a per-group ring whose slots keep their byte buffers (also when a removed group is reused
/// for another key): what a slot, or a reused group, held before must never show in a later finding.
@Suite struct CorrelationEvidenceReuseTests {
    /// Feeds lines whose entity fields point into the line itself (as the syslog decoder's do) or, past
    /// `maxExcerptBytes`, beyond the excerpt (then they are copied after it).
    final class LineFeeder {
        let schema = Schema(
            format: .syslog, logType: "test",
            fields: ["src", "user", "port"].map { FieldSpec(name: $0) },
            roles: [.sourceIP: "src", .user: "user", .sourcePort: "port"], logSources: [LogSource(product: "test")])
        let loaded: SigmaLoadResult
        let engine: CorrelationEngine
        var out: [Finding] = []
        private var record = EventRecord(capacity: 3)
        private let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
        private(set) var line: Int64 = 0

        init(condition: String, span: String, policy: CorrelationPolicy) {
            let yaml = """
                title: base fail
                name: fail
                level: low
                logsource: {product: test}
                detection:
                    sel: {kind: fail}
                    condition: sel
                ---
                title: burst
                level: high
                correlation:
                    type: event_count
                    rules: [fail]
                    group-by: [src]
                    timespan: \(span)
                    condition: \(condition)
                """
            loaded = SigmaLoader.load(yaml: yaml, path: "c.yml")
            let box = FindingBox()
            engine = CorrelationEngine(rules: loaded.rules, correlations: loaded.correlations, policy: policy) {
                box.findings.append($0)
            }
            self.box = box
        }

        private let box: FindingBox
        var findings: [Finding] { box.findings }

        deinit {
            record.deallocate()
            buffer.deallocate()
        }

        /// One line `text` at `s` seconds; each field value must occur in `text` (its first occurrence is used).
        func feed(at s: Int64, _ text: String, _ fields: [String: String]) {
            line += 1
            let bytes = Array(text.utf8)
            for (i, c) in bytes.enumerated() { buffer[i] = c }
            record.reset(fieldCount: 3)
            record.line = UnsafePointer(buffer)
            record.lineLength = bytes.count
            for (k, v) in fields {
                let needle = Array(v.utf8)
                let at = (0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }!
                record[schema.slot(k)!] = FieldValue(base: UnsafePointer(buffer + at), count: needle.count)
            }
            let t = Timestamp(seconds: s)
            record.timestamp = t
            engine.advance(to: t)
            engine.observe(ruleIndex: 0, record: record, schema: schema, origin: EventOrigin(path: "auth.log", line: line, byteOffset: line * 100))
        }
    }

    final class FindingBox { var findings: [Finding] = [] }

    /// A group that held more lines than the ring (so it wrapped), with long truncated lines and user/port
    /// fields, expires; a new key gets the same group object from the pool and must show only its own short
    /// lines and none of the old entities.
    @Test func reusedGroupShowsNothingOfItsPreviousLife() throws {
        let f = LineFeeder(
            condition: "{gte: 2}", span: "10s",
            policy: CorrelationPolicy(lateToleranceSeconds: 0, maxEvidence: 3))
        let pad = String(repeating: "x", count: 300)  // past maxExcerptBytes (256): excerpts are cut
        for i in 0..<5 {
            f.feed(at: Int64(i), "OLD \(i) user=alice from 10.0.0.1 port 2222 \(pad)", ["src": "10.0.0.1", "user": "alice", "port": "2222"])
        }
        f.engine.advance(to: Timestamp(seconds: 100))  // the old burst is written, its group expires into the pool
        #expect(f.engine.groupCount == 0)
        #expect(f.engine.counters.groupsExpired == 1)
        f.feed(at: 100, "NEW a from 10.0.0.2", ["src": "10.0.0.2"])
        f.feed(at: 101, "NEW b from 10.0.0.2", ["src": "10.0.0.2"])
        f.engine.finish()
        let found = f.findings
        try #require(found.count == 2)
        let old = found[0], new = found[1]
        #expect(old.group["src"] == "10.0.0.1")
        #expect(old.lines == [1, 2, 3], "the first maxEvidence lines of the burst")
        #expect(old.count == 5)
        #expect(old.evidence.allSatisfy { $0.excerpt.hasPrefix("OLD ") && $0.excerpt.hasSuffix("…") })
        #expect(old.userName == "alice" && old.sourcePort == 2222 && old.sourceIP == "10.0.0.1")

        #expect(new.group["src"] == "10.0.0.2")
        #expect(new.count == 2)
        #expect(new.lines == [6, 7])
        #expect(new.evidence.map(\.excerpt) == ["NEW a from 10.0.0.2", "NEW b from 10.0.0.2"])
        #expect(new.sourceIP == "10.0.0.2")
        #expect(new.userName == nil, "no user in the new lines: nothing of the old slot's user may show")
        #expect(new.sourcePort == nil)
    }

    /// At the group cap the least recently updated group is evicted and its object reused at once for the new
    /// key, while its lines are still inside the new key's window: none of them may become the new key's evidence.
    @Test func groupEvictedAtTheCapLendsNoLinesToItsSuccessor() throws {
        let f = LineFeeder(condition: "{gte: 2}", span: "60s", policy: CorrelationPolicy(maxGroups: 1, maxEvidence: 3))
        f.feed(at: 0, "A1 from 10.0.0.1 user=alice", ["src": "10.0.0.1", "user": "alice"])
        f.feed(at: 1, "A2 from 10.0.0.1 user=alice", ["src": "10.0.0.1", "user": "alice"])
        f.feed(at: 2, "B1 from 10.0.0.2", ["src": "10.0.0.2"])  // evicts 10.0.0.1 (its finding is written)
        f.feed(at: 3, "B2 from 10.0.0.2", ["src": "10.0.0.2"])
        f.engine.finish()
        let found = f.findings
        try #require(found.count == 2)
        #expect(f.engine.counters.groupsEvicted == 1)
        #expect(found[0].group["src"] == "10.0.0.1" && found[0].lines == [1, 2])
        #expect(found[1].group["src"] == "10.0.0.2")
        #expect(found[1].lines == [3, 4])
        #expect(found[1].evidence.map(\.excerpt) == ["B1 from 10.0.0.2", "B2 from 10.0.0.2"])
        #expect(found[1].count == 2 && found[1].userName == nil)
    }

    /// Entity fields beyond the excerpt are copied after it; a refilled slot with a shorter line and fields
    /// inside it must not read the bytes the previous line left there.
    @Test func refilledSlotsReadOnlyTheirOwnLine() throws {
        let f = LineFeeder(condition: "{gte: 4}", span: "60s", policy: CorrelationPolicy(maxEvidence: 2))
        let pad = String(repeating: "y", count: 300)
        // user and port after byte 256: copied behind the excerpt
        f.feed(at: 0, "L1 from 10.0.0.9 \(pad) user=mallory port 4444", ["src": "10.0.0.9", "user": "mallory", "port": "4444"])
        f.feed(at: 1, "L2 from 10.0.0.9 \(pad) user=mallory port 4444", ["src": "10.0.0.9", "user": "mallory", "port": "4444"])
        // the same two slots again, with short lines and the fields inside them
        f.feed(at: 2, "L3 from 10.0.0.9 user=bob port 22", ["src": "10.0.0.9", "user": "bob", "port": "22"])
        f.feed(at: 3, "L4 from 10.0.0.9 user=bob port 22", ["src": "10.0.0.9", "user": "bob", "port": "22"])
        f.engine.finish()
        let found = f.findings
        try #require(found.count == 1)
        #expect(found[0].lines == [3, 4])
        #expect(found[0].evidence.map(\.excerpt) == ["L3 from 10.0.0.9 user=bob port 22", "L4 from 10.0.0.9 user=bob port 22"])
        #expect(found[0].userName == "bob" && found[0].sourcePort == 22)
    }

    /// Temporal correlations keep the latest line per rule beside the ring: when the ring refills the slot that
    /// line came from, the kept copy must still show its own line (the slot takes a new buffer instead of
    /// writing into the shared one).
    @Test func latestLinePerRuleSurvivesItsRingSlotBeingRefilled() throws {
        let h = CorrelationHarness(
            [
                baseRule("a"), baseRule("b"), baseRule("c"),
                """
                title: t
                level: high
                correlation:
                    type: temporal
                    rules: [a, b, c]
                    group-by: [src]
                    timespan: 60s
                """,
            ], policy: CorrelationPolicy(maxEvidence: 3))
        h.feed("a", at: 0, ["src": "s", "user": "first-line-user"])
        for t: Int64 in 1...4 { h.feed("b", at: t, ["src": "s", "user": "b\(t)"]) }  // the ring wraps over a's slot
        h.feed("c", at: 5, ["src": "s"])
        let found = h.finish()
        try #require(found.count == 1)
        let first = try #require(found[0].evidence.first { $0.line == 1 })
        #expect(first.excerpt.contains("\"rule\":\"a\"") && first.excerpt.contains("first-line-user"))
        #expect(found[0].lines == [1, 5, 6])
    }
}
