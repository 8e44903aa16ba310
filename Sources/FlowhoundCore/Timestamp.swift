/// A point in log time: nanoseconds since the Unix epoch, UTC.
///
/// Detection always uses the time a log line states, never the wall clock.
public struct Timestamp: Hashable, Comparable, Sendable {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    @usableFromInline package var nanoseconds: Int64

    @inlinable package init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    @inlinable package init(seconds: Int64, nanos: Int64 = 0) { self.nanoseconds = seconds &* 1_000_000_000 &+ nanos }

    /// Whole seconds since the epoch (floor).
    @usableFromInline package var seconds: Int64 {
        nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
    }

    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    package static let distantPast = Timestamp(nanoseconds: Int64.min)

    /// Renders as RFC 3339 UTC with microseconds, e.g. `2026-03-01T09:15:02.250000Z`.
    @usableFromInline package var iso8601: String {
        let secs = seconds
        let micros = (nanoseconds - secs * 1_000_000_000) / 1000
        let (y, mo, d) = CivilDate.fromDays(Int64(floorDiv(secs, 86_400)))
        let sod = secs - floorDiv(secs, 86_400) * 86_400
        let h = sod / 3600, mi = (sod % 3600) / 60, s = sod % 60
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(micros, 6))Z"
    }

    private func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

@inline(__always) private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    a >= 0 ? a / b : (a - b + 1) / b
}

/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's days-from-civil algorithms).
package enum CivilDate {
    /// Days since 1970-01-01 for a calendar date.
    package static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Calendar date for days since 1970-01-01.
    package static func fromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
