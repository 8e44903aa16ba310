import CByteScan

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
    /// In C (`flowhound_parse_ipv4`): SSE2 compares give the maps of dots and digits, octet values come from one
    /// multiply each, and nothing branches on the digit counts (those branches mispredicted on real address mixes).
    @inlinable @inline(__always)
    package static func parseIPv4(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt32? {
        var out: UInt32 = 0
        return flowhound_parse_ipv4(p, Int64(n), &out) != 0 ? out : nil
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
