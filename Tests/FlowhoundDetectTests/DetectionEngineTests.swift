import FlowhoundCore
import FlowhoundDetect
import Testing

/// A conn-like schema and a record whose source address and time can be set per event.
private final class Harness {
    let schema = Schema(
        format: .zeekTSV, logType: "conn",
        fields: [FieldSpec(name: "ts", type: .time), FieldSpec(name: "id.orig_h", type: .address),
                 FieldSpec(name: "id.resp_h", type: .address), FieldSpec(name: "id.resp_p", type: .port)],
        roles: [.timestamp: "ts", .sourceIP: "id.orig_h", .destinationIP: "id.resp_h", .destinationPort: "id.resp_p"],
        logSources: [LogSource(product: "zeek", service: "conn")])
    var record = EventRecord(capacity: 4)
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)

    deinit {
        record.deallocate()
        buffer.deallocate()
    }

    func event(source: String, destination: String = "10.0.0.9", port: Int = 445, second: Int64) -> EventRecord {
        record.reset(fieldCount: 4)
        var off = 0
        func put(_ s: String, _ slot: Int) {
            let b = Array(s.utf8)
            for (i, c) in b.enumerated() { buffer[off + i] = c }
            record[slot] = FieldValue(base: UnsafePointer(buffer + off), count: b.count)
            off += b.count
        }
        put(source, 1)
        put(destination, 2)
        put(String(port), 3)
        record.line = UnsafePointer(buffer)
        record.lineLength = off
        record.timestamp = Timestamp(seconds: second)
        return record
    }
}

@Suite struct DetectionEngineTests {
    let rule = RuleIdentity(id: "r", title: "t", level: .medium, tags: [])

    func run(_ policy: MergePolicy, _ events: [(String, String, Int64)]) -> [Finding] {
        let h = Harness()
        var out: [Finding] = []
        let engine = DetectionEngine(rules: [rule], minimumLevel: .informational, policy: policy) { out.append($0) }
        for (i, (src, dst, t)) in events.enumerated() {
            let r = h.event(source: src, destination: dst, second: t)
            engine.advance(to: Timestamp(seconds: t))
            engine.matched(ruleIndex: 0, record: r, schema: h.schema, origin: EventOrigin(path: "x", line: Int64(i + 1), byteOffset: 0))
        }
        engine.finish()
        return out
    }

    @Test func matchesWithinTheWindowMergeAndTheEdgeIsInclusive() {
        let f = run(MergePolicy(intervalSeconds: 60), [("10.0.0.1", "10.0.0.2", 0), ("10.0.0.1", "10.0.0.3", 30), ("10.0.0.1", "10.0.0.3", 60)])
        #expect(f.count == 1)
        #expect(f[0].count == 3 && f[0].firstSeen.seconds == 0 && f[0].lastSeen.seconds == 60)
        #expect(f[0].destinationIP == nil, "destinations differed")
        #expect(f[0].evidence.map(\.line) == [1, 2, 3])
    }

    @Test func aMatchPastTheWindowOpensANewFinding() {
        let f = run(MergePolicy(intervalSeconds: 60), [("10.0.0.1", "10.0.0.2", 0), ("10.0.0.1", "10.0.0.2", 61)])
        #expect(f.map(\.count) == [1, 1])
        #expect(f[0].destinationIP == "10.0.0.2")
    }

    @Test func findingsCloseWhenLogTimePassesTheirWindow() {
        let h = Harness()
        var out: [Finding] = []
        let engine = DetectionEngine(rules: [rule], minimumLevel: .informational, policy: MergePolicy(intervalSeconds: 60)) {
            out.append($0)
        }
        engine.matched(ruleIndex: 0, record: h.event(source: "10.0.0.1", second: 100), schema: h.schema, origin: EventOrigin(path: "x", line: 1, byteOffset: 0))
        engine.advance(to: Timestamp(seconds: 160))
        #expect(out.isEmpty, "window [100, 160] is inclusive")
        engine.advance(to: Timestamp(seconds: 161))
        #expect(out.count == 1)
    }

    @Test func zeroIntervalWritesEveryMatch() {
        let f = run(.none, [("10.0.0.1", "10.0.0.2", 0), ("10.0.0.1", "10.0.0.2", 0)])
        #expect(f.map(\.count) == [1, 1])
        #expect(f[0].windowSeconds == nil)
    }

    @Test func belowMinimumLevelIsCountedNotWritten() {
        let h = Harness()
        var out: [Finding] = []
        let engine = DetectionEngine(rules: [rule], minimumLevel: .high) { out.append($0) }
        engine.matched(ruleIndex: 0, record: h.event(source: "10.0.0.1", second: 1), schema: h.schema, origin: EventOrigin(path: "x", line: 1, byteOffset: 0))
        engine.finish()
        #expect(out.isEmpty && engine.belowMinimumLevel == 1 && engine.matchCounts == [1])
    }

    /// An attacker controls source addresses: open findings must stay bounded whatever arrives.
    @Test func floodOfDistinctSourcesStaysWithinTheCap() {
        let h = Harness()
        var written = 0
        var maxPending = 0
        let engine = DetectionEngine(
            rules: [rule], minimumLevel: .informational, policy: MergePolicy(intervalSeconds: 3600, maxPending: 1000)
        ) { _ in written += 1 }
        let n = 200_000
        for i in 0..<n {
            let src = "10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)"
            engine.matched(ruleIndex: 0, record: h.event(source: src, second: 5), schema: h.schema, origin: EventOrigin(path: "x", line: Int64(i), byteOffset: 0))
            maxPending = max(maxPending, engine.pendingCount)
        }
        #expect(maxPending == 1000)
        #expect(engine.earlyFlushes == n - 1000)
        engine.finish()
        #expect(written == n)
        #expect(engine.pendingCount == 0)
    }
}
