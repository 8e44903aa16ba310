import FlowhoundCore
import Synchronization

/// A compiled detection: fields are slots of one schema, needles are pre-folded bytes.
///
/// Leaves on list fields hold when any element holds; `not` applies to that result. Every leaf on an absent field
/// is false, except `absent` (Sigma `null`) and what `not` makes of it.
package indirect enum Matcher: Sendable, Hashable {
    case constant(Bool)
    /// `exists: true` (false is `not(present)`).
    case present(Int)
    /// `null`: absent or unset.
    case absent(Int)
    case equals(Int, [UInt8], cased: Bool)
    case equalsAny(Int, NeedleSet)
    case prefix(Int, [UInt8], cased: Bool)
    case suffix(Int, [UInt8], cased: Bool)
    case contains(Int, [UInt8], cased: Bool)
    case containsAny(Int, [[UInt8]], cased: Bool)
    case glob(Int, Glob)
    /// Numeric equality (YAML number values); the field text is parsed once per record (`cache`).
    case numberEquals(Int, [Double], cache: Int)
    case compare(Int, NumericComparison, Double, cache: Int)
    case cidr(Int, [CIDR], cache: Int)
    case regex(Int, SigmaRegexBox)
    case fieldRef(Int, Int, PatternMode, cased: Bool)
    /// Keywords: a search in the whole raw line.
    case lineContains([UInt8], cased: Bool)
    case lineGlob(Glob)
    case all([Matcher])
    case any([Matcher])
    case not(Matcher)

    /// Rough evaluation cost, used to put cheap children first.
    package var cost: Int {
        switch self {
        case .constant: 0
        case .present, .absent: 1
        case .equals: 2
        case .numberEquals, .compare: 3
        case .equalsAny, .prefix, .suffix: 4
        case .contains, .fieldRef: 6
        case .cidr: 7
        case .containsAny(_, let ns, _): 6 + ns.count
        case .glob: 10
        case .lineContains: 20
        case .lineGlob: 30
        case .regex: 100
        case .all(let xs), .any(let xs): xs.reduce(1) { $0 + $1.cost }
        case .not(let x): x.cost + 1
        }
    }
}

/// Hashable identity wrapper so `Matcher` can be compared in tests and optimisation passes.
package struct SigmaRegexBox: Sendable, Hashable {
    package let regex: SigmaRegex
    package init(_ r: SigmaRegex) { regex = r }
    package static func == (a: Self, b: Self) -> Bool { a.regex === b.regex }
    package func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(regex)) }
}

/// Per-record parse result of one numeric field, valid while `generation` equals the current record's.
struct NumberCacheEntry {
    var generation: UInt32
    var ok: Bool
    var value: Double
}

/// Per-record parse result of one address field, valid while `generation` equals the current record's.
struct AddressCacheEntry {
    var generation: UInt32
    var ok: Bool
    var address: IPAddress
}

/// Everything a matcher reads while evaluating one record.
struct MatchContext {
    let values: UnsafeMutablePointer<FieldValue>
    let line: UnsafePointer<UInt8>
    let lineLength: Int
    let numbers: UnsafeMutablePointer<NumberCacheEntry>
    let addresses: UnsafeMutablePointer<AddressCacheEntry>
    /// Memoised guard-leaf results: `generation << 1 | result` (see `MatchProgram.matches`).
    let leaves: UnsafeMutablePointer<UInt64>
    /// Cache entries whose generation differs were filled for an earlier record.
    let generation: UInt32

    @inline(__always)
    static func parseNumber(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        if let v = Bytes.parseShortUnsigned(p, n) { return Double(v) }
        return parseOtherNumber(p, n)
    }

    /// `parseNumber` past the short unsigned case (signs, fractions, exponents, long numbers), out of line so that
    /// the common case stays small where it is inlined.
    @inline(never)
    static func parseOtherNumber(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        if let i = Bytes.parseInt(p, n) { return Double(i) }
        return Bytes.parseDouble(p, n)
    }

    @inline(__always)
    func number(_ slot: Int, cache: Int) -> Double? {
        let e = numbers + cache
        if e.pointee.generation == generation { return e.pointee.ok ? e.pointee.value : nil }
        let v = values[slot]
        var d: Double?
        if let base = v.base { d = MatchContext.parseNumber(base, v.count) }
        e.pointee = NumberCacheEntry(generation: generation, ok: d != nil, value: d ?? 0)
        return d
    }

    @inline(__always)
    func address(_ slot: Int, cache: Int) -> IPAddress? {
        let e = addresses + cache
        if e.pointee.generation == generation { return e.pointee.ok ? e.pointee.address : nil }
        let v = values[slot]
        var a: IPAddress?
        if let base = v.base { a = IPAddress.parse(base, v.count) }
        e.pointee = AddressCacheEntry(generation: generation, ok: a != nil, address: a ?? IPAddress(high: 0, low: 0))
        return a
    }
}

