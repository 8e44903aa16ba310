import FlowhoundCore
import FlowhoundRules

/// What a correlation reads from: a detection rule (index into the loaded rules) or another correlation.
package enum CorrelationSource: Hashable, Sendable {
    case rule(Int)
    case correlation(Int)
}

/// An extended temporal condition with rule references resolved to source indices.
indirect enum ResolvedExpression {
    case source(Int)
    case not(ResolvedExpression)
    case and([ResolvedExpression])
    case or([ResolvedExpression])

    func evaluate(_ present: (Int) -> Bool) -> Bool {
        switch self {
        case .source(let s): present(s)
        case .not(let x): !x.evaluate(present)
        case .and(let xs): xs.allSatisfy { $0.evaluate(present) }
        case .or(let xs): xs.contains { $0.evaluate(present) }
        }
    }
}

/// One correlation rule with its references resolved.
final class CorrelationDefinition {
    let index: Int
    let identity: RuleIdentity
    let type: SigmaCorrelation.CorrelationType
    let span: Int64  // nanoseconds
    let conditions: [(op: SigmaCorrelation.Operator, value: Double)]
    let percentile: Double
    let expression: ResolvedExpression?
    /// Absence terms: windows look forward from each event and are decided when they close.
    let forward: Bool
    /// Distinct referenced sources, in first-reference order.
    let sources: [CorrelationSource]
    /// `rules:` in order, as source indices (temporal_ordered order; repeats allowed).
    let positions: [Int]
    /// group-by field names (the names findings show).
    let groupBy: [String]
    /// Per source: the field each group-by name reads (aliases applied).
    let groupFields: [[String]]
    let valueField: String?
    /// False when some correlation references this one without `generate: true`.
    var emitsOwnFindings = true
    /// Correlations fed by this one's firings: (correlation index, source index there).
    var consumers: [(correlation: Int, source: Int)] = []

    init(
        index: Int, identity: RuleIdentity, correlation c: SigmaCorrelation, sources: [CorrelationSource],
        positions: [Int], groupFields: [[String]], expression: ResolvedExpression?
    ) {
        self.index = index
        self.identity = identity
        type = c.type
        span = c.timespanSeconds &* 1_000_000_000
        conditions = c.condition
        percentile = c.percentile ?? 50
        self.expression = expression
        forward = c.expression?.hasNegation ?? false
        self.sources = sources
        self.positions = positions
        groupBy = c.groupBy
        self.groupFields = groupFields
        valueField = c.type.needsField ? c.field : nil
        let t = c.type
        tracksSourceTimes = t.isTemporal
        tracksValues = t == .valueCount
        tracksNumbers = t == .valueSum || t == .valueAvg || t == .valuePercentile || t == .valueMedian
        tracksSorted = t == .valuePercentile || t == .valueMedian
    }

    // Decided once: the per-event code asks these for every event (comparing the type through its `Equatable`
    // conformance from another module cost ~130 instructions each time).
    let tracksSourceTimes: Bool
    let tracksValues: Bool
    let tracksNumbers: Bool
    let tracksSorted: Bool

    /// Whether a metric satisfies the condition (default for temporal types: every listed rule).
    func holds(_ metric: Double) -> Bool {
        if conditions.isEmpty {
            let needed = type == .temporalOrdered ? positions.count : sources.count
            return metric >= Double(needed)
        }
        for c in conditions where !c.op.holds(metric, c.value) { return false }
        return true
    }
}

/// Resolves `rules:` references, aliases, chains and cycles; decides which outputs are silenced.
struct CorrelationResolver {
    var definitions: [CorrelationDefinition?] = []
    var diagnostics: [Diagnostic] = []
    var silencedRules = Set<Int>()
    var consumersOfRule: [[(correlation: Int, source: Int)]]
    /// Valid correlations, inner ones before the ones that consume them.
    var order: [Int] = []

