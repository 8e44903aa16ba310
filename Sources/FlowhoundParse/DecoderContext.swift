import FlowhoundCore

/// What a decoder needs to know about its input beyond the bytes.
package struct DecoderContext: Sendable {
    /// When the input was last written (the file's mtime). Year-less syslog stamps take their year from it:
    /// a line whose month is later than this time's month (in `timeZone`) belongs to the previous year.
    /// nil: the current wall-clock time is used instead (the only place a decoder looks at the clock).
    package var referenceTime: Timestamp?
    /// Zone of stamps that carry no offset (RFC 3164, ASA, journal `short`). Default UTC.
    package var timeZone: LogTimeZone
    /// Key mapping for generic JSON (`--field-map`).
    package var fieldMap: FieldMap?

    package init(referenceTime: Timestamp? = nil, timeZone: LogTimeZone = .utc, fieldMap: FieldMap? = nil) {
        self.referenceTime = referenceTime
        self.timeZone = timeZone
        self.fieldMap = fieldMap
    }
}

/// A time zone as a table of UTC-offset changes, read once from a TZif file (no libc `TZ` state involved).
///
/// `named` accepts `UTC`/`Z`, fixed offsets (`+09:00`, `-0500`, `UTC+2`), and IANA names (`Asia/Tokyo`) read
/// from `$TZDIR` or `/usr/share/zoneinfo`. Times after the file's last transition follow its POSIX footer rule
/// (`CET-1CEST,M3.5.0,M10.5.0/3`; only the `M` rule form, others keep standard time).
package struct LogTimeZone: Sendable, Equatable {
    package let name: String
    let transitions: [Int64]  // UTC seconds, ascending
    let offsets: [Int32]  // offset in effect from transitions[i] on
    let initialOffset: Int32
    let rule: PosixZoneRule?

    package static let utc = LogTimeZone(name: "UTC", transitions: [], offsets: [], initialOffset: 0, rule: nil)

    package static func fixed(seconds: Int) -> LogTimeZone {
        LogTimeZone(name: "UTC\(seconds >= 0 ? "+" : "-")\(abs(seconds))s", transitions: [], offsets: [],
                    initialOffset: Int32(seconds), rule: nil)
    }

    /// Resolves a zone name; nil when it is neither an offset nor a readable TZif file.
    package static func named(_ name: String) -> LogTimeZone? {
        let n = name.trimmingSpaces()
        if n.isEmpty || n == "UTC" || n == "Z" || n == "GMT" || n == "utc" { return .utc }
        if let off = parseOffset(n.hasPrefix("UTC") || n.hasPrefix("GMT") ? String(n.dropFirst(3)) : n) {
            return .fixed(seconds: off)
        }
        if n.contains("..") || n.hasPrefix("/") { return nil }
        var dirs: [String] = []
        if let d = getenv("TZDIR") { dirs.append(String(cString: d)) }
        dirs += ["/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo"]
        for d in dirs {
            if let bytes = readWholeFile(d + "/" + n), let z = parseTZif(bytes, name: n) { return z }
        }
        return nil
    }

    /// `+09:00`, `-0500`, `+9`; seconds east of UTC.
    static func parseOffset(_ s: String) -> Int? {
        let b = Array(s.utf8)
        guard let f = b.first, f == 43 || f == 45, b.count >= 2 else { return nil }
        let digits = b.dropFirst().filter { $0 != 58 }
        guard digits.allSatisfy(isDigit), (1...4).contains(digits.count) else { return nil }
        let d = digits.map { Int($0 - 48) }
        let (h, m) = d.count <= 2 ? (d.reduce(0) { $0 * 10 + $1 }, 0)
            : (d.count == 3 ? (d[0], d[1] * 10 + d[2]) : (d[0] * 10 + d[1], d[2] * 10 + d[3]))
        guard h <= 23, m <= 59 else { return nil }
        return (f == 45 ? -1 : 1) * (h * 3600 + m * 60)
    }

    /// Offset (seconds east) in effect at a UTC instant.
    @inline(__always)
    func offset(atUTC t: Int64) -> Int64 {
        if transitions.isEmpty { return Int64(rule?.offset(atUTC: t) ?? initialOffset) }
        if t < transitions[0] { return Int64(initialOffset) }
        if t >= transitions[transitions.count - 1], let rule { return Int64(rule.offset(atUTC: t)) }
        var lo = 0, hi = transitions.count - 1  // last index with transitions[i] <= t
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if transitions[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        return Int64(offsets[lo])
    }

    /// UTC seconds for local wall-clock seconds (a skipped local time maps forward, a repeated one to its
    /// first occurrence... as far as two probes can tell).
    @inline(__always)
    func utc(fromLocal local: Int64) -> Int64 {
        if transitions.isEmpty && rule == nil { return local - Int64(initialOffset) }
        let guess = local - offset(atUTC: local)
        return local - offset(atUTC: guess)
    }

    private static func readWholeFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, 4096, f) }
            if n <= 0 { break }
            out += buf[0..<n]
            if out.count > 1 << 20 { return nil }
        }
        return out
    }

    /// RFC 8536 TZif, version 1 block or (preferred) the 64-bit version 2+ block and its footer.
    static func parseTZif(_ b: [UInt8], name: String) -> LogTimeZone? {
        func be32(_ i: Int) -> Int64? {
            guard i + 4 <= b.count else { return nil }
            return Int64(Int32(bitPattern: UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])))
        }
        func be64(_ i: Int) -> Int64? {
            guard i + 8 <= b.count else { return nil }
            var v: UInt64 = 0
            for k in 0..<8 { v = v << 8 | UInt64(b[i + k]) }
            return Int64(bitPattern: v)
        }
        func block(_ at: Int, _ timeSize: Int) -> (LogTimeZone, Int)? {
            guard b.count >= at + 44, b[at] == 84, b[at + 1] == 90, b[at + 2] == 105, b[at + 3] == 102 else { return nil }
            guard let isut = be32(at + 20), let isstd = be32(at + 24), let leap = be32(at + 28), let timecnt = be32(at + 32),
                  let typecnt = be32(at + 36), let charcnt = be32(at + 40), timecnt >= 0, typecnt > 0, timecnt < 100_000
            else { return nil }
            var p = at + 44
            var times: [Int64] = []
            for k in 0..<Int(timecnt) {
                guard let t = timeSize == 8 ? be64(p + k * 8) : be32(p + k * 4) else { return nil }
                times.append(t)
            }
            p += Int(timecnt) * timeSize
            guard p + Int(timecnt) <= b.count else { return nil }
            let idx = Array(b[p..<p + Int(timecnt)])
            p += Int(timecnt)
            var types: [Int32] = []
            for k in 0..<Int(typecnt) {
                guard let o = be32(p + k * 6) else { return nil }
                types.append(Int32(o))
            }
            p += Int(typecnt) * 6 + Int(charcnt) + Int(leap) * (timeSize + 4) + Int(isstd) + Int(isut)
            guard p <= b.count, idx.allSatisfy({ Int($0) < types.count }) else { return nil }
            let offs = idx.map { types[Int($0)] }
            let initial = types[0]
            return (LogTimeZone(name: name, transitions: times, offsets: offs, initialOffset: initial, rule: nil), p)
        }
        guard let (v1, end1) = block(0, 4) else { return nil }
        if b.count > 4 && b[4] >= 50, let (v2, end2) = block(end1, 8) {
            var rule: PosixZoneRule?
            if end2 < b.count && b[end2] == 10, let close = b[(end2 + 1)...].firstIndex(of: 10) {
                rule = PosixZoneRule.parse(Array(b[(end2 + 1)..<close]))
            }
            return LogTimeZone(name: name, transitions: v2.transitions, offsets: v2.offsets,
                               initialOffset: v2.initialOffset, rule: rule)
        }
        return v1
    }
}

