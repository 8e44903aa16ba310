import FlowhoundCore
import FlowhoundDetect
import FlowhoundRules
import Foundation
import Testing

/// Correlation items of the Sigma checklist (../shared/reference/sigma.md §7) that the older suites did not pin;
/// docs/sigma-checklist.md maps every item to its tests.
@Suite struct CorrelationChecklistTests {
    func corr(_ type: String, rules: String, condition: String, span: String = "1h", groupBy: String = "[src]") -> String {
        "title: \(type) check\nlevel: high\ncorrelation:\n    type: \(type)\n    rules: \(rules)\n    group-by: \(groupBy)\n"
            + "    timespan: \(span)\n    condition: \(condition)\n"
    }

    /// #39: a correlation may reference its rule by `id`, from another file of the same rule set.
    @Test func item39ReferenceByIDAcrossFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fh-corr-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            title: base
            id: 6f1d2c3b-0000-4000-8000-000000000039
            logsource: {product: test}
            detection:
                sel: {kind: x}
                condition: sel
            """.write(toFile: dir + "/a_base.yml", atomically: true, encoding: .utf8)
        try corr("event_count", rules: "[6f1d2c3b-0000-4000-8000-000000000039]", condition: "{gte: 2}")
            .write(toFile: dir + "/b_corr.yml", atomically: true, encoding: .utf8)
        let loaded = SigmaLoader.load(paths: [dir])
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        #expect(loaded.filesRead == 2 && loaded.rules.count == 1 && loaded.correlations.count == 1)
        let engine = CorrelationEngine(rules: loaded.rules, correlations: loaded.correlations) { _ in }
        #expect(engine.diagnostics.isEmpty, "\(engine.diagnostics)")
        #expect(engine.activeCorrelations == [0])
        #expect(engine.silencedRules == [0])
        #expect(engine.isReferenced(ruleIndex: 0))
    }

    /// #39: referencing by id through the harness fires like a reference by name.
    @Test func item39ReferenceByIDFires() {
        let base = baseRule("fail").replacingOccurrences(of: "name: fail", with: "name: fail\nid: 0b0b0b0b-0000-4000-8000-000000000001")
        let h = CorrelationHarness([base, corr("event_count", rules: "[0b0b0b0b-0000-4000-8000-000000000001]", condition: "{gte: 2}")])
        h.feed("fail", at: 0, ["src": "a"])
        h.feed("fail", at: 5, ["src": "a"])
        let f = h.finish()
        #expect(f.map(\.metric) == ["2"])
        #expect(f.map(\.lines) == [[1, 2]])
    }

    /// #41: value_count counts only events that carry the field; an event without it adds no value.
    @Test func item41ValueCountSkipsAbsentValues() {
        let h = CorrelationHarness([baseRule("conn"), corr("value_count", rules: "[conn]", condition: "{field: dst, gte: 2}")])
        h.feed("conn", at: 0, ["src": "a", "dst": "X"])
        h.feed("conn", at: 1, ["src": "a"])
        h.feed("conn", at: 2, ["src": "a", "dst": "x"])
        #expect(h.engine.counters.qualifyingWindows == 0, "an absent value is not a second value, and X = x")
        h.feed("conn", at: 3, ["src": "a", "dst": "y"])
        let f = h.finish()
        #expect(f.map(\.metric) == ["2"])
        #expect(f.first?.firedAt == Timestamp(seconds: 3).iso8601)
    }

    /// #44: numeric text counts as a number (flowhound reads the field text; the oracle ignores JSON strings),
    /// so 100 + 2000000 + "99" = 2000199.
    @Test func item44ValueSumReadsNumericText() {
        let h = CorrelationHarness([baseRule("conn"), corr("value_sum", rules: "[conn]", condition: "{field: bytes, gt: 2000150}")])
        h.feed("conn", at: 0, ["src": "a", "bytes": "100"])
        h.feed("conn", at: 10, ["src": "a", "bytes": "2000000"])
        h.feed("conn", at: 15, ["src": "a", "bytes": "n/a"])
        h.feed("conn", at: 20, ["src": "a", "bytes": "99"])
        let f = h.finish()
        #expect(f.map(\.metric) == ["2000199"])
        #expect(f.first?.firedAt == Timestamp(seconds: 20).iso8601)
        #expect(h.engine.counters.nonNumeric == 1)
    }

    /// #44: value_avg divides by the numeric values only.
    @Test func item44ValueAvgIgnoresNonNumbers() {
        let h = CorrelationHarness([baseRule("conn"), corr("value_avg", rules: "[conn]", condition: "{field: bytes, eq: 15}")])
        h.feed("conn", at: 0, ["src": "a", "bytes": "10"])
        h.feed("conn", at: 1, ["src": "a", "bytes": "-"])
        h.feed("conn", at: 2, ["src": "a", "bytes": "20"])
        #expect(h.finish().map(\.metric) == ["15"])
    }

    /// #49: `lt` fires on a group's first event (count 1 < 2) and stops once the count reaches 2; a group with no
    /// event is never evaluated, so `lt` cannot report silence.
    @Test func item49LessThanNeedsAnEvent() {
        let h = CorrelationHarness([baseRule("fail"), corr("event_count", rules: "[fail]", condition: "{lt: 2}", span: "1m")])
        h.feed("fail", at: 0, ["src": "a"])
        h.feed("fail", at: 1, ["src": "a"])
        h.engine.advance(to: Timestamp(seconds: 10_000))
        let f = h.finish()
        #expect(f.map(\.metric) == ["1"])
        #expect(f.map(\.group["src"]) == ["a"])
        #expect(h.engine.counters.qualifyingWindows == 1)
    }

    /// #48: units and the rejection of a zero or unit-less span.
    @Test func item48TimespanUnits() {
        #expect(SigmaCorrelation.parseTimespan("90m") == 5400)
        #expect(SigmaCorrelation.parseTimespan("1d") == 86_400)
        #expect(SigmaCorrelation.parseTimespan("2w") == 1_209_600)
        #expect(SigmaCorrelation.parseTimespan("0s") == nil)
        #expect(SigmaCorrelation.parseTimespan("-5m") == nil)
        #expect(SigmaCorrelation.parseTimespan("30") == nil)
        #expect(SigmaCorrelation.parseTimespan("1.5h") == nil)
    }

    /// #49: a range on a value_* type; a third operator is an error (covered for event_count elsewhere).
    @Test func item49RangeOnValueCount() {
        let h = CorrelationHarness([baseRule("conn"), corr("value_count", rules: "[conn]", condition: "{field: dst, gt: 1, lte: 2}")])
        for (t, d) in [(0, "p"), (1, "q"), (2, "r")] as [(Int64, String)] { h.feed("conn", at: t, ["src": "a", "dst": d]) }
        let f = h.finish()
        #expect(f.map(\.metric) == ["2"])
        #expect(f.first?.windows == 1)
    }

    /// #46: events lacking one of several group-by fields are skipped and counted.
    @Test func item46MissingOneOfSeveralGroupFields() {
        let h = CorrelationHarness([baseRule("fail"), corr("event_count", rules: "[fail]", condition: "{gte: 2}", groupBy: "[src, user]")])
        h.feed("fail", at: 0, ["src": "a", "user": "u"])
        h.feed("fail", at: 1, ["src": "a"])
        h.feed("fail", at: 2, ["user": "u"])
        #expect(h.finish().isEmpty)
        #expect(h.engine.counters.missingGroupKey == 2)
    }
}
