import FlowhoundCore

/// A rule's fields that one schema cannot reach: the rule still runs, and those items see an absent field.
package struct MissingFieldNote: Sendable, Hashable, CustomStringConvertible {
    /// Index of the rule in the array given to `CompiledRuleSet.init`.
    package var ruleIndex: Int
    package var ruleID: String
    package var fields: [String]
    /// The schema's description (`zeek-json/dns`).
    package var schema: String

    package var description: String {
        fields.map { "field \($0) not provided by \(schema)" }.joined(separator: "; ")
    }
}

/// Sigma rules compiled against one `Schema`; immutable and shared by every task decoding that schema.
package final class CompiledRuleSet: Sendable {
    package let schema: Schema
    /// Compiled matchers by input rule index (only rules whose logsource the schema serves and that compiled).
    package let matchers: [(ruleIndex: Int, matcher: Matcher)]
    /// Rules the schema serves, by input index (also those whose detection folded to "never matches").
    package let includedRules: [Int]
    /// Rules skipped because the schema does not serve their logsource.
    package let skippedByLogSource: Int
    package let missingFields: [MissingFieldNote]
    /// Compile errors (unresolved `expand` placeholders); those rules are left out.
    package let diagnostics: [Diagnostic]
    private let numberCacheSize: Int
    private let addressCacheSize: Int
    let program: MatchProgram
    /// 64-bit words of one bit per compiled rule (the scratch's deferred set).
    let ruleWords: Int
    /// `schema.fieldCount`, read per record without a call into the schema.
    private let fieldCount: Int
    /// Every slot the compiled rules read, ascending (decoders may leave the other slots absent).
    package let referencedSlots: [Int]
    /// Whether some rule searches the raw line (keywords).
    package let readsLine: Bool

    /// The slot whose number pre-selects the rules per record (see `RuleIndex`), if any.
    package var discriminatorSlot: Int? { program.index?.pointee.slot }
    /// The field whose text pre-selects rules alongside `discriminatorSlot` (nil: none).
    package var textDiscriminatorSlot: Int? { program.index?.pointee.text?.slot }

    /// Compiles `rules` for `schema`. `placeholders` resolve `|expand` values (`%Servers%` → its list).
    /// `discriminate: false` leaves out the rule index, `adaptive: false` keeps the static guard order (the results
    /// are the same; tests compare).
    package init(
        rules: [SigmaRule], schema: Schema, placeholders: [String: [String]] = [:], discriminate: Bool = true,
        adaptive: Bool = true
    ) {
        self.schema = schema
        fieldCount = schema.fieldCount
        var compiler = RuleCompiler(schema: schema, placeholders: placeholders)
        var matchers: [(Int, Matcher)] = []
        var included: [Int] = []
        var skipped = 0
        var notes: [MissingFieldNote] = []
        var diags: [Diagnostic] = []
        for (i, rule) in rules.enumerated() {
            guard schema.logSources.contains(where: { $0.serves(rule.logsource) }) else {
                skipped += 1
                continue
            }
            compiler.missing = []
            compiler.failed = false
            let m = compiler.compile(rule)
            diags += compiler.diagnostics
            compiler.diagnostics = []
            if compiler.failed { continue }
            included.append(i)
            if !compiler.missing.isEmpty {
                notes.append(
                    MissingFieldNote(
                        ruleIndex: i, ruleID: rule.displayID, fields: compiler.missing.sorted(), schema: schema.description))
            }
            if m != .constant(false) { matchers.append((i, m)) }
        }
        self.matchers = matchers
        includedRules = included
        skippedByLogSource = skipped
        missingFields = notes
        diagnostics = diags
        numberCacheSize = compiler.numberCache.count
        addressCacheSize = compiler.addressCache.count
        ruleWords = max((matchers.count + 63) / 64, 1)
        program = MatchProgram(matchers, discriminate: discriminate, adaptive: adaptive) { schema.fields[$0].listSeparator != 0 }
        referencedSlots = program.slots
        readsLine = matchers.contains { CompiledRuleSet.searchesLine($0.1) }
    }

    private static func searchesLine(_ m: Matcher) -> Bool {
        switch m {
        case .lineContains, .lineGlob: true
        case .all(let xs), .any(let xs): xs.contains(where: searchesLine)
        case .not(let x): searchesLine(x)
        default: false
        }
    }

    /// A cache sized for this set, for `matches(_:scratch:into:)`. The caller owns it (`deallocate()` when done);
    /// one scratch may serve several sets (it grows as needed) but only one thread at a time.
    package func makeScratch() -> MatchScratch {
        MatchScratch(
            numbers: numberCacheSize, addresses: addressCacheSize, leaves: program.leafCount, ruleWords: ruleWords)
    }

    /// The compiled tree of the rule at `ruleIndex`, if it is active in this set.
    package func matcher(forRule ruleIndex: Int) -> Matcher? {
        matchers.first { $0.ruleIndex == ruleIndex }?.matcher
    }

    /// Appends to `out` the input index of every rule that matches `record` (in rule order).
    ///
    /// Allocation-free unless `out` must grow: pass the same array for every record and clear it in between.
    /// `record` must hold at least `schema.fieldCount` slots. Per-line callers should prefer
    /// `matches(_:scratch:into:)`, which reuses its caches instead of setting up temporary ones.
    package func matches(_ record: borrowing EventRecord, into out: inout [Int]) {
        var scratch = makeScratch()
        matches(record, scratch: &scratch, into: &out)
        scratch.deallocate()
    }

    /// Same as `matches(_:into:)` with caller-owned caches (see `makeScratch()`).
    @inline(__always)
    package func matches(_ record: borrowing EventRecord, scratch: inout MatchScratch, into out: inout [Int]) {
        let ctx = context(record, &scratch, nextRecord: true)
        let prog = program
        withExtendedLifetime(prog) { prog.matches(ctx, into: &out) }
    }

    /// Fields that only rules keyed by the number index read (`id.resp_p: [22, 3389]`), sorted. A decoder may leave
    /// them out when its record goes through `matches(_:scratch:deferringLateInto:)` (empty: nothing to leave out).
    package var lateSlots: [Int] { program.lateSlots }
    /// `referencedSlots` without `lateSlots`: what the first pass reads.
    package var firstPassSlots: [Int] {
        let late = Set(program.lateSlots)
        return referencedSlots.filter { !late.contains($0) }
    }

    /// First pass over a record decoded without `lateSlots`: appends what `matches` would, except the rules that
    /// read a late field and hold on their other guards, which are deferred. Returns whether any was; then decode
    /// the record in full and call `matchDeferred` (same scratch, no record in between) before the next record.
    @inline(__always)
    package func matches(
        _ record: borrowing EventRecord, scratch: inout MatchScratch, deferringLateInto out: inout [Int]
    ) -> Bool {
        let ctx = context(record, &scratch, nextRecord: true)
        let prog = program
        let deferred = scratch.deferred
        return withExtendedLifetime(prog) { prog.matchesDeferringLate(ctx, deferred: deferred, into: &out) }
    }

    /// Second pass (see above): appends the deferred rules that hold on the record, now decoded in full.
    package func matchDeferred(_ record: borrowing EventRecord, scratch: inout MatchScratch, into out: inout [Int]) {
        let ctx = context(record, &scratch, nextRecord: false)
        let prog = program
        let words = prog.index?.pointee.words ?? 1
        let deferred = scratch.deferred
        withExtendedLifetime(prog) { prog.matchDeferred(ctx, deferred: deferred, words: words, into: &out) }
    }

    /// Forgets the deferred rules of the current record (its full decoding failed).
    package func dropDeferred(scratch: inout MatchScratch) {
        scratch.deferred.update(repeating: 0, count: scratch.deferredCapacity)
    }

    @inline(__always)
    private func context(_ record: borrowing EventRecord, _ scratch: inout MatchScratch, nextRecord: Bool)
        -> MatchContext
    {
        let capacity = record.capacity
        precondition(capacity >= fieldCount, "event record smaller than its schema")
        let prog = program
        if numberCacheSize > scratch.numberCapacity || addressCacheSize > scratch.addressCapacity
            || prog.leafCount > scratch.leafCapacity || ruleWords > scratch.deferredCapacity
        {
            scratch.reserve(
                numbers: numberCacheSize, addresses: addressCacheSize, leaves: prog.leafCount, ruleWords: ruleWords)
        }
        return MatchContext(
            values: record.values, line: record.line, lineLength: record.lineLength, numbers: scratch.numbers,
            addresses: scratch.addresses, leaves: scratch.leaves,
            generation: nextRecord ? scratch.nextGeneration() : scratch.generation)
    }
}

