import FlowhoundCore
import FlowhoundDetect
import FlowhoundRules
import Testing

private func correlation(
    _ title: String, type: String, rules: [String], groupBy: [String] = ["src"], timespan: String,
    condition: String? = nil, extra: String = "", generate: Bool? = nil, name: String? = nil, level: String = "high"
) -> String {
    var s = "title: \(title)\n"
    if let name { s += "name: \(name)\n" }
    s += "level: \(level)\ncorrelation:\n    type: \(type)\n    rules: [\(rules.joined(separator: ", "))]\n"
    if !groupBy.isEmpty { s += "    group-by: [\(groupBy.joined(separator: ", "))]\n" }
    s += "    timespan: \(timespan)\n"
    if let condition { s += "    condition: \(condition)\n" }
    if let generate { s += "    generate: \(generate)\n" }
    s += extra
    return s
}

@Suite struct CorrelationWindowTests {
    func eventCount(_ condition: String = "{gte: 2}", span: String = "30s", policy: CorrelationPolicy = CorrelationPolicy()) -> CorrelationHarness {
        CorrelationHarness(
            [baseRule("fail"), correlation("burst", type: "event_count", rules: ["fail"], timespan: span, condition: condition)],
            policy: policy)
    }

    @Test func eventCountWindowIncludesItsStart() {
        let h = eventCount()
        h.feed("fail", ns: sec(100), ["src": "10.0.0.1"])
        h.feed("fail", ns: sec(130), ["src": "10.0.0.1"])
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f.first?.count == 2)
        #expect(f.first?.metric == "2")
        #expect(f.first?.group["src"] == "10.0.0.1")
        #expect(f.first?.firstSeen == Timestamp(seconds: 100) && f.first?.lastSeen == Timestamp(seconds: 130))
        #expect(f.first?.firedAt == Timestamp(seconds: 130).iso8601)
        #expect(f.first?.lines == [1, 2])
        #expect(f.first?.windowSeconds == 30)
        #expect(f.first?.level == .high && f.first?.title == "burst")
        #expect(f.first?.sourceIP == "10.0.0.1")
    }

    @Test func eventCountWindowExcludesOneNanosecondBeforeItsStart() {
        let h = eventCount()
        h.feed("fail", ns: sec(100) - 1, ["src": "10.0.0.1"])
        h.feed("fail", ns: sec(130), ["src": "10.0.0.1"])
        #expect(h.finish().isEmpty)
        #expect(h.engine.counters.qualifyingWindows == 0)
    }

    /// 3 events before a minute boundary and 2 after: a tumbling window misses them, the sliding one fires once.
    @Test func threePlusTwoSplitFiresOnce() {
        let h = eventCount("{gte: 5}", span: "60s")
        for t: Int64 in [50, 55, 58, 62, 65] { h.feed("fail", at: t, ["src": "10.0.0.1"]) }
        h.feed("fail", at: 70, ["src": "10.0.0.1"])
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f[0].count == 6)
        #expect(f[0].windows == 2)
        #expect(f[0].metric == "5")
        #expect(f[0].firedAt == Timestamp(seconds: 65).iso8601)
        #expect(f[0].lines == [1, 2, 3, 4, 5, 6])
        #expect(h.engine.counters.qualifyingWindows == 2)
    }

    @Test func groupsAreSeparateAndMissingKeysCounted() {
        let h = eventCount()
        h.feed("fail", at: 1, ["src": "10.0.0.1"])
        h.feed("fail", at: 2, ["src": "10.0.0.2"])
        h.feed("fail", at: 3)
        #expect(h.finish().isEmpty)
        #expect(h.engine.counters.missingGroupKey == 1)
        #expect(h.engine.counters.events == 2)
    }

    @Test func rangeAndNeqConditions() {
        // {gt: 1, lte: 3}: the 2nd and 3rd events qualify, the 4th does not and ends the burst
        let h = eventCount("{gt: 1, lte: 3}", span: "1m")
        for t: Int64 in [0, 1, 2, 3] { h.feed("fail", at: t, ["src": "a"]) }
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f[0].count == 3 && f[0].windows == 2 && f[0].lastSeen == Timestamp(seconds: 2))
        let n = eventCount("{neq: 2}", span: "1m")
        for t: Int64 in [0, 1, 2] { n.feed("fail", at: t, ["src": "a"]) }
        let g = n.finish()
        #expect(g.map(\.count) == [1, 3], "count 1 fires, count 2 closes it, count 3 fires again")
    }

    @Test func noGroupByIsOneGlobalGroup() {
        let h = CorrelationHarness([
            baseRule("fail"),
            correlation("global", type: "event_count", rules: ["fail"], groupBy: [], timespan: "1w", condition: "{gte: 3}"),
        ])
        h.feed("fail", at: 0, ["src": "10.0.0.1"])
        h.feed("fail", at: 120, ["src": "10.0.0.2"])
        h.feed("fail", at: 7200)
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f[0].group == ["correlation.metric": "3", "correlation.windows": "1", "correlation.fired_at": Timestamp(seconds: 7200).iso8601])
        #expect(f[0].sourceIP == nil, "sources differ")
    }

    @Test func groupByMultipleFieldsFoldsCase() {
        let h = CorrelationHarness([
            baseRule("fail"),
            correlation("pair", type: "event_count", rules: ["fail"], groupBy: ["src", "user"], timespan: "1m", condition: "{gte: 2}"),
        ])
        h.feed("fail", at: 0, ["src": "10.0.0.1", "user": "Alice"])
        h.feed("fail", at: 1, ["src": "10.0.0.1", "user": "bob"])
        h.feed("fail", at: 2, ["src": "10.0.0.2", "user": "alice"])
        h.feed("fail", at: 3, ["src": "10.0.0.1", "user": "ALICE"])
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f[0].group["src"] == "10.0.0.1" && f[0].group["user"] == "alice")
        #expect(f[0].lines == [1, 4])
        #expect(f[0].userName == nil, "Alice and ALICE are spelled differently")
        #expect(h.engine.groupCount == 0, "finish empties the engine")
    }
}

