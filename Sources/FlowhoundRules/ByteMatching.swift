import FlowhoundCore

/// A wildcard pattern compiled for byte matching: literal segments between `*`s; `?` inside a segment.
///
/// Case-insensitive patterns hold ASCII-lower-cased bytes and fold the haystack on the fly.
package struct Glob: Sendable, Hashable {
    /// One element of a segment: a byte, or `Glob.anyChar` for `?` (one UTF-8 character).
    package typealias Element = UInt16
    package static let anyChar: Element = 0x100

    package var segments: [[Element]]
    package var anchoredStart: Bool
    package var anchoredEnd: Bool
    package var cased: Bool

    package init(_ pattern: SigmaPattern, cased: Bool) {
        var segs: [[Element]] = []
        var cur: [Element] = []
        var startsFree = false
        var endsFree = false
        for (k, p) in pattern.pieces.enumerated() {
            switch p {
            case .anyRun:
                if k == 0 { startsFree = true }
                if k == pattern.pieces.count - 1 { endsFree = true }
                if !cur.isEmpty { segs.append(cur) }
                cur = []
            case .anyChar:
                cur.append(Glob.anyChar)
            case .literal(let b):
                for c in b { cur.append(Element(cased ? c : Bytes.lower(c))) }
            }
        }
        if !cur.isEmpty { segs.append(cur) }
        segments = segs
        anchoredStart = !startsFree
        anchoredEnd = !endsFree
        self.cased = cased
    }

    /// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and for stray bytes).
    @inline(__always)
    static func charLength(_ c: UInt8) -> Int {
        if c < 0xC0 { return 1 }
        if c < 0xE0 { return 2 }
        if c < 0xF0 { return 3 }
        return 4
    }

    /// End of `seg` matched at `p`, or nil.
    @inline(__always)
    private func matchSegment(_ seg: [Element], _ hay: UnsafePointer<UInt8>, _ n: Int, at p: Int) -> Int? {
        var i = p
        for t in seg {
            if i >= n { return nil }
            if t == Glob.anyChar {
                i = min(n, i + Glob.charLength(hay[i]))
            } else {
                let c = cased ? hay[i] : Bytes.lower(hay[i])
                if UInt16(c) != t { return nil }
                i += 1
            }
        }
        return i
    }

    /// Whether the whole of `hay` matches.
    package func matches(_ hay: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        let segs = segments
        if segs.isEmpty { return anchoredStart && anchoredEnd ? n == 0 : true }
        var pos = 0
        var first = 0
        let last = segs.count - 1
        if anchoredStart {
            guard let e = matchSegment(segs[0], hay, n, at: 0) else { return false }
            if last == 0 { return anchoredEnd ? e == n : true }
            pos = e
            first = 1
        }
        let middleEnd = anchoredEnd ? last - 1 : last
        if first <= middleEnd {
            for k in first...middleEnd {
                var s = pos
                var found = false
                while s < n {
                    if hay[s] & 0xC0 != 0x80, let e = matchSegment(segs[k], hay, n, at: s) {
                        pos = e
                        found = true
                        break
                    }
                    s += 1
                }
                if !found { return false }
            }
        }
        if anchoredEnd {
            let seg = segs[last]
            if !seg.contains(Glob.anyChar) {
                let s = n - seg.count
                return s >= pos && matchSegment(seg, hay, n, at: s) == n
            }
            var s = pos
            while s < n {
                if hay[s] & 0xC0 != 0x80, matchSegment(seg, hay, n, at: s) == n { return true }
                s += 1
            }
            return false
        }
        return true
    }
}

package enum GlobMatcher {
    /// Whole-value wildcard match of a Swift-side byte array (identifiers, tests).
    package static func matchesWhole(pattern: SigmaPattern, _ bytes: [UInt8], cased: Bool) -> Bool {
        let g = Glob(pattern, cased: cased)
        return bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else {
                var z: UInt8 = 0
                return g.matches(&z, 0)
            }
            return g.matches(base, b.count)
        }
    }
}