/// Every field name the rules use (detection items and `fieldref` targets): what a decoder must extract.
package func referencedFields(_ rules: [SigmaRule]) -> Set<String> {
    var out = Set<String>()
    for r in rules { out.formUnion(r.referencedFields) }
    return out
}

extension SigmaRule {
    package var referencedFields: Set<String> {
        var out = Set<String>()
        func walk(_ e: SearchExpression) {
            switch e {
            case .allOf(let xs), .anyOf(let xs): xs.forEach(walk)
            case .item(let item):
                if let f = item.field { out.insert(f) }
                if case .fieldRef(let others, _, _, _) = item.test { out.formUnion(others) }
            }
        }
        for s in detection.searches { walk(s.expression) }
        return out
    }

    /// Whether the rule searches the raw line (keywords), so decoders must keep it.
    package var usesKeywords: Bool {
        func walk(_ e: SearchExpression) -> Bool {
            switch e {
            case .allOf(let xs), .anyOf(let xs): xs.contains(where: walk)
            case .item(let item): item.field == nil
            }
        }
        return detection.searches.contains { walk($0.expression) }
    }
}

/// Turns one rule into a `Matcher` for one schema.
struct RuleCompiler {
    let schema: Schema
    let placeholders: [String: [String]]
    var missing: Set<String> = []
    var failed = false
    var diagnostics: [Diagnostic] = []
    /// slot → index in the per-record number / address caches (scalar fields only).
    var numberCache: [Int: Int] = [:]
    var addressCache: [Int: Int] = [:]

