import FlowhoundCore

/// The rules of a `MatchProgram` that can still hold for a record, chosen by the number in one scalar field.
///
/// Built from every rule's guards (the leaves it requires): the field is the one on which most rules require
/// numeric equality (`numberEquals`, e.g. `id.resp_p: [22, 445]`); ties go to the field with more distinct
/// accepted values, then to the lower slot. Each distinct accepted value has a row of rule bits: the rules with
/// no such guard on the field, plus those whose every such guard accepts the value. One more row, for a record
/// whose field is absent, not a number or none of the values, holds only the rules without such a guard. The
/// guards stay in the rules, so the index only skips rules that would fail; it never decides a match.
/// A value type (plain pointers, no reference counting per record); `MatchProgram` frees it.
struct RuleIndex: @unchecked Sendable {
    let slot: Int
    /// The field's entry in the per-record number cache (shared with the rules' own numeric leaves).
    let cache: Int
    /// 64-bit words per row.
    let words: Int
    /// Distinct accepted values, ascending.
    private let keys: UnsafeMutablePointer<Double>
    private let keyCount: Int
    /// `keyCount + 1` rows of `words` words.
    private let masks: UnsafeMutablePointer<UInt64>

    /// `guards[k]`: rule k's guard leaves, each with the result it must have. Nil when no field is required to
    /// equal a number by at least two rules.
    init?(_ guards: [[(leaf: Matcher, expected: Bool)]]) {
        func lists(_ k: Int, _ slot: Int) -> [[Double]] {
            guards[k].compactMap { g in
                guard g.expected, case .numberEquals(let s, let targets, let c) = g.leaf, s == slot, c >= 0 else {
                    return nil
                }
                return targets
            }
        }
        var candidates: [Int: (cache: Int, rules: Int, values: Set<Double>)] = [:]
        for gs in guards {
            var seen = Set<Int>()
            for g in gs where g.expected {
                guard case .numberEquals(let s, let targets, let c) = g.leaf, c >= 0 else { continue }
                var e = candidates[s] ?? (c, 0, [])
                if seen.insert(s).inserted { e.rules += 1 }
                for t in targets where !t.isNaN { e.values.insert(t == 0 ? 0 : t) }
                candidates[s] = e
            }
        }
        let ranked = candidates.filter { $0.value.rules >= 2 }.sorted { a, b in
            if a.value.rules != b.value.rules { return a.value.rules > b.value.rules }
            if a.value.values.count != b.value.values.count { return a.value.values.count > b.value.values.count }
            return a.key < b.key
        }
        guard let best = ranked.first else { return nil }
        slot = best.key
        cache = best.value.cache
        let sortedKeys = best.value.values.sorted()
        keyCount = sortedKeys.count
        keys = .allocate(capacity: max(keyCount, 1))
        keys.initialize(from: sortedKeys, count: keyCount)
        words = max((guards.count + 63) / 64, 1)
        let rows = keyCount + 1
        masks = .allocate(capacity: rows * words)
        masks.initialize(repeating: 0, count: rows * words)
        for k in 0..<guards.count {
            let required = lists(k, slot)
            let bit: UInt64 = 1 << UInt64(k & 63)
            let word = k >> 6
            for row in 0..<rows {
                let possible =
                    required.isEmpty || (row < keyCount && required.allSatisfy { $0.contains(sortedKeys[row]) })
                if possible { masks[row * words + word] |= bit }
            }
        }
    }

    func deallocate() {
        keys.deallocate()
        masks.deallocate()
    }

    /// The row of rules that can hold when the field's number is `d` (nil: absent or not a number).
    @inline(__always)
    func candidates(_ d: Double?) -> UnsafePointer<UInt64> {
        guard let d else { return UnsafePointer(masks + keyCount * words) }
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