extension Matcher {
    /// Evaluates the tree on one record.
    func evaluate(_ ctx: MatchContext) -> Bool {
        switch self {
        case .constant(let b):
            return b
        case .present(let s):
            return ctx.values[s].base != nil
        case .absent(let s):
            return ctx.values[s].base == nil
        case .equals(let s, let needle, let cased):
            return ctx.values[s].anyElement { p, n in Literal.equals(p, n, needle, cased: cased) }
        case .equalsAny(let s, let set):
            return ctx.values[s].anyElement { p, n in set.contains(p, n) }
        case .prefix(let s, let needle, let cased):
            return ctx.values[s].anyElement { p, n in Literal.hasPrefix(p, n, needle, cased: cased) }
        case .suffix(let s, let needle, let cased):
            return ctx.values[s].anyElement { p, n in Literal.hasSuffix(p, n, needle, cased: cased) }
        case .contains(let s, let needle, let cased):
            return ctx.values[s].anyElement { p, n in Literal.contains(p, n, needle, cased: cased) }
        case .containsAny(let s, let needles, let cased):
            return ctx.values[s].anyElement { p, n in
                for needle in needles where Literal.contains(p, n, needle, cased: cased) { return true }
                return false
            }
        case .glob(let s, let g):
            return ctx.values[s].anyElement { p, n in g.matches(p, n) }
        case .numberEquals(let s, let targets, let cache):
            if cache >= 0 {
                guard let d = ctx.number(s, cache: cache) else { return false }
                return targets.contains(d)
            }
            return ctx.values[s].anyElement { p, n in
                guard let d = MatchContext.parseNumber(p, n) else { return false }
                return targets.contains(d)
            }
        case .compare(let s, let op, let value, let cache):
            if cache >= 0 {
                guard let d = ctx.number(s, cache: cache) else { return false }
                return op.holds(d, value)
            }
            return ctx.values[s].anyElement { p, n in
                guard let d = MatchContext.parseNumber(p, n) else { return false }
                return op.holds(d, value)
            }
        case .cidr(let s, let blocks, let cache):
            if cache >= 0 {
                guard let a = ctx.address(s, cache: cache) else { return false }
                for b in blocks where b.contains(a) { return true }
                return false
            }
            return ctx.values[s].anyElement { p, n in
                guard let a = IPAddress.parse(p, n) else { return false }
                for b in blocks where b.contains(a) { return true }
                return false
            }
        case .regex(let s, let box):
            return ctx.values[s].anyElement { p, n in box.regex.search(p, n) }
        case .fieldRef(let s, let other, let mode, let cased):
            let o = ctx.values[other]
            guard let ob = o.base else { return false }
            // the referenced field is folded into a needle on the fly (no allocation: compare byte by byte)
            return ctx.values[s].anyElement { p, n in
                Matcher.refCompare(p, n, ob, o.count, mode, cased)
            }
        case .lineContains(let needle, let cased):
            return Literal.contains(ctx.line, ctx.lineLength, needle, cased: cased)
        case .lineGlob(let g):
            return g.matches(ctx.line, ctx.lineLength)
        case .all(let xs):
            for x in xs where !x.evaluate(ctx) { return false }
            return true
        case .any(let xs):
            for x in xs where x.evaluate(ctx) { return true }
            return false
        case .not(let x):
            return !x.evaluate(ctx)
        }
    }

    @inline(__always)
    static func sameByte(_ a: UInt8, _ b: UInt8, _ cased: Bool) -> Bool { cased ? a == b : Bytes.lower(a) == Bytes.lower(b) }

    static func refCompare(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ q: UnsafePointer<UInt8>, _ m: Int, _ mode: PatternMode, _ cased: Bool
    ) -> Bool {
        func at(_ off: Int) -> Bool {
            for k in 0..<m where !sameByte(p[off + k], q[k], cased) { return false }
            return true
        }
        switch mode {
        case .whole: return n == m && at(0)
        case .prefix: return m <= n && at(0)
        case .suffix: return m <= n && at(n - m)
        case .contains:
            if m > n { return false }
            for off in 0...(n - m) where at(off) { return true }
            return false
        }
    }
}

// MARK: - Flat program

/// Instruction codes of `MatchProgram`.
enum OpCode: UInt8 {
    /// `r = flag`
    case constant
    case present, absent
    /// Whole-value literal of at most 8 bytes: one masked word compare.
    case equalsWord
    /// Whole-value literal longer than 8 bytes (pool bytes).
    case equalsBytes
    /// Prefix of at most 8 bytes: one masked word compare.
    case prefixWord
    case prefixBytes, suffixBytes, containsBytes
    /// Any of `count` needles (descriptor table in the pool) contained.
    case containsAnyBytes
    /// Exact value in a hashed set (open-addressing table in the pool).
    case equalsSet
    /// Field number equals one of `count` doubles in the pool.
    case numberIn
    case compare
    /// Field address inside one of `count` blocks in the pool.
    case cidrIn
    case lineContains
    /// Evaluate `fallbacks[a]` (regex, glob, fieldref, keyword glob).
    case tree
    case jumpIfFalse, jumpIfTrue, not, ret
}