/// The POSIX TZ rule of a TZif footer, `M` form only.
struct PosixZoneRule: Sendable, Equatable {
    var std: Int32
    var dst: Int32?
    var start: (m: Int64, w: Int64, d: Int64, secs: Int64) = (0, 0, 0, 0)
    var end: (m: Int64, w: Int64, d: Int64, secs: Int64) = (0, 0, 0, 0)

    static func == (a: PosixZoneRule, b: PosixZoneRule) -> Bool {
        a.std == b.std && a.dst == b.dst && a.start == b.start && a.end == b.end
    }

    static func parse(_ s: [UInt8]) -> PosixZoneRule? {
        var i = 0
        func name() -> Bool {
            if i < s.count && s[i] == 60 {
                while i < s.count && s[i] != 62 { i += 1 }
                if i >= s.count { return false }
                i += 1
                return true
            }
            let st = i
            while i < s.count, (s[i] | 0x20) >= 97 && (s[i] | 0x20) <= 122 { i += 1 }
            return i - st >= 3
        }
        func time() -> Int64? {  // [+-]hh[:mm[:ss]]
            var sign: Int64 = 1
            if i < s.count && (s[i] == 43 || s[i] == 45) { sign = s[i] == 45 ? -1 : 1; i += 1 }
            var parts: [Int64] = []
            while parts.count < 3 {
                var v: Int64 = 0, d = 0
                while i < s.count, isDigit(s[i]) { v = v * 10 + Int64(s[i] - 48); i += 1; d += 1 }
                if d == 0 { return parts.isEmpty ? nil : nil }
                parts.append(v)
                if i < s.count && s[i] == 58 { i += 1 } else { break }
            }
            let secs = parts[0] * 3600 + (parts.count > 1 ? parts[1] * 60 : 0) + (parts.count > 2 ? parts[2] : 0)
            return sign * secs
        }
        func date() -> (Int64, Int64, Int64, Int64)? {
            guard i < s.count, s[i] == 77 else { return nil }  // 'M'
            i += 1
            var nums: [Int64] = []
            for k in 0..<3 {
                var v: Int64 = 0, d = 0
                while i < s.count, isDigit(s[i]) { v = v * 10 + Int64(s[i] - 48); i += 1; d += 1 }
                if d == 0 { return nil }
                nums.append(v)
                if k < 2 { guard i < s.count, s[i] == 46 else { return nil }; i += 1 }
            }
            var t: Int64 = 7200
            if i < s.count && s[i] == 47 { i += 1; guard let tt = time() else { return nil }; t = tt }
            guard (1...12).contains(nums[0]), (1...5).contains(nums[1]), (0...6).contains(nums[2]) else { return nil }
            return (nums[0], nums[1], nums[2], t)
        }
        guard name(), let stdOff = time() else { return nil }
        var r = PosixZoneRule(std: Int32(-stdOff), dst: nil)
        if i >= s.count { return r }
        guard name() else { return nil }
        var dstOff = -stdOff + 3600
        if i < s.count && s[i] != 44 { guard let t = time() else { return nil }; dstOff = -t }
        guard i < s.count, s[i] == 44 else { return r }
        i += 1
        guard let a = date(), i < s.count, s[i] == 44 else { return r }
        i += 1
        guard let e = date() else { return r }
        r.dst = Int32(dstOff)
        r.start = a
        r.end = e
        return r
    }