    init(schema: Schema, placeholders: [String: [String]]) {
        self.schema = schema
        self.placeholders = placeholders
    }

    mutating func compile(_ rule: SigmaRule) -> Matcher {
        var searches: [String: Matcher] = [:]
        for s in rule.detection.searches { searches[s.name] = expression(s.expression, rule: rule) }
        func cond(_ c: SigmaCondition) -> Matcher {
            switch c {
            case .search(let n): searches[n] ?? .constant(false)
            case .and(let xs): .all(xs.map(cond))
            case .or(let xs): .any(xs.map(cond))
            case .not(let x): .not(cond(x))
            case .oneOf(let ns): .any(ns.map { searches[$0] ?? .constant(false) })
            case .allOf(let ns): .all(ns.map { searches[$0] ?? .constant(false) })
            }
        }
        let tree: Matcher = .any(rule.detection.conditions.map(cond))
        return MatcherOptimiser.optimise(tree)
    }

    mutating func expression(_ e: SearchExpression, rule: SigmaRule) -> Matcher {
        switch e {
        case .allOf(let xs): return .all(xs.map { expression($0, rule: rule) })
        case .anyOf(let xs): return .any(xs.map { expression($0, rule: rule) })
        case .item(let item):
            let m = self.item(item, rule: rule)
            return item.negated ? .not(m) : m
        }
    }

    private mutating func resolve(_ field: String) -> Int? {
        if let s = schema.slot(field) { return s }
        missing.insert(field)
        return nil
    }