/// One instruction. Trivial (no references), so reading it costs no reference counting.
struct Op {
    var code: OpCode
    /// Case-sensitive needle, or the value of `.constant`.
    var flag: Bool
    var cmp: NumericComparison
    var slot: Int32
    /// Pool byte offset, cache index (-1: list field, parse per element), jump target or fallback index.
    var a: Int32
    /// Second pool byte offset (number / cidr tables when `a` is the cache index).
    var b: Int32
    /// Needle length or element count.
    var count: Int32
    /// `.equalsWord` / `.prefixWord`: needle bytes (little-endian), the mask of its length and the bits that fold
    /// ASCII letters (0x20 on each letter byte when not cased). `.compare`: the value's bit pattern in `word`.
    var word: UInt64
    var mask: UInt64
    var fold: UInt64

    init(_ code: OpCode, slot: Int = 0) {
        self.code = code
        flag = false
        cmp = .gt
        self.slot = Int32(truncatingIfNeeded: slot)
        a = 0
        b = 0
        count = 0
        word = 0
        mask = 0
        fold = 0
    }
}

/// Caches the matcher fills per record (parsed numbers and addresses by field). One per caller (not shared
/// between threads); create with `CompiledRuleSet.makeScratch()`, free with `deallocate()`.
package struct MatchScratch {
    var numbers: UnsafeMutablePointer<NumberCacheEntry>
    var addresses: UnsafeMutablePointer<AddressCacheEntry>
    var leaves: UnsafeMutablePointer<UInt64>
    var numberCapacity: Int
    var addressCapacity: Int
    var leafCapacity: Int
    var generation: UInt32 = 0
    /// Rules deferred by the first of two passes (`CompiledRuleSet.matches(_:scratch:deferringLateInto:)`), one bit
    /// each; all zero between records.
    var deferred: UnsafeMutablePointer<UInt64>
    var deferredCapacity: Int

    package init(numbers: Int = 8, addresses: Int = 8, leaves: Int = 16, ruleWords: Int = 1) {
        numberCapacity = max(numbers, 1)
        addressCapacity = max(addresses, 1)
        leafCapacity = max(leaves, 1)
        deferredCapacity = max(ruleWords, 1)
        deferred = .allocate(capacity: deferredCapacity)
        deferred.initialize(repeating: 0, count: deferredCapacity)
        self.leaves = .allocate(capacity: leafCapacity)
        self.leaves.initialize(repeating: 0, count: leafCapacity)
        self.numbers = .allocate(capacity: numberCapacity)
        self.numbers.initialize(repeating: NumberCacheEntry(generation: 0, ok: false, value: 0), count: numberCapacity)
        self.addresses = .allocate(capacity: addressCapacity)
        self.addresses.initialize(
            repeating: AddressCacheEntry(generation: 0, ok: false, address: IPAddress(high: 0, low: 0)),
            count: addressCapacity)
    }

    /// Makes room for `numbers` / `addresses` entries (keeps nothing).
    mutating func reserve(numbers n: Int, addresses a: Int, leaves l: Int = 0, ruleWords w: Int = 1) {
        if n > numberCapacity || a > addressCapacity || l > leafCapacity || w > deferredCapacity {
            deallocate()
            self = MatchScratch(
                numbers: max(n, numberCapacity), addresses: max(a, addressCapacity), leaves: max(l, leafCapacity),
                ruleWords: max(w, deferredCapacity))
        }
    }

    /// Starts a new record: every cache entry becomes stale.
    @inline(__always)
    mutating func nextGeneration() -> UInt32 {
        generation &+= 1
        if generation == 0 {
            for i in 0..<numberCapacity { numbers[i].generation = 0 }
            for i in 0..<addressCapacity { addresses[i].generation = 0 }
            for i in 0..<leafCapacity { leaves[i] = 0 }
            generation = 1
        }
        return generation
    }

    package func deallocate() {
        numbers.deallocate()
        addresses.deallocate()
        leaves.deallocate()
        deferred.deallocate()
    }
}

