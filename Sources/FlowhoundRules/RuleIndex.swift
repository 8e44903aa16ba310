import FlowhoundCore

/// The rules of a `MatchProgram` that can still hold for a record, chosen by the value of up to two scalar
/// fields: one number and one text.
///
/// Built from every rule's guards (the leaves it requires). The number key is the field on which most rules require
/// numeric equality (`numberEquals`, e.g. `id.resp_p: [22, 445]`); the text key is the field on which most rules
/// require exact text (`equals` / `equalsAny`, e.g. `proto: tcp`), all with the same case rule. Ties go to the field
/// with more distinct accepted values, then to the lower slot; a key needs at least two rules requiring it. For each
/// key, each distinct accepted value has a row of rule bits: the rules with no such guard on the field, plus those
/// whose every such guard accepts the value. One more row, for a record whose field is absent, not a number (number
/// key) or none of the values, holds only the rules without such a guard. A record's candidates are the rules in
/// both of its rows. The guards stay in the rules, so the index only skips rules that would fail; it never decides
/// a match. A value type (plain pointers, no reference counting per record); `MatchProgram` frees it.
struct RuleIndex: @unchecked Sendable {
    /// 64-bit words per row.
    let words: Int
    let number: NumberKey?
    let text: TextKey?
    /// One row of every rule: the row of a key the index does not have.
    private let everyRule: UnsafeMutablePointer<UInt64>

    /// The number key's field and its entry in the per-record number cache (shared with the rules' own numeric
    /// leaves); nil without a number key.
    var slot: Int? { number?.slot }

    /// `guards[k]`: rule k's guard leaves, each with the result it must have. `isList(slot)`: the field holds a list
    /// (its leaves test each element, so the whole value cannot key a row). Nil when neither key has two rules.
    init?(_ guards: [[(leaf: Matcher, expected: Bool)]], isList: (Int) -> Bool = { _ in false }) {
        words = max((guards.count + 63) / 64, 1)
        let number = NumberKey(guards, words: words)
        var text = TextKey(guards, words: words, isList: isList)
        // With a number key, the text key pays (a lookup per record) only if it can drop a rule the number key
        // keeps in every row: one with no guard on the number field but one on the text field. Otherwise the
        // rules a number row holds test their text guards themselves, at no more cost than the lookup.
        if let n = number, let t = text {
            let useful = guards.contains { gs in
                !gs.contains { g in
                    guard g.expected, case .numberEquals(let s, _, let c) = g.leaf else { return false }
                    return s == n.slot && c >= 0
                } && gs.contains { TextKey.accepted($0, slot: t.slot) != nil }
            }
            if !useful {
                t.deallocate()
                text = nil
            }
        }
        if number == nil && text == nil { return nil }
        self.number = number
        self.text = text
        everyRule = .allocate(capacity: words)
        everyRule.initialize(repeating: ~0, count: words)
    }

    /// Whether a record can be a candidate of a rule with this guard only when the guard holds: an equality guard
    /// on a key field is folded into the rows (a rule is in a value's row only if all such guards accept the value,
    /// and in the other row only if it has none), so the rule need not evaluate it again.
    func implies(_ g: (leaf: Matcher, expected: Bool)) -> Bool {
        if let number, g.expected, case .numberEquals(let s, _, let c) = g.leaf, s == number.slot, c >= 0 {
            return true
        }
        if let text, TextKey.accepted(g, slot: text.slot) != nil { return true }
        return false
    }

    func deallocate() {
        number?.deallocate()
        text?.deallocate()
        everyRule.deallocate()
    }

    /// The two rows of a record (`everyRule` for a key the index lacks): candidates are `a[w] & b[w]`.
    @inline(__always)
    func rows(_ ctx: MatchContext) -> (UnsafePointer<UInt64>, UnsafePointer<UInt64>) {
        let a = number.map { $0.row(ctx.number($0.slot, cache: $0.cache)) } ?? UnsafePointer(everyRule)
        let b = text.map { $0.row(ctx.values[$0.slot]) } ?? UnsafePointer(everyRule)
        return (a, b)
    }

    /// Fills `masks` (`rows` rows of `words` words): row r holds rule k when `possible(k, r)`.
    static func fillRows(
        _ masks: UnsafeMutablePointer<UInt64>, rows: Int, words: Int, rules: Int, _ possible: (Int, Int) -> Bool
    ) {
        masks.initialize(repeating: 0, count: rows * words)
        for k in 0..<rules {
            let bit: UInt64 = 1 << UInt64(k & 63)
            for row in 0..<rows where possible(k, row) { masks[row * words + k >> 6] |= bit }
        }
    }