@Suite struct CorrelationSuppressionTests {
    func h(_ condition: String, policy: CorrelationPolicy = CorrelationPolicy()) -> CorrelationHarness {
        CorrelationHarness(
            [baseRule("fail"), correlation("burst", type: "event_count", rules: ["fail"], timespan: "30s", condition: condition)],
            policy: policy)
    }

    @Test func burstEndsWhenTheConditionStopsHolding() {
        let x = h("{gte: 3}")
        for t: Int64 in [0, 10, 20, 25] { x.feed("fail", at: t, ["src": "a"]) }
        x.feed("fail", at: 60, ["src": "a"])  // window [30, 60] holds 1 event: the burst closes here
        #expect(x.out.count == 1, "written when the condition stopped holding, before finish")
        #expect(x.out.first?.count == 4 && x.out.first?.windows == 2)
        for t: Int64 in [61, 62] { x.feed("fail", at: t, ["src": "a"]) }
        let f = x.finish()
        #expect(f.count == 2)
        #expect(f[1].count == 3 && f[1].firstSeen == Timestamp(seconds: 60) && f[1].windows == 1)
    }

    @Test func burstEndsWhenItsWindowHasPassed() {
        let merged = h("{gte: 1}")
        for t: Int64 in [0, 30, 60] { merged.feed("fail", at: t, ["src": "a"]) }
        #expect(merged.finish().map(\.count) == [3], "each end is within 30 s of the previous one")
        let split = h("{gte: 1}")
        for t: Int64 in [0, 30] { split.feed("fail", at: t, ["src": "a"]) }
        split.feed("fail", ns: sec(60) + 1, ["src": "a"])
        #expect(split.finish().map(\.count) == [2, 1])
    }

    @Test func openFindingIsWrittenWhenLogTimePassesWindowAndTolerance() {
        let x = h("{gte: 2}", policy: CorrelationPolicy(lateToleranceSeconds: 10))
        x.feed("fail", at: 100, ["src": "a"])
        x.feed("fail", at: 105, ["src": "a"])
        x.engine.advance(to: Timestamp(seconds: 145))  // 105 + 30 + 10: a late event could still merge
        #expect(x.out.isEmpty)
        x.engine.advance(to: Timestamp(nanoseconds: sec(145) + 1))
        #expect(x.out.count == 1)
        #expect(x.finish().count == 1)
    }

    @Test func evidenceIsBounded() {
        let x = h("{gte: 1}")
        for t: Int64 in 0..<25 { x.feed("fail", at: t, ["src": "a"]) }
        let f = x.finish()
        #expect(f.count == 1 && f[0].count == 25 && f[0].windows == 25)
        #expect(f[0].lines == Array(1...10))
    }

    @Test func belowMinimumLevelIsCounted() {
        let x = CorrelationHarness(
            [baseRule("fail"), correlation("burst", type: "event_count", rules: ["fail"], timespan: "30s", condition: "{gte: 1}", level: "low")],
            minimumLevel: .medium)
        x.feed("fail", at: 0, ["src": "a"])
        #expect(x.finish().isEmpty)
        #expect(x.engine.counters.belowMinimumLevel == 1)
    }
}