/// The rules of a `CompiledRuleSet` as one flat instruction array, evaluated with a program counter and one
/// result register: no recursion, no enum payloads, no reference counting on the per-record path.
///
/// Trees compile with short-circuit jumps: `all(x, y)` → `x; jumpIfFalse end; y; end:`, `any` uses
/// `jumpIfTrue`, `not` flips the register. Needles, number lists, CIDR tables and hash sets live in one pool
/// allocation (with 64 bytes of zero padding) owned by the program.
final class MatchProgram: @unchecked Sendable {
    let ops: UnsafeMutablePointer<Op>
    let opCount: Int
    /// Start instruction and input rule index per compiled rule (same order as `CompiledRuleSet.matchers`).
    let entries: UnsafeMutablePointer<Int>
    let ruleIndices: UnsafeMutablePointer<Int>
    let ruleCount: Int
    let pool: UnsafeMutableRawPointer
    let fallbacks: [Matcher]
    /// Every slot an instruction reads.
    let slots: [Int]
    /// Guards: the leaves every rule requires (its top-level conjuncts that are single instructions, each with
    /// the result it must have), checked before the rule's program. Each distinct leaf is evaluated at most once
    /// per record and shared by every rule that requires it (memo in `MatchContext.leaves`). Rule k's guards are
    /// `guards[guardStart[k]..<guardStart[k + 1]]`, each `leaf << 1 | expected`, cheapest (per sharing rule) first.
    let guardStart: UnsafeMutablePointer<Int32>
    let guards: UnsafeMutablePointer<Int32>
    /// Instruction of each distinct guard leaf.
    let leafOps: UnsafeMutablePointer<Int32>
    let leafCount: Int
    /// The rule is exactly the conjunction of its guards: no program run needed once they hold.
    let pure: UnsafeMutablePointer<Bool>
    /// Rule pre-selection by the number in one scalar field (the slot on which most rules require numeric equality,
    /// e.g. `id.resp_p: [22, 445]`) and by the text of another (most rules requiring exact text, e.g. `proto: tcp`).
    /// Per record each value is looked up once among the distinct values those rules accept, which yields the rules
    /// that can still hold; the others are skipped without evaluating any of their leaves. `index` is nil when
    /// neither kind of guard is shared by at least two rules. Held behind a pointer so that a record's lookup reads
    /// the fields it needs instead of copying the whole struct out of the program.
    let index: UnsafeMutablePointer<RuleIndex>?
    /// Guard order learned from the records (see `GuardOrder.swift`): per rule, the positions in its guard list of
    /// the first 16 guards to evaluate, 4 bits each, first in the low bits. Starts as the static order.
    let orders: UnsafeMutablePointer<Atomic<UInt64>>
    /// Per guard leaf, over sampled records: evaluations (high 32 bits) and how many held (low 32 bits).
    let leafStats: UnsafeMutablePointer<Atomic<UInt64>>
    /// Per guard leaf: `Matcher.cost`.
    let leafCosts: UnsafeMutablePointer<Double>
    /// Sampled records since the orders were last revised.
    let sampledRecords = Atomic<Int>(0)
    /// Whether guard orders follow the sampled pass rates (false: the static order; tests compare both).
    let adaptive: Bool
    /// Fields read only by rules the number index keys (see `lateSlots` in CompiledRuleSet), sorted; empty without
    /// a number key. A decoder may leave them out of a first pass (`matchesDeferringLate`).
    let lateSlots: [Int]
    /// Per rule: it reads a late field. Per guard leaf: it reads one.
    let lateRule: UnsafeMutablePointer<Bool>
    let leafLate: UnsafeMutablePointer<Bool>