    /// Picks the field most rules require (then more distinct values, then the lower slot); nil below two rules.
    static func best<Extra>(_ candidates: [Int: (rules: Int, values: Int, extra: Extra)]) -> (Int, Extra)? {
        let ranked = candidates.filter { $0.value.rules >= 2 }.sorted { a, b in
            if a.value.rules != b.value.rules { return a.value.rules > b.value.rules }
            if a.value.values != b.value.values { return a.value.values > b.value.values }
            return a.key < b.key
        }
        return ranked.first.map { ($0.key, $0.value.extra) }
    }

    /// Rows keyed by the number in one field.
    struct NumberKey: @unchecked Sendable {
        let slot: Int
        let cache: Int
        let words: Int
        /// Distinct accepted values, ascending.
        private let keys: UnsafeMutablePointer<Double>
        private let keyCount: Int
        /// `keyCount + 1` rows of `words` words.
        private let masks: UnsafeMutablePointer<UInt64>
        /// When every key is an integer in 0...65535 (ports): the row of each integer up to the largest key
        /// (`keyCount` for none), so a record's row is one load instead of a binary search.
        private let direct: UnsafeMutablePointer<UInt16>?
        private let directMax: Double
        /// Whether rows are found through the direct table (tests).
        var hasDirectRows: Bool { direct != nil }

        init?(_ guards: [[(leaf: Matcher, expected: Bool)]], words: Int) {
            func lists(_ k: Int, _ slot: Int) -> [[Double]] {
                guards[k].compactMap { g in
                    guard g.expected, case .numberEquals(let s, let targets, let c) = g.leaf, s == slot, c >= 0 else {
                        return nil
                    }
                    return targets
                }
            }
            var found: [Int: (cache: Int, rules: Int, values: Set<Double>)] = [:]
            for gs in guards {
                var seen = Set<Int>()
                for g in gs where g.expected {
                    guard case .numberEquals(let s, let targets, let c) = g.leaf, c >= 0 else { continue }
                    var e = found[s] ?? (c, 0, [])
                    if seen.insert(s).inserted { e.rules += 1 }
                    for t in targets where !t.isNaN { e.values.insert(t == 0 ? 0 : t) }
                    found[s] = e
                }
            }
            guard
                let (slot, (cache, values)) = RuleIndex.best(
                    found.mapValues { (rules: $0.rules, values: $0.values.count, extra: ($0.cache, $0.values)) })
            else { return nil }
            self.slot = slot
            self.cache = cache
            self.words = words
            let sortedKeys = values.sorted()
            keyCount = sortedKeys.count
            keys = .allocate(capacity: max(keyCount, 1))
            keys.initialize(from: sortedKeys, count: keyCount)
            masks = .allocate(capacity: (keyCount + 1) * words)
            if let top = sortedKeys.last, sortedKeys.allSatisfy({ $0 >= 0 && $0 <= 65535 && $0 == $0.rounded() }) {
                let table = UnsafeMutablePointer<UInt16>.allocate(capacity: Int(top) + 1)
                table.initialize(repeating: UInt16(keyCount), count: Int(top) + 1)
                for (row, key) in sortedKeys.enumerated() { table[Int(key)] = UInt16(row) }
                direct = table
                directMax = top
            } else {
                direct = nil
                directMax = -1
            }
            let count = keyCount
            RuleIndex.fillRows(masks, rows: keyCount + 1, words: words, rules: guards.count) { k, row in
                let required = lists(k, slot)
                return required.isEmpty || (row < count && required.allSatisfy { $0.contains(sortedKeys[row]) })
            }
        }

        func deallocate() {
            keys.deallocate()
            masks.deallocate()
            direct?.deallocate()
        }

        /// The row of rules that can hold when the field's number is `d` (nil: absent or not a number).
        @inline(__always)
        func row(_ d: Double?) -> UnsafePointer<UInt64> {
            guard let d else { return UnsafePointer(masks + keyCount * words) }
            if let direct {
                // Every key is an integer in 0...directMax: a fraction, a negative or a larger number is none of them.
                guard d >= 0 && d <= directMax else { return UnsafePointer(masks + keyCount * words) }
                let i = Int(d)  // in range: truncates without a trap
                return UnsafePointer(masks + (Double(i) == d ? Int(direct[i]) : keyCount) * words)
            }
            var lo = 0
            var hi = keyCount
            while lo < hi {
                let mid = (lo &+ hi) >> 1
                if keys[mid] < d { lo = mid &+ 1 } else { hi = mid }
            }
            let row = lo < keyCount && keys[lo] == d ? lo : keyCount
            return UnsafePointer(masks + row * words)
        }
    }