@Suite struct CorrelationValueTests {
    func value(_ type: String, _ condition: String, span: String = "1h") -> CorrelationHarness {
        CorrelationHarness([baseRule("conn"), correlation("v", type: type, rules: ["conn"], timespan: span, condition: condition)])
    }

    @Test func valueCountFoldsCaseAndUsesTheWindow() {
        let h = value("value_count", "{field: dst, gte: 3}", span: "60s")
        h.feed("conn", at: 0, ["src": "a", "dst": "X"])
        h.feed("conn", at: 10, ["src": "a", "dst": "x"])
        h.feed("conn", at: 20, ["src": "a", "dst": "y"])
        #expect(h.engine.counters.qualifyingWindows == 0, "X and x are one value")
        h.feed("conn", at: 60, ["src": "a", "dst": "z"])  // window [0, 60] still holds X
        let f = h.finish()
        #expect(f.count == 1 && f[0].metric == "3" && f[0].count == 4)

        let edge = value("value_count", "{field: dst, gte: 2}", span: "60s")
        edge.feed("conn", ns: sec(0) - 1, ["src": "a", "dst": "p"])
        edge.feed("conn", at: 60, ["src": "a", "dst": "q"])
        #expect(edge.finish().isEmpty, "p lies 1 ns before the window")
    }

    @Test func valueSumIgnoresNonNumbersAndUsesTheWindow() {
        let h = value("value_sum", "{field: bytes, gt: 1000000}")
        h.feed("conn", at: 0, ["src": "a", "bytes": "100"])
        h.feed("conn", at: 10, ["src": "a", "bytes": "2000000"])
        h.feed("conn", at: 20, ["src": "a", "bytes": "abc"])
        h.feed("conn", at: 30, ["src": "a", "bytes": "99"])
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f[0].metric == "2000100", "metric at the first qualifying end")
        #expect(f[0].windows == 3 && f[0].count == 4)
        #expect(h.engine.counters.nonNumeric == 1)

        let edge = value("value_sum", "{field: bytes, gte: 300}", span: "10s")
        edge.feed("conn", at: 0, ["src": "a", "bytes": "100"])
        edge.feed("conn", ns: sec(10) + 1, ["src": "a", "bytes": "200"])
        edge.feed("conn", ns: sec(20), ["src": "a", "bytes": "100"])
        let g = edge.finish()
        #expect(g.count == 1 && g[0].metric == "300" && g[0].firedAt == Timestamp(seconds: 20).iso8601)
    }

    @Test func valueAverage() {
        let h = value("value_avg", "{field: bytes, gt: 400}")
        h.feed("conn", at: 0, ["src": "a", "bytes": "10"])
        h.feed("conn", at: 120, ["src": "a", "bytes": "1000"])
        let f = h.finish()
        #expect(f.count == 1 && f[0].metric == "505")
    }

    /// The oracle's fixture: [10, 1000] → median 505, p90 901 (linear interpolation between closest ranks).
    @Test func percentileAndMedianInterpolateLinearly() {
        let med = value("value_median", "{field: bytes, gte: 10}")
        med.feed("conn", at: 0, ["src": "a", "bytes": "10"])
        med.feed("conn", at: 120, ["src": "a", "bytes": "1000"])
        let m = med.finish()
        #expect(m.count == 1 && m[0].metric == "10" && m[0].windows == 2)

        let p90 = value("value_percentile", "{field: bytes, percentile: 90, gte: 500}")
        p90.feed("conn", at: 0, ["src": "a", "bytes": "10"])
        p90.feed("conn", at: 120, ["src": "a", "bytes": "1000"])
        let p = p90.finish()
        #expect(p.count == 1 && p[0].metric == "901")

        // [1, 2, 3, 4]: p25 sits at rank 0.75 → 1.75; the median of an even count is the mean of the middle two
        let q = value("value_percentile", "{field: bytes, percentile: 25, eq: 1.75}")
        for (i, v) in ["4", "3", "1", "2"].enumerated() { q.feed("conn", at: Int64(i), ["src": "a", "bytes": v]) }
        #expect(q.finish().map(\.metric) == ["1.75"])
        let even = value("value_median", "{field: bytes, eq: 2.5}")
        for (i, v) in ["4", "3", "1", "2"].enumerated() { even.feed("conn", at: Int64(i), ["src": "a", "bytes": v]) }
        #expect(even.finish().map(\.metric) == ["2.5"])
    }

    @Test func percentileWindowDropsOldValues() {
        let h = value("value_median", "{field: bytes, gte: 100}", span: "10s")
        h.feed("conn", at: 0, ["src": "a", "bytes": "1000"])  // median 1000: fires
        h.feed("conn", at: 5, ["src": "a", "bytes": "1"])  // [1, 1000] → 500.5: merges
        h.feed("conn", ns: sec(15) + 1, ["src": "a", "bytes": "2"])  // [2]: closes
        h.feed("conn", at: 16, ["src": "a", "bytes": "4000"])  // [2, 4000] → 2001: new burst
        let f = h.finish()
        #expect(f.map(\.metric) == ["1000", "2001"])
        #expect(f.map(\.count) == [2, 2])
    }
}

