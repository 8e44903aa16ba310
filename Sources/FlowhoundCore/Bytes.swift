/// Byte-level helpers for the per-line path: no String, no allocation.
public enum Bytes {
    /// ASCII lower-casing of one byte.
    @inlinable @inline(__always)
    package static func lower(_ c: UInt8) -> UInt8 { (c &- 65) < 26 ? c | 0x20 : c }

    /// `lower` on each of the eight bytes of a word at once (bytes of 0x80 and above are left alone).
    @inlinable @inline(__always)
    package static func lowerWord(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let seven = w & (0x7F &* ones)
        // high bit of each byte: at least "A" / above "Z" (computed on the low seven bits, no carry between bytes)
        let atLeastA = seven &+ (0x80 &- 0x41) &* ones
        let aboveZ = seven &+ (0x80 &- 0x5B) &* ones
        let upper = atLeastA & ~aboveZ & ~w & (0x80 &* ones)
        return w | upper >> 2
    }

    /// Case-sensitive equality of two byte ranges.
    @inlinable @inline(__always)
    package static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        memcmp(a, b, n) == 0
    }

    /// Equality ignoring ASCII case; `lowerNeedle` must already be lower-case.
    @inlinable @inline(__always)
    package static func equalFolded(_ hay: UnsafePointer<UInt8>, _ lowerNeedle: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i < n {
            if lower(hay[i]) != lowerNeedle[i] { return false }
            i &+= 1
        }
        return true
    }

    /// Index of the first occurrence of `needle` in `hay`, or nil. Case-sensitive.
    @inlinable
    package static func find(
        _ hay: UnsafePointer<UInt8>, _ hayCount: Int, _ needle: UnsafePointer<UInt8>, _ needleCount: Int
    ) -> Int? {
        if needleCount == 0 { return 0 }
        if needleCount > hayCount { return nil }
        let first = needle[0]
        var i = 0
        let last = hayCount - needleCount
        while i <= last {
            guard let hit = memchr(hay + i, Int32(first), last - i + 1) else { return nil }
            let j = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - hay
            if memcmp(hay + j, needle, needleCount) == 0 { return j }
            i = j + 1
        }
        return nil
    }

    /// Index of the first occurrence of a lower-case `needle` in `hay`, ignoring ASCII case.
    @inlinable
    package static func findFolded(
        _ hay: UnsafePointer<UInt8>, _ hayCount: Int, _ lowerNeedle: UnsafePointer<UInt8>, _ needleCount: Int
    ) -> Int? {
        if needleCount == 0 { return 0 }
        if needleCount > hayCount { return nil }
        let f = lowerNeedle[0]
        let upperF: UInt8 = (f &- 97) < 26 ? f - 32 : f
        let last = hayCount - needleCount
        var i = 0
        while i <= last {
            let c = hay[i]
            if c == f || c == upperF, equalFolded(hay + i, lowerNeedle, needleCount) { return i }
            i &+= 1
        }
        return nil
    }

    /// Parses an optionally signed decimal integer occupying all `n` bytes.
    @inlinable @inline(__always)
    package static func parseInt(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        if n == 0 || n > 20 { return nil }
        var i = 0
        var neg = false
        if p[0] == 45 || p[0] == 43 {
            neg = p[0] == 45
            i = 1
            if n == 1 { return nil }
        }
        var v: Int64 = 0
        while i < n {
            let d = p[i] &- 48
            if d > 9 { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return neg ? -v : v
    }

    /// Reads 8 bytes at `p` without crossing into the next page (bytes past `n` are garbage, masked by the caller).
    @inlinable @inline(__always)
    package static func loadWord(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        if UInt(bitPattern: p) & 4095 <= 4088 { return UnsafeRawPointer(p).loadUnaligned(as: UInt64.self) }
        var w: UInt64 = 0
        var i = 0
        while i < n && i < 8 {
            w |= UInt64(p[i]) << UInt64(8 * i)
            i &+= 1
        }
        return w
    }

    /// The value of eight ASCII digits in a little-endian word (first digit most significant), or nil.
    @inlinable @inline(__always)
    package static func eightDigits(_ w: UInt64) -> UInt64? {
        let ascii: UInt64 = 0x3030_3030_3030_3030
        if (w & 0xF0F0_F0F0_F0F0_F0F0) != ascii || ((w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) != ascii {
            return nil
        }
        var v = w &- ascii
        v = (v &* 10 &+ (v >> 8)) & 0x00FF_00FF_00FF_00FF
        v = (v &* 100 &+ (v >> 16)) & 0x0000_FFFF_0000_FFFF
        v = (v &* 10000 &+ (v >> 32)) & 0xFFFF_FFFF
        return v
    }

    /// One to eight ASCII digits occupying all `n` bytes, as `parseInt` reads them, without a loop per digit; nil
    /// for anything else (a sign, more digits, another byte), which `parseInt` / `parseDouble` then read.
    @inlinable @inline(__always)
    package static func parseShortUnsigned(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64? {
        if n < 1 || n > 8 { return nil }
        // The n bytes moved to the top of the word (the bytes after them shifted out), '0's in front of them.
        let fill: UInt64 = n == 8 ? 0 : 0x3030_3030_3030_3030 &>> UInt64(8 * n)
        return eightDigits(loadWord(p, n) &<< UInt64(8 * (8 - n)) | fill)
    }

    /// Parses a decimal number (integer, fraction, exponent) occupying all `n` bytes.
    @inlinable
    package static func parseDouble(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        if n == 0 || n > 64 { return nil }
        if let i = parseInt(p, n) { return Double(i) }
        var i = 0
        var neg = false
        if p[0] == 45 || p[0] == 43 {
            neg = p[0] == 45
            i = 1
        }
        var mantissa: Double = 0
        var digits = 0
        while i < n, p[i] &- 48 <= 9 {
            mantissa = mantissa * 10 + Double(p[i] - 48)
            i += 1
            digits += 1
        }
        var scale: Double = 1
        if i < n && p[i] == 46 {
            i += 1
            while i < n, p[i] &- 48 <= 9 {
                mantissa = mantissa * 10 + Double(p[i] - 48)
                scale *= 10
                i += 1
                digits += 1
            }
        }
        if digits == 0 { return nil }
        var exp = 0
        if i < n && (p[i] == 101 || p[i] == 69) {
            i += 1
            var eneg = false
            if i < n && (p[i] == 45 || p[i] == 43) {
                eneg = p[i] == 45
                i += 1
            }
            var ed = 0
            while i < n, p[i] &- 48 <= 9 {
                exp = min(exp * 10 + Int(p[i] - 48), 400)
                i += 1
                ed += 1
            }
            if ed == 0 { return nil }
            if eneg { exp = -exp }
        }
        if i != n { return nil }
        var v = mantissa / scale
        if exp != 0 {
            var e = 1.0
            for _ in 0..<abs(exp) { e *= 10 }
            v = exp > 0 ? v * e : v / e
        }
        return neg ? -v : v
    }

    /// Parses epoch seconds with an optional fraction (`1300475167.096535`) into a timestamp.
    @inlinable @inline(__always)
    package static func parseEpoch(_ p: UnsafePointer<UInt8>, _ n: Int) -> Timestamp? {
        var i = 0
        var neg = false
        if n > 0 && p[0] == 45 {
            neg = true
            i = 1
        }
        var secs: Int64 = 0
        var digits = 0
        while i < n, p[i] &- 48 <= 9 {
            secs = secs &* 10 &+ Int64(p[i] &- 48)
            i += 1
            digits += 1
            if digits > 12 { return nil }
        }
        if digits == 0 { return nil }
        var nanos: Int64 = 0
        if i < n && p[i] == 46 {
            i += 1
            var scale: Int64 = 100_000_000
            while i < n, p[i] &- 48 <= 9 {
                nanos &+= Int64(p[i] &- 48) &* scale
                scale /= 10
                i += 1
            }
        }
        if i != n {
            // scientific notation from some JSON writers (1.3004751670965E9)
            guard let d = parseDouble(p, n) else { return nil }
            // nanoseconds must fit an Int64 (about ±9.22e9 s, the year 2262); beyond that the line has no usable time
            guard abs(d) < 9.2e9 else { return nil }
            return Timestamp(nanoseconds: Int64((d * 1e6).rounded()) * 1000)  // doubles carry ~microseconds here
        }
        let (whole, overflow) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        let (t, overflow2) = whole.addingReportingOverflow(nanos)
        if overflow || overflow2 { return nil }
        return Timestamp(nanoseconds: neg ? -t : t)
    }
}