    private mutating func numberCacheIndex(_ slot: Int) -> Int {
        if schema.fields[slot].listSeparator != 0 { return -1 }
        if let i = numberCache[slot] { return i }
        let i = numberCache.count
        numberCache[slot] = i
        return i
    }

    private mutating func addressCacheIndex(_ slot: Int) -> Int {
        if schema.fields[slot].listSeparator != 0 { return -1 }
        if let i = addressCache[slot] { return i }
        let i = addressCache.count
        addressCache[slot] = i
        return i
    }

    private func combine(_ xs: [Matcher], all: Bool) -> Matcher { all ? .all(xs) : .any(xs) }

    mutating func item(_ item: DetectionItem, rule: SigmaRule) -> Matcher {
        guard let field = item.field else { return keywords(item) }
        let slot = resolve(field)
        switch item.test {
        case .values(let values, let all, let cased):
            return combine(values.map { variants in .any(variants.map { valueLeaf(slot, $0, cased: cased) }) }, all: all)
        case .regex(let res, let all):
            guard let slot else { return .constant(false) }
            return combine(res.map { .regex(slot, SigmaRegexBox($0)) }, all: all)
        case .cidr(let blocks):
            guard let slot else { return .constant(false) }
            return .cidr(slot, blocks, cache: addressCacheIndex(slot))
        case .compare(let op, let nums, let all):
            guard let slot else { return .constant(false) }
            let c = numberCacheIndex(slot)
            return combine(nums.map { .compare(slot, op, $0, cache: c) }, all: all)
        case .exists(let b):
            guard let slot else { return .constant(!b) }
            return b ? .present(slot) : .absent(slot)
        case .fieldRef(let others, let mode, let all, let cased):
            let refs = others.map { resolve($0) }
            guard let slot else { return .constant(false) }
            return combine(refs.map { r in r.map { .fieldRef(slot, $0, mode, cased: cased) } ?? .constant(false) }, all: all)
        case .expand(let templates, let mode, let all, let cased):
            var out: [Matcher] = []
            for t in templates {
                guard let expanded = expand(t) else {
                    diagnostics.append(
                        Diagnostic(
                            code: "unresolved_placeholder",
                            "'\(t)' uses a placeholder with no value; define it or remove the rule (\(rule.displayID))",
                            at: item.location))
                    failed = true
                    return .constant(false)
                }
                out.append(.any(expanded.map { valueLeaf(slot, .pattern(SigmaPattern(sigma: $0).applying(mode)), cased: cased) }))
            }
            return combine(out, all: all)
        }
    }

