import FlowhoundCore
import FlowhoundRules

/// Runs Sigma correlation rules over the matches of their base rules, in log time.
///
/// **Inputs.** Build one engine per scan from the loaded detection rules (the same array, so rule indices agree
/// with `CompiledRuleSet`) and the correlation documents. Call `advance(to:)` for every event with a timestamp,
/// `observe(ruleIndex:record:schema:origin:)` for every match of a rule with `isReferenced(ruleIndex:)`, and
/// `finish()` once at the end. Findings go to `emit`.
///
/// **References.** `rules:` entries resolve by id or name to detection rules or to other correlations (chains).
/// Unknown, ambiguous and cyclic references disable the correlation (and the correlations reading it) with a
/// `Diagnostic` at the correlation's location; the rest keep running. As in pySigma, a rule (or correlation)
/// referenced by **any** correlation without `generate: true` loses its own output: `silencedRules` lists
/// those detection rules, so the scan skips `DetectionEngine.matched` for them; silenced correlations still
/// feed the correlations that read them.
///
/// **Windows** (the oracle's, pySigma-backend-sqlite): a sliding window `[t − timespan, t]`, both ends
/// inclusive, ends at every event `t` of the group; the condition is checked there. Windows are keyed on the
/// event's own time. An event older than its group's newest event (Zeek writes connections when they end) is
/// inserted in time order and checked for its own window and the group's newest window; windows ending at the
/// events in between are not re-checked. Events older than the newest time seen minus
/// `CorrelationPolicy.lateToleranceSeconds` are dropped (counted). Types: `event_count` (events), `value_count`
/// (distinct non-null `field` values, ASCII case-folded), `value_sum`/`value_avg` (numeric values; other
/// values ignored; undefined — never true — without any), `value_percentile`/`value_median` (linear
/// interpolation between closest ranks), `temporal` (number of listed rules with an event in the window; the
/// default needs all) and `temporal_ordered` (the longest prefix of `rules:` found with strictly increasing
/// times; the default needs all). Conditions: `gt gte lt lte eq neq`, two of them AND-ed as a range. A
/// `temporal` condition can be a boolean expression over rule names; with a `not` in it, every event opens a
/// forward window `[t, t + timespan]` that is decided when log time passes its end (plus the tolerance), or at
/// `finish()` if the input reached its end (else counted in `incompleteWindows`).
///
/// **Suppression.** The oracle reports every qualifying window end; this engine reports one finding per
/// burst. The first qualifying window end of a group opens a finding; later qualifying window ends of the group
/// merge into it (count, lastSeen, evidence, `correlation.windows`) while they lie within `timespan` of the
/// previous one (overlapping windows). The finding is written when a window end of the group does **not**
/// qualify, when a qualifying end comes more than `timespan` after the previous one (a new finding opens), when
/// log time passes the last qualifying end + timespan + tolerance, when its group is evicted, or at `finish()`.
///
/// **Findings.** ruleID/title/level/tags of the correlation; `group` holds the group-by values (folded, as
/// compared) plus `correlation.metric` (at the first qualifying end), `correlation.windows` (qualifying ends
/// merged) and `correlation.fired_at` (first qualifying end, RFC 3339); `count` is the number of events behind
/// the finding (those of the first window plus one per merged event); `firstSeen`/`lastSeen` are event times;
/// source/destination/port/user are kept when every evidence line agrees; evidence is at most
/// `policy.maxEvidence` lines. A correlation that reads another consumes every qualifying window end of it
/// (not just its findings) as one event at the window end time with the inner group as fields.
///
/// **Bounds.** Per correlation: `maxGroups` groups (least recently updated evicted, counted), per group
/// `maxEventsPerGroup` events (oldest dropped, counted), `maxEvidence` recent lines of `maxExcerptBytes`, and
/// values cut to `maxValueBytes`. Per engine: the slot bindings of at most `maxSchemaBindings` schema objects (those
/// of schemas nobody else holds dropped first, uncounted; then the least recently used, counted in
/// `schemaBindingsEvicted` and rebuilt when the schema comes back: slower, same findings). One engine belongs to one
/// scan; it is not shared between threads.
package final class CorrelationEngine {
    package let policy: CorrelationPolicy
    package let minimumLevel: Severity
    /// Problems found while resolving references (errors disable the correlation).
    package let diagnostics: [Diagnostic]
    /// Detection rules whose own findings are suppressed (referenced without `generate: true`).
    package let silencedRules: Set<Int>
    /// Indices of the correlation documents that run (into the `correlations` array given to `init`).
    package let activeCorrelations: [Int]

    private let emit: (Finding) -> Void
    private let definitions: [CorrelationDefinition?]
    private let runtimes: [CorrelationRuntime?]
    private let order: [Int]
    private let consumersOfRule: [[(correlation: Int, source: Int)]]
    private let silenced: [Bool]
    private let referenced: [Bool]
    private let tolerance: Int64
    private var clock = Int64.min
    private var nextSweep = Int64.min
    private var timers = TimerHeap()
    private var nextDue = Int64.max
    /// Slot bindings by schema object, at most `policy.maxSchemaBindings`. Each entry keeps its schema alive, so an
    /// `ObjectIdentifier` here never names a freed schema's address reused by another.
    private var bindingCache: [ObjectIdentifier: SchemaBindings] = [:]
    /// Schema switches so far (an entry's `used` is the switch that last found or made it).
    private var bindingClock: UInt64 = 0
    /// Bindings of schemas still in use forgotten at `policy.maxSchemaBindings` (rebuilt when they come back).
    package private(set) var schemaBindingsEvicted = 0
    /// Reused buffer for the group key of the event being observed.
    private var keyScratch = GroupKeyBuilder()
    private var lastBindings: SchemaBindings?

    package init(
        rules: [SigmaRule], correlations: [SigmaMetaRule], policy: CorrelationPolicy = CorrelationPolicy(),
        minimumLevel: Severity = .informational, emit: @escaping (Finding) -> Void
    ) {
        self.policy = policy
        self.minimumLevel = minimumLevel
        self.emit = emit
        let r = CorrelationResolver(rules: rules, correlations: correlations)
        diagnostics = r.diagnostics
        silencedRules = r.silencedRules
        definitions = r.definitions
        order = r.order
        activeCorrelations = r.order.sorted()
        consumersOfRule = r.consumersOfRule
        runtimes = r.definitions.map { $0.map { CorrelationRuntime($0) } }
        silenced = rules.indices.map { r.silencedRules.contains($0) }
        referenced = r.consumersOfRule.map { !$0.isEmpty }
        tolerance = policy.lateToleranceSeconds &* 1_000_000_000
    }

    /// True when no correlation runs (the scan may skip every call).
    package var isEmpty: Bool { order.isEmpty }

    /// Whether the rule's own findings are suppressed (do not pass its matches to `DetectionEngine`).
    @inline(__always)
    package func isSilenced(ruleIndex: Int) -> Bool { ruleIndex < silenced.count && silenced[ruleIndex] }

    /// Whether some running correlation reads this rule (only then call `observe`).
    @inline(__always)
    package func isReferenced(ruleIndex: Int) -> Bool { ruleIndex < referenced.count && referenced[ruleIndex] }

    /// Counters summed over every correlation.
    package var counters: CorrelationCounters {
        runtimes.reduce(CorrelationCounters()) { $0 + ($1?.counters ?? CorrelationCounters()) }
    }

    /// Counters of the correlation document at `index` (nil when it does not run).
    package func counters(correlation index: Int) -> CorrelationCounters? {
        index < runtimes.count ? runtimes[index]?.counters : nil
    }

    /// Groups currently held, over every correlation.
    package var groupCount: Int { runtimes.reduce(0) { $0 + ($1?.index.count ?? 0) } }

    /// Schema bindings held now (at most `policy.maxSchemaBindings`).
    package var schemaBindingsHeld: Int { bindingCache.count }

    package func groupCount(correlation index: Int) -> Int {
        index < runtimes.count ? runtimes[index]?.index.count ?? 0 : 0
    }

    /// How far back (log time) an event can still change a window: the longest timespan plus the late
    /// tolerance. Carried state older than this cannot matter (used by `scan --incremental` and `tail`).
    package var horizonNanoseconds: Int64 {
        let span = runtimes.compactMap { $0?.def.span }.max() ?? 0
        return span &+ tolerance
    }

    /// After carried events were replayed (with output muted), marks every open finding as already written,
    /// so that it is written again only if later events join it. Returns how many were marked.
    @discardableResult
    package func markOpenFindingsReported() -> Int {
        var n = 0
        for rt in runtimes {
            guard let rt else { continue }
            for g in rt.groupsInOrder {
                guard var b = g.burst else { continue }
                g.burst = nil
                b.reportedCount = b.finding.count
                g.burst = b
                n += 1
            }
        }
        return n
    }

    // MARK: time

    /// Log time has reached `time` (call for every event with a timestamp; O(1) unless something is due).
    @inline(__always)
    package func advance(to time: Timestamp) {
        if time.nanoseconds > clock {
            clock = time.nanoseconds
            if clock > nextDue || clock >= nextSweep { housekeeping() }
        }
    }

    private func housekeeping() {
        while let top = timers.peek, top.due < clock {
            timers.pop()
            guard let rt = runtimes[Int(top.correlation)], let g = rt.group(at: top.slot, generation: top.generation),
                g.timerDue == top.due
            else { continue }
            g.timerDue = nil
            service(g, rt, final: false)
        }
        nextDue = timers.peek?.due ?? .max
        if clock >= nextSweep {
            nextSweep = clock &+ 1_000_000_000
            for rt in runtimes { if let rt { expire(rt) } }
        }
    }

    // MARK: events

    /// Records that the event in `record` matched the rule at `ruleIndex` (a no-op unless it is referenced).
    package func observe(ruleIndex: Int, record: EventRecord, schema: Schema, origin: EventOrigin) {
        guard ruleIndex < consumersOfRule.count, !consumersOfRule[ruleIndex].isEmpty else { return }
        let bindings = self.bindings(for: schema)
        guard let ts = record.timestamp else {
            for c in consumersOfRule[ruleIndex] { runtimes[c.correlation]?.counters.missingTimestamp += 1 }
            return
        }
        let t = ts.nanoseconds
        if t > clock { advance(to: ts) }
        if clock != .min && t < clock &- tolerance {
            for c in consumersOfRule[ruleIndex] { runtimes[c.correlation]?.counters.lateDropped += 1 }
            return
        }
        for b in bindings.bindings(ruleIndex: ruleIndex, engine: self) {
            guard let rt = runtimes[b.correlation] else { continue }
            let def = rt.def
            keyScratch.removeAll()
            var missing = false
            for slot in b.groupSlots {
                guard slot >= 0, appendKey(record[slot], rt, into: &keyScratch) else {
                    missing = true
                    break
                }
            }
            if missing {
                rt.counters.missingGroupKey += 1
                continue
            }
            var number = Double.nan
            var value: String?
            if def.valueField != nil, b.valueSlot >= 0 {
                let fv = record[b.valueSlot]
                if def.tracksValues {
                    value = text(fv, fold: true, rt)
                } else if let base = fv.base, fv.listSeparator == 0 {
                    if let d = Bytes.parseDouble(base, fv.count), d.isFinite { number = d } else { rt.counters.nonNumeric += 1 }
                }
            }
            keyScratch.withBytes { key in
                accept(
                    time: t, source: Int32(b.source), key: key, number: number, value: value,
                    arrival: .line(record, bindings.entitySlots, origin), format: bindings.format, rt)
            }
        }
    }

    /// Appends the key entry of one group-by value (`GroupKeyCodec`); false when the value is absent. The
    /// entry compares like `text(v, fold: true, rt)` without building that string.
    private func appendKey(_ v: FieldValue, _ rt: CorrelationRuntime, into key: inout GroupKeyBuilder) -> Bool {
        guard let base = v.base else { return false }
        if v.listSeparator == 0 {
            if let ip = IPAddress.parse(base, v.count) {
                key.appendAddress(ip)
                return true
            }
            var n = v.count
            var ascii = true
            for i in 0..<min(n, policy.maxValueBytes) where base[i] >= 0x80 {
                ascii = false
                break
            }
            if ascii {
                // not an address, so its folded text is no address's canonical form either
                if n > policy.maxValueBytes {
                    n = policy.maxValueBytes
                    rt.counters.valuesTruncated += 1
                }
                key.appendText(base, n, fold: true)
                return true
            }
        }
        guard let s = text(v, fold: true, rt) else { return false }
        key.appendDisplay(s)
        return true
    }

    /// A field's text, bounded; addresses in canonical form, other text ASCII-lowercased when `fold`.
    private func text(_ v: FieldValue, fold: Bool, _ rt: CorrelationRuntime) -> String? {
        guard let base = v.base else { return nil }
        if v.listSeparator == 0, let ip = IPAddress.parse(base, v.count) { return ip.description }
        var n = v.count
        if n > policy.maxValueBytes {
            n = policy.maxValueBytes
            rt.counters.valuesTruncated += 1
        }
        let s = String(decoding: UnsafeBufferPointer(start: base, count: n), as: UTF8.self)
        return fold ? Self.asciiLowercased(s) : s
    }

    static func asciiLowercased(_ s: String) -> String {
        var needs = false
        for b in s.utf8 where b >= 65 && b <= 90 {
            needs = true
            break
        }
        if !needs { return s }
        return String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// What an event brings as evidence.
    private enum Arrival {
        /// A base rule's match: the line and its entity fields are copied into the group's ring.
        case line(EventRecord, RawEvidence.EntitySlots, EventOrigin)
        /// A qualifying window end of an inner correlation: its evidence, already built.
        case carried([EvidenceItem])
    }

    /// One event offered to one correlation: its group key (`GroupKeyCodec`) and evidence.
    private func accept(
        time: Int64, source: Int32, key: UnsafeRawBufferPointer, number: Double, value: String?, arrival: Arrival,
        format: String, _ rt: CorrelationRuntime
    ) {
        let e = (time: time, source: source, number: number, value: value)
        let def = rt.def
        expire(rt)
        let g = rt.group(for: key, format: format, engine: self)
        rt.counters.events += 1
        let entry = WindowEntry(time: e.time, source: e.source, number: e.number, value: e.value)
        let inOrder = e.time >= g.newest
        var insideCurrent = true
        if inOrder {
            g.entries.append(entry)
            g.newest = e.time
            if def.tracksValues || def.tracksNumbers {
                g.addToAggregates(entry, def)
                let lo = g.newest &- def.span
                while g.windowStart < g.entries.count && g.entries[g.windowStart].time < lo {
                    g.removeFromAggregates(g.entries[g.windowStart], def)
                    g.windowStart += 1
                }
            }
            if def.tracksSourceTimes { g.sourceTimes[Int(e.source)].append(e.time) }
        } else {
            rt.counters.lateAccepted += 1
            let i = g.entries.upperBound(e.time) { $0.time }
            g.entries.insert(entry, at: i)
            insideCurrent = e.time >= g.newest &- def.span
            if def.tracksValues || def.tracksNumbers {
                if insideCurrent { g.addToAggregates(entry, def) } else { g.windowStart += 1 }
            }
            if def.tracksSourceTimes {
                let st = g.sourceTimes[Int(e.source)]
                g.sourceTimes[Int(e.source)].insert(e.time, at: st.upperBound(e.time) { $0 })
            }
        }
        // evidence memory; `items` gives this event's lines (built only when a window qualifies)
        let added: Int
        switch arrival {
        case .line(let record, let slots, let origin):
            g.recent.append(
                time: e.time, source: e.source, record: record, entitySlots: slots, origin: origin,
                maxExcerptBytes: policy.maxExcerptBytes, limit: policy.maxEvidence)
            added = 1
        case .carried(let carried):
            for item in carried { g.recent.append(item, limit: policy.maxEvidence) }
            added = carried.count
        }
        func items() -> [EvidenceItem] {
            switch arrival {
            case .line: return [g.recent[g.recent.count - 1]]
            case .carried(let carried): return carried
            }
        }
        if def.tracksSourceTimes, added > 0 {
            if let old = g.latestPerSource[Int(e.source)], old.time > e.time {} else {
                g.latestPerSource[Int(e.source)] = g.recent[g.recent.count - 1]
            }
        }
        if def.forward {
            g.anchors.insert((e.time, e.source), at: g.anchors.upperBound(e.time) { $0.time })
            if g.anchors.count > policy.maxEventsPerGroup {
                g.anchors.removeFirst()
                rt.counters.eventsDropped += 1
            }
            schedule(g, rt, due: g.anchors.first!.time &+ def.span &+ tolerance)
        }
        prune(g, rt)
        if def.forward {
            return
        } else if inOrder {
            evaluate(g, rt, at: e.time, incremental: true, newEnd: true, contributor: items())
        } else {
            let own = evaluate(g, rt, at: e.time, incremental: false, newEnd: true, contributor: items())
            if insideCurrent {
                evaluate(g, rt, at: g.newest, incremental: true, newEnd: false, contributor: own ? [] : items(), reCheck: true)
            }
        }
    }

    /// Checks the backward window ending at `t`; returns whether it qualified.
    @discardableResult
    private func evaluate(
        _ g: CorrelationGroup, _ rt: CorrelationRuntime, at t: Int64, incremental: Bool, newEnd: Bool,
        contributor: @autoclosure () -> [EvidenceItem], reCheck: Bool = false
    ) -> Bool {
        let def = rt.def
        guard let m = g.metric(endingAt: t, def, incremental: incremental), def.holds(m) else {
            if !reCheck, let b = g.burst, t >= b.lastFired { close(g, rt) }
            return false
        }
        fire(g, rt, lo: t &- def.span, hi: t, metric: m, newEnd: newEnd, contributor: contributor())
        return true
    }

    /// A window [lo, hi] qualified (hi is the window end).
    private func fire(
        _ g: CorrelationGroup, _ rt: CorrelationRuntime, lo: Int64, hi: Int64, metric: Double, newEnd: Bool,
        contributor: [EvidenceItem]
    ) {
        let def = rt.def
        // a re-check after a late event counts as a new qualifying end unless that end already qualified
        let newEnd = newEnd || g.burst?.lastFired != hi
        if newEnd { rt.counters.qualifyingWindows += 1 }
        if var b = g.burst {
            if hi >= b.firstFired &- def.span && hi <= b.lastFired &+ def.span {
                g.burst = nil  // keep the burst uniquely referenced while it is mutated
                if newEnd { b.windows += 1 }
                b.firstFired = min(b.firstFired, hi)
                b.lastFired = max(b.lastFired, hi)
                if !contributor.isEmpty {
                    b.finding.count += 1
                    for item in contributor {
                        if item.time < b.finding.firstSeen.nanoseconds { b.finding.firstSeen = Timestamp(nanoseconds: item.time) }
                        if item.time > b.finding.lastSeen.nanoseconds { b.finding.lastSeen = Timestamp(nanoseconds: item.time) }
                        if b.finding.evidence.count < policy.maxEvidence && !b.finding.evidence.contains(item.evidence) {
                            b.finding.evidence.append(item.evidence)
                        }
                        agree(&b, item.entities)
                    }
                }
                g.burst = b
                schedule(g, rt, due: b.lastFired &+ def.span &+ tolerance)
                if newEnd { forward(g, rt, lo: lo, hi: hi, metric: metric) }
                return
            }
            if hi < b.firstFired &- def.span {
                // a late event's own window, well before the open burst: a finding of its own, written now
                write(newBurst(g, rt, lo: lo, hi: hi, metric: metric), rt)
                if newEnd { forward(g, rt, lo: lo, hi: hi, metric: metric) }
                return
            }
            close(g, rt)
        }
        let b = newBurst(g, rt, lo: lo, hi: hi, metric: metric)
        g.burst = b
        schedule(g, rt, due: hi &+ def.span &+ tolerance)
        if newEnd { forward(g, rt, lo: lo, hi: hi, metric: metric) }
    }

    /// A finding for the qualifying window [lo, hi]: its events, evidence and agreeing entities.
    private func newBurst(_ g: CorrelationGroup, _ rt: CorrelationRuntime, lo: Int64, hi: Int64, metric: Double) -> Burst {
        let def = rt.def
        let (count, earliest) = g.eventsIn(lo, hi)
        let items = g.evidence(lo, hi, max: policy.maxEvidence)
        let f = Finding(
            ruleID: def.identity.id, title: def.identity.title, level: def.identity.level, tags: def.identity.tags,
            firstSeen: Timestamp(nanoseconds: earliest ?? hi), lastSeen: Timestamp(nanoseconds: g.latestIn(lo, hi) ?? hi),
            group: g.display, count: max(count, 1), windowSeconds: Double(def.span) / 1e9, format: g.format,
            evidence: items.map(\.evidence))
        var b = Burst(
            finding: f, firstFired: hi, lastFired: hi, windows: 1, firstMetric: metric, entitiesKnown: false,
            reportedCount: nil)
        for item in items { agree(&b, item.entities) }
        return b
    }

    /// Keeps an entity only while every line agrees on it.
    private func agree(_ b: inout Burst, _ e: EventEntities?) {
        guard let e else { return }
        if !b.entitiesKnown {
            b.entitiesKnown = true
            b.finding.sourceIP = e.sourceIP
            b.finding.sourcePort = e.sourcePort
            b.finding.destinationIP = e.destinationIP
            b.finding.destinationPort = e.destinationPort
            b.finding.userName = e.userName
            return
        }
        if b.finding.sourceIP != e.sourceIP { b.finding.sourceIP = nil }
        if b.finding.sourcePort != e.sourcePort { b.finding.sourcePort = nil }
        if b.finding.destinationIP != e.destinationIP { b.finding.destinationIP = nil }
        if b.finding.destinationPort != e.destinationPort { b.finding.destinationPort = nil }
        if b.finding.userName != e.userName { b.finding.userName = nil }
    }

    /// Feeds a qualifying window end to the correlations that read this one.
    private func forward(_ g: CorrelationGroup, _ rt: CorrelationRuntime, lo: Int64, hi: Int64, metric: Double) {
        let def = rt.def
        guard !def.consumers.isEmpty else { return }
        let items = g.evidence(lo, hi, max: policy.maxEvidence)
        var fields = g.display
        fields["correlation.metric"] = Self.format(metric)
        var entities: EventEntities?
        if let first = items.first?.entities {
            var e = first
            for item in items.dropFirst() {
                guard let o = item.entities else { continue }
                if e.sourceIP != o.sourceIP { e.sourceIP = nil }
                if e.sourcePort != o.sourcePort { e.sourcePort = nil }
                if e.destinationIP != o.destinationIP { e.destinationIP = nil }
                if e.destinationPort != o.destinationPort { e.destinationPort = nil }
                if e.userName != o.userName { e.userName = nil }
            }
            entities = e
        }
        for c in def.consumers {
            guard let outer = runtimes[c.correlation] else { continue }
            let od = outer.def
            var key = GroupKeyBuilder()
            var missing = false
            for name in od.groupFields[c.source] {
                guard let v = fields[name] else {
                    missing = true
                    break
                }
                key.appendDisplay(v)
            }
            if missing {
                outer.counters.missingGroupKey += 1
                continue
            }
            var number = Double.nan
            var value: String?
            if let f = od.valueField, let raw = fields[f] {
                if od.tracksValues {
                    value = raw
                } else if let d = Double(raw), d.isFinite {
                    number = d
                } else {
                    outer.counters.nonNumeric += 1
                }
            }
            let carried = items.map {
                EvidenceItem(time: hi, source: Int32(c.source), payload: .built($0.evidence, entities))
            }
            key.withBytes { k in
                accept(
                    time: hi, source: Int32(c.source), key: k, number: number, value: value, arrival: .carried(carried),
                    format: g.format, outer)
            }
        }
    }

    /// Writes the group's open finding.
    private func close(_ g: CorrelationGroup, _ rt: CorrelationRuntime) {
        guard let b = g.burst else { return }
        g.burst = nil
        write(b, rt)
    }

    private func write(_ b: Burst, _ rt: CorrelationRuntime) {
        if let r = b.reportedCount, b.finding.count <= r {
            rt.counters.carriedFindings += 1
            return
        }
        var f = b.finding
        f.group["correlation.metric"] = Self.format(b.firstMetric)
        f.group["correlation.windows"] = String(b.windows)
        f.group["correlation.fired_at"] = Timestamp(nanoseconds: b.firstFired).iso8601
        if !rt.def.emitsOwnFindings {
            rt.counters.silencedFindings += 1
        } else if f.level < minimumLevel {
            rt.counters.belowMinimumLevel += 1
        } else {
            rt.counters.findings += 1
            emit(f)
        }
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    // MARK: timers, forward windows, retention

    private func schedule(_ g: CorrelationGroup, _ rt: CorrelationRuntime, due: Int64) {
        if let d = g.timerDue, d <= due { return }
        g.timerDue = due
        timers.push(TimerEntry(due: due, correlation: Int32(rt.def.index), slot: g.slot, generation: g.generation))
        if due < nextDue { nextDue = due }
    }

    /// Decides due forward windows and closes a burst whose last window has passed; `final` decides every
    /// forward window that ended by the end of input (ignoring the tolerance) and counts the others.
    private func service(_ g: CorrelationGroup, _ rt: CorrelationRuntime, final: Bool) {
        let def = rt.def
        while let a = g.anchors.first {
            let end = a.time &+ def.span
            if final {
                if end > clock {
                    rt.counters.incompleteWindows += g.anchors.count
                    g.anchors.removeAll()
                    break
                }
            } else if end &+ tolerance >= clock {
                break
            }
            g.anchors.removeFirst()
            let qualifies =
                def.expression?.evaluate { s in s == Int(a.source) || g.present(s, a.time, end) } ?? false
            if qualifies {
                var anchorItem: [EvidenceItem] = []
                for i in 0..<g.recent.count where g.recent.time(i) == a.time && g.recent.source(i) == a.source {
                    anchorItem = [g.recent[i]]
                    break
                }
                fire(g, rt, lo: a.time, hi: end, metric: 1, newEnd: true, contributor: anchorItem)
            } else {
                if let b = g.burst, end >= b.lastFired { close(g, rt) }
            }
        }
        if !final, let b = g.burst, b.lastFired &+ def.span &+ tolerance < clock { close(g, rt) }
        prune(g, rt)
        var due = Int64.max
        if let a = g.anchors.first { due = a.time &+ def.span &+ tolerance }
        if let b = g.burst { due = min(due, b.lastFired &+ def.span &+ tolerance) }
        if due != .max && !final { schedule(g, rt, due: due) }
    }

    /// Drops events no window can use any more and enforces the per-group event cap.
    private func prune(_ g: CorrelationGroup, _ rt: CorrelationRuntime) {
        let def = rt.def
        var cutoff = g.newest &- def.span &- tolerance
        if def.forward, let a = g.anchors.first { cutoff = min(cutoff, a.time) }
        while let first = g.entries.first, first.time < cutoff || g.entries.count > policy.maxEventsPerGroup {
            if first.time >= cutoff { rt.counters.eventsDropped += 1 }
            g.entries.removeFirst()
            if g.windowStart > 0 {
                g.windowStart -= 1
            } else if def.tracksValues || def.tracksNumbers {
                g.removeFromAggregates(first, def)
            }
            if def.tracksSourceTimes, let t = g.sourceTimes[Int(first.source)].first, t <= first.time {
                g.sourceTimes[Int(first.source)].removeFirst()
            }
        }
        if def.tracksSourceTimes {
            for s in g.sourceTimes.indices {
                while let t = g.sourceTimes[s].first, t < cutoff { g.sourceTimes[s].removeFirst() }
            }
        }
    }

    /// Removes groups whose events left every window (least recently updated first).
    private func expire(_ rt: CorrelationRuntime) {
        guard clock != .min else { return }
        let horizon = clock &- rt.def.span &- tolerance
        while let g = rt.oldest, g.isIdle, g.newest < horizon {
            rt.remove(g)
            rt.counters.groupsExpired += 1
        }
    }

    /// Writes or counts what the group still holds before it is evicted.
    fileprivate func evict(_ g: CorrelationGroup, _ rt: CorrelationRuntime) {
        rt.counters.incompleteWindows += g.anchors.count
        g.anchors.removeAll()
        close(g, rt)
        rt.remove(g)
        rt.counters.groupsEvicted += 1
    }

    /// Decides what the end of input allows and writes every open finding (by first qualifying end, then
    /// correlation, then group key). The engine is empty afterwards and can take another input.
    package func finish() {
        for i in order {
            guard let rt = runtimes[i] else { continue }
            for g in rt.groupsInOrder where !g.anchors.isEmpty { service(g, rt, final: true) }
        }
        var open: [(CorrelationGroup, CorrelationRuntime)] = []
        for i in order {
            guard let rt = runtimes[i] else { continue }
            for g in rt.groupsInOrder where g.burst != nil { open.append((g, rt)) }
        }
        open.sort { a, b in
            let fa = a.0.burst!.firstFired, fb = b.0.burst!.firstFired
            if fa != fb { return fa < fb }
            if a.1.def.index != b.1.def.index { return a.1.def.index < b.1.def.index }
            return a.0.key < b.0.key
        }
        for (g, rt) in open { close(g, rt) }
        for rt in runtimes { rt?.reset() }
        timers = TimerHeap()
        nextDue = .max
        clock = .min
        nextSweep = .min
    }

    // MARK: schema bindings

    /// The bindings of `schema`. `lastBindings` answers repeated lookups of one schema without a stamp: nothing else
    /// was used since it was stamped, so it stays the most recently used entry.
    private func bindings(for schema: Schema) -> SchemaBindings {
        if let b = lastBindings, b.schema === schema { return b }
        bindingClock &+= 1
        let id = ObjectIdentifier(schema)
        if let b = bindingCache[id], b.schema === schema {
            b.used = bindingClock
            lastBindings = b
            return b
        }
        if bindingCache[id] == nil && bindingCache.count >= policy.maxSchemaBindings {
            dropUnusedBindings()
            if bindingCache.count >= policy.maxSchemaBindings,
                let oldest = bindingCache.min(by: { $0.value.used < $1.value.used })?.key
            {
                bindingCache[oldest] = nil
                schemaBindingsEvicted += 1
            }
        }
        let b = SchemaBindings(schema: schema, ruleCount: consumersOfRule.count)
        b.used = bindingClock
        bindingCache[id] = b
        lastBindings = b
        return b
    }

    /// Removes the bindings whose schema only they still hold: no decoder can present that schema again, so they
    /// are not counted as evictions.
    private func dropUnusedBindings() {
        let unused = bindingCache.compactMap { $0.value.schemaHeldOnlyHere() ? $0.key : nil }
        for id in unused { bindingCache[id] = nil }
    }

    fileprivate func makeBindings(ruleIndex: Int, schema: Schema) -> [Binding] {
        consumersOfRule[ruleIndex].compactMap { c in
            guard let def = definitions[c.correlation] else { return nil }
            let slots = def.groupFields[c.source].map { schema.slot($0) ?? -1 }
            let value = def.valueField.flatMap { schema.slot($0) } ?? -1
            return Binding(correlation: c.correlation, source: c.source, groupSlots: slots, valueSlot: value)
        }
    }
}

/// Where one correlation finds its group-by and value fields in one schema, for one base rule.
struct Binding {
    var correlation: Int
    var source: Int
    /// -1: the schema has no such field (every event then lacks the group key).
    var groupSlots: [Int]
    var valueSlot: Int
}

/// Slot bindings per base rule for one schema, computed on first use.
final class SchemaBindings {
    private(set) var schema: Schema
    /// The engine's schema switch that last used these bindings (least recently used evicted first).
    var used: UInt64 = 0
    let format: String
    let entitySlots: RawEvidence.EntitySlots
    private var perRule: [[Binding]?]

    init(schema: Schema, ruleCount: Int) {
        self.schema = schema
        entitySlots = RawEvidence.EntitySlots(schema)
        format = schema.format.rawValue + (schema.logType.isEmpty ? "" : "/" + schema.logType)
        perRule = Array(repeating: nil, count: ruleCount)
    }

    /// True when nothing but these bindings holds the schema (its decoder and input are gone).
    func schemaHeldOnlyHere() -> Bool { isKnownUniquelyReferenced(&schema) }

    func bindings(ruleIndex: Int, engine: CorrelationEngine) -> [Binding] {
        if let b = perRule[ruleIndex] { return b }
        let b = engine.makeBindings(ruleIndex: ruleIndex, schema: schema)
        perRule[ruleIndex] = b
        return b
    }
}

/// The groups of one correlation: a key index, slots with a free list, and an LRU list (least recently
/// updated first).
final class CorrelationRuntime {
    let def: CorrelationDefinition
    var counters = CorrelationCounters()
    private(set) var index = GroupTable()
    private var slots: [CorrelationGroup?] = []
    /// The key hash of the group in each slot (read by the table without touching the group objects).
    private var hashes: [Int] = []
    private var free: [Int32] = []
    /// Removed groups kept for reuse (bounded), so that one-event groups do not allocate.
    private var pool: [CorrelationGroup] = []
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private var generations: UInt32 = 0

    init(_ def: CorrelationDefinition) { self.def = def }

    var oldest: CorrelationGroup? { head >= 0 ? slots[Int(head)] : nil }

    var groupsInOrder: [CorrelationGroup] {
        var out: [CorrelationGroup] = []
        var i = head
        while i >= 0, let g = slots[Int(i)] {
            out.append(g)
            i = g.next
        }
        return out
    }

    func group(at slot: Int32, generation: UInt32) -> CorrelationGroup? {
        guard slot >= 0 && Int(slot) < slots.count, let g = slots[Int(slot)], g.generation == generation else { return nil }
        return g
    }

    @inline(__always) private func hashOf(_ s: Int32) -> Int { hashes[Int(s)] }

    /// The group for the key bytes (`GroupKeyCodec`), created (evicting the least recently updated group at the
    /// cap) if needed, and marked most recently updated.
    func group(for key: UnsafeRawBufferPointer, format: String, engine: CorrelationEngine) -> CorrelationGroup {
        let hash = GroupKeyCodec.hash(key)
        if let s = index.find(
            hash: hash, hashOf: hashOf,
            sameKey: { s in
                self.slots[Int(s)]!.keyBytes.withUnsafeBytes {
                    $0.count == key.count && (key.count == 0 || memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0)
                }
            }), let g = slots[Int(s)]
        {
            unlink(g)
            link(g)
            return g
        }
        if index.count >= engine.policy.maxGroups, let victim = oldest { engine.evict(victim, self) }
        let g: CorrelationGroup
        if let r = pool.popLast() {
            r.reuse(keyBytes: key, keyHash: hash, format: format)
            g = r
        } else {
            g = CorrelationGroup(
                keyBytes: Array(key), keyHash: hash, groupBy: def.groupBy, format: format, sources: def.sources.count,
                temporal: def.tracksSourceTimes)
        }
        generations &+= 1
        g.generation = generations
        let s: Int32
        if let f = free.popLast() {
            s = f
            slots[Int(s)] = g
            hashes[Int(s)] = hash
        } else {
            s = Int32(slots.count)
            slots.append(g)
            hashes.append(hash)
        }
        g.slot = s
        index.insert(slot: s, hash: hash, hashOf: hashOf)
        link(g)
        return g
    }

    func remove(_ g: CorrelationGroup) {
        guard g.slot >= 0, Int(g.slot) < slots.count, slots[Int(g.slot)] === g else { return }
        unlink(g)
        index.remove(slot: g.slot, hash: g.keyHash, hashOf: hashOf)
        slots[Int(g.slot)] = nil
        free.append(g.slot)
        g.slot = -1
        if pool.count < 256 { pool.append(g) }
    }

    func reset() {
        index.removeAll()
        slots.removeAll()
        hashes.removeAll()
        free.removeAll()
        pool.removeAll()
        head = -1
        tail = -1
    }

    private func link(_ g: CorrelationGroup) {
        g.prev = tail
        g.next = -1
        if tail >= 0 { slots[Int(tail)]?.next = g.slot } else { head = g.slot }
        tail = g.slot
    }

    private func unlink(_ g: CorrelationGroup) {
        if g.prev >= 0 { slots[Int(g.prev)]?.next = g.next } else { head = g.next }
        if g.next >= 0 { slots[Int(g.next)]?.prev = g.prev } else { tail = g.prev }
        g.prev = -1
        g.next = -1
    }
}

struct TimerEntry {
    var due: Int64
    var correlation: Int32
    var slot: Int32
    var generation: UInt32
    var sequence: UInt64 = 0
}

/// A binary min-heap of timers ordered by (due, insertion sequence), so equal due times pop in push order.
struct TimerHeap {
    private var items: [TimerEntry] = []
    private var sequence: UInt64 = 0

    var peek: TimerEntry? { items.first }
    var count: Int { items.count }

    private static func less(_ a: TimerEntry, _ b: TimerEntry) -> Bool {
        a.due != b.due ? a.due < b.due : a.sequence < b.sequence
    }

    mutating func push(_ e0: TimerEntry) {
        var e = e0
        sequence &+= 1
        e.sequence = sequence
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if !Self.less(items[i], items[p]) { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && Self.less(items[l], items[m]) { m = l }
            if r < items.count && Self.less(items[r], items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }
}