    init(rules: [SigmaRule], correlations metas: [SigmaMetaRule]) {
        consumersOfRule = Array(repeating: [], count: rules.count)
        var ruleRefs: [String: Int] = [:]
        for (i, r) in rules.enumerated() {
            if let id = r.id, ruleRefs[id] == nil { ruleRefs[id] = i }
            if let n = r.name, ruleRefs[n] == nil { ruleRefs[n] = i }
        }
        var corrRefs: [String: Int] = [:]
        for (i, m) in metas.enumerated() where m.correlation != nil {
            if let id = m.id, corrRefs[id] == nil { corrRefs[id] = i }
            if let n = m.name, corrRefs[n] == nil { corrRefs[n] = i }
        }
        // 1. references
        var sourcesOf: [[CorrelationSource]?] = Array(repeating: nil, count: metas.count)
        var positionsOf: [[Int]] = Array(repeating: [], count: metas.count)
        for (i, m) in metas.enumerated() {
            guard let c = m.correlation else { continue }
            var sources: [CorrelationSource] = []
            var positions: [Int] = []
            var ok = true
            for ref in c.rules {
                let r = ruleRefs[ref], k = corrRefs[ref]
                let src: CorrelationSource
                if let r, let k {
                    diagnostics.append(
                        Diagnostic(
                            code: "ambiguous_correlation_reference",
                            "'\(ref)' names both the rule '\(rules[r].title)' and the correlation '\(metas[k].title)'",
                            at: c.location))
                    ok = false
                    continue
                } else if let r {
                    src = .rule(r)
                } else if let k {
                    if k == i {
                        diagnostics.append(Diagnostic(code: "correlation_cycle", "the correlation references itself", at: c.location))
                        ok = false
                        continue
                    }
                    src = .correlation(k)
                } else {
                    diagnostics.append(
                        Diagnostic(
                            code: "unknown_correlation_reference",
                            "'\(ref)' is neither the id nor the name of a loaded rule or correlation; the correlation '\(m.title)' is disabled",
                            at: c.location))
                    ok = false
                    continue
                }
                if let at = sources.firstIndex(of: src) {
                    positions.append(at)
                } else {
                    positions.append(sources.count)
                    sources.append(src)
                }
            }
            if ok && !sources.isEmpty {
                sourcesOf[i] = sources
                positionsOf[i] = positions
            }
        }
        // 2. cycles among correlations (three-colour depth-first search)
        var colour = [UInt8](repeating: 0, count: metas.count)  // 0 new, 1 on stack, 2 done
        var inCycle = [Bool](repeating: false, count: metas.count)
        var postOrder: [Int] = []
        func visit(_ i: Int, _ stack: inout [Int]) {
            colour[i] = 1
            stack.append(i)
            for case .correlation(let k) in sourcesOf[i] ?? [] {
                if colour[k] == 1 {
                    if let from = stack.lastIndex(of: k) { for j in stack[from...] { inCycle[j] = true } }
                } else if colour[k] == 0 {
                    visit(k, &stack)
                }
            }
            stack.removeLast()
            colour[i] = 2
            postOrder.append(i)
        }
        for i in metas.indices where colour[i] == 0 {
            var stack: [Int] = []
            visit(i, &stack)
        }
        for i in metas.indices where inCycle[i] {
            diagnostics.append(
                Diagnostic(
                    code: "correlation_cycle", "the correlation '\(metas[i].title)' is part of a reference cycle; it is disabled",
                    at: metas[i].correlation?.location ?? metas[i].location))
            sourcesOf[i] = nil
        }
        // 3. a correlation that reads a disabled correlation is disabled too (post-order: inner first)
        var valid = [Bool](repeating: false, count: metas.count)
        for i in postOrder {
            guard let sources = sourcesOf[i] else { continue }
            var ok = true
            for case .correlation(let k) in sources where !valid[k] {
                ok = false
                if !inCycle[i] {
                    diagnostics.append(
                        Diagnostic(
                            code: "disabled_correlation_reference",
                            "'\(metas[k].title)' is disabled, so the correlation '\(metas[i].title)' that reads it is disabled too",
                            at: metas[i].correlation?.location ?? metas[i].location))
                }
            }
            valid[i] = ok
            if ok { order.append(i) }
        }
        // 4. definitions
        definitions = Array(repeating: nil, count: metas.count)
        for i in order {
            let m = metas[i]
            guard let c = m.correlation, let sources = sourcesOf[i] else { continue }
            let refNames: [[String]] = sources.map { s in
                switch s {
                case .rule(let r): [rules[r].name, rules[r].id].compactMap { $0 }
                case .correlation(let k): [metas[k].name, metas[k].id].compactMap { $0 }
                }
            }
            for (alias, map) in c.aliases.sorted(by: { $0.key < $1.key }) {
                for ref in map.keys.sorted() where !refNames.contains(where: { $0.contains(ref) }) {
                    diagnostics.append(
                        Diagnostic(
                            .warning, code: "unknown_alias_rule",
                            "alias '\(alias)' names '\(ref)', which is not among the correlation's rules", at: c.location))
                }
                if !c.groupBy.contains(alias) {
                    diagnostics.append(
                        Diagnostic(.warning, code: "unused_alias", "alias '\(alias)' is not a group-by field", at: c.location))
                }
            }
            let groupFields: [[String]] = refNames.map { names in
                c.groupBy.map { field in
                    guard let map = c.aliases[field] else { return field }
                    for n in names { if let f = map[n] { return f } }
                    return field
                }
            }
            var expression: ResolvedExpression?
            if let e = c.expression {
                func resolve(_ e: CorrelationExpression) -> ResolvedExpression {
                    switch e {
                    case .rule(let ref):
                        let target: CorrelationSource? = ruleRefs[ref].map { .rule($0) } ?? corrRefs[ref].map { .correlation($0) }
                        return .source(target.flatMap { sources.firstIndex(of: $0) } ?? -1)
                    case .not(let x): return .not(resolve(x))
                    case .and(let xs): return .and(xs.map(resolve))
                    case .or(let xs): return .or(xs.map(resolve))
                    }
                }
                expression = resolve(e)
            }
            let identity = RuleIdentity(id: m.id ?? m.title, title: m.title, level: m.level, tags: m.tags)
            definitions[i] = CorrelationDefinition(
                index: i, identity: identity, correlation: c, sources: sources, positions: positionsOf[i],
                groupFields: groupFields, expression: expression)
        }
        // 5. consumers and silencing (pySigma: any referencing correlation without `generate: true` turns the
        //    referenced rule's own output off)
        for i in order {
            guard let d = definitions[i], let c = metas[i].correlation else { continue }
            for (s, src) in d.sources.enumerated() {
                switch src {
                case .rule(let r):
                    consumersOfRule[r].append((i, s))
                    if !c.generate { silencedRules.insert(r) }
                case .correlation(let k):
                    definitions[k]?.consumers.append((i, s))
                    if !c.generate { definitions[k]?.emitsOwnFindings = false }
                }
            }
        }
    }
}
