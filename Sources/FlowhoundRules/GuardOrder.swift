import Synchronization

/// Guard order learned from the records.
///
/// A rule's guards are the leaves it requires; they are tested in order until one fails. The static order (cheapest
/// per sharing rule first, see `MatchProgram.init`) cannot know the data: on Zeek conn logs `id.orig_h|cidr: 10/8,
/// 172.16/12, 192.168/16` is shared by many rules and nearly always holds, while `orig_bytes|gte: 100000000` nearly
/// never does, so the rule that has both should test the number first and parse no address at all.
///
/// So a few records in every `sampleMask + 1` (the first `sampleWindow` of each block, by the caller's record
/// generation) are matched with every guard of every candidate rule evaluated, not stopping at the first failure;
/// each evaluation counts for its leaf, with whether it held. Every `revisionInterval` sampled records each rule's
/// guards are put in order of expected cost per rejection, `cost / P(the guard fails)`, and the counts are halved
/// (so the order follows a log whose mix changes). A rule is the conjunction of its guards, which are pure and
/// memoised per record, so their order changes how much work a record costs, never what matches: results do not
/// depend on the order, on the sample, or on how threads share a program.
///
/// Threads matching with the same program (`--jobs`) share the orders and the counts. Each rule's order is one word,
/// written and read whole (relaxed atomics), so a reader always sees a complete permutation; counts are updated
/// with a plain load and store and may lose an increment to the other thread, which only blurs an estimate.
extension MatchProgram {
    /// The static order: position i first at step i.
    static let staticOrder: UInt64 = 0xFEDC_BA98_7654_3210
    /// Records sampled: generations whose low 16 bits are below `sampleWindow` (1 in 128).
    static let sampleMask: UInt32 = 0xFFFF
    static let sampleWindow: UInt32 = 512
    /// Sampled records between two revisions of the orders.
    static let revisionInterval = 256

    /// `matches` for a sampled record: the same result, every guard of every candidate evaluated and counted.
    @inline(never)
    func sampledMatches(_ ctx: MatchContext, _ stamp: UInt64, into out: inout [Int]) {
        eachCandidate(ctx, into: &out) { sampledRule($0, ctx, stamp) }
        countSampledRecord()
    }

    /// One more sampled record; every `revisionInterval` of them the orders are revised.
    func countSampledRecord() {
        let seen = sampledRecords.load(ordering: .relaxed) &+ 1
        if seen >= MatchProgram.revisionInterval {
            sampledRecords.store(0, ordering: .relaxed)
            reviseGuardOrders()
        } else {
            sampledRecords.store(seen, ordering: .relaxed)
        }
    }

    /// Rule `k` with all its guards evaluated (memoised as in `rule`) and each evaluation counted.
    func sampledRule(_ k: Int, _ ctx: MatchContext, _ stamp: UInt64) -> Bool {
        let memo = ctx.leaves
        var holds = true
        for g in Int(guardStart[k])..<Int(guardStart[k + 1]) {
            let e = Int(guards[g])
            if guardLeaf(e >> 1, ctx, stamp, memo, counting: true) != (e & 1 != 0) { holds = false }
        }
        return holds && (pure[k] || run(entries[k], ctx))
    }

    /// Guard leaf `id` on the current record: from the memo, else evaluated and memoised (and, when `counting`,
    /// counted for its leaf).
    @inline(__always)
    func guardLeaf(_ id: Int, _ ctx: MatchContext, _ stamp: UInt64, _ memo: UnsafeMutablePointer<UInt64>, counting: Bool)
        -> Bool
    {
        let m = memo[id]
        if m & ~1 == stamp { return m & 1 != 0 }
        let r = leaf(UnsafePointer(ops + Int(leafOps[id])), ctx)
        memo[id] = stamp | (r ? 1 : 0)
        if counting {
            let s = leafStats[id].load(ordering: .relaxed)
            if s >> 32 < 0x4000_0000 { leafStats[id].store(s &+ (1 << 32) &+ (r ? 1 : 0), ordering: .relaxed) }
        }
        return r
    }

    /// Puts each rule's first 16 guards in order of `cost / P(fail)` (pass rates with one pseudo-count each way,
    /// so an unsampled leaf counts as failing half the time; ties keep the static order), then halves the counts.
    func reviseGuardOrders() {
        var scored: [(score: Double, at: Int)] = []
        scored.reserveCapacity(16)
        for k in 0..<ruleCount {
            let start = Int(guardStart[k])
            let n = min(Int(guardStart[k + 1]) - start, 16)
            if n < 2 { continue }
            scored.removeAll(keepingCapacity: true)
            for at in 0..<n {
                let e = Int(guards[start + at])
                let s = leafStats[e >> 1].load(ordering: .relaxed)
                let held = (Double(s & 0xFFFF_FFFF) + 1) / (Double(s >> 32) + 2)
                let fails = e & 1 != 0 ? 1 - held : held
                scored.append((leafCosts[e >> 1] / max(fails, 1e-3), at))
            }
            scored.sort { $0.score != $1.score ? $0.score < $1.score : $0.at < $1.at }
            var word = MatchProgram.staticOrder
            for (i, x) in scored.enumerated() {
                word = word & ~(15 << UInt64(4 * i)) | UInt64(x.at) << UInt64(4 * i)
            }
            orders[k].store(word, ordering: .relaxed)
        }
        for id in 0..<leafCount {
            let s = leafStats[id].load(ordering: .relaxed)
            leafStats[id].store((s >> 33) << 32 | (s & 0xFFFF_FFFF) >> 1, ordering: .relaxed)
        }
    }

    /// Rule `k`'s guard leaves (leaf id, required result) in the order they are evaluated now (tests).
    package func guardOrder(rule k: Int) -> [(leaf: Int, expected: Bool)] {
        let start = Int(guardStart[k])
        let n = Int(guardStart[k + 1]) - start
        let word = orders[k].load(ordering: .relaxed)
        return (0..<n).map { i in
            let at = i < 16 ? Int((word >> UInt64(4 * i)) & 15) : i
            let e = Int(guards[start + at])
            return (e >> 1, e & 1 != 0)
        }
    }
}