    /// Replaces every `%name%` with each of its values (all combinations); nil when one is not defined.
    func expand(_ template: String) -> [String]? {
        var results = [""]
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "%") {
            let literal = rest[..<open]
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "%") else { break }
            let name = String(after[..<close])
            guard let vals = placeholders[name], !vals.isEmpty else { return nil }
            results = results.flatMap { r in vals.map { r + literal + $0 } }
            rest = after[after.index(after: close)...]
        }
        return results.map { $0 + rest }
    }

    private func folded(_ b: [UInt8], _ cased: Bool) -> [UInt8] { cased ? b : b.map(Bytes.lower) }

    mutating func valueLeaf(_ slot: Int?, _ value: SigmaValue, cased: Bool) -> Matcher {
        guard let slot else {
            if case .null = value { return .constant(true) }
            return .constant(false)
        }
        let isBool = schema.fields[slot].type == .bool
        switch value {
        case .null:
            return .absent(slot)
        case .bool(let b):
            return boolLeaf(slot, b, isBoolField: isBool)
        case .number(let d, let spelling):
            let num = Matcher.numberEquals(slot, [d], cache: numberCacheIndex(slot))
            let text = Array(spelling.utf8)
            let parsable = text.withUnsafeBufferPointer { MatchContext.parseNumber($0.baseAddress!, $0.count) != nil }
            return parsable ? num : .any([num, .equals(slot, folded(text, false), cased: false)])
        case .pattern(let p):
            if isBool, p.pieces.count == 1, case .literal(let b) = p.pieces[0] {
                let t = b.map(Bytes.lower)
                if t == Array("true".utf8) { return boolLeaf(slot, true, isBoolField: true) }
                if t == Array("false".utf8) { return boolLeaf(slot, false, isBoolField: true) }
            }
            return patternLeaf(slot, p, cased: cased)
        }
    }

    private func boolLeaf(_ slot: Int, _ b: Bool, isBoolField: Bool) -> Matcher {
        let word = Array((b ? "true" : "false").utf8)
        if !isBoolField { return .equals(slot, word, cased: false) }
        return .any([.equals(slot, word, cased: false), .equals(slot, [b ? 0x74 : 0x66], cased: false)])
    }

    func patternLeaf(_ slot: Int, _ p: SigmaPattern, cased: Bool) -> Matcher {
        let pc = p.pieces
        switch pc.count {
        case 0:
            return .equals(slot, [], cased: cased)
        case 1:
            if case .literal(let b) = pc[0] { return .equals(slot, folded(b, cased), cased: cased) }
            if pc[0] == .anyRun { return .present(slot) }
        case 2:
            if case .literal(let b) = pc[0], pc[1] == .anyRun { return .prefix(slot, folded(b, cased), cased: cased) }
            if case .literal(let b) = pc[1], pc[0] == .anyRun { return .suffix(slot, folded(b, cased), cased: cased) }
        case 3:
            if case .literal(let b) = pc[1], pc[0] == .anyRun, pc[2] == .anyRun {
                return .contains(slot, folded(b, cased), cased: cased)
            }
        default: break
        }
        return .glob(slot, Glob(p, cased: cased))
    }

    /// Keywords: every value is searched in the raw line (an implicit `contains`).
    func keywords(_ item: DetectionItem) -> Matcher {
        guard case .values(let values, let all, let cased) = item.test else { return .constant(false) }
        return combine(
            values.map { variants in
                .any(
                    variants.map { v -> Matcher in
                        guard case .pattern(let p0) = v else { return .constant(false) }
                        let p = p0.applying(.contains)
                        if p.pieces.count == 3, case .literal(let b) = p.pieces[1] {
                            return .lineContains(folded(b, cased), cased: cased)
                        }
                        if p.pieces == [.anyRun] { return .constant(true) }
                        return .lineGlob(Glob(p, cased: cased))
                    })
            }, all: all)
    }
}