    /// `discriminate: false` builds no rule index, `adaptive: false` keeps the static guard order (tests compare).
    init(
        _ rules: [(ruleIndex: Int, matcher: Matcher)], discriminate: Bool, adaptive: Bool = true,
        isList: (Int) -> Bool = { _ in false }
    ) {
        self.adaptive = adaptive
        var b = Builder()
        ruleCount = rules.count
        entries = .allocate(capacity: max(ruleCount, 1))
        ruleIndices = .allocate(capacity: max(ruleCount, 1))
        var ruleSlots: [Set<Int>] = []
        for (k, r) in rules.enumerated() {
            entries[k] = b.ops.count
            ruleIndices[k] = r.ruleIndex
            let before = b.slots
            b.slots = []
            b.emit(r.matcher)
            b.ops.append(Op(.ret))
            ruleSlots.append(b.slots)
            b.slots.formUnion(before)
        }
        // Guards (see above).
        var leafIDs: [Matcher: Int] = [:]
        var leafList: [Matcher] = []
        var perRule: [[(leaf: Int, expected: Bool)]] = []
        var pureFlags: [Bool] = []
        for r in rules {
            var conjuncts: [Matcher] = [r.matcher]
            if case .all(let xs) = r.matcher { conjuncts = xs }
            var gs: [(leaf: Int, expected: Bool)] = []
            var isPure = true
            for x in conjuncts {
                var leaf = x
                var expected = true
                if case .not(let y) = x {
                    leaf = y
                    expected = false
                }
                guard MatchProgram.isGuardLeaf(leaf) else {
                    isPure = false
                    continue
                }
                let id: Int
                if let known = leafIDs[leaf] {
                    id = known
                } else {
                    id = leafList.count
                    leafIDs[leaf] = id
                    leafList.append(leaf)
                }
                if !gs.contains(where: { $0.leaf == id && $0.expected == expected }) { gs.append((id, expected)) }
            }
            perRule.append(gs)
            pureFlags.append(isPure)
        }
        var sharers = [Int](repeating: 0, count: leafList.count)
        for gs in perRule { for g in gs { sharers[g.leaf] += 1 } }
        leafCount = leafList.count
        leafOps = .allocate(capacity: max(leafCount, 1))
        for (id, leaf) in leafList.enumerated() {
            let at = b.ops.count
            b.emit(leaf)
            precondition(b.ops.count == at + 1, "guard leaf compiled to more than one instruction")
            leafOps[id] = Int32(at)
        }
        let built =
            discriminate
            ? RuleIndex(perRule.map { gs in gs.map { (leafList[$0.leaf], $0.expected) } }, isList: isList) : nil
        index = built.map { ri in
            let p = UnsafeMutablePointer<RuleIndex>.allocate(capacity: 1)
            p.initialize(to: ri)
            return p
        }
        // Late fields: read by no rule that every number row holds (those are candidates on any record) and by
        // neither key. Without a number key every rule may be a candidate anywhere: nothing is late.
        var late = Set<Int>()
        if let number = built?.number {
            var primary: Set<Int> = [number.slot]
            if let t = built?.text { primary.insert(t.slot) }
            for (k, gs) in perRule.enumerated() {
                let keyed = gs.contains { g in
                    guard g.expected, case .numberEquals(let s, _, let c) = leafList[g.leaf] else { return false }
                    return s == number.slot && c >= 0
                }
                if !keyed { primary.formUnion(ruleSlots[k]) }
            }
            late = Set(ruleSlots.joined()).subtracting(primary)
        }
        lateSlots = late.sorted()
        lateRule = .allocate(capacity: max(ruleCount, 1))
        lateRule.initialize(repeating: false, count: max(ruleCount, 1))
        for k in 0..<ruleCount { lateRule[k] = !ruleSlots[k].isDisjoint(with: late) }
        leafLate = .allocate(capacity: max(leafList.count, 1))
        leafLate.initialize(repeating: false, count: max(leafList.count, 1))
        for (id, leaf) in leafList.enumerated() {
            var reads = Builder()
            reads.collectSlots(leaf)
            leafLate[id] = !reads.slots.isDisjoint(with: late)
        }
        let total = perRule.reduce(0) { $0 + $1.count }
        guardStart = .allocate(capacity: ruleCount + 1)
        guards = .allocate(capacity: max(total, 1))
        pure = .allocate(capacity: max(ruleCount, 1))
        var at = 0
        for (k, gs) in perRule.enumerated() {
            guardStart[k] = Int32(at)
            pure[k] = pureFlags[k]
            let ordered = gs.enumerated().sorted { x, y in
                let cx = Double(leafList[x.element.leaf].cost) / Double(sharers[x.element.leaf])
                let cy = Double(leafList[y.element.leaf].cost) / Double(sharers[y.element.leaf])
                return cx != cy ? cx < cy : x.offset < y.offset
            }
            // A guard the index rows already decide (a rule is a candidate only when it holds) is not evaluated again.
            for g in ordered.map(\.element) where built?.implies((leafList[g.leaf], g.expected)) != true {
                guards[at] = Int32(g.leaf << 1 | (g.expected ? 1 : 0))
                at += 1
            }
        }
        guardStart[ruleCount] = Int32(at)
        orders = .allocate(capacity: max(ruleCount, 1))
        for k in 0..<max(ruleCount, 1) { (orders + k).initialize(to: Atomic(MatchProgram.staticOrder)) }
        leafStats = .allocate(capacity: max(leafCount, 1))
        for id in 0..<max(leafCount, 1) { (leafStats + id).initialize(to: Atomic(0)) }
        leafCosts = .allocate(capacity: max(leafCount, 1))
        for id in 0..<max(leafCount, 1) { leafCosts[id] = id < leafCount ? Double(leafList[id].cost) : 0 }
        opCount = b.ops.count
        ops = .allocate(capacity: max(opCount, 1))
        ops.initialize(from: b.ops, count: opCount)
        let size = b.pool.count + 64
        let pool = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        pool.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        b.pool.withUnsafeBytes { if let src = $0.baseAddress { pool.copyMemory(from: src, byteCount: $0.count) } }
        self.pool = pool
        fallbacks = b.fallbacks
        slots = b.slots.sorted()
    }

    deinit {
        ops.deallocate()
        pool.deallocate()
        entries.deallocate()
        ruleIndices.deallocate()
        guardStart.deallocate()
        guards.deallocate()
        leafOps.deallocate()
        pure.deallocate()
        orders.deinitialize(count: max(ruleCount, 1))
        orders.deallocate()
        leafStats.deinitialize(count: max(leafCount, 1))
        leafStats.deallocate()
        leafCosts.deallocate()
        lateRule.deallocate()
        leafLate.deallocate()
        if let index {
            index.pointee.deallocate()
            index.deinitialize(count: 1)
            index.deallocate()
        }
    }

    /// Leaves that compile to one instruction evaluated in place (no fallback tree).
    static func isGuardLeaf(_ m: Matcher) -> Bool {
        switch m {
        case .present, .absent, .equals, .equalsAny, .prefix, .suffix, .contains, .containsAny, .numberEquals,
            .compare, .cidr, .lineContains:
            true
        default:
            false
        }
    }

    /// Appends the input index of every rule that holds. `ctx.leaves` must have room for `leafCount` entries.
    @inline(__always)
    func matches(_ ctx: MatchContext, into out: inout [Int]) {
        let stamp = UInt64(ctx.generation) << 1
        if adaptive && ctx.generation & MatchProgram.sampleMask < MatchProgram.sampleWindow {
            sampledMatches(ctx, stamp, into: &out)
            return
        }
        eachCandidate(ctx, into: &out) { rule($0, ctx, stamp) }
    }

    /// Appends the input index of every candidate rule `k` (all rules without an index) for which `holds(k)`.
    @inline(__always)
    func eachCandidate(_ ctx: MatchContext, into out: inout [Int], _ holds: (Int) -> Bool) {
        guard let index else {
            for k in 0..<ruleCount where holds(k) { out.append(ruleIndices[k]) }
            return
        }
        let (a, b) = index.pointee.rows(ctx)
        for w in 0..<index.pointee.words {
            var bits = a[w] & b[w]
            while bits != 0 {
                let k = w &<< 6 | bits.trailingZeroBitCount
                bits &= bits &- 1
                if holds(k) { out.append(ruleIndices[k]) }
            }
        }
    }

