import FlowhoundCore
import FlowhoundRules

/// A FIFO with random access and amortised O(1) removal at the front.
struct Deque<Element> {
    private(set) var storage: [Element] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    var first: Element? { isEmpty ? nil : storage[head] }
    var last: Element? { isEmpty ? nil : storage[storage.count - 1] }

    subscript(i: Int) -> Element {
        get { storage[head + i] }
        set { storage[head + i] = newValue }
    }

    mutating func append(_ e: Element) { storage.append(e) }

    mutating func insert(_ e: Element, at i: Int) { storage.insert(e, at: head + i) }

    @discardableResult
    mutating func removeFirst() -> Element {
        let e = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 1024)
            head = 0
        } else if head >= 256 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return e
    }

    mutating func removeAll(keepingCapacity keep: Bool = false) {
        head = 0
        if storage.isEmpty && keep { return }  // nothing to drop (the call itself costs more than this check)
        if keep && storage.count <= 8 && storage.capacity <= 1024 {
            // a few elements (a reused group's usual case): cheaper one by one than the generic range removal
            repeat { storage.removeLast() } while !storage.isEmpty
            return
        }
        storage.removeAll(keepingCapacity: keep && storage.capacity <= 1024)
    }

    /// First index whose key is >= `value` (keys ascending).
    func lowerBound(_ value: Int64, _ key: (Element) -> Int64) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if key(storage[head + mid]) < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// First index whose key is > `value` (keys ascending).
    func upperBound(_ value: Int64, _ key: (Element) -> Int64) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if key(storage[head + mid]) <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// One event inside a correlation window.
struct WindowEntry {
    var time: Int64
    var source: Int32
    /// `condition.field` as a number (value_sum/avg/percentile/median), NaN when absent or not a number.
    var number: Double
    /// `condition.field` folded (value_count), nil when absent.
    var value: String?
}

/// A line remembered as possible evidence of a group's next finding (strings built on demand).
struct EvidenceItem {
    var time: Int64
    var source: Int32
    var payload: EvidencePayload

    init(time: Int64, source: Int32, payload: EvidencePayload) {
        self.time = time
        self.source = source
        self.payload = payload
    }

    var evidence: Evidence {
        switch payload {
        case .raw(let r): return r.evidence
        case .built(let e, _): return e
        }
    }

    var entities: EventEntities? {
        switch payload {
        case .raw(let r): return r.entities
        case .built(_, let e): return e
        }
    }

    var line: Int64 {
        switch payload {
        case .raw(let r): return r.line
        case .built(let e, _): return e.line
        }
    }

    /// Whether both items are the same line (path, line number, byte offset).
    func sameLine(_ o: EvidenceItem) -> Bool {
        switch (payload, o.payload) {
        case (.raw(let a), .raw(let b)): return a.line == b.line && a.byteOffset == b.byteOffset && a.path == b.path
        default:
            let a = evidence, b = o.evidence
            return a.line == b.line && a.path == b.path && a.byteOffset == b.byteOffset
        }
    }
}

/// The most recent lines of a group (arrival order, at most `limit`): a ring whose slots keep their byte buffers,
/// so that a matched line is copied without allocating, also into a group reused for another key.
struct EvidenceRing {
    struct Slot {
        var time: Int64 = 0
        var source: Int32 = 0
        var raw = RawEvidence()
        /// Set when the line is evidence built by an inner correlation (then `raw` is not read).
        var built: (Evidence, EventEntities?)?
    }

    private var slots: [Slot] = []
    /// Some slot holds built evidence (only chained correlations have any).
    private var holdsBuilt = false
    /// Physical index of the oldest line; not 0 only once the ring is full and wraps.
    private var head = 0
    private(set) var count = 0

    @inline(__always) private func physical(_ i: Int) -> Int {
        let p = head + i
        return p >= slots.count ? p - slots.count : p
    }

    /// Time and source of the `i`-th oldest line.
    func time(_ i: Int) -> Int64 { slots[physical(i)].time }
    func source(_ i: Int) -> Int32 { slots[physical(i)].source }