@Suite struct CorrelationTemporalTests {
    func temporal(_ type: String, span: String = "60s", condition: String? = nil) -> CorrelationHarness {
        CorrelationHarness([
            baseRule("a"), baseRule("b"),
            correlation("t", type: type, rules: ["a", "b"], timespan: span, condition: condition),
        ])
    }

    @Test func temporalAnyOrderWithInclusiveEdges() {
        let h = temporal("temporal")
        h.feed("b", at: 0, ["src": "s"])
        h.feed("a", at: 60, ["src": "s"])
        let f = h.finish()
        #expect(f.count == 1 && f[0].metric == "2" && f[0].lines == [1, 2])

        let out = temporal("temporal")
        out.feed("b", ns: -1, ["src": "s"])
        out.feed("a", at: 60, ["src": "s"])
        #expect(out.finish().isEmpty)

        let other = temporal("temporal")
        other.feed("a", at: 0, ["src": "s"])
        other.feed("b", at: 1, ["src": "t"])
        #expect(other.finish().isEmpty, "different groups")
    }

    @Test func temporalCountCondition() {
        let h = CorrelationHarness([
            baseRule("a"), baseRule("b"), baseRule("c"),
            correlation("two of three", type: "temporal", rules: ["a", "b", "c"], timespan: "60s", condition: "{gte: 2}"),
        ])
        h.feed("c", at: 0, ["src": "s"])
        h.feed("c", at: 1, ["src": "s"])
        #expect(h.engine.counters.qualifyingWindows == 0)
        h.feed("a", at: 2, ["src": "s"])
        #expect(h.finish().map(\.metric) == ["2"])
    }

    @Test func temporalOrderedNeedsTheListedOrderAndStrictlyIncreasingTimes() {
        let ok = temporal("temporal_ordered")
        ok.feed("a", at: 0, ["src": "s"])
        ok.feed("b", at: 60, ["src": "s"])
        #expect(ok.finish().map(\.metric) == ["2"])

        let reversed = temporal("temporal_ordered")
        reversed.feed("b", at: 0, ["src": "s"])
        reversed.feed("a", at: 10, ["src": "s"])
        #expect(reversed.finish().isEmpty)

        let same = temporal("temporal_ordered")
        same.feed("a", at: 5, ["src": "s"])
        same.feed("b", at: 5, ["src": "s"])
        #expect(same.finish().isEmpty, "equal timestamps are not ordered")

        let late = temporal("temporal_ordered")
        late.feed("a", ns: -1, ["src": "s"])
        late.feed("b", at: 60, ["src": "s"])
        #expect(late.finish().isEmpty, "a lies 1 ns before the window")

        // b a b: the window ending at the second b holds a < b
        let again = temporal("temporal_ordered")
        for (r, t) in [("b", 0), ("a", 10), ("b", 20)] as [(String, Int64)] { again.feed(r, at: t, ["src": "s"]) }
        let f = again.finish()
        #expect(f.count == 1 && f[0].firedAt == Timestamp(seconds: 20).iso8601)
        #expect(f[0].lines == [1, 2, 3])
    }

