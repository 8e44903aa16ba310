/// RITA v5's beacon score, restated from its published formulas (netdetect.md §1.2); no RITA code is used.
///
/// `score = round3(0.25·TS + 0.25·DS + 0.25·HIST + 0.25·DUR)`:
/// - TS, DS: mean of a Bowley-skew score (`1 − |s|`, s = 0 when IQR < 10 or the median equals a quartile) and a
///   MAD score (`(median − MAD)/median`, clamped at 0; default 1 for TS and 0 for DS when the median < 1) over the
///   non-zero inter-arrival intervals (TS, needs ≥ 3) and the byte sizes (DS, needs ≥ 3). Quartiles are Tukey
///   hinges (the median of each half, the overall median excluded for odd counts).
/// - HIST: max(1 − CV of the 24 bin counts (0 when CV > 1), bimodal fit) — bimodal only with ≥ 11 non-empty bins.
/// - DUR: with ≥ 6 non-empty bins, max(coverage of the window, longest wrap-around run of non-empty bins / 12).
package enum BeaconScore {
    package struct Parts: Sendable, Equatable {
        package var ts: Double
        package var ds: Double
        package var hist: Double
        package var dur: Double
        package var score: Double
    }

    @inline(__always) static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
    @inline(__always) static func ceil3(_ x: Double) -> Double { (x * 1000 - 1e-9).rounded(.up) / 1000 }

    static func median(_ s: ArraySlice<Double>) -> Double {
        let n = s.count
        if n == 0 { return 0 }
        let b = s.startIndex
        return n % 2 == 1 ? s[b + n / 2] : (s[b + n / 2 - 1] + s[b + n / 2]) / 2
    }

    /// Skew score and MAD score of a sorted list.
    static func skewAndMad(_ sorted: [Double], madDefault: Double) -> Double {
        let n = sorted.count
        let q2 = median(sorted[...])
        let lower = sorted[0..<(n / 2)]
        let upper = sorted[(n % 2 == 1 ? n / 2 + 1 : n / 2)...]
        let q1 = median(lower), q3 = median(upper)
        var s = 0.0
        if !(q3 - q1 < 10 || q2 == q1 || q2 == q3) { s = (q1 + q3 - 2 * q2) / (q3 - q1) }
        let skewScore = 1 - abs(s)
        let dev = sorted.map { abs($0 - q2) }.sorted()
        let mad = median(dev[...])
        let madScore = q2 >= 1 ? max(0, (q2 - mad) / q2) : madDefault
        return round3((skewScore + madScore) / 2)
    }

    /// - Parameters:
    ///   - timestamps: connection times in seconds (any order), inside the window.
    ///   - bytes: bytes per connection.
    ///   - bins: connections per bin (24 bins over the window).
    ///   - windowSeconds: window length (window_max − window_min).
    /// - Returns: nil when there are fewer than 3 non-zero intervals.
    package static func score(timestamps: [Int64], bytes: [Int64], bins: [Int], windowSeconds: Double) -> Parts? {
        let t = timestamps.sorted()
        guard t.count >= 4 else { return nil }
        var intervals: [Double] = []
        intervals.reserveCapacity(t.count)
        for i in 1..<t.count where t[i] != t[i - 1] { intervals.append(Double(t[i] - t[i - 1])) }
        guard intervals.count >= 3 else { return nil }
        intervals.sort()
        let ts = skewAndMad(intervals, madDefault: 1)
        let b = bytes.map(Double.init).sorted()
        let ds = b.count >= 3 ? skewAndMad(b, madDefault: 0) : 0
        // HIST
        let n = Double(bins.count)
        let mean = Double(bins.reduce(0, +)) / n
        var varSum = 0.0
        for h in bins { varSum += (Double(h) - mean) * (Double(h) - mean) }
        let cv = mean > 0 ? (varSum / n).squareRoot() / mean : 2
        let cvScore = cv > 1 ? 0 : round3(1 - cv)
        let bars = bins.filter { $0 > 0 }.count
        var bimodal = 0.0
        if bars >= 11, let mx = bins.max() {
            let binSize = max(1, Int((Double(mx) * 0.05).rounded(.up)))
            var freq: [Int: Int] = [:]
            for h in bins where h > 0 { freq[(h / binSize) * binSize, default: 0] += 1 }
            let counts = freq.values.sorted(by: >)
            let top = counts.prefix(2).reduce(0, +)
            bimodal = Double(top) / Double(max(bars - 1, 1))
        }
        let hist = max(cvScore, min(1, round3(bimodal)))
        // DUR
        var dur = 0.0
        if bars >= 6 {
            let coverage = min(1, ceil3(Double(t.last! - t.first!) / max(windowSeconds, 1)))
            var longest = 0, run = 0
            for i in 0..<(2 * bins.count) {
                if bins[i % bins.count] > 0 {
                    run += 1
                    longest = max(longest, min(run, bins.count))
                } else {
                    run = 0
                }
            }
            let consistency = min(1, ceil3(Double(longest) / 12))
            dur = max(coverage, consistency)
        }
        let score = round3(0.25 * ts + 0.25 * ds + 0.25 * hist + 0.25 * dur)
        return Parts(ts: ts, ds: ds, hist: hist, dur: dur, score: score)
    }
}
