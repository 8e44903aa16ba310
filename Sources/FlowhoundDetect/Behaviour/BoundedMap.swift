/// A hash map with a fixed maximum number of keys and least-recently-touched eviction.
///
/// Every keyed detector state lives in one of these: an attacker controls the keys (spoofed sources, random
/// ports), so the map never grows past `capacity`. Inserting a new key into a full map evicts the key touched
/// longest ago and counts it in `evicted`. Each entry remembers the log time of its last touch (`stamp`), so
/// `removeStale(olderThan:)` drops expired entries from the cold end in O(expired).
///
/// Layout: entries live in dense, growable buffers (key, value, hash, stamp, LRU links); an open-addressing index
/// (linear probing, backward-shift deletion, at most half full) maps hashes to entries. Storage starts small and
/// doubles up to `capacity`, so a large cap costs nothing until it is used. Raw buffers keep the per-event cost
/// low even in unoptimised builds. A reference type: detectors own their maps and never share them.
package final class BoundedMap<Key: Hashable, Value> {
    package let capacity: Int
    /// Keys dropped because the map was full.
    @exclusivity(unchecked) package private(set) var evicted: Int = 0
    /// Keys dropped by `removeStale` (time expiry, not pressure).
    @exclusivity(unchecked) package private(set) var expired: Int = 0
    /// Most keys held at once.
    @exclusivity(unchecked) package private(set) var highWater: Int = 0
    @exclusivity(unchecked) package private(set) var count: Int = 0

    @exclusivity(unchecked) private var keys: UnsafeMutablePointer<Key>
    @exclusivity(unchecked) private var values: UnsafeMutablePointer<Value>
    @exclusivity(unchecked) private var hashes: UnsafeMutablePointer<Int>
    @exclusivity(unchecked) private var stamps: UnsafeMutablePointer<Int64>
    @exclusivity(unchecked) private var prev: UnsafeMutablePointer<Int32>
    @exclusivity(unchecked) private var next: UnsafeMutablePointer<Int32>
    @exclusivity(unchecked) private var live: UnsafeMutablePointer<Bool>
    @exclusivity(unchecked) private var allocated: Int  // entry slots allocated
    @exclusivity(unchecked) private var used: Int = 0  // entry slots ever initialised (dense prefix)
    @exclusivity(unchecked) private var freeHead: Int32 = -1  // free entries chained through `next`
    @exclusivity(unchecked) private var index: UnsafeMutablePointer<Int32>
    @exclusivity(unchecked) private var mask: Int
    @exclusivity(unchecked) private var head: Int32 = -1  // most recent
    @exclusivity(unchecked) private var tail: Int32 = -1  // least recent

    package init(capacity: Int) {
        self.capacity = max(1, capacity)
        allocated = min(self.capacity, 64)
        keys = .allocate(capacity: allocated)
        values = .allocate(capacity: allocated)
        hashes = .allocate(capacity: allocated)
        stamps = .allocate(capacity: allocated)
        prev = .allocate(capacity: allocated)
        next = .allocate(capacity: allocated)
        live = .allocate(capacity: allocated)
        let slots = BoundedMap.indexSize(for: allocated)
        index = .allocate(capacity: slots)
        index.initialize(repeating: -1, count: slots)
        mask = slots - 1
    }

    deinit {
        for i in 0..<used where live[i] {
            (keys + i).deinitialize(count: 1)
            (values + i).deinitialize(count: 1)
        }
        keys.deallocate()
        values.deallocate()
        hashes.deallocate()
        stamps.deallocate()
        prev.deallocate()
        next.deallocate()
        live.deallocate()
        index.deallocate()
    }

    private static func indexSize(for n: Int) -> Int {
        var s = 16
        while s < 2 * n { s <<= 1 }
        return s
    }

    package var isEmpty: Bool { count == 0 }

    // MARK: index

    @inline(__always) private func find(_ key: Key, _ h: Int) -> Int32 {
        var i = h & mask
        while true {
            let e = index[i]
            if e < 0 { return -1 }
            if hashes[Int(e)] == h && keys[Int(e)] == key { return e }
            i = (i &+ 1) & mask
        }
    }

    @inline(__always) private func indexInsert(_ e: Int32, _ h: Int) {
        var i = h & mask
        while index[i] >= 0 { i = (i &+ 1) & mask }
        index[i] = e
    }

    private func indexRemove(_ e: Int32) {
        var i = hashes[Int(e)] & mask
        while index[i] != e { i = (i &+ 1) & mask }
        index[i] = -1
        var j = (i &+ 1) & mask
        while true {
            let x = index[j]
            if x < 0 { return }
            let k = hashes[Int(x)] & mask
            // move x back to the hole at i unless its ideal slot k lies cyclically in (i, j]
            let inRange = i <= j ? (k > i && k <= j) : (k > i || k <= j)
            if !inRange {
                index[i] = x
                index[j] = -1
                i = j
            }
            j = (j &+ 1) & mask
        }
    }

    private func grow() {
        let n = min(capacity, allocated * 2)
        func move<T>(_ p: inout UnsafeMutablePointer<T>, initialized: Bool) {
            let q = UnsafeMutablePointer<T>.allocate(capacity: n)
            if initialized { q.moveInitialize(from: p, count: used) }
            p.deallocate()
            p = q
        }
        // keys/values: move the live ones individually (free slots hold no value)
        let nk = UnsafeMutablePointer<Key>.allocate(capacity: n)
        let nv = UnsafeMutablePointer<Value>.allocate(capacity: n)
        for i in 0..<used where live[i] {
            (nk + i).moveInitialize(from: keys + i, count: 1)
            (nv + i).moveInitialize(from: values + i, count: 1)
        }
        keys.deallocate()
        values.deallocate()
        keys = nk
        values = nv
        move(&hashes, initialized: true)
        move(&stamps, initialized: true)
        move(&prev, initialized: true)
        move(&next, initialized: true)
        move(&live, initialized: true)
        allocated = n
        let slots = BoundedMap.indexSize(for: n)
        index.deallocate()
        index = .allocate(capacity: slots)
        index.initialize(repeating: -1, count: slots)
        mask = slots - 1
        for i in 0..<used where live[i] { indexInsert(Int32(i), hashes[i]) }
    }

    // MARK: LRU list

    @inline(__always) private func unlink(_ i: Int32) {
        let p = prev[Int(i)], n = next[Int(i)]
        if p >= 0 { next[Int(p)] = n } else { head = n }
        if n >= 0 { prev[Int(n)] = p } else { tail = p }
    }

    @inline(__always) private func pushFront(_ i: Int32) {
        prev[Int(i)] = -1
        next[Int(i)] = head
        if head >= 0 { prev[Int(head)] = i }
        head = i
        if tail < 0 { tail = i }
    }

    @inline(__always) private func touch(_ i: Int32, _ now: Int64) {
        stamps[Int(i)] = now
        if head != i {
            unlink(i)
            pushFront(i)
        }
    }

    // MARK: API

    /// The value for `key` without touching it.
    package func peek(_ key: Key) -> Value? {
        let e = find(key, key.hashValue)
        return e < 0 ? nil : values[Int(e)]
    }

    package func contains(_ key: Key) -> Bool { find(key, key.hashValue) >= 0 }

    /// Log time of the last touch of `key`.
    package func stamp(_ key: Key) -> Int64? {
        let e = find(key, key.hashValue)
        return e < 0 ? nil : stamps[Int(e)]
    }

    /// Runs `body` on the value of `key`, creating it with `make` when absent (evicting the coldest key if
    /// full); marks the key touched at `now`.
    @inline(__always)
    @discardableResult
    package func update<R>(_ key: Key, now: Int64, make: () -> Value, _ body: (inout Value) -> R) -> R {
        let h = key.hashValue
        var e = find(key, h)
        if e >= 0 {
            touch(e, now)
        } else {
            if count >= capacity { evictOldest() }
            if freeHead >= 0 {
                e = freeHead
                freeHead = next[Int(e)]
            } else {
                if used == allocated { grow() }
                e = Int32(used)
                used += 1
            }
            (keys + Int(e)).initialize(to: key)
            (values + Int(e)).initialize(to: make())
            hashes[Int(e)] = h
            stamps[Int(e)] = now
            live[Int(e)] = true
            indexInsert(e, h)
            pushFront(e)
            count += 1
            if count > highWater { highWater = count }
        }
        return body(&values[Int(e)])
    }

    /// Mutates an existing value without creating one; returns nil when absent. Touches the key when `now` is given.
    @inline(__always)
    @discardableResult
    package func modify<R>(_ key: Key, now: Int64? = nil, _ body: (inout Value) -> R) -> R? {
        let e = find(key, key.hashValue)
        if e < 0 { return nil }
        if let now { touch(e, now) }
        return body(&values[Int(e)])
    }

    @discardableResult
    package func remove(_ key: Key) -> Value? {
        let e = find(key, key.hashValue)
        if e < 0 { return nil }
        return removeEntry(e)
    }

    private func removeEntry(_ e: Int32) -> Value {
        indexRemove(e)
        unlink(e)
        (keys + Int(e)).deinitialize(count: 1)
        let v = (values + Int(e)).move()
        live[Int(e)] = false
        next[Int(e)] = freeHead
        freeHead = e
        count -= 1
        return v
    }

    private func evictOldest() {
        guard tail >= 0 else { return }
        _ = removeEntry(tail)
        evicted += 1
    }

    /// Removes entries last touched before `horizon` (from the cold end); returns how many.
    @discardableResult
    package func removeStale(olderThan horizon: Int64, _ onRemove: ((Key, Value) -> Void)? = nil) -> Int {
        var n = 0
        while tail >= 0, stamps[Int(tail)] < horizon {
            let k = keys[Int(tail)]
            let v = removeEntry(tail)
            onRemove?(k, v)
            n += 1
        }
        expired += n
        return n
    }

    /// Every entry, most recently touched first.
    package func forEach(_ body: (Key, Value, Int64) -> Void) {
        var i = head
        while i >= 0 {
            body(keys[Int(i)], values[Int(i)], stamps[Int(i)])
            i = next[Int(i)]
        }
    }

    /// Entries oldest first (restoring in this order reproduces the recency order).
    package func entriesOldestFirst() -> [(Key, Value, Int64)] {
        var out: [(Key, Value, Int64)] = []
        out.reserveCapacity(count)
        var i = tail
        while i >= 0 {
            out.append((keys[Int(i)], values[Int(i)], stamps[Int(i)]))
            i = prev[Int(i)]
        }
        return out
    }

    /// Mutates every value in place (no touch), in entry order.
    package func mutateAll(_ body: (Key, inout Value) -> Void) {
        for i in 0..<used where live[i] { body(keys[i], &values[i]) }
    }
}