    /// The spec's aliases example in the oracle's fixture: a firewall block, then a web 500 with the roles swapped.
    @Test func aliasesMapFieldsPerRule() {
        let h = CorrelationHarness([
            baseRule("fw_block"), baseRule("web_500"),
            """
            title: block and 500 on the same pair
            correlation:
                type: temporal
                rules: [fw_block, web_500]
                group-by: [pair_a, pair_b]
                aliases:
                    pair_a: {fw_block: src_ip, web_500: server}
                    pair_b: {fw_block: dst_ip, web_500: client}
                timespan: 1m
            """,
        ])
        h.feed("fw_block", at: 0, ["src_ip": "10.1.1.1", "dst_ip": "10.2.2.2"])
        h.feed("web_500", ns: sec(30) + 250_000_000, ["server": "10.1.1.1", "client": "10.2.2.2"])
        h.feed("fw_block", at: 120, ["src_ip": "10.1.1.1", "dst_ip": "10.3.3.3"])
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f[0].group["pair_a"] == "10.1.1.1" && f[0].group["pair_b"] == "10.2.2.2")
        #expect(f[0].lines == [1, 2])
        #expect(f[0].firedAt == Timestamp(nanoseconds: sec(30) + 250_000_000).iso8601)
    }

    /// `fw_block and not fw_allow`: each block opens [t, t + 30 s]; it fires at its end when no allow came.
    @Test func absenceConditionLooksForward() throws {
        let h = CorrelationHarness([
            baseRule("fw_block"), baseRule("fw_allow"),
            """
            title: block without allow
            correlation:
                type: temporal
                group-by: [src]
                timespan: 30s
                condition: fw_block and not fw_allow
            """,
        ])
        let c = try #require(h.loaded.correlations.first?.correlation)
        #expect(c.rules == ["fw_block", "fw_allow"], "rules come from the condition")
        h.feed("fw_block", at: 0, ["src": "10.1.1.1"])
        h.feed("fw_allow", at: 60, ["src": "10.1.1.1"])
        h.feed("fw_block", at: 120, ["src": "10.1.1.1"])
        h.feed("fw_block", at: 200, ["src": "10.9.9.9"])
        h.feed("fw_allow", at: 210, ["src": "10.9.9.9"])
        h.feed("fw_block", at: 7200, ["src": "10.5.5.5"])
        let f = h.finish()
        #expect(f.map(\.firedAt) == [Timestamp(seconds: 30).iso8601, Timestamp(seconds: 150).iso8601])
        #expect(f.map(\.lines) == [[1], [3]])
        #expect(h.engine.counters.incompleteWindows == 1, "the last block's window ends after the input")
    }

    @Test func absenceWindowIsInclusiveAtItsEnd() {
        let h = CorrelationHarness([
            baseRule("fw_block"), baseRule("fw_allow"),
            correlation("x", type: "temporal", rules: ["fw_block", "fw_allow"], timespan: "30s", condition: "'fw_block and not fw_allow'"),
        ])
        h.feed("fw_block", at: 0, ["src": "a"])
        h.feed("fw_allow", at: 30, ["src": "a"])  // inside [0, 30]: no alert
        h.feed("fw_block", at: 100, ["src": "a"])
        h.feed("fw_allow", ns: sec(130) + 1, ["src": "a"])  // just after [100, 130]: alert
        let f = h.finish()
        #expect(f.map(\.firedAt) == [Timestamp(seconds: 130).iso8601])
    }
}

@Suite struct CorrelationReferenceTests {
    @Test func chainedCorrelationConsumesQualifyingWindowsOfTheInnerOne() throws {
        let h = CorrelationHarness([
            baseRule("ssh_fail"), baseRule("ssh_ok"),
            correlation("Many failed", type: "event_count", rules: ["ssh_fail"], groupBy: ["user"], timespan: "5m", condition: "{gte: 3}", name: "many_failed"),
            correlation("Brute force then success", type: "temporal_ordered", rules: ["many_failed", "ssh_ok"], groupBy: ["user"], timespan: "10m", level: "critical"),
        ])
        for t: Int64 in [0, 1, 2] { h.feed("ssh_fail", at: t, ["user": "Alice", "src": "10.0.0.7"]) }
        h.feed("ssh_fail", at: 3, ["user": "bob"])
        h.feed("ssh_ok", at: 100, ["user": "alice", "src": "10.0.0.7"])
        let f = h.finish()
        #expect(f.count == 1, "the inner correlation is referenced without generate, so only the outer one writes")
        #expect(f[0].title == "Brute force then success" && f[0].level == .critical)
        #expect(f[0].group["user"] == "alice")
        #expect(f[0].lines == [1, 2, 3, 5])
        #expect(f[0].firstSeen == Timestamp(seconds: 2), "the inner firing's time")
        #expect(f[0].sourceIP == "10.0.0.7")
        #expect(h.engine.silencedRules == [h.ruleIndex("ssh_fail"), h.ruleIndex("ssh_ok")])
        let inner = try #require(h.loaded.correlations.firstIndex { $0.title == "Many failed" })
        #expect(h.engine.counters(correlation: inner)?.silencedFindings == 1)
    }