/// Small pure passes over a `Matcher` tree: flatten, fold constants, merge same-field needles, order by cost.
package enum MatcherOptimiser {
    /// Lists of at least this many exact values on one field become one hashed set.
    static let setThreshold = 4

    package static func optimise(_ m: Matcher) -> Matcher {
        switch m {
        case .all(let xs):
            var out: [Matcher] = []
            for x in xs.map(optimise) {
                switch x {
                case .constant(true): continue
                case .constant(false): return .constant(false)
                case .all(let inner): out += inner
                default: out.append(x)
                }
            }
            if out.isEmpty { return .constant(true) }
            if out.count == 1 { return out[0] }
            return .all(byCost(out))
        case .any(let xs):
            var out: [Matcher] = []
            for x in xs.map(optimise) {
                switch x {
                case .constant(false): continue
                case .constant(true): return .constant(true)
                case .any(let inner): out += inner
                default: out.append(x)
                }
            }
            out = merged(out)
            if out.isEmpty { return .constant(false) }
            if out.count == 1 { return out[0] }
            if let f = factored(out) { return optimise(f) }
            return .any(byCost(out))
        case .not(let x):
            switch optimise(x) {
            case .constant(let b): return .constant(!b)
            case .not(let y): return y
            case let y: return .not(y)
            }
        default:
            return m
        }
    }

    /// `(a ∧ b) ∨ (a ∧ c)` → `a ∧ (b ∨ c)`, and `a ∨ (a ∧ b)` → `a`: the conjuncts every alternative of an OR
    /// shares, taken out in front (in the order of the first alternative). Then a shared leaf such as
    /// `proto: icmp` of `1 of selection_*` becomes a guard of the rule (and a key of the rule index) instead of
    /// being tested inside each alternative on every record. Nil when the alternatives share nothing.
    static func factored(_ alternatives: [Matcher]) -> Matcher? {
        let lists: [[Matcher]] = alternatives.map { if case .all(let xs) = $0 { xs } else { [$0] } }
        var shared = Set(lists[0])
        for l in lists.dropFirst() {
            shared.formIntersection(l)
            if shared.isEmpty { return nil }
        }
        var common: [Matcher] = []
        var taken = Set<Matcher>()
        for x in lists[0] where shared.contains(x) && taken.insert(x).inserted { common.append(x) }
        var rest: [Matcher] = []
        for l in lists {
            let r = l.filter { !shared.contains($0) }
            // One alternative is the shared part alone: it implies the whole OR (absorption).
            if r.isEmpty { return .all(common) }
            rest.append(r.count == 1 ? r[0] : .all(r))
        }
        return .all(common + [.any(rest)])
    }

    /// Stable ordering by cost.
    static func byCost(_ xs: [Matcher]) -> [Matcher] {
        xs.enumerated().sorted { a, b in
            let ca = a.element.cost, cb = b.element.cost
            return ca != cb ? ca < cb : a.offset < b.offset
        }.map(\.element)
    }

    private struct Key: Hashable {
        var slot: Int
        var cased: Bool
    }

    /// Within an OR: equals on one field → a set; contains on one field → one multi-needle leaf; numbers → one list.
    static func merged(_ xs: [Matcher]) -> [Matcher] {
        var equals: [Key: [[UInt8]]] = [:]
        var contains: [Key: [[UInt8]]] = [:]
        var numbers: [Int: ([Double], Int)] = [:]
        for x in xs {
            switch x {
            case .equals(let s, let b, let c): equals[Key(slot: s, cased: c), default: []].append(b)
            case .equalsAny(let s, let set): equals[Key(slot: s, cased: set.cased), default: []] += set.needles
            case .contains(let s, let b, let c): contains[Key(slot: s, cased: c), default: []].append(b)
            case .containsAny(let s, let bs, let c): contains[Key(slot: s, cased: c), default: []] += bs
            case .numberEquals(let s, let ds, let cache): numbers[s, default: ([], cache)].0 += ds
            default: break
            }
        }
        var out: [Matcher] = []
        var done = Set<String>()
        for x in xs {
            switch x {
            case .equals(let s, _, let c):
                let list = equals[Key(slot: s, cased: c)]!
                if list.count < setThreshold {
                    out.append(x)
                } else if done.insert("e\(s)/\(c)").inserted {
                    out.append(.equalsAny(s, NeedleSet(list, cased: c)))
                }
            case .equalsAny(let s, let set):
                let list = equals[Key(slot: s, cased: set.cased)]!
                if done.insert("e\(s)/\(set.cased)").inserted { out.append(.equalsAny(s, NeedleSet(list, cased: set.cased))) }
            case .contains(let s, _, let c), .containsAny(let s, _, let c):
                let list = contains[Key(slot: s, cased: c)]!
                if list.count < 2 {
                    out.append(x)
                    continue
                }
                if done.insert("c\(s)/\(c)").inserted { out.append(.containsAny(s, list, cased: c)) }
            case .numberEquals(let s, _, _):
                let (ds, cache) = numbers[s]!
                if done.insert("n\(s)").inserted { out.append(.numberEquals(s, ds, cache: cache)) }
            default:
                out.append(x)
            }
        }
        return out
    }
}
