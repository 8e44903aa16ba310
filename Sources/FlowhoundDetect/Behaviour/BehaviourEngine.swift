import FlowhoundCore
import FlowhoundRules

/// Runs the behavioural detector rules of one scan over its events and turns their alerts into findings.
///
/// - Order and time: feed events in log-time order (`observe`). Small disorder is tolerated — Zeek writes a
///   conn record when the connection *ends*, so records of long connections arrive late. Each detector windows
///   on the event's own time; state expiry and periodic evaluation run from the engine clock (the newest time
///   seen) minus `disorderTolerance`, so an event up to that much older than the clock still finds its state.
///   Events older than that are still processed and counted in `lateEvents`.
/// - Findings: a detector alert becomes a `Finding` with the rule's id, title, level (unless the detector
///   raises it), ATT&CK tags, first/last time, entities, count/metric, `group` (`detector`, `kind`, `key`,
///   `summary`, `incident`…) and at most `Finding.maxEvidence` evidence lines (the completing line with its
///   excerpt; earlier lines by location). Then, in order: site `allow` entries (matched on the rule id, title or
///   detector type; counted in `allowed`), suppression (one finding per (rule, identifier) per the rule's
///   `suppress_for`, log time, counted in `suppressed`), minimum level, lateral-chain input, incident
///   correlation, `emit`.
/// - Learning: detectors that learn use the period [learningStart, learningStart + learning). learningStart is
///   the restored snapshot's, else `Options.learnFrom`, else the first event's time.
package final class BehaviourEngine {
    package struct Options: Sendable {
        package var disorderTolerance: Int64 = 300 * nanosPerSecond
        package var minimumLevel: Severity = .informational
        /// Learning starts here instead of at the first event (archives: `--learn-from`).
        package var learnFrom: Timestamp?
        package var incidentWindowSeconds: Int64 = 14 * 86_400
        package var maxSuppressionKeys = 100_000
        package init() {}
    }

    package let detectors: [any BehaviourDetector]
    package let options: Options
    package let context: BehaviourContext
    package let correlator: IncidentCorrelator
    private let emitFinding: (Finding) -> Void
    private let normaliser = EventNormaliser()
    private var filterCache: [[String: FilterState]]
    private var scratch: MatchScratch
    private var matchOut: [Int] = []
    private var suppression: BoundedMap<String, Int64>
    private var nextTick: Int64 = .min
    private var pendingFindings: [(Finding, DetectorType, IPAddress?, IPAddress?)] = []
    private var delivering = false

    package private(set) var lateEvents = 0
    package private(set) var eventsSeen = 0
    package private(set) var emitted = 0
    package private(set) var suppressed = 0
    package private(set) var belowMinimumLevel = 0
    /// Findings dropped by site allow entries, per rule id.
    package private(set) var allowed: [String: Int] = [:]

    private enum FilterState {
        case all, none
        case rules(CompiledRuleSet)
    }

    /// Whether a detector takes an event of a given schema: never, always, or when its filter matches.
    private enum Gate {
        case skip, pass
        case filter(CompiledRuleSet)
    }
    private var gatesBySchema: [ObjectIdentifier: (Schema, [Gate])] = [:]
    private var lastGateSchema: Schema?
    private var lastGates: [Gate] = []

    /// - Parameters:
    ///   - rules: detector rules (e.g. `SigmaLoadResult.detectorRules`).
    ///   - site: the site description (internal networks, groups as roles, assets, allow entries).
    ///   - emit: receives each finding, in the order they are made.
    package init(
        rules: [DetectorRule], site: SiteConfiguration, options: Options = Options(),
        emit: @escaping (Finding) -> Void
    ) {
        self.options = options
        context = BehaviourContext(roles: SiteRoles(site: site))
        if let l = options.learnFrom { context.learningStart = l.nanoseconds }
        detectors = rules.map { BehaviourEngine.makeDetector($0) }
        correlator = IncidentCorrelator(windowSeconds: options.incidentWindowSeconds)
        emitFinding = emit
        filterCache = Array(repeating: [:], count: rules.count)
        scratch = MatchScratch(numbers: 0, addresses: 0)
        suppression = BoundedMap(capacity: options.maxSuppressionKeys)
        context.sink = { [unowned self] alert, d in self.deliver(alert, from: d) }
    }

    package convenience init(
        loaded: SigmaLoadResult, site: SiteConfiguration, options: Options = Options(), emit: @escaping (Finding) -> Void
    ) {
        self.init(rules: loaded.detectorRules, site: site, options: options, emit: emit)
    }

    deinit { scratch.deallocate() }

    /// The detector for a rule.
    package static func makeDetector(_ rule: DetectorRule) -> any BehaviourDetector {
        switch rule.type {
        case .internalScan: InternalScanDetector(rule)
        case .adminPortSweep: AdminPortSweepDetector(rule)
        case .newInternalEdge: NewInternalEdgeDetector(rule)
        case .adminProtocol: AdminProtocolDetector(rule)
        case .fanout: FanoutDetector(rule)
        case .lateralChain: LateralChainDetector(rule)
        case .sensitiveAssetAccess: SensitiveAssetDetector(rule)
        case .bruteforceSuccess: BruteforceSuccessDetector(rule)
        case .beaconing: BeaconingDetector(rule)
        case .longConnection: LongConnectionDetector(rule)
        case .dnsTunnel: DnsTunnelDetector(rule)
        case .exfilVolume: ExfilVolumeDetector(rule)
        case .internalStaging: InternalStagingDetector(rule)
        case .flood: FloodDetector(rule)
        }
    }

    /// Whether any detector reads events of this schema (then every field of its events must be decoded).
    package func wants(_ schema: Schema) -> Bool {
        let plan = normaliser.plan(for: schema)
        if plan.kinds.isEmpty { return false }
        return detectors.contains { !$0.kinds.intersection(plan.kinds).isEmpty }
    }

    /// `wants` for another thread (a merge worker): the same answers, from its own schema-plan cache.
    package func makeInterest() -> BehaviourInterest { BehaviourInterest(kinds: detectors.map(\.kinds)) }

    /// Feeds one decoded event. Cheap when no detector wants the schema's kind.
    package func observe(record: EventRecord, schema: Schema, origin: EventOrigin) {
        let plan = normaliser.plan(for: schema)
        if plan.kinds.isEmpty { return }
        guard let ts = EventNormaliser.timestamp(record, plan) else { return }
        eventsSeen += 1
        if context.learningStart == nil { context.learningStart = ts }
        if ts > context.clock {
            context.clock = ts
        } else if ts < context.clock &- options.disorderTolerance {
            lateEvents += 1
        }
        context.currentRecord = record
        context.currentSchema = schema
        context.currentOrigin = origin
        defer {
            context.currentRecord = nil
            context.currentSchema = nil
            context.currentOrigin = nil
        }
        let flow = plan.kinds.contains(.flow) ? EventNormaliser.flow(record, plan) : nil
        let auth = plan.kinds.contains(.auth) ? EventNormaliser.auth(record, plan) : nil
        let dns = plan.kinds.contains(.dns) ? EventNormaliser.dns(record, plan) : nil
        let op = plan.kinds.contains(.remoteOp) ? EventNormaliser.remoteOp(record, plan) : nil
        if flow == nil && auth == nil && dns == nil && op == nil {
            tickIfDue()
            return
        }
        let gates = gates(for: schema, plan)
        for i in gates.indices {
            switch gates[i] {
            case .skip: continue
            case .pass: break
            case .filter(let set):
                matchOut.removeAll(keepingCapacity: true)
                set.matches(record, scratch: &scratch, into: &matchOut)
                if matchOut.isEmpty { continue }
            }
            let d = detectors[i]
            let kinds = d.kinds
            if let flow, kinds.contains(.flow) { d.flow(flow, context) }
            if let auth, kinds.contains(.auth) { d.auth(auth, context) }
            if let dns, kinds.contains(.dns) { d.dns(dns, context) }
            if let op, kinds.contains(.remoteOp) { d.remoteOp(op, context) }
        }
        tickIfDue()
    }

    /// Tells the engine that log time reached `time` (e.g. at the end of an idle input); runs due expiry.
    package func advance(to time: Timestamp) {
        if time.nanoseconds > context.clock { context.clock = time.nanoseconds }
        tickIfDue()
    }

    /// Runs final evaluations (beaconing, open windows). Call once at the end of input.
    package func finish() {
        tickIfDue()
        for d in detectors { d.finish(context) }
    }

    /// Counters per detector.
    package var stats: [DetectorStats] { detectors.map(\.stats) }

    /// Learned state for persistence.
    package func snapshot() -> BaselineSnapshot {
        var s = BaselineSnapshot()
        s.learningStart = context.learningStart
        s.clock = context.clock == .min ? nil : context.clock
        for d in detectors { d.export(into: &s) }
        return s
    }

    /// Loads learned state (call before the first event).
    package func restore(_ s: BaselineSnapshot) {
        if let l = s.learningStart { context.learningStart = min(context.learningStart ?? l, l) }
        for d in detectors { d.restore(from: s) }
    }

    // MARK: internals

    private func tickIfDue() {
        let now = context.clock &- options.disorderTolerance
        if context.clock == .min || now < nextTick { return }
        nextTick = (now / (60 * nanosPerSecond) + 1) * 60 * nanosPerSecond
        for d in detectors { d.tick(now, context) }
        suppression.removeStale(olderThan: now &- 31 * 86_400 * nanosPerSecond)
    }

    /// What each detector asks of an event of `schema` (its kinds, logsource and filter depend on the schema
    /// alone), worked out on the schema's first event instead of per event and detector.
    private func gates(for schema: Schema, _ plan: SchemaPlan) -> [Gate] {
        if let last = lastGateSchema, last === schema { return lastGates }
        let gates: [Gate]
        if let (s, g) = gatesBySchema[ObjectIdentifier(schema)], s === schema {
            gates = g
        } else {
            gates = detectors.indices.map { gate(detector: $0, schema, plan) }
            if gatesBySchema.count >= 64 { gatesBySchema.removeAll() }  // bounded; decoders reuse a few schemas
            gatesBySchema[ObjectIdentifier(schema)] = (schema, gates)
        }
        lastGateSchema = schema
        lastGates = gates
        return gates
    }

    private func gate(detector i: Int, _ schema: Schema, _ plan: SchemaPlan) -> Gate {
        let d = detectors[i]
        if d.kinds.intersection(plan.kinds).isEmpty { return .skip }
        let rule = d.rule
        if rule.filter == nil {
            guard let ls = rule.logsource else { return .pass }
            return schema.logSources.contains { $0.serves(ls) } ? .pass : .skip
        }
        let state: FilterState
        if let s = filterCache[i][schema.key] {
            state = s
        } else {
            if let src = schema.logSources.first, let r = rule.filterRule(schemaSource: src) {
                let set = CompiledRuleSet(rules: [r], schema: schema)
                state = set.includedRules.isEmpty ? .none : .rules(set)
            } else {
                state = .none
            }
            filterCache[i][schema.key] = state
        }
        switch state {
        case .all: return .pass
        case .none: return .skip
        case .rules(let set): return .filter(set)
        }
    }

    private func deliver(_ a: DetectorAlert, from d: any BehaviourDetector) {
        let rule = d.rule
        if let entry = context.site.allow.first(where: {
            $0.allows(id: rule.id, title: rule.title, source: a.source, destination: a.destination)
                || $0.allows(id: rule.type.rawValue, title: rule.title, source: a.source, destination: a.destination)
        }) {
            _ = entry
            allowed[rule.id, default: 0] += 1
            return
        }
        let suppressFor = rule.nanos("suppress_for")
        if suppressFor > 0 {
            let key = rule.id + "|" + a.identifier
            if let until = suppression.peek(key), a.last <= until {
                suppressed += 1
                return
            }
            suppression.update(key, now: a.last, make: { 0 }) { $0 = a.last &+ suppressFor }
        }
        let level = a.level ?? rule.level
        if level < options.minimumLevel {
            belowMinimumLevel += 1
            return
        }
        var evidence = a.evidence.prefix(Finding.maxEvidence - (a.includeCurrent ? 1 : 0)).map {
            Evidence(path: $0.path, line: $0.line, byteOffset: $0.byteOffset, excerpt: "")
        }
        var format = "behaviour"
        if a.includeCurrent, let r = context.currentRecord, let o = context.currentOrigin {
            evidence.removeAll { $0.path == o.path && $0.line == o.line && $0.byteOffset == o.byteOffset }
            evidence.append(Evidence(path: o.path, line: o.line, byteOffset: o.byteOffset, bytes: r.line, count: r.lineLength))
            if let s = context.currentSchema { format = s.format.rawValue + (s.logType.isEmpty ? "" : "/" + s.logType) }
        }
        var group: [String: String] = ["detector": rule.type.rawValue, "kind": a.kind, "key": a.identifier, "summary": a.summary]
        if let m = a.metric { group["metric"] = metricText(m) }
        for (k, v) in a.extra { group[k] = v }
        var f = Finding(
            ruleID: rule.id, title: rule.title, level: level, tags: rule.tags,
            firstSeen: Timestamp(nanoseconds: a.first), lastSeen: Timestamp(nanoseconds: a.last), group: group,
            sourceIP: a.source.map(render), sourcePort: nil, destinationIP: a.destination.map(render),
            destinationPort: a.destinationPort, userName: a.user, count: a.count, windowSeconds: a.windowSeconds,
            format: format, evidence: Array(evidence.suffix(Finding.maxEvidence)))
        correlator.assign(&f, host: a.source)
        pendingFindings.append((f, rule.type, a.source, a.destination))
        if delivering { return }
        delivering = true
        // findings feed the lateral-chain detectors, which may emit findings in turn (processed in order)
        var i = 0
        while i < pendingFindings.count {
            let (pf, type, src, dst) = pendingFindings[i]
            i += 1
            emitted += 1
            emitFinding(pf)
            for other in detectors where other.wantsFindings && other.rule.id != pf.ruleID {
                other.finding(pf, type: type, src: src, dst: dst, context)
            }
        }
        pendingFindings.removeAll()
        delivering = false
    }

    private func render(_ ip: IPAddress) -> String {
        HostID.isNamed(ip) ? "host#" + String(ip.low, radix: 16) : ip.description
    }

    private func metricText(_ m: Double) -> String {
        if m == m.rounded() && abs(m) < 1e15 { return String(Int64(m)) }
        return String((m * 1000).rounded() / 1000)
    }
}

/// Whether any of an engine's detectors reads a schema's events (`BehaviourEngine.wants`), asked on one thread.
package final class BehaviourInterest {
    private let normaliser = EventNormaliser()
    private let kinds: [EventKinds]

    init(kinds: [EventKinds]) { self.kinds = kinds }

    package func wants(_ schema: Schema) -> Bool {
        let plan = normaliser.plan(for: schema)
        if plan.kinds.isEmpty { return false }
        return kinds.contains { !$0.intersection(plan.kinds).isEmpty }
    }
}