    func offset(atUTC t: Int64) -> Int32 {
        guard let dst else { return std }
        let (year, _, _) = CivilDate.fromDays(floorDivide(t + Int64(std), 86_400))
        func instant(_ r: (m: Int64, w: Int64, d: Int64, secs: Int64), _ off: Int32) -> Int64 {
            let first = CivilDate.days(year: year, month: r.m, day: 1)
            let wd = ((first + 4) % 7 + 7) % 7
            var day = 1 + (r.d - wd + 7) % 7 + (r.w - 1) * 7
            let nextMonth = r.m == 12 ? CivilDate.days(year: year + 1, month: 1, day: 1)
                : CivilDate.days(year: year, month: r.m + 1, day: 1)
            while day > nextMonth - first { day -= 7 }
            return (first + day - 1) * 86_400 + r.secs - Int64(off)
        }
        let s = instant(start, std)
        let e = instant(end, dst)
        if s < e { return t >= s && t < e ? dst : std }
        return t >= e && t < s ? std : dst
    }
}

@inline(__always) func floorDivide(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }

/// Year inference for stamps without a year, and local → UTC conversion.
struct SyslogClock {
    let zone: LogTimeZone
    let refYear: Int64
    let refMonth: Int64

    init(context: DecoderContext) {
        zone = context.timeZone
        let ref = context.referenceTime?.seconds ?? Int64(time(nil))
        let local = ref + zone.offset(atUTC: ref)
        let (y, m, _) = CivilDate.fromDays(floorDivide(local, 86_400))
        refYear = y
        refMonth = m
    }

    /// The year of a year-less stamp in month `m`: a month later than the reference month is last year's.
    @inline(__always) func year(forMonth m: Int64) -> Int64 { m > refMonth ? refYear - 1 : refYear }

    @inline(__always)
    func timestamp(year: Int64, month: Int64, day: Int64, secondOfDay: Int64, nanos: Int64) -> Timestamp {
        let local = CivilDate.days(year: year, month: month, day: day) * 86_400 + secondOfDay
        return Timestamp(seconds: zone.utc(fromLocal: local), nanos: nanos)
    }
}

/// Month number for a three-letter English abbreviation in any case, or 0.
@inline(__always) func monthNumber(_ p: UnsafePointer<UInt8>) -> Int64 {
    let v = UInt32(p[0] | 0x20) << 16 | UInt32(p[1] | 0x20) << 8 | UInt32(p[2] | 0x20)
    switch v {
    case 0x6a616e: return 1
    case 0x666562: return 2
    case 0x6d6172: return 3
    case 0x617072: return 4
    case 0x6d6179: return 5
    case 0x6a756e: return 6
    case 0x6a756c: return 7
    case 0x617567: return 8
    case 0x736570: return 9
    case 0x6f6374: return 10
    case 0x6e6f76: return 11
    case 0x646563: return 12
    default: return 0
    }
}