    /// Whether rule `k` holds: its guards (memoised leaves) in the learned order, then its program unless the guards
    /// are the rule.
    @inline(__always)
    func rule(_ k: Int, _ ctx: MatchContext, _ stamp: UInt64) -> Bool {
        let memo = ctx.leaves
        let start = Int(guardStart[k])
        let n = Int(guardStart[k &+ 1]) &- start
        var order = orders[k].load(ordering: .relaxed)
        var i = 0
        while i < n {
            let at = i < 16 ? Int(truncatingIfNeeded: order & 15) : i
            order &>>= 4
            i &+= 1
            let e = Int(guards[start &+ at])
            let id = e >> 1
            let m = memo[id]
            let r: Bool
            if m & ~1 == stamp {
                r = m & 1 != 0
            } else {
                let op = UnsafePointer(ops + Int(leafOps[id]))
                // The commonest guard, a comparison on a scalar number field, without the call into `leaf`.
                if op.pointee.code == .compare && op.pointee.a >= 0 {
                    let o = op.pointee
                    if let d = ctx.number(Int(o.slot), cache: Int(o.a)) {
                        r = o.cmp.holds(d, Double(bitPattern: o.word))
                    } else {
                        r = false
                    }
                } else {
                    r = leaf(op, ctx)
                }
                memo[id] = stamp | (r ? 1 : 0)
            }
            if r != (e & 1 != 0) { return false }
        }
        return pure[k] || run(entries[k], ctx)
    }

    /// Builds instructions and the pool.
    struct Builder {
        var ops: [Op] = []
        var pool: [UInt8] = []
        var fallbacks: [Matcher] = []
        var slots = Set<Int>()

        mutating func align8() { while pool.count % 8 != 0 { pool.append(0) } }

        mutating func bytes(_ b: [UInt8]) -> Int32 {
            let at = pool.count
            pool += b
            return Int32(at)
        }

        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { pool += $0 } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { pool += $0 } }

        static func word(_ b: [UInt8], cased: Bool) -> (word: UInt64, mask: UInt64, fold: UInt64) {
            var w: UInt64 = 0, fold: UInt64 = 0
            for (i, c) in b.enumerated() {
                w |= UInt64(c) << UInt64(8 * i)
                if !cased && (c &- 97) < 26 { fold |= 0x20 << UInt64(8 * i) }
            }
            let mask: UInt64 = b.count >= 8 ? ~0 : (UInt64(1) << UInt64(8 * b.count)) &- 1
            return (w, mask, fold)
        }

        mutating func literal(_ code: OpCode, _ slot: Int, _ needle: [UInt8], cased: Bool) {
            slots.insert(slot)
            var op = Op(code, slot: slot)
            op.flag = cased
            op.count = Int32(needle.count)
            if (code == .equalsWord || code == .prefixWord) {
                (op.word, op.mask, op.fold) = Builder.word(needle, cased: cased)
            } else {
                op.a = bytes(needle)
            }
            ops.append(op)
        }

        mutating func fallback(_ m: Matcher) {
            var op = Op(.tree)
            op.a = Int32(fallbacks.count)
            fallbacks.append(m)
            ops.append(op)
            collectSlots(m)
        }

        mutating func collectSlots(_ m: Matcher) {
            switch m {
            case .present(let s), .absent(let s), .equals(let s, _, _), .equalsAny(let s, _), .prefix(let s, _, _),
                .suffix(let s, _, _), .contains(let s, _, _), .containsAny(let s, _, _), .glob(let s, _),
                .numberEquals(let s, _, _), .compare(let s, _, _, _), .cidr(let s, _, _), .regex(let s, _):
                slots.insert(s)
            case .fieldRef(let s, let o, _, _):
                slots.insert(s)
                slots.insert(o)
            case .all(let xs), .any(let xs): xs.forEach { collectSlots($0) }
            case .not(let x): collectSlots(x)
            case .constant, .lineContains, .lineGlob: break
            }
        }