    /// The `i`-th oldest line as an item (a copy that shares the slot's bytes until the slot is refilled).
    subscript(i: Int) -> EvidenceItem {
        let s = slots[physical(i)]
        if let b = s.built { return EvidenceItem(time: s.time, source: s.source, payload: .built(b.0, b.1)) }
        return EvidenceItem(time: s.time, source: s.source, payload: .raw(s.raw))
    }

    /// The slot for a new line; at `limit` lines the oldest one's.
    private mutating func nextSlot(limit: Int) -> Int {
        if count < limit {
            let p: Int
            if count < slots.count {
                p = physical(count)
            } else {
                slots.append(Slot())
                p = slots.count - 1
            }
            count += 1
            return p
        }
        let p = head
        head = physical(1)
        return p
    }

    /// Copies the line in `record` (excerpt and entity fields) into the ring.
    mutating func append(
        time: Int64, source: Int32, record: EventRecord, entitySlots: RawEvidence.EntitySlots, origin: EventOrigin,
        maxExcerptBytes: Int, limit: Int
    ) {
        let p = nextSlot(limit: limit)
        slots[p].time = time
        slots[p].source = source
        if slots[p].built != nil { slots[p].built = nil }
        slots[p].raw.fill(record: record, slots: entitySlots, origin: origin, maxExcerptBytes: maxExcerptBytes)
    }

    mutating func append(_ item: EvidenceItem, limit: Int) {
        let p = nextSlot(limit: limit)
        slots[p].time = item.time
        slots[p].source = item.source
        switch item.payload {
        case .raw(let r):
            slots[p].built = nil
            slots[p].raw = r
        case .built(let e, let entities):
            slots[p].built = (e, entities)
            holdsBuilt = true
        }
    }

    /// Forgets every line; the slots keep their buffers for the next lines.
    mutating func removeAll() {
        if holdsBuilt {
            for i in slots.indices where slots[i].built != nil { slots[i].built = nil }
            holdsBuilt = false
        }
        head = 0
        count = 0
    }
}

/// An open finding: one burst of qualifying window ends of a group.
struct Burst {
    var finding: Finding
    var firstFired: Int64
    var lastFired: Int64
    /// Qualifying window ends merged into the finding.
    var windows: Int
    var firstMetric: Double
    var entitiesKnown: Bool
    /// Set when the burst was rebuilt from carried state and had already been written by an earlier run: the
    /// count written then. The burst is written again only if it grew past it.
    var reportedCount: Int?
}

/// The window state of one group of one correlation.
final class CorrelationGroup {
    /// The group key as bytes (`GroupKeyCodec`) and its hash.
    private(set) var keyBytes: [UInt8]
    private(set) var keyHash: Int
    private var groupBy: [String]
    private(set) var format: String
    private var cachedKey: String?
    /// Slot bookkeeping for the engine (LRU links, generation for timers).
    var prev: Int32 = -1
    var next: Int32 = -1
    var generation: UInt32 = 0
    var slot: Int32 = -1

    /// Events sorted by time, retained back to `newest - span - tolerance`.
    var entries = Deque<WindowEntry>()
    /// Index in `entries` of the first event of the window ending at `newest` (the incrementally kept window).
    var windowStart = 0
    var newest = Int64.min

    // incremental aggregates over entries[windowStart...]
    var distinct: [String: Int32] = [:]
    var sum = 0.0
    var numbers = 0
    var sorted: [Double] = []

    /// temporal types: times per source, sorted.
    var sourceTimes: [Deque<Int64>]
    /// Forward (absence) windows not yet decided: (start, source of the anchoring event).
    var anchors = Deque<(time: Int64, source: Int32)>()

    /// Most recent lines (arrival order, bounded) and, for temporal types, the latest line per source.
    var recent = EvidenceRing()
    var latestPerSource: [EvidenceItem?]

    var burst: Burst?
    /// Due time of this group's live timer entry, if any.
    var timerDue: Int64?