    @Test func generateFalseOnAnyReferenceSilencesTheRule() {
        func silenced(_ g1: Bool?, _ g2: Bool?) -> Set<Int> {
            let h = CorrelationHarness([
                baseRule("a"), baseRule("b"),
                correlation("c1", type: "event_count", rules: ["a"], timespan: "1m", condition: "{gte: 2}", generate: g1),
                correlation("c2", type: "temporal", rules: ["a", "b"], timespan: "1m", generate: g2),
            ])
            return h.engine.silencedRules
        }
        #expect(silenced(nil, nil) == [0, 1])
        #expect(silenced(true, nil) == [0, 1])
        #expect(silenced(false, true) == [0])
        #expect(silenced(true, true) == [])
    }

    @Test func unknownReferenceIsReportedAndOnlyThatCorrelationIsDisabled() {
        let h = CorrelationHarness([
            baseRule("a"),
            correlation("dangling", type: "event_count", rules: ["a", "does_not_exist"], timespan: "1m", condition: "{gte: 1}"),
            correlation("fine", type: "event_count", rules: ["a"], timespan: "1m", condition: "{gte: 1}", generate: true),
        ])
        let d = h.engine.diagnostics
        #expect(d.count == 1)
        #expect(d.first?.code == "unknown_correlation_reference")
        #expect(d.first?.kind == .error)
        #expect(d.first?.location == h.loaded.correlations[0].correlation?.location)
        #expect(d.first?.location?.path == "c.yml" && d.first?.location?.line == 12)
        #expect(h.engine.activeCorrelations == [1])
        #expect(h.engine.silencedRules.isEmpty, "a disabled correlation silences nothing")
        h.feed("a", at: 0, ["src": "x"])
        #expect(h.finish().map(\.title) == ["fine"])
    }

    @Test func cyclesAreErrors() {
        let loaded = SigmaLoader.load(
            yaml: [
                baseRule("a"),
                correlation("one", type: "event_count", rules: ["two", "a"], timespan: "1m", condition: "{gte: 1}", name: "one"),
                correlation("two", type: "event_count", rules: ["one"], timespan: "1m", condition: "{gte: 1}", name: "two"),
                correlation("three", type: "event_count", rules: ["two"], timespan: "1m", condition: "{gte: 1}", name: "three"),
            ].joined(separator: "\n---\n"), path: "c.yml")
        #expect(loaded.errors.isEmpty)
        let e = CorrelationEngine(rules: loaded.rules, correlations: loaded.correlations) { _ in }
        #expect(e.diagnostics.map(\.code) == ["correlation_cycle", "correlation_cycle", "disabled_correlation_reference"])
        #expect(e.isEmpty && e.silencedRules.isEmpty)
    }
}

@Suite struct CorrelationTimeTests {
    func h(_ tolerance: Int64) -> CorrelationHarness {
        CorrelationHarness(
            [baseRule("fail"), correlation("burst", type: "event_count", rules: ["fail"], timespan: "30s", condition: "{gte: 3}")],
            policy: CorrelationPolicy(lateToleranceSeconds: tolerance))
    }

    /// Zeek writes a connection when it ends: its event arrives after later ones but is windowed by its own time.
    @Test func lateEventWithinToleranceCounts() {
        let x = h(300)
        x.feed("fail", at: 100, ["src": "a"])
        x.feed("fail", at: 120, ["src": "a"])
        x.feed("fail", at: 90, ["src": "a"])  // the window ending at 120 now holds 90, 100, 120
        let f = x.finish()
        #expect(f.count == 1)
        #expect(f[0].count == 3 && f[0].firstSeen == Timestamp(seconds: 90) && f[0].lastSeen == Timestamp(seconds: 120))
        #expect(f[0].firedAt == Timestamp(seconds: 120).iso8601)
        #expect(x.engine.counters.lateAccepted == 1)
    }

    @Test func lateEventOwnWindowIsChecked() {
        let x = h(300)
        for t: Int64 in [100, 101, 200] { x.feed("fail", at: t, ["src": "a"]) }
        x.feed("fail", at: 102, ["src": "a"])  // its own window [72, 102] holds 3
        let f = x.finish()
        #expect(f.count == 1 && f[0].firedAt == Timestamp(seconds: 102).iso8601 && f[0].count == 3)
    }