/// Exact-match needles on one field, looked up by a folded hash (many values OR-ed on one field).
package struct NeedleSet: Sendable, Hashable {
    package var needles: [[UInt8]]
    package var cased: Bool
    /// Open-addressing table of `index + 1` (0 = empty); power-of-two size.
    private var table: [Int32]
    private var mask: Int

    package init(_ values: [[UInt8]], cased: Bool) {
        var seen = Set<[UInt8]>()
        var uniq: [[UInt8]] = []
        for v in values {
            let k = cased ? v : v.map(Bytes.lower)
            if seen.insert(k).inserted { uniq.append(k) }
        }
        needles = uniq
        self.cased = cased
        var size = 8
        while size < uniq.count * 2 { size <<= 1 }
        mask = size - 1
        var t = [Int32](repeating: 0, count: size)
        for (i, v) in uniq.enumerated() {
            var h = v.withUnsafeBufferPointer { b in NeedleSet.hash(b.baseAddress, b.count, cased: true) } & mask
            while t[h] != 0 { h = (h + 1) & mask }
            t[h] = Int32(i + 1)
        }
        table = t
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>?, _ n: Int, cased: Bool) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        if let p {
            for i in 0..<n {
                h = (h ^ UInt64(cased ? p[i] : Bytes.lower(p[i]))) &* 0x100_0000_01b3
            }
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    @inline(__always)
    package func contains(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var h = NeedleSet.hash(p, n, cased: cased) & mask
        return table.withUnsafeBufferPointer { t in
            while true {
                let e = Int(t[h])
                if e == 0 { return false }
                let ok = needles[e - 1].withUnsafeBufferPointer { nb in
                    nb.count == n && (n == 0 || (cased ? Bytes.equal(p, nb.baseAddress!, n)
                        : Bytes.equalFolded(p, nb.baseAddress!, n)))
                }
                if ok { return true }
                h = (h + 1) & mask
            }
        }
    }
}

/// Literal byte tests with or without ASCII case folding (needles pre-lower-cased when folding).
package enum Literal {
    @inline(__always)
    package static func equals(_ p: UnsafePointer<UInt8>, _ n: Int, _ needle: [UInt8], cased: Bool) -> Bool {
        needle.withUnsafeBufferPointer { nb in
            nb.count == n && (n == 0 || (cased ? Bytes.equal(p, nb.baseAddress!, n) : Bytes.equalFolded(p, nb.baseAddress!, n)))
        }
    }

    @inline(__always)
    package static func hasPrefix(_ p: UnsafePointer<UInt8>, _ n: Int, _ needle: [UInt8], cased: Bool) -> Bool {
        needle.withUnsafeBufferPointer { nb in
            nb.count <= n
                && (nb.count == 0
                    || (cased ? Bytes.equal(p, nb.baseAddress!, nb.count) : Bytes.equalFolded(p, nb.baseAddress!, nb.count)))
        }
    }

    @inline(__always)
    package static func hasSuffix(_ p: UnsafePointer<UInt8>, _ n: Int, _ needle: [UInt8], cased: Bool) -> Bool {
        needle.withUnsafeBufferPointer { nb in
            let m = nb.count
            return m <= n
                && (m == 0 || (cased ? Bytes.equal(p + (n - m), nb.baseAddress!, m)
                    : Bytes.equalFolded(p + (n - m), nb.baseAddress!, m)))
        }
    }

    @inline(__always)
    package static func contains(_ p: UnsafePointer<UInt8>, _ n: Int, _ needle: [UInt8], cased: Bool) -> Bool {
        needle.withUnsafeBufferPointer { nb in
            let m = nb.count
            if m == 0 { return true }
            return cased ? Bytes.find(p, n, nb.baseAddress!, m) != nil : Bytes.findFolded(p, n, nb.baseAddress!, m) != nil
        }
    }
}