    init(keyBytes: [UInt8], keyHash: Int, groupBy: [String], format: String, sources: Int, temporal: Bool) {
        self.keyBytes = keyBytes
        self.keyHash = keyHash
        self.groupBy = groupBy
        self.format = format
        sourceTimes = temporal ? Array(repeating: Deque(), count: sources) : []
        latestPerSource = temporal ? Array(repeating: nil, count: sources) : []
    }

    /// Makes a removed group new again for another key, keeping the storage it grew.
    func reuse(keyBytes k: UnsafeRawBufferPointer, keyHash h: Int, format f: String) {
        if keyBytes.count == k.count {
            keyBytes.withUnsafeMutableBytes { $0.copyMemory(from: k) }
        } else {
            keyBytes.removeAll(keepingCapacity: true)
            keyBytes.append(contentsOf: k)
        }
        keyHash = h
        format = f
        cachedKey = nil
        prev = -1
        next = -1
        slot = -1
        entries.removeAll(keepingCapacity: true)
        windowStart = 0
        newest = .min
        if !distinct.isEmpty { distinct.removeAll(keepingCapacity: true) }
        sum = 0
        numbers = 0
        if !sorted.isEmpty { sorted.removeAll(keepingCapacity: true) }
        for i in sourceTimes.indices { sourceTimes[i].removeAll(keepingCapacity: true) }
        anchors.removeAll(keepingCapacity: true)
        recent.removeAll()
        for i in latestPerSource.indices { latestPerSource[i] = nil }
        if burst != nil { burst = nil }
        timerDue = nil
    }

    /// The group-by values as compared (addresses canonical, text folded), joined by U+001F.
    var key: String {
        if let k = cachedKey { return k }
        let k = GroupKeyCodec.displayValues(keyBytes).joined(separator: "\u{1F}")
        cachedKey = k
        return k
    }

    /// Group-by field name → value.
    var display: [String: String] {
        var d: [String: String] = [:]
        for (name, v) in zip(groupBy, GroupKeyCodec.displayValues(keyBytes)) { d[name] = v }
        return d
    }

    var isIdle: Bool { burst == nil && anchors.isEmpty }
}

extension CorrelationGroup {
    // MARK: aggregates

    func addToAggregates(_ e: WindowEntry, _ def: CorrelationDefinition) {
        if let v = e.value { distinct[v, default: 0] += 1 }
        if !e.number.isNaN {
            sum += e.number
            numbers += 1
            if def.tracksSorted { sorted.insert(e.number, at: Self.insertionIndex(sorted, e.number)) }
        }
    }

    func removeFromAggregates(_ e: WindowEntry, _ def: CorrelationDefinition) {
        if let v = e.value, let n = distinct[v] {
            if n <= 1 { distinct[v] = nil } else { distinct[v] = n - 1 }
        }
        if !e.number.isNaN {
            numbers -= 1
            if numbers == 0 { sum = 0 } else { sum -= e.number }
            if def.tracksSorted {
                let i = Self.insertionIndex(sorted, e.number) - 1
                if i >= 0 && i < sorted.count && sorted[i] == e.number { sorted.remove(at: i) }
            }
        }
    }