    /// Rows keyed by the exact text of one field (folded to lower case when the rules' guards ignore case).
    struct TextKey: @unchecked Sendable {
        /// At most this many distinct values (a linear scan per record stays cheaper than a hash).
        static let maxKeys = 16
        let slot: Int
        let words: Int
        let cased: Bool
        private let keyCount: Int
        /// Per key: length, the first 8 bytes as a little-endian word (masked to the length), and the pool offset
        /// of its bytes (keys longer than 8 bytes compare the rest from there).
        private let lengths: UnsafeMutablePointer<Int>
        private let firstWords: UnsafeMutablePointer<UInt64>
        private let offsets: UnsafeMutablePointer<Int>
        private let pool: UnsafeMutablePointer<UInt8>
        /// `keyCount + 1` rows of `words` words.
        private let masks: UnsafeMutablePointer<UInt64>

        /// The accepted values of one guard on `slot` (normalised), or nil if it is not an equality guard there.
        static func accepted(_ g: (leaf: Matcher, expected: Bool), slot: Int? = nil) -> (Int, Bool, [[UInt8]])? {
            guard g.expected else { return nil }
            switch g.leaf {
            case .equals(let s, let needle, let cased) where slot == nil || s == slot:
                return (s, cased, [cased ? needle : needle.map(Bytes.lower)])
            case .equalsAny(let s, let set) where slot == nil || s == slot:
                return (s, set.cased, set.needles.map { set.cased ? $0 : $0.map(Bytes.lower) })
            default:
                return nil
            }
        }

        init?(_ guards: [[(leaf: Matcher, expected: Bool)]], words: Int, isList: (Int) -> Bool) {
            // Per field: how many rules require it, the values, and whether every guard has one case rule.
            var found: [Int: (rules: Int, values: Set<[UInt8]>, cased: Bool, mixed: Bool)] = [:]
            for gs in guards {
                var seen = Set<Int>()
                for g in gs {
                    guard let (s, cased, values) = TextKey.accepted(g), !isList(s) else { continue }
                    var e = found[s] ?? (0, [], cased, false)
                    if seen.insert(s).inserted { e.rules += 1 }
                    if e.cased != cased { e.mixed = true }
                    e.values.formUnion(values)
                    found[s] = e
                }
            }
            let usable = found.filter { !$0.value.mixed && $0.value.values.count <= TextKey.maxKeys }
            guard
                let (slot, (cased, values)) = RuleIndex.best(
                    usable.mapValues { (rules: $0.rules, values: $0.values.count, extra: ($0.cased, $0.values)) })
            else { return nil }
            self.slot = slot
            self.words = words
            self.cased = cased
            let keys = values.sorted { $0.lexicographicallyPrecedes($1) }
            keyCount = keys.count
            lengths = .allocate(capacity: max(keyCount, 1))
            firstWords = .allocate(capacity: max(keyCount, 1))
            offsets = .allocate(capacity: max(keyCount, 1))
            let total = keys.reduce(0) { $0 + $1.count }
            pool = .allocate(capacity: max(total, 1))
            var at = 0
            for (i, key) in keys.enumerated() {
                lengths[i] = key.count
                var w: UInt64 = 0
                for (j, c) in key.prefix(8).enumerated() { w |= UInt64(c) << UInt64(8 * j) }
                firstWords[i] = w
                offsets[i] = at
                (pool + at).initialize(from: key, count: key.count)
                at += key.count
            }
            masks = .allocate(capacity: (keyCount + 1) * words)
            let count = keyCount
            RuleIndex.fillRows(masks, rows: keyCount + 1, words: words, rules: guards.count) { k, row in
                let required = guards[k].compactMap { TextKey.accepted($0, slot: slot)?.2 }
                return required.isEmpty || (row < count && required.allSatisfy { $0.contains(keys[row]) })
            }
        }

        func deallocate() {
            lengths.deallocate()
            firstWords.deallocate()
            offsets.deallocate()
            pool.deallocate()
            masks.deallocate()
        }

        /// The row of rules that can hold for this value (absent or none of the keys: the last row).
        @inline(__always)
        func row(_ v: FieldValue) -> UnsafePointer<UInt64> {
            guard let p = v.base else { return UnsafePointer(masks + keyCount * words) }
            let n = v.count
            let m = n >= 8 ? ~UInt64(0) : (UInt64(1) << UInt64(8 * n)) &- 1
            var w = Bytes.loadWord(p, n) & m
            if !cased { w = Bytes.lowerWord(w) }
            var row = keyCount
            for i in 0..<keyCount where lengths[i] == n && firstWords[i] == w {
                if n <= 8 || TextKey.same(p + 8, pool + offsets[i] + 8, n &- 8, cased: cased) {
                    row = i
                    break
                }
            }
            return UnsafePointer(masks + row * words)
        }

        @inline(__always)
        static func same(_ p: UnsafePointer<UInt8>, _ key: UnsafePointer<UInt8>, _ n: Int, cased: Bool) -> Bool {
            for i in 0..<n where (cased ? p[i] : Bytes.lower(p[i])) != key[i] { return false }
            return true
        }
    }
}
