import FlowhoundCore

/// Durations and points in time as the command line spells them.
package enum DurationText {
    /// `90`, `90s`, `15m`, `2h`, `1d`, `1w`, and sums such as `1h30m`; nil when malformed or not positive.
    package static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var total: Int64 = 0
        var number: Int64?
        var sawUnit = false
        for c in text {
            if let d = c.wholeNumberValue, c.isASCII {
                number = (number ?? 0) * 10 + Int64(d)
                if number! > 10_000_000_000 { return nil }
            } else if let u = units[c], let n = number {
                total += n * u
                number = nil
                sawUnit = true
            } else {
                return nil
            }
        }
        if let n = number {
            if sawUnit { return nil }  // "1h30" is ambiguous
            total += n
        }
        return total > 0 ? total : nil
    }

    /// A duration for messages: `45s`, `12m`, `3h 20m`, `2d 4h`.
    package static func describe(_ seconds: Int64) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86_400 { return s % 3600 / 60 == 0 ? "\(s / 3600)h" : "\(s / 3600)h \(s % 3600 / 60)m" }
        return s % 86_400 / 3600 == 0 ? "\(s / 86_400)d" : "\(s / 86_400)d \(s % 86_400 / 3600)h"
    }

    /// An RFC 3339 time (`2026-03-02T09:00:00Z`, `…+09:00`, fractions allowed), a date (`2026-03-02`, midnight
    /// UTC), or epoch seconds. nil when it is none of these.
    package static func timestamp(_ text: String) -> Timestamp? {
        if let n = Int64(text) { return Timestamp(seconds: n) }
        let b = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int64? {
            guard from + len <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + len) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 10, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
            (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        var secs = CivilDate.days(year: y, month: mo, day: d) * 86_400
        if b.count == 10 { return Timestamp(seconds: secs) }
        guard b.count >= 16, b[10] == 84 || b[10] == 116 || b[10] == 32, let h = num(11, 2), b[13] == 58,
            let mi = num(14, 2), h < 24, mi < 60
        else { return nil }
        secs += h * 3600 + mi * 60
        var i = 16
        var nanos: Int64 = 0
        if i < b.count && b[i] == 58 {
            guard let s = num(17, 2), s < 61 else { return nil }
            secs += s
            i = 19
            if i < b.count && b[i] == 46 {
                i += 1
                var digits = 0
                while i < b.count, b[i] >= 48 && b[i] <= 57 {
                    if digits < 9 { nanos = nanos * 10 + Int64(b[i] - 48) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                if digits < 9 { for _ in digits..<9 { nanos *= 10 } }
            }
        }
        if i == b.count { return Timestamp(seconds: secs, nanos: nanos) }  // no zone: UTC
        if b[i] == 90 || b[i] == 122, i + 1 == b.count { return Timestamp(seconds: secs, nanos: nanos) }
        guard b[i] == 43 || b[i] == 45, i + 6 == b.count, let oh = num(i + 1, 2), b[i + 3] == 58, let om = num(i + 4, 2)
        else { return nil }
        let offset = (oh * 3600 + om * 60) * (b[i] == 43 ? 1 : -1)
        return Timestamp(seconds: secs - offset, nanos: nanos)
    }
}