    static func insertionIndex(_ a: [Double], _ x: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Linear interpolation between the two nearest ranks (position `p/100 · (n−1)` in the sorted values),
    /// the method of pySigma's sqlite backend: [10, 1000] gives 505 at p50 and 901 at p90.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let pos = p / 100 * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down))
        let frac = pos - Double(lo)
        if lo + 1 >= sorted.count { return sorted[sorted.count - 1] }
        return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo])
    }

    // MARK: metrics

    /// Whether `source` has an event in [lo, hi].
    func present(_ source: Int, _ lo: Int64, _ hi: Int64) -> Bool {
        guard source >= 0 && source < sourceTimes.count else { return false }
        let t = sourceTimes[source]
        let i = t.lowerBound(lo) { $0 }
        return i < t.count && t[i] <= hi
    }

    /// The metric of the window [hi − span, hi]; nil when undefined (no numeric values for an aggregate).
    /// `incremental` uses the aggregates kept for the window ending at `newest` (valid only when hi == newest).
    func metric(endingAt hi: Int64, _ def: CorrelationDefinition, incremental: Bool) -> Double? {
        let lo = hi &- def.span
        switch def.type {
        case .eventCount:
            return Double(entries.upperBound(hi) { $0.time } - entries.lowerBound(lo) { $0.time })
        case .temporal:
            if let e = def.expression { return e.evaluate { present($0, lo, hi) } ? 1 : 0 }
            var n = 0
            for s in 0..<def.sources.count where present(s, lo, hi) { n += 1 }
            return Double(n)
        case .temporalOrdered:
            // longest prefix of the listed order found with strictly increasing times inside the window
            var after = lo &- 1
            var n = 0
            for src in def.positions {
                let t = sourceTimes[src]
                let i = t.upperBound(after) { $0 }
                guard i < t.count, t[i] <= hi else { break }
                after = t[i]
                n += 1
            }
            return Double(n)
        case .valueCount, .valueSum, .valueAvg, .valuePercentile, .valueMedian:
            if incremental { return aggregateMetric(def) }
            return scanMetric(lo, hi, def)
        }
    }

    private func aggregateMetric(_ def: CorrelationDefinition) -> Double? {
        switch def.type {
        case .valueCount: return Double(distinct.count)
        case .valueSum: return numbers > 0 ? sum : nil
        case .valueAvg: return numbers > 0 ? sum / Double(numbers) : nil
        case .valuePercentile, .valueMedian: return Self.percentile(sorted, def.percentile)
        default: return nil
        }
    }

    /// Recomputes a value metric from the retained events (used for the windows of late events).
    private func scanMetric(_ lo: Int64, _ hi: Int64, _ def: CorrelationDefinition) -> Double? {
        let from = entries.lowerBound(lo) { $0.time }
        let to = entries.upperBound(hi) { $0.time }
        var values = Set<String>()
        var nums: [Double] = []
        var s = 0.0
        var i = from
        while i < to {
            let e = entries[i]
            if let v = e.value { values.insert(v) }
            if !e.number.isNaN {
                s += e.number
                nums.append(e.number)
            }
            i += 1
        }
        switch def.type {
        case .valueCount: return Double(values.count)
        case .valueSum: return nums.isEmpty ? nil : s
        case .valueAvg: return nums.isEmpty ? nil : s / Double(nums.count)
        case .valuePercentile, .valueMedian: return Self.percentile(nums.sorted(), def.percentile)
        default: return nil
        }
    }

    /// Events in [lo, hi] and the earliest of their times.
    func eventsIn(_ lo: Int64, _ hi: Int64) -> (count: Int, earliest: Int64?) {
        let from = entries.lowerBound(lo) { $0.time }
        let to = entries.upperBound(hi) { $0.time }
        return (max(0, to - from), to > from ? entries[from].time : nil)
    }

    /// Latest event time in [lo, hi].
    func latestIn(_ lo: Int64, _ hi: Int64) -> Int64? {
        let to = entries.upperBound(hi) { $0.time }
        guard to > 0, entries[to - 1].time >= lo else { return nil }
        return entries[to - 1].time
    }

    /// Evidence for a finding opened for the window [lo, hi]: the latest line of each source first (so a
    /// temporal finding shows every rule), then the most recent lines; at most `max`, in time order.
    func evidence(_ lo: Int64, _ hi: Int64, max: Int) -> [EvidenceItem] {
        var picked: [EvidenceItem] = []
        func seen(_ e: EvidenceItem) -> Bool { picked.contains { $0.sameLine(e) } }
        for case let item? in latestPerSource where item.time >= lo && item.time <= hi && picked.count < max {
            if !seen(item) { picked.append(item) }
        }
        var i = recent.count - 1
        while i >= 0 && picked.count < max {
            let t = recent.time(i)
            if t >= lo && t <= hi {
                let item = recent[i]
                if !seen(item) { picked.append(item) }
            }
            i -= 1
        }
        picked.sort { ($0.time, $0.line) < ($1.time, $1.line) }
        return picked
    }
}