    /// A late pair well before an open burst is a burst of its own: written at once, the open one untouched.
    @Test func lateBurstBeforeTheOpenOneIsSeparate() {
        let x = CorrelationHarness(
            [baseRule("fail"), correlation("pair", type: "event_count", rules: ["fail"], timespan: "30s", condition: "{gte: 2}")])
        for t: Int64 in [200, 201, 100, 101] { x.feed("fail", at: t, ["src": "a"]) }
        #expect(x.out.map(\.firedAt) == [Timestamp(seconds: 101).iso8601])
        let f = x.finish()
        #expect(f.map(\.firedAt) == [Timestamp(seconds: 101).iso8601, Timestamp(seconds: 201).iso8601])
        #expect(f.map(\.lines) == [[3, 4], [1, 2]])
    }

    @Test func eventsLaterThanTheToleranceAreDropped() {
        let x = h(10)
        x.feed("fail", at: 100, ["src": "a"])
        x.feed("fail", at: 120, ["src": "a"])
        x.feed("fail", at: 90, ["src": "a"])
        #expect(x.finish().isEmpty)
        #expect(x.engine.counters.lateDropped == 1)
    }

    @Test func eventsWithoutTimestampAreCounted() {
        let x = h(10)
        let r = EventRecord(capacity: 1)
        defer { r.deallocate() }
        x.engine.observe(ruleIndex: 0, record: r, schema: x.schema, origin: EventOrigin(path: "p", line: 1, byteOffset: 0))
        #expect(x.engine.counters.missingTimestamp == 1 && x.engine.counters.events == 0)
    }
}

@Suite struct CorrelationBoundTests {
    /// An attacker controls the group key: 1 M distinct sources keep at most `maxGroups` groups.
    @Test func floodOfDistinctGroupsStaysWithinTheCap() {
        let loaded = SigmaLoader.load(
            yaml: [baseRule("fail"), correlation("fan-out", type: "value_count", rules: ["fail"], timespan: "1h", condition: "{field: dst, gte: 2}")]
                .joined(separator: "\n---\n"), path: "c.yml")
        var written = 0
        let engine = CorrelationEngine(
            rules: loaded.rules, correlations: loaded.correlations, policy: CorrelationPolicy(maxGroups: 1000)
        ) { _ in written += 1 }
        let schema = Schema(
            format: .zeekTSV, logType: "conn", fields: [FieldSpec(name: "src"), FieldSpec(name: "dst")],
            roles: [.sourceIP: "src"], logSources: [])
        var record = EventRecord(capacity: 2)
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        defer {
            record.deallocate()
            buf.deallocate()
        }
        let n = 1_000_000
        var maxGroups = 0
        for i in 0..<n {
            // "s" + 8 hex digits: never an address, so the key is the text itself
            buf[0] = UInt8(ascii: "s")
            var v = i
            for k in 0..<8 {
                let d = UInt8(v & 15)
                buf[8 - k] = d < 10 ? 48 + d : 87 + d
                v >>= 4
            }
            record[0] = FieldValue(base: UnsafePointer(buf), count: 9)
            record[1] = FieldValue(base: UnsafePointer(buf), count: 9)
            record.line = UnsafePointer(buf)
            record.lineLength = 9
            record.timestamp = Timestamp(nanoseconds: sec(5) + Int64(i))
            engine.advance(to: record.timestamp!)
            engine.observe(ruleIndex: 0, record: record, schema: schema, origin: EventOrigin(path: "x", line: Int64(i), byteOffset: 0))
            if i & 1023 == 0 { maxGroups = max(maxGroups, engine.groupCount) }
        }
        maxGroups = max(maxGroups, engine.groupCount)
        #expect(maxGroups == 1000)
        #expect(engine.counters.groupsEvicted == n - 1000)
        #expect(engine.counters.events == n)
        engine.finish()
        #expect(written == 0 && engine.groupCount == 0)
    }

    @Test func eventsPerGroupAreCapped() {
        let h = CorrelationHarness(
            [baseRule("fail"), correlation("burst", type: "event_count", rules: ["fail"], timespan: "1h", condition: "{gte: 6}")],
            policy: CorrelationPolicy(maxEventsPerGroup: 5))
        for t: Int64 in 0..<10 { h.feed("fail", at: t, ["src": "a"]) }
        #expect(h.finish().isEmpty)
        #expect(h.engine.counters.eventsDropped == 5)
    }

    @Test func groupsExpireWithLogTime() {
        let h = CorrelationHarness(
            [baseRule("fail"), correlation("burst", type: "event_count", rules: ["fail"], timespan: "30s", condition: "{gte: 5}")],
            policy: CorrelationPolicy(lateToleranceSeconds: 10))
        for i in 0..<100 { h.feed("fail", at: Int64(i), ["src": "10.0.0.\(i)"]) }
        h.engine.advance(to: Timestamp(seconds: 1000))
        #expect(h.engine.groupCount == 0)
        #expect(h.engine.counters.groupsExpired == 100)
    }

