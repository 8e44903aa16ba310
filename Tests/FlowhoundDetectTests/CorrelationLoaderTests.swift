import FlowhoundTestSupport
import FlowhoundCore
import FlowhoundDetect
import FlowhoundRules
import Testing

/// Correlation parsing (SigmaLoader) for the engine's extensions, and an in-order cross-check of the engine's
/// incremental aggregates against a brute-force evaluation of every window end (what the oracle computes).
@Suite struct CorrelationLoaderTests {
    func load(_ body: String) -> SigmaLoadResult {
        SigmaLoader.load(yaml: baseRule("a") + "\n---\n" + baseRule("b") + "\n---\ntitle: c\ncorrelation:\n" + body, path: "l.yml")
    }

    @Test func medianPercentileNeqAndRange() throws {
        let m = try #require(load("    type: value_median\n    rules: [a]\n    timespan: 1h\n    condition: {field: bytes, neq: 3}\n").correlations.first?.correlation)
        #expect(m.type == .valueMedian && m.percentile == 50 && m.condition.map(\.op) == [.neq])
        let p = try #require(load("    type: value_percentile\n    rules: a\n    timespan: 90m\n    condition: {field: bytes, percentile: 95, gt: 1, lte: 5}\n").correlations.first?.correlation)
        #expect(p.percentile == 95 && p.timespanSeconds == 5400 && p.rules == ["a"])
        #expect(p.condition.map(\.op) == [.gt, .lte] && p.condition.map(\.value) == [1, 5])
    }

    @Test func badCorrelationConditions() {
        func code(_ body: String) -> [String] { load(body).errors.map(\.code) }
        #expect(code("    type: value_percentile\n    rules: [a]\n    timespan: 1h\n    condition: {field: x, gt: 1}\n") == ["bad_correlation"])
        #expect(code("    type: value_percentile\n    rules: [a]\n    timespan: 1h\n    condition: {field: x, percentile: 101, gt: 1}\n").count == 2)
        #expect(code("    type: event_count\n    rules: [a]\n    timespan: 1h\n    condition: {gt: 1, lt: 5, neq: 3}\n") == ["bad_correlation"])
        #expect(code("    type: event_count\n    rules: [a]\n    timespan: 0s\n    condition: {gt: 1}\n") == ["bad_timespan"])
        #expect(code("    type: temporal_ordered\n    rules: [a, b]\n    timespan: 1h\n    condition: a and b\n") == ["unsupported_correlation"])
        #expect(code("    type: temporal\n    rules: [a]\n    timespan: 1h\n    condition: a and not b\n") == ["bad_correlation"], "b is not in rules")
        #expect(code("    type: temporal\n    timespan: 1h\n    condition: a and (not b\n") == ["bad_correlation", "bad_correlation"])
        #expect(code("    type: value_sum\n    rules: [a]\n    timespan: 1h\n    condition: {field: [x, y], gt: 1}\n") == ["bad_correlation", "bad_correlation"])
    }

    @Test func booleanConditionsParse() throws {
        let c = try #require(load("    type: temporal\n    timespan: 1m\n    condition: 'a AND (b or NOT a)'\n").correlations.first?.correlation)
        #expect(c.rules == ["a", "b"])
        #expect(c.expression == .and([.rule("a"), .or([.rule("b"), .not(.rule("a"))])]))
        #expect(c.expression?.hasNegation == true)
        #expect(try CorrelationExpressionParser.parse("x or y and z") == .or([.rule("x"), .and([.rule("y"), .rule("z")])]))
    }

    /// In-order input: every window end the engine counts as qualifying is one the brute force finds, and the
    /// number of findings equals the number of bursts the brute force derives from those ends.
    @Test(arguments: [
        ("value_sum", "{field: bytes, gte: 250}"), ("value_count", "{field: bytes, gte: 3}"),
        ("value_median", "{field: bytes, lte: 40}"), ("value_percentile", "{field: bytes, percentile: 80, gt: 70}"),
        ("value_avg", "{field: bytes, gt: 55, lte: 80}"), ("event_count", "{gte: 4}"),
    ])
    func incrementalWindowsAgreeWithBruteForce(type: String, condition: String) {
        var rng = SplitMix(seed: 42)
        let span: Int64 = 20
        let h = CorrelationHarness([
            baseRule("a"),
            "title: x\ncorrelation:\n    type: \(type)\n    rules: [a]\n    group-by: [src]\n    timespan: \(span)s\n    condition: \(condition)\n",
        ])
        var events: [(t: Int64, src: String, v: Int)] = []
        var t: Int64 = 0
        for _ in 0..<600 {
            t += Int64(rng.next() % 4) * 1_000_000_000 + (rng.next() % 3 == 0 ? 0 : 1)
            events.append((t, "s\(rng.next() % 3)", Int(rng.next() % 100)))
        }
        for e in events { h.feed("a", ns: e.t, ["src": e.src, "bytes": String(e.v)]) }
        let findings = h.finish()

        // brute force: metric of [t - span, t] over the group's events at every event
        func metric(_ w: [Int]) -> Double? {
            switch type {
            case "value_sum": return w.isEmpty ? nil : Double(w.reduce(0, +))
            case "value_count": return Double(Set(w).count)
            case "value_avg": return w.isEmpty ? nil : Double(w.reduce(0, +)) / Double(w.count)
            case "event_count": return Double(w.count)
            default:
                let s = w.sorted().map(Double.init)
                let p = type == "value_median" ? 50.0 : 80.0
                let pos = p / 100 * Double(s.count - 1)
                let lo = Int(pos)
                return lo + 1 < s.count ? s[lo] + (pos - Double(lo)) * (s[lo + 1] - s[lo]) : s[lo]
            }
        }
        func holds(_ m: Double) -> Bool {
            switch type {
            case "value_sum": m >= 250
            case "value_count": m >= 3
            case "value_median": m <= 40
            case "value_percentile": m > 70
            case "value_avg": m > 55 && m <= 80
            default: m >= 4
            }
        }
        var qualifying = 0
        var bursts = 0
        var last: [String: (fired: Int64, open: Bool)] = [:]
        let spanNs = span * 1_000_000_000
        for (i, e) in events.enumerated() {
            let w = events[...i].filter { $0.src == e.src && $0.t >= e.t - spanNs }.map(\.v)
            let q = metric(w).map(holds) ?? false
            if q {
                qualifying += 1
                if let l = last[e.src], l.open, e.t - l.fired <= spanNs {} else { bursts += 1 }
                last[e.src] = (e.t, true)
            } else if last[e.src]?.open == true {
                last[e.src]!.open = false
            }
        }
        #expect(qualifying > 10, "the data must exercise the condition")
        #expect(h.engine.counters.qualifyingWindows == qualifying)
        #expect(findings.count == bursts)
        #expect(findings.reduce(0) { $0 + ($1.windows ?? 0) } == qualifying)
    }
}

