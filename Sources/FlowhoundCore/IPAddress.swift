/// An IPv4 or IPv6 address held as 128 bits; IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`).
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    @usableFromInline package var high: UInt64
    @usableFromInline package var low: UInt64

    @inlinable package init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    @inlinable package init(v4: UInt32) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(v4)
    }

    @usableFromInline package var isIPv4: Bool { high == 0 && (low >> 32) == 0xFFFF }

    @usableFromInline package var v4: UInt32? { isIPv4 ? UInt32(truncatingIfNeeded: low) : nil }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::`, embedded IPv4, and an optional `%zone`, ignored).
    ///
    /// - Complexity: O(n) over the bytes, no allocation.
    @inlinable
    package static func parse(_ p: UnsafePointer<UInt8>, _ n: Int) -> IPAddress? {
        if n >= 7 && n <= 15, let v = parseIPv4(p, n) { return IPAddress(v4: v) }
        return parseIPv6(p, n)
    }

    package static func parse(_ s: String) -> IPAddress? {
        var s = s
        return s.withUTF8 { b in b.baseAddress.flatMap { parse($0, b.count) } }
    }

    /// Dotted quad: four decimal octets of one to three digits (leading zeros allowed), each at most 255.
    ///
    /// Branch-free in the usual case. The 7–15 bytes are copied into a zero-padded local buffer with two
    /// overlapping word loads (reading only `p[0..<n]`). Word-at-a-time compares give a 16-bit map of the dots and
    /// of the digits; the text is valid when there are three dots, every other byte of `p[0..<n]` is a digit and
    /// each octet has one to three digits. Each octet's value is the dot product of its three bytes with weights
    /// chosen by its length (the weights of bytes past the octet are zero).
    @inlinable @inline(__always)
    package static func parseIPv4(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt32? {
        if n < 7 || n > 15 { return nil }
        let raw = UnsafeRawPointer(p)
        var lo: UInt64
        var hi: UInt64 = 0
        if n >= 8 {
            lo = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            // bytes n-8..<n; keep those from index 8 on (none when n == 8)
            hi = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)) >> UInt64(8 &* (16 &- n))
        } else {
            lo = UInt64(UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self)))
                | UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 3, as: UInt32.self))) << 24
        }
        let dots = byteMap(lo, equalTo: 0x2E) | byteMap(hi, equalTo: 0x2E) << 8
        let digits = digitMap(lo) | digitMap(hi) << 8
        let all: UInt32 = (1 << UInt32(n)) &- 1
        // exactly three dots (clearing the lowest set bit three times leaves nothing; no popcnt in the baseline)
        let rest1 = dots & (dots &- 1)
        let rest2 = rest1 & (rest1 &- 1)
        guard rest2 != 0, rest2 & (rest2 &- 1) == 0, dots | digits == all else { return nil }
        let p1 = dots.trailingZeroBitCount
        let p2 = rest1.trailingZeroBitCount
        let p3 = rest2.trailingZeroBitCount
        let l1 = p1, l2 = p2 &- p1 &- 1, l3 = p3 &- p2 &- 1, l4 = n &- p3 &- 1
        // each length in 1...3: none of 4 or more (their OR stays below 4), none zero (no `l - 1` negative)
        guard (l1 | l2 | l3 | l4) < 4, ((l1 &- 1) | (l2 &- 1) | (l3 &- 1) | (l4 &- 1)) >= 0 else { return nil }
        var buf: (UInt64, UInt64, UInt64) = (lo, hi, 0)
        return withUnsafeBytes(of: &buf) { b -> UInt32? in
            @inline(__always) func octet(_ s: Int, _ l: Int) -> UInt32 {
                // weights by length: 1 → (1, 0, 0), 2 → (10, 1, 0), 3 → (100, 10, 1), packed one byte each
                let w: UInt32 = l == 1 ? 0x00_0001 : l == 2 ? 0x00_010A : 0x01_0A64
                let d0 = UInt32(b[s] &- 48), d1 = UInt32(b[s &+ 1] &- 48), d2 = UInt32(b[s &+ 2] &- 48)
                return d0 &* (w & 0xFF) &+ d1 &* (w >> 8 & 0xFF) &+ d2 &* (w >> 16)
            }
            let a = octet(0, l1), c = octet(p1 &+ 1, l2), d = octet(p2 &+ 1, l3), e = octet(p3 &+ 1, l4)
            if (a | c | d | e) > 255 { return nil }
            return a << 24 | c << 16 | d << 8 | e
        }
    }

    /// Bit i set when byte i of `w` equals `c` (exact per byte: no carries between bytes).
    @inlinable @inline(__always)
    static func byteMap(_ w: UInt64, equalTo c: UInt8) -> UInt32 {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let t = w ^ (UInt64(c) &* 0x0101_0101_0101_0101)
        return highBits(~(((t & low7) &+ low7) | t | low7))
    }

    /// Bit i set when byte i of `w` is an ASCII digit.
    @inlinable @inline(__always)
    static func digitMap(_ w: UInt64) -> UInt32 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let x = w & (0x7F &* ones)
        let atLeast0 = x &+ (0x80 &- 0x30) &* ones
        let above9 = x &+ (0x80 &- 0x3A) &* ones
        return highBits(atLeast0 & ~above9 & ~w & (0x80 &* ones))
    }

    /// The high bit of each byte of `m` (only high bits set) gathered into bits 0–7.
    @inlinable @inline(__always)
    static func highBits(_ m: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: ((m >> 7) &* 0x0102_0408_1020_4080) >> 56)
    }

    @inlinable
    package static func parseIPv6(_ p: UnsafePointer<UInt8>, _ n0: Int) -> IPAddress? {
        var n = n0
        for i in 0..<n where p[i] == 37 {  // '%zone' suffix is ignored
            n = i
            break
        }
        if n < 2 || n > 45 { return nil }
        var g = InlineArray<8, UInt16>(repeating: 0)
        var count = 0  // groups written
        var gap = -1  // index in g where "::" stands
        var i = 0
        if p[0] == 58 {
            if p[1] != 58 { return nil }
            gap = 0
            i = 2
        }
        while i < n {
            var j = i
            var value: UInt32 = 0
            var digits = 0
            while j < n {
                let c = p[j]
                let d: UInt32
                if c >= 48 && c <= 57 {
                    d = UInt32(c - 48)
                } else if c >= 97 && c <= 102 {
                    d = UInt32(c - 87)
                } else if c >= 65 && c <= 70 {
                    d = UInt32(c - 55)
                } else {
                    break
                }
                value = value << 4 | d
                digits += 1
                if digits > 4 { return nil }
                j += 1
            }
            if j < n && p[j] == 46 {  // embedded IPv4 ends the address
                guard count <= 6, let v4 = parseIPv4(p + i, n - i) else { return nil }
                g[count] = UInt16(v4 >> 16)
                g[count + 1] = UInt16(v4 & 0xFFFF)
                count += 2
                i = n
                break
            }
            if digits == 0 || count == 8 { return nil }
            g[count] = UInt16(value)
            count += 1
            i = j
            if i == n { break }
            if p[i] != 58 { return nil }
            i += 1
            if i < n && p[i] == 58 {
                if gap >= 0 { return nil }
                gap = count
                i += 1
            } else if i == n {
                return nil
            }
        }
        if gap >= 0 {
            if count > 7 { return nil }
            let shift = 8 - count
            var k = 7
            while k >= gap + shift {
                g[k] = g[k - shift]
                k -= 1
            }
            k = gap
            while k < gap + shift {
                g[k] = 0
                k += 1
            }
        } else if count != 8 {
            return nil
        }
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for k in 0..<4 { hi = hi << 16 | UInt64(g[k]) }
        for k in 4..<8 { lo = lo << 16 | UInt64(g[k]) }
        return IPAddress(high: hi, low: lo)
    }

    /// Dotted quad for IPv4, RFC 5952 canonical text for IPv6.
    public var description: String {
        if let v = v4 {
            return "\(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).\(v & 255)"
        }
        var g = [Int](repeating: 0, count: 8)
        for k in 0..<4 { g[k] = Int((high >> (48 - 16 * UInt64(k))) & 0xFFFF) }
        for k in 0..<4 { g[4 + k] = Int((low >> (48 - 16 * UInt64(k))) & 0xFFFF) }
        // longest run of zeros (length ≥ 2)
        var bestStart = -1, bestLen = 0, k = 0
        while k < 8 {
            if g[k] == 0 {
                var e = k
                while e < 8 && g[e] == 0 { e += 1 }
                if e - k > bestLen && e - k >= 2 { bestStart = k; bestLen = e - k }
                k = e
            } else { k += 1 }
        }
        var out = ""
        k = 0
        while k < 8 {
            if k == bestStart {
                out += "::"
                k += bestLen
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(g[k], radix: 16)
            k += 1
        }
        return out
    }
}