    @Test func longValuesAreCut() {
        let h = CorrelationHarness(
            [baseRule("q"), correlation("q", type: "value_count", rules: ["q"], timespan: "1m", condition: "{field: dst, gte: 2}")],
            policy: CorrelationPolicy(maxValueBytes: 8))
        h.feed("q", at: 0, ["src": "a", "dst": "aaaaaaaa-one"])
        h.feed("q", at: 1, ["src": "a", "dst": "aaaaaaaa-two"])
        #expect(h.finish().isEmpty, "both values cut to the same 8 bytes")
        #expect(h.engine.counters.valuesTruncated == 2)
    }
}

/// Group keys are compared as bytes (`GroupKeyCodec`): the same groups as comparing the display strings.
@Suite struct CorrelationKeyTests {
    func burst(groupBy: [String] = ["src"], policy: CorrelationPolicy = CorrelationPolicy()) -> CorrelationHarness {
        CorrelationHarness(
            [baseRule("fail"), correlation("burst", type: "event_count", rules: ["fail"], groupBy: groupBy, timespan: "60s", condition: "{gte: 3}")],
            policy: policy)
    }

    @Test func addressSpellingsShareOneGroupUnderTheCanonicalForm() {
        let h = burst()
        h.feed("fail", at: 1, ["src": "2001:DB8:0:0::1"])
        h.feed("fail", at: 2, ["src": "2001:0db8::0001"])
        h.feed("fail", at: 3, ["src": "2001:db8::1"])
        h.feed("fail", at: 4, ["src": "2001:db8::2"])
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f.first?.group["src"] == "2001:db8::1")
        #expect(f.first?.count == 3)
        #expect(f.first?.sourceIP == "2001:db8::1")
    }

    @Test func textKeysFoldASCIIOnlyAndKeepSeparateValuesApart() {
        let h = burst(groupBy: ["user", "host"])
        h.feed("fail", at: 1, ["user": "JöRG", "host": "A"])
        h.feed("fail", at: 2, ["user": "jörg", "host": "a"])
        h.feed("fail", at: 3, ["user": "jÖrg", "host": "a"])  // Ö is not ASCII: another group
        h.feed("fail", at: 4, ["user": "Jörg", "host": "a"])
        h.feed("fail", at: 5, ["user": "jörg", "host": "ab"])
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f.first?.group["user"] == "jörg" && f.first?.group["host"] == "a")
        #expect(f.first?.lines == [1, 2, 4])
        #expect(f.first?.userName == nil)  // the lines disagree on the user's spelling
        #expect(h.engine.groupCount == 0)
    }

    /// A text value is truncated to `maxValueBytes` (counted) before it is compared.
    @Test func longValuesCompareOnTheirFirstBytes() {
        let h = burst(groupBy: ["user"], policy: CorrelationPolicy(maxValueBytes: 4))
        for (t, u) in [(1, "abcdX"), (2, "ABCDy"), (3, "abcd")] { h.feed("fail", at: Int64(t), ["user": u]) }
        let f = h.finish()
        #expect(f.count == 1 && f.first?.group["user"] == "abcd")
        #expect(h.engine.counters.valuesTruncated == 2)
    }

    /// Groups removed after their window are reused for new keys: nothing of the old group may show.
    @Test func reusedGroupsStartEmpty() {
        let h = burst()
        var t: Int64 = 0
        for i in 0..<2_000 {
            h.feed("fail", at: t, ["src": "10.1.\(i >> 8).\(i & 255)", "user": "u\(i)"])
            h.feed("fail", at: t + 1, ["src": "10.1.\(i >> 8).\(i & 255)", "user": "u\(i)"])
            t += 400  // past span + late tolerance: the group expires before the next one starts
        }
        for k: Int64 in 0..<3 { h.feed("fail", at: t + k, ["src": "10.9.9.9", "user": "root"]) }
        let f = h.finish()
        #expect(f.count == 1)
        #expect(f.first?.count == 3 && f.first?.lines == [4_001, 4_002, 4_003])
        #expect(f.first?.sourceIP == "10.9.9.9" && f.first?.userName == "root")
        #expect(f.first?.firstSeen == Timestamp(seconds: t))
        #expect(h.engine.counters.groupsExpired >= 1_999)
    }
}