        mutating func emit(_ m: Matcher) {
            switch m {
            case .constant(let v):
                var op = Op(.constant)
                op.flag = v
                ops.append(op)
            case .present(let s):
                slots.insert(s)
                ops.append(Op(.present, slot: s))
            case .absent(let s):
                slots.insert(s)
                ops.append(Op(.absent, slot: s))
            case .equals(let s, let needle, let cased):
                literal(needle.count <= 8 ? .equalsWord : .equalsBytes, s, needle, cased: cased)
            case .prefix(let s, let needle, let cased):
                literal(needle.count <= 8 ? .prefixWord : .prefixBytes, s, needle, cased: cased)
            case .suffix(let s, let needle, let cased):
                literal(.suffixBytes, s, needle, cased: cased)
            case .contains(let s, let needle, let cased):
                literal(.containsBytes, s, needle, cased: cased)
            case .containsAny(let s, let needles, let cased):
                slots.insert(s)
                var offsets: [Int32] = []
                for n in needles { offsets.append(bytes(n)) }
                align8()
                var op = Op(.containsAnyBytes, slot: s)
                op.flag = cased
                op.a = Int32(pool.count)
                op.count = Int32(needles.count)
                for (o, n) in zip(offsets, needles) {
                    u32(UInt32(o))
                    u32(UInt32(n.count))
                }
                ops.append(op)
            case .equalsAny(let s, let set):
                slots.insert(s)
                emitSet(s, set)
            case .numberEquals(let s, let targets, let cache):
                slots.insert(s)
                align8()
                var op = Op(.numberIn, slot: s)
                op.a = Int32(cache)
                op.b = Int32(pool.count)
                op.count = Int32(targets.count)
                for d in targets { u64(d.bitPattern) }
                ops.append(op)
            case .compare(let s, let cmp, let value, let cache):
                slots.insert(s)
                var op = Op(.compare, slot: s)
                op.cmp = cmp
                op.a = Int32(cache)
                op.word = value.bitPattern
                ops.append(op)
            case .cidr(let s, let blocks, let cache):
                slots.insert(s)
                align8()
                var op = Op(.cidrIn, slot: s)
                op.a = Int32(cache)
                op.b = Int32(pool.count)
                op.count = Int32(blocks.count)
                for c in blocks {
                    let len = c.prefixLength
                    let hiMask: UInt64 = len >= 64 ? ~0 : (len == 0 ? 0 : ~0 << UInt64(64 - len))
                    let loLen = len - 64
                    let loMask: UInt64 = loLen <= 0 ? 0 : (loLen >= 64 ? ~0 : ~0 << UInt64(64 - loLen))
                    u64(c.network.high & hiMask)
                    u64(c.network.low & loMask)
                    u64(hiMask)
                    u64(loMask)
                }
                ops.append(op)
            case .lineContains(let needle, let cased):
                var op = Op(.lineContains)
                op.flag = cased
                op.count = Int32(needle.count)
                op.a = bytes(needle)
                ops.append(op)
            case .glob, .regex, .fieldRef, .lineGlob:
                fallback(m)
            case .all(let xs), .any(let xs):
                if xs.isEmpty {
                    var op = Op(.constant)
                    if case .all = m { op.flag = true }
                    ops.append(op)
                    return
                }
                var isAll = false
                if case .all = m { isAll = true }
                var patches: [Int] = []
                for (k, x) in xs.enumerated() {
                    emit(x)
                    if k < xs.count - 1 {
                        patches.append(ops.count)
                        ops.append(Op(isAll ? .jumpIfFalse : .jumpIfTrue))
                    }
                }
                for p in patches { ops[p].a = Int32(ops.count) }
            case .not(let x):
                emit(x)
                ops.append(Op(.not))
            }
        }

