import Synchronization

/// Matching in two passes over a record whose late fields (`MatchProgram.lateSlots`) are not decoded yet.
///
/// The late fields are those that only rules keyed by the number index read (`id.resp_p: [22, 3389]`): such a rule
/// is a candidate only for its values, and it usually fails on a field every record has anyway (`id.orig_h|cidr`).
/// So the decoder can stop before them (a Zeek JSON conn line: after `resp_bytes` instead of `history`), and the
/// first pass tests a candidate rule that reads one only on its other guards: when one fails, the rule fails; when
/// all hold, the rule is deferred. Only a record with a deferred rule is decoded in full, and the second pass
/// evaluates those rules whole (their first guards again from the memo). The matches are those of one pass over the
/// fully decoded record: the first pass decides no rule that reads a late field, the second decides only those.
extension MatchProgram {
    /// First pass: appends the rules that hold without late fields and sets the bit of each deferred rule in
    /// `deferred` (`index` words, zero on entry). Returns whether any rule was deferred.
    @inline(__always)
    func matchesDeferringLate(_ ctx: MatchContext, deferred: UnsafeMutablePointer<UInt64>, into out: inout [Int])
        -> Bool
    {
        let stamp = UInt64(ctx.generation) << 1
        let sampling = adaptive && ctx.generation & MatchProgram.sampleMask < MatchProgram.sampleWindow
        var any = false
        eachCandidate(ctx, into: &out) { k in
            if lateRule[k] {
                if firstPass(k, ctx, stamp, counting: sampling) {
                    deferred[k >> 6] |= 1 << UInt64(k & 63)
                    any = true
                }
                return false
            }
            return sampling ? sampledRule(k, ctx, stamp) : rule(k, ctx, stamp)
        }
        if sampling { countSampledRecord() }
        return any
    }

    /// Second pass, on the same record (same generation) now decoded in full: appends each deferred rule that holds
    /// and clears `deferred`.
    func matchDeferred(_ ctx: MatchContext, deferred: UnsafeMutablePointer<UInt64>, words: Int, into out: inout [Int]) {
        let stamp = UInt64(ctx.generation) << 1
        let sampling = adaptive && ctx.generation & MatchProgram.sampleMask < MatchProgram.sampleWindow
        for w in 0..<words {
            var bits = deferred[w]
            deferred[w] = 0
            while bits != 0 {
                let k = w &<< 6 | bits.trailingZeroBitCount
                bits &= bits &- 1
                if sampling ? sampledRule(k, ctx, stamp) : rule(k, ctx, stamp) { out.append(ruleIndices[k]) }
            }
        }
    }

    /// Whether every guard of rule `k` that reads no late field holds (memoised; in the learned order; all of them
    /// evaluated and counted when `counting`).
    private func firstPass(_ k: Int, _ ctx: MatchContext, _ stamp: UInt64, counting: Bool) -> Bool {
        let memo = ctx.leaves
        let start = Int(guardStart[k])
        let n = Int(guardStart[k &+ 1]) &- start
        var order = orders[k].load(ordering: .relaxed)
        var holds = true
        for i in 0..<n {
            let at = i < 16 ? Int(truncatingIfNeeded: order & 15) : i
            order &>>= 4
            let e = Int(guards[start &+ at])
            let id = e >> 1
            if leafLate[id] { continue }
            if guardLeaf(id, ctx, stamp, memo, counting: counting) != (e & 1 != 0) {
                if !counting { return false }
                holds = false
            }
        }
        return holds
    }
}
