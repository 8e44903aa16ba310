import FlowhoundCore

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

/// Per-record parse results shared by all rules of one `matches` call.
struct NumberCacheEntry {
    /// 0 not parsed yet, 1 not a number / absent, 2 parsed.
    var state: UInt8
    var value: Double
}

struct AddressCacheEntry {
    var state: UInt8
    var address: IPAddress
}

/// Everything a matcher reads while evaluating one record.
struct MatchContext {
    let values: UnsafeMutablePointer<FieldValue>
    let line: UnsafePointer<UInt8>
    let lineLength: Int
    let numbers: UnsafeMutablePointer<NumberCacheEntry>
    let addresses: UnsafeMutablePointer<AddressCacheEntry>

    @inline(__always)
    static func parseNumber(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        if let i = Bytes.parseInt(p, n) { return Double(i) }
        return Bytes.parseDouble(p, n)
    }

    @inline(__always)
    func number(_ slot: Int, cache: Int) -> Double? {
        let e = numbers[cache]
        if e.state == 2 { return e.value }
        if e.state == 1 { return nil }
        let v = values[slot]
        if let base = v.base, let d = MatchContext.parseNumber(base, v.count) {
            numbers[cache] = NumberCacheEntry(state: 2, value: d)
            return d
        }
        numbers[cache] = NumberCacheEntry(state: 1, value: 0)
        return nil
    }

    @inline(__always)
    func address(_ slot: Int, cache: Int) -> IPAddress? {
        let e = addresses[cache]
        if e.state == 2 { return e.address }
        if e.state == 1 { return nil }
        let v = values[slot]
        if let base = v.base, let a = IPAddress.parse(base, v.count) {
            addresses[cache] = AddressCacheEntry(state: 2, address: a)
            return a
        }
        addresses[cache] = AddressCacheEntry(state: 1, address: IPAddress(high: 0, low: 0))
        return nil
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