        /// Table: `size` (power of two) entries of (offset, length) pairs; length 0xFFFF_FFFF = empty.
        mutating func emitSet(_ s: Int, _ set: NeedleSet) {
            let needles = set.needles
            var offsets: [Int32] = []
            for n in needles { offsets.append(bytes(n)) }
            var size = 8
            while size < needles.count * 2 { size <<= 1 }
            var table = [(UInt32, UInt32)](repeating: (0, 0xFFFF_FFFF), count: size)
            for (i, n) in needles.enumerated() {
                var h = n.withUnsafeBufferPointer { NeedleSet.hash($0.baseAddress, $0.count, cased: true) } & (size - 1)
                while table[h].1 != 0xFFFF_FFFF { h = (h + 1) & (size - 1) }
                table[h] = (UInt32(offsets[i]), UInt32(n.count))
            }
            align8()
            var op = Op(.equalsSet, slot: s)
            op.flag = set.cased
            op.a = Int32(pool.count)
            op.count = Int32(size)
            for (o, l) in table {
                u32(o)
                u32(l)
            }
            ops.append(op)
        }
    }

    // MARK: evaluation


    @inline(__always)
    static func same(_ p: UnsafePointer<UInt8>, _ q: UnsafeRawPointer, _ n: Int, cased: Bool) -> Bool {
        let nb = q.assumingMemoryBound(to: UInt8.self)
        return cased ? memcmp(p, nb, n) == 0 : Bytes.equalFolded(p, nb, n)
    }

    /// One string test on one element (a scalar value or one list element).
    @inline(__always)
    func test(_ op: UnsafePointer<Op>, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        let o = op.pointee
        let m = Int(o.count)
        switch o.code {
        case .equalsWord:
            if n != m { return false }
            if m == 0 { return true }
            return (Bytes.loadWord(p, n) | o.fold) & o.mask == o.word
        case .prefixWord:
            if n < m { return false }
            if m == 0 { return true }
            return (Bytes.loadWord(p, n) | o.fold) & o.mask == o.word
        case .equalsBytes:
            return n == m && MatchProgram.same(p, pool + Int(o.a), m, cased: o.flag)
        case .prefixBytes:
            return n >= m && MatchProgram.same(p, pool + Int(o.a), m, cased: o.flag)
        case .suffixBytes:
            return n >= m && (m == 0 || MatchProgram.same(p + (n - m), pool + Int(o.a), m, cased: o.flag))
        case .containsBytes:
            if m == 0 { return true }
            let nb = (pool + Int(o.a)).assumingMemoryBound(to: UInt8.self)
            return o.flag ? Bytes.find(p, n, nb, m) != nil : Bytes.findFolded(p, n, nb, m) != nil
        case .containsAnyBytes:
            let d = (pool + Int(o.a)).assumingMemoryBound(to: UInt32.self)
            for k in 0..<m {
                let len = Int(d[2 * k + 1])
                if len == 0 { return true }
                let nb = (pool + Int(d[2 * k])).assumingMemoryBound(to: UInt8.self)
                if o.flag ? Bytes.find(p, n, nb, len) != nil : Bytes.findFolded(p, n, nb, len) != nil { return true }
            }
            return false
        case .equalsSet:
            let t = (pool + Int(o.a)).assumingMemoryBound(to: UInt32.self)
            let mask = m - 1
            var h = NeedleSet.hash(p, n, cased: o.flag) & mask
            while true {
                let len = t[2 * h + 1]
                if len == 0xFFFF_FFFF { return false }
                if Int(len) == n && (n == 0 || MatchProgram.same(p, pool + Int(t[2 * h]), n, cased: o.flag)) {
                    return true
                }
                h = (h + 1) & mask
            }
        case .numberIn:
            guard let d = MatchContext.parseNumber(p, n) else { return false }
            return numberIn(o, d)
        case .compare:
            guard let d = MatchContext.parseNumber(p, n) else { return false }
            return o.cmp.holds(d, Double(bitPattern: o.word))
        case .cidrIn:
            guard let a = IPAddress.parse(p, n) else { return false }
            return cidrIn(o, a)
        default:
            return false
        }
    }

    @inline(__always)
    func numberIn(_ o: Op, _ d: Double) -> Bool {
        let t = (pool + Int(o.b)).assumingMemoryBound(to: Double.self)
        for k in 0..<Int(o.count) where t[k] == d { return true }
        return false
    }

    @inline(__always)
    func cidrIn(_ o: Op, _ a: IPAddress) -> Bool {
        let t = (pool + Int(o.b)).assumingMemoryBound(to: UInt64.self)
        for k in 0..<Int(o.count) {
            let e = t + 4 * k
            if a.high & e[2] == e[0] && a.low & e[3] == e[1] { return true }
        }
        return false
    }

    /// Runs the rule starting at instruction `pc`.
    @inline(__always)
    func run(_ start: Int, _ ctx: MatchContext) -> Bool {
        var pc = start
        var r = false
        while true {
            let op = UnsafePointer(ops + pc)
            pc &+= 1
            switch op.pointee.code {
            case .ret:
                return r
            case .jumpIfFalse:
                if !r { pc = Int(op.pointee.a) }
            case .jumpIfTrue:
                if r { pc = Int(op.pointee.a) }
            case .not:
                r = !r
            default:
                r = leaf(op, ctx)
            }
        }
    }

    /// Evaluates one non-control instruction.
    @inline(__always)
    func leaf(_ op: UnsafePointer<Op>, _ ctx: MatchContext) -> Bool {
        let values = ctx.values
        var r = false
        do {
            switch op.pointee.code {
            case .ret, .jumpIfFalse, .jumpIfTrue, .not:
                r = false
            case .constant:
                r = op.pointee.flag
            case .present:
                r = values[Int(op.pointee.slot)].base != nil
            case .absent:
                r = values[Int(op.pointee.slot)].base == nil
            case .numberIn, .compare:
                let o = op.pointee
                if o.a >= 0 {
                    if let d = ctx.number(Int(o.slot), cache: Int(o.a)) {
                        r = o.code == .numberIn ? numberIn(o, d) : o.cmp.holds(d, Double(bitPattern: o.word))
                    } else {
                        r = false
                    }
                } else {
                    r = elements(op, values[Int(o.slot)])
                }
            case .cidrIn:
                let o = op.pointee
                if o.a >= 0 {
                    if let a = ctx.address(Int(o.slot), cache: Int(o.a)) { r = cidrIn(o, a) } else { r = false }
                } else {
                    r = elements(op, values[Int(o.slot)])
                }
            case .lineContains:
                let o = op.pointee
                let m = Int(o.count)
                let nb = (pool + Int(o.a)).assumingMemoryBound(to: UInt8.self)
                r = m == 0 || (o.flag ? Bytes.find(ctx.line, ctx.lineLength, nb, m) != nil
                    : Bytes.findFolded(ctx.line, ctx.lineLength, nb, m) != nil)
            case .tree:
                r = fallbacks[Int(op.pointee.a)].evaluate(ctx)
            default:
                r = elements(op, values[Int(op.pointee.slot)])
            }
        }
        return r
    }

    /// A string / parsed test over a value: false when absent, any element of a list.
    @inline(__always)
    func elements(_ op: UnsafePointer<Op>, _ v: FieldValue) -> Bool {
        guard let base = v.base else { return false }
        if v.listSeparator == 0 { return test(op, base, v.count) }
        return v.anyElement { p, n in test(op, p, n) }
    }
}
