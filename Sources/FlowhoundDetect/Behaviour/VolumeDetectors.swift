import FlowhoundCore
import FlowhoundRules

/// D8 `beaconing` — periodic connections from an internal host to one destination (RITA v5 score).
///
/// Key: (internal source, destination). Inputs: connection records with a time and bytes out (not protocol logs);
/// ports in `ignore_ports` and ICMP are skipped; internal destinations only when `internal` is true. Window kind:
/// *trailing* `window` (24 h) evaluated on a *tumbling schedule* every `evaluate_every` (1 h) of log time and at
/// `finish()`; the window is `[max(first event, end − window), end]`, cut into 24 equal bins for HIST.
/// A pair is scored when it has at least `min_connections` unique timestamps (1-s resolution) and ≥ 3 non-zero
/// intervals; with `strobe_connections` or more connections in the window it is reported as `strobe` instead.
/// Prevalence (distinct internal sources of the destination / internal sources seen, once ≥ 10 internal sources
/// are known): at most `prevalence_low` → +0.15; at least `prevalence_high` → not a C2 candidate (skipped).
/// Fires when score + modifier ≥ `min_score`. Suppression per pair for `suppress_for` (24 h). State bound:
/// `max_keys` pairs; each keeps at most `max_points` points (halved deterministically — every other point dropped —
/// when full, counted in `decimated`). Time source: log time.
final class BeaconingDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Series {
        var ts: [Int64] = []  // seconds
        var bytes: [Int64] = []
        var last: Int64 = 0
        var dport: Int32 = -1
        var decimatedOnce = false
    }

    private var pairs: BoundedMap<AddressPair, Series>
    private var destinationSources: BoundedMap<IPAddress, Int32>
    private var internalSources: BoundedMap<IPAddress, Bool>
    private let window: Int64, every: Int64, minConn: Int, minScore: Double, strobe: Int, maxPoints: Int
    private let prevLow: Double, prevHigh: Double, includeInternal: Bool
    private let ignore: Set<Int32>
    private var nextEval: Int64 = .min
    private var firstEvent: Int64 = .max
    private var alerts = 0, observed = 0
    package private(set) var decimated = 0
    package private(set) var lastScores: [AddressPair: BeaconScore.Parts] = [:]

    init(_ rule: DetectorRule) {
        self.rule = rule
        pairs = BoundedMap(capacity: rule.int("max_keys"))
        destinationSources = BoundedMap(capacity: rule.int("max_keys"))
        internalSources = BoundedMap(capacity: rule.int("max_keys"))
        window = rule.nanos("window")
        every = max(60 * nanosPerSecond, rule.nanos("evaluate_every"))
        minConn = max(4, rule.int("min_connections"))
        minScore = rule.number("min_score")
        strobe = rule.int("strobe_connections")
        maxPoints = max(16, rule.int("max_points"))
        prevLow = rule.number("prevalence_low")
        prevHigh = rule.number("prevalence_high")
        includeInternal = rule.bool("internal")
        ignore = Set(rule.ports("ignore_ports").map(Int32.init))
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: pairs.count, highWater: pairs.highWater,
            evicted: pairs.evicted + decimated, expired: pairs.expired, alerts: alerts, observed: observed)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard !f.fromSessionLog, f.transport != .icmp, !ignore.contains(f.dport), ctx.roles.isInternal(f.src) else { return }
        if !includeInternal && ctx.roles.isInternal(f.dst) { return }
        if ctx.roles.hasRoles {
            let r = ctx.roles.roles(f.src)
            if r.contains(.mgmt) || r.contains(.scanner) { return }
        }
        observed += 1
        if f.ts < firstEvent { firstEvent = f.ts }
        if nextEval == .min { nextEval = (f.ts / every + 1) * every }
        internalSources.update(f.src, now: f.ts, make: { true }) { _ in }
        var created = false
        let sec = f.ts / nanosPerSecond
        let b = max(0, f.bytesOut)
        pairs.update(AddressPair(f.src, f.dst), now: f.ts, make: {
            created = true
            return Series()
        }) { s in
            if s.ts.count >= maxPoints {
                var keep = 0
                for i in stride(from: 0, to: s.ts.count, by: 2) {
                    s.ts[keep] = s.ts[i]
                    s.bytes[keep] = s.bytes[i]
                    keep += 1
                }
                s.ts.removeLast(s.ts.count - keep)
                s.bytes.removeLast(s.bytes.count - keep)
                decimated += 1
                s.decimatedOnce = true
            }
            s.ts.append(sec)
            s.bytes.append(b)
            s.last = max(s.last, f.ts)
            s.dport = f.dport
        }
        if created { destinationSources.update(f.dst, now: f.ts, make: { 0 }) { $0 += 1 } }
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        guard nextEval != .min else { return }
        while now >= nextEval {
            evaluate(end: nextEval, ctx)
            nextEval &+= every
        }
        pairs.removeStale(olderThan: now &- window)
    }

    func finish(_ ctx: BehaviourContext) {
        guard nextEval != .min, ctx.clock != .min else { return }
        evaluate(end: ctx.clock, ctx)
        nextEval = .max
    }

    private func evaluate(end: Int64, _ ctx: BehaviourContext) {
        let start = max(firstEvent, end &- window)
        let startS = start / nanosPerSecond, endS = end / nanosPerSecond
        let span = max(1, endS - startS)
        let hosts = internalSources.count
        var found: [(AddressPair, Series, BeaconScore.Parts?, Int, Double, Double?)] = []
        pairs.forEach { key, s, stamp in
            guard stamp >= end &- every || end == ctx.clock else { return }  // active in the last period
            var ts: [Int64] = [], bytes: [Int64] = []
            for (i, t) in s.ts.enumerated() where t >= startS && t <= endS {
                ts.append(t)
                bytes.append(s.bytes[i])
            }
            guard ts.count >= minConn else { return }
            let unique = Set(ts).count
            guard unique >= minConn else { return }
            var prevalence: Double?
            if hosts >= 10, let n = destinationSources.peek(key.b) { prevalence = Double(n) / Double(hosts) }
            if let p = prevalence, p >= prevHigh { return }
            if strobe > 0 && ts.count >= strobe && !s.decimatedOnce {
                found.append((key, s, nil, ts.count, 1, prevalence))
                return
            }
            var bins = [Int](repeating: 0, count: 24)
            for t in ts { bins[min(23, Int((t - startS) * 24 / span))] += 1 }
            guard let parts = BeaconScore.score(timestamps: ts, bytes: bytes, bins: bins, windowSeconds: Double(span)) else { return }
            lastScores[key] = parts
            var total = parts.score
            if let p = prevalence, p <= prevLow { total += 0.15 }
            total = BeaconScore.round3(total)
            if total >= minScore { found.append((key, s, parts, ts.count, total, prevalence)) }
        }
        found.sort { ($0.0.a, $0.0.b) < ($1.0.a, $1.0.b) }
        for (key, s, parts, n, total, prevalence) in found {
            alerts += 1
            var extra: [String: String] = [:]
            if let parts {
                extra = ["score_ts": String(parts.ts), "score_ds": String(parts.ds), "score_hist": String(parts.hist),
                         "score_dur": String(parts.dur), "score_raw": String(parts.score)]
            }
            if let prevalence { extra["prevalence"] = String(BeaconScore.round3(prevalence)) }
            var a = DetectorAlert(
                kind: parts == nil ? "strobe" : "beacon", identifier: "\(key.a)|\(key.b)",
                level: parts == nil || total >= 0.95 ? .high : nil, first: max(start, (s.ts.first ?? 0) * nanosPerSecond),
                last: s.last, source: key.a, destination: key.b, destinationPort: s.dport >= 0 ? Int(s.dport) : nil, count: n,
                metric: total, windowSeconds: Double(end - start) / 1e9,
                summary: parts == nil
                    ? "\(key.a) → \(key.b): \(n) connections in \(secondsText(end - start)) (strobe)"
                    : "\(key.a) → \(key.b): beacon score \(total) over \(n) connections in \(secondsText(end - start))",
                extra: extra)
            a.includeCurrent = false
            ctx.emit(a, from: self)
        }
    }
}

/// D9 `long_connection` — long cumulative connection time between two hosts.
///
/// Key: (source, destination); internal → internal pairs only when `internal` is true. Input: connection records
/// with a duration (Zeek writes them when the connection ends, so a long session is seen at its end). Window
/// kind: *trailing sliding* `window`, inclusive, over the contributing connections' start times. Fires when the
/// pair's summed duration reaches `min_duration`; the metric is RITA's bucketed score (1/4/8/12 h → 0.2/0.4/0.6/
/// 0.8, linear between); level low < 4 h ≤ medium < 8 h ≤ high. One finding per (pair, bucket) per `suppress_for`.
/// FP control (netdetect.md D9: "by role"): sessions from or to a host of the site's `backup` group are not
/// counted (bulk backup transfers run for hours by design). State bound: `max_keys` pairs × 64 connections.
/// Time source: log time.
final class LongConnectionDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Sessions {
        var ts: [Int64] = []
        var dur: [Double] = []
    }

    private var pairs: BoundedMap<AddressPair, Sessions>
    private let window: Int64, minDuration: Double, includeInternal: Bool
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        pairs = BoundedMap(capacity: rule.int("max_keys"))
        window = rule.nanos("window")
        minDuration = rule.number("min_duration")
        includeInternal = rule.bool("internal")
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: pairs.count, highWater: pairs.highWater,
            evicted: pairs.evicted, expired: pairs.expired, alerts: alerts, observed: observed)
    }

    static func bucketed(_ seconds: Double) -> Double {
        let pts: [(Double, Double)] = [(3600, 0.2), (14_400, 0.4), (28_800, 0.6), (43_200, 0.8)]
        if seconds < pts[0].0 { return 0 }
        for i in 1..<pts.count where seconds < pts[i].0 {
            let (x0, y0) = pts[i - 1], (x1, y1) = pts[i]
            return BeaconScore.round3(y0 + (seconds - x0) / (x1 - x0) * (y1 - y0))
        }
        return 0.8
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard f.duration > 0, !f.fromSessionLog else { return }
        if !includeInternal && ctx.roles.isInternal(f.src) && ctx.roles.isInternal(f.dst) { return }
        if ctx.roles.hasRoles && (ctx.roles.roles(f.src).contains(.backup) || ctx.roles.roles(f.dst).contains(.backup)) {
            return
        }
        observed += 1
        let lower = f.ts &- window
        let total: Double = pairs.update(AddressPair(f.src, f.dst), now: f.ts, make: { Sessions() }) { s in
            var drop = 0
            while drop < s.ts.count && s.ts[drop] < lower { drop += 1 }
            if drop > 0 { s.ts.removeFirst(drop); s.dur.removeFirst(drop) }
            if s.ts.count >= 64 { s.ts.removeFirst(); s.dur.removeFirst() }
            s.ts.append(f.ts)
            s.dur.append(f.duration)
            return s.dur.reduce(0, +)
        }
        guard total >= minDuration else { return }
        let score = LongConnectionDetector.bucketed(total)
        let tier = total >= 28_800 ? "8h" : total >= 14_400 ? "4h" : "1h"
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: "long_connection", identifier: "\(f.src)|\(f.dst)|\(tier)",
                level: total >= 28_800 ? .high : total >= 14_400 ? .medium : .low, first: f.ts, last: f.ts, source: f.src,
                destination: f.dst, destinationPort: f.dport >= 0 ? Int(f.dport) : nil, count: 1, metric: score,
                windowSeconds: Double(window) / 1e9,
                summary: "\(f.src) ↔ \(f.dst): \(Int(total)) s of connection time within \(secondsText(window)) (score \(score))",
                extra: ["duration_seconds": String(Int(total))]),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) { pairs.removeStale(olderThan: now &- window) }
}

/// A ring of time buckets summing values over a trailing window (sliding in bucket steps).
struct BucketRing {
    var epochs: [Int64]
    var sums: [Int64]
    var sums2: [Int64]

    init(count: Int) {
        epochs = [Int64](repeating: .min, count: count)
        sums = [Int64](repeating: 0, count: count)
        sums2 = [Int64](repeating: 0, count: count)
    }

    mutating func add(epoch: Int64, _ v: Int64, _ v2: Int64 = 0) {
        let i = Int(((epoch % Int64(epochs.count)) + Int64(epochs.count)) % Int64(epochs.count))
        if epochs[i] != epoch {
            if epochs[i] > epoch { return }  // older than the ring
            epochs[i] = epoch
            sums[i] = 0
            sums2[i] = 0
        }
        sums[i] &+= v
        sums2[i] &+= v2
    }

    /// Sums of the buckets in (epoch − count, epoch].
    func total(epoch: Int64) -> (Int64, Int64) {
        var a: Int64 = 0, b: Int64 = 0
        for i in 0..<epochs.count where epochs[i] > epoch - Int64(epochs.count) && epochs[i] <= epoch {
            a &+= sums[i]
            b &+= sums2[i]
        }
        return (a, b)
    }
}

/// D11 `exfil_volume` — large uploads from an internal host, and upload-dominant shifts against its own baseline.
///
/// Key: (internal source, external destination group: /24 for IPv4, /48 for IPv6). Inputs: connection records
/// with bytes (not protocol logs, not packet-only firewall logs). (a) `upload_volume`: the group's bytes out in
/// the trailing `window` (sliding in 1/12-window steps) reach max(`min_bytes`, `baseline_factor` × the source's
/// learned hourly p99) with PCR = (out − in)/(out + in) ≥ `min_pcr`; high when the source is a server/DC/
/// sensitive asset. (b) `upload_shift`: after learning, an hour whose bytes out reach `shift_min_bytes` and
/// exceed the source's learned hourly p99, and whose PCR exceeds the source's learned median PCR by
/// `shift_delta`; the finding names the destination of the hour's largest upload (so `allow` entries with a
/// destination apply). Baseline: per source, over its traffic to external destinations only (data leaving; a
/// server answering internal clients or pushing to the backup server is not an upload), a log2 histogram of
/// hourly bytes out and a PCR-decile histogram, learned during `learning` (exported in snapshots). Window
/// kinds: *sliding* (a), *tumbling hour* (b). Suppression per (source, group, kind) for `suppress_for`. State
/// bound: `max_keys` groups and `max_keys` host profiles. Time source: log time.
final class ExfilVolumeDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Profile {
        var hour: Int64 = .min
        var out: Int64 = 0
        var inb: Int64 = 0
        var hist = [UInt32](repeating: 0, count: 48)
        var pcr = [UInt32](repeating: 0, count: 10)
        var learnedHours: UInt32 = 0
        /// Destination of the current hour's largest upload.
        var topDestination: IPAddress?
        var topBytes: Int64 = -1
    }

    private var groups: BoundedMap<AddressPair, BucketRing>
    private var profiles: BoundedMap<IPAddress, Profile>
    private let window: Int64, step: Int64, minBytes: Int64, factor: Double, minPCR: Double, learning: Int64
    private let shiftMin: Int64, shiftDelta: Double
    private var alerts = 0, observed = 0, learningEvents = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        groups = BoundedMap(capacity: rule.int("max_keys"))
        profiles = BoundedMap(capacity: rule.int("max_keys"))
        window = max(12 * nanosPerSecond, rule.nanos("window"))
        step = window / 12
        minBytes = Int64(rule.number("min_bytes"))
        factor = rule.number("baseline_factor")
        minPCR = rule.number("min_pcr")
        learning = rule.nanos("learning")
        shiftMin = Int64(rule.number("shift_min_bytes"))
        shiftDelta = rule.number("shift_delta")
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: groups.count + profiles.count,
            highWater: groups.highWater + profiles.highWater, evicted: groups.evicted + profiles.evicted,
            expired: groups.expired + profiles.expired, alerts: alerts, observed: observed, learningEvents: learningEvents)
    }

    static func group(_ ip: IPAddress) -> IPAddress {
        ip.isIPv4 ? IPAddress(high: ip.high, low: ip.low & ~0xFF) : IPAddress(high: ip.high & ~0xFFFF, low: 0)
    }

    /// Upper bound of the bucket holding the 99th percentile of learned hours (0 when nothing was learned).
    static func p99(_ hist: [UInt32]) -> Double {
        let total = hist.reduce(0) { $0 + Int($1) }
        guard total > 0 else { return 0 }
        var cum = 0
        for (i, c) in hist.enumerated() {
            cum += Int(c)
            if Double(cum) >= 0.99 * Double(total) { return i == 0 ? 1 : Double(1 << (i + 1)) }
        }
        return Double(1 << 47)
    }

    static func pcrDecile(_ p: Double) -> Int { min(9, max(0, Int(((p + 1) / 0.2).rounded(.down)))) }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard !f.fromSessionLog, f.bytesOut >= 0, ctx.roles.isInternal(f.src) else { return }
        observed += 1
        let learningNow = ctx.isLearning(f.ts, period: learning)
        if learningNow { learningEvents += 1 }
        let hour = f.ts / (3600 * nanosPerSecond)
        let bin = max(0, f.bytesIn)
        // hourly profile of the source (external destinations only)
        var shift: (Int64, Int64, Double, Double, IPAddress?)?
        let external = !ctx.roles.isInternal(f.dst)
        let p99: Double = !external ? 0 : profiles.update(f.src, now: f.ts, make: { Profile() }) { p in
            if p.hour != hour {
                if p.hour != .min && hour > p.hour {
                    let total = p.out + p.inb
                    let pcr = total > 0 ? Double(p.out - p.inb) / Double(total) : 0
                    let hourStart = p.hour * 3600 * nanosPerSecond
                    if ctx.isLearning(hourStart, period: learning) {
                        let i = p.out <= 1 ? 0 : min(47, 63 - p.out.leadingZeroBitCount)
                        p.hist[i] += 1
                        p.pcr[ExfilVolumeDetector.pcrDecile(pcr)] += 1
                        p.learnedHours += 1
                    } else if p.learnedHours >= 24 && shiftMin > 0 && p.out >= shiftMin
                        && Double(p.out) > ExfilVolumeDetector.p99(p.hist)
                    {
                        // learned median PCR (decile midpoint)
                        var cum: UInt32 = 0
                        var med = 0.0
                        for (d, c) in p.pcr.enumerated() {
                            cum += c
                            if cum * 2 >= p.learnedHours { med = -0.9 + Double(d) * 0.2; break }
                        }
                        if pcr - med >= shiftDelta { shift = (p.hour, p.out, pcr, med, p.topDestination) }
                    }
                }
                if hour > p.hour || p.hour == .min {
                    p.hour = hour
                    p.out = 0
                    p.inb = 0
                    p.topDestination = nil
                    p.topBytes = -1
                }
            }
            if hour == p.hour {
                p.out &+= f.bytesOut
                p.inb &+= bin
                if f.bytesOut > p.topBytes {
                    p.topBytes = f.bytesOut
                    p.topDestination = f.dst
                }
            }
            return ExfilVolumeDetector.p99(p.hist)
        }
        if let (h, out, pcr, med, top) = shift {
            alerts += 1
            var a = DetectorAlert(
                kind: "upload_shift", identifier: "shift|\(f.src)|\(h)", level: .low, first: h * 3600 * nanosPerSecond,
                last: (h + 1) * 3600 * nanosPerSecond - 1, source: f.src, destination: top, count: 1,
                metric: BeaconScore.round3(pcr),
                windowSeconds: 3600,
                summary: "\(f.src) sent \(bytesText(Double(out))) in one hour with PCR \(BeaconScore.round3(pcr)) against a learned median of \(BeaconScore.round3(med))",
                extra: ["bytes_out": String(out)])
            a.includeCurrent = false
            ctx.emit(a, from: self)
        }
        guard external else { return }
        let g = ExfilVolumeDetector.group(f.dst)
        let epoch = f.ts / step
        let (out, inb): (Int64, Int64) = groups.update(AddressPair(f.src, g), now: f.ts, make: { BucketRing(count: 12) }) { r in
            r.add(epoch: epoch, f.bytesOut, bin)
            return r.total(epoch: epoch)
        }
        if learningNow { return }
        let threshold = max(Double(minBytes), factor * p99)
        guard Double(out) >= threshold else { return }
        let pcr = out + inb > 0 ? Double(out - inb) / Double(out + inb) : 0
        guard pcr >= minPCR else { return }
        let r = ctx.roles.hasRoles ? ctx.roles.roles(f.src) : []
        let high = r.contains(.server) || r.contains(.dc) || r.contains(.sensitive)
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: "upload_volume", identifier: "\(f.src)|\(g)", level: high ? .high : nil, first: f.ts &- window, last: f.ts,
                source: f.src, destination: f.dst, destinationPort: f.dport >= 0 ? Int(f.dport) : nil, count: 1,
                metric: Double(out), windowSeconds: Double(window) / 1e9,
                summary: "\(f.src) uploaded \(bytesText(Double(out))) to \(g)/\(g.isIPv4 ? 24 : 48) within \(secondsText(window)) (PCR \(BeaconScore.round3(pcr)), threshold \(bytesText(threshold)))",
                extra: ["bytes_out": String(out), "bytes_in": String(inb), "pcr": String(BeaconScore.round3(pcr)),
                        "destination_group": "\(g)/\(g.isIPv4 ? 24 : 48)"]),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) { groups.removeStale(olderThan: now &- window) }

    func export(into s: inout BaselineSnapshot) {
        for (k, p, _) in profiles.entriesOldestFirst() where p.learnedHours > 0 {
            s.volumes.append(.init(detector: rule.id, address: k, hourlyBytesOut: p.hist, hourlyPCR: p.pcr))
        }
    }

    func restore(from s: BaselineSnapshot) {
        for v in s.volumes where v.detector == rule.id && v.hourlyBytesOut.count == 48 && v.hourlyPCR.count == 10 {
            profiles.update(v.address, now: s.clock ?? 0, make: { Profile() }) { p in
                p.hist = v.hourlyBytesOut
                p.pcr = v.hourlyPCR
                p.learnedHours = v.hourlyPCR.reduce(0, +)
            }
        }
    }
}

/// D11(c) `internal_staging` — one internal host pulling large volumes from many internal hosts.
///
/// Key: receiving host (the originator of the connections, receiving the responders' bytes; or the responder
/// receiving the originators' bytes). Window kind: *sliding* `window` in 1/24-window steps, inclusive. Fires
/// when the bytes received from internal peers reach `min_bytes` from at least `min_sources` distinct peers
/// in the window; `file_servers`/`backup` receivers are exempt. The correlator links a later `exfil_volume`
/// finding of the same host. Suppression per receiver for `suppress_for`. State bound: `max_keys` receivers,
/// each remembering its 32 most recent peers. Time source: log time.
final class InternalStagingDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Receiver {
        var ring = BucketRing(count: 24)
        var peers: [(IPAddress, Int64)] = []
    }

    private var receivers: BoundedMap<IPAddress, Receiver>
    private let window: Int64, step: Int64, minBytes: Int64, minSources: Int
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        receivers = BoundedMap(capacity: rule.int("max_keys"))
        window = max(24 * nanosPerSecond, rule.nanos("window"))
        step = window / 24
        minBytes = Int64(rule.number("min_bytes"))
        minSources = max(1, rule.int("min_sources"))
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: receivers.count, highWater: receivers.highWater,
            evicted: receivers.evicted, expired: receivers.expired, alerts: alerts, observed: observed)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard !f.fromSessionLog, ctx.roles.isInternal(f.src), ctx.roles.isInternal(f.dst), f.src != f.dst else { return }
        if f.bytesIn > 0 { receive(f.src, from: f.dst, f.bytesIn, f.ts, ctx) }
        if f.bytesOut > 0 && f.bytesOut > f.bytesIn { receive(f.dst, from: f.src, f.bytesOut, f.ts, ctx) }
    }

    private func receive(_ host: IPAddress, from peer: IPAddress, _ bytes: Int64, _ ts: Int64, _ ctx: BehaviourContext) {
        if ctx.roles.hasRoles {
            let r = ctx.roles.roles(host)
            if r.contains(.fileServer) || r.contains(.backup) { return }
        }
        observed += 1
        let epoch = ts / step
        let lower = ts &- window
        let hit: (Int64, Int)? = receivers.update(host, now: ts, make: { Receiver() }) { r in
            r.ring.add(epoch: epoch, bytes)
            if let i = r.peers.firstIndex(where: { $0.0 == peer }) { r.peers[i].1 = max(r.peers[i].1, ts) } else {
                if r.peers.count >= 32, let o = r.peers.indices.min(by: { r.peers[$0].1 < r.peers[$1].1 }) { r.peers.remove(at: o) }
                r.peers.append((peer, ts))
            }
            let total = r.ring.total(epoch: epoch).0
            let n = r.peers.filter { $0.1 >= lower }.count
            return total >= minBytes && n >= minSources ? (total, n) : nil
        }
        guard let (total, n) = hit else { return }
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: "internal_staging", identifier: "\(host)", first: lower, last: ts, source: host, count: n,
                metric: Double(total), windowSeconds: Double(window) / 1e9,
                summary: "\(host) received \(bytesText(Double(total))) from \(n) internal hosts within \(secondsText(window))"),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) { receivers.removeStale(olderThan: now &- window) }
}

/// D12 `flood` — per-destination bursts of new connections far above the destination's own rate.
///
/// Key: destination. Window kind: *tumbling epoch* of `bucket` seconds with an EWMA (α = `alpha`) of the
/// per-bucket connection count and its variance. A closed bucket is anomalous when its count reaches `min_flows`
/// and exceeds mean + `sigma`·σ; `consecutive` anomalous buckets in a row fire (`syn_flood` when the share of
/// unanswered attempts is at least `syn_share`, else `flood`). Empty buckets between events count as zero
/// (up to 10 applied). Buckets close when the destination's next event arrives or at `finish()`. Suppression per
/// destination for `suppress_for`. State bound: `max_keys` destinations. Time source: log time.
final class FloodDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Rate {
        var bucket: Int64
        var count: Int64 = 0
        var failed: Int64 = 0
        var mean: Double = 0
        var variance: Double = 0
        var run = 0
        var runStart: Int64 = 0
        var runFlows: Int64 = 0
        var runFailed: Int64 = 0
        var seeded = false
    }

    private var rates: BoundedMap<IPAddress, Rate>
    private let bucket: Int64, minFlows: Int64, sigma: Double, consecutive: Int, alpha: Double, synShare: Double
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        rates = BoundedMap(capacity: rule.int("max_keys"))
        bucket = max(nanosPerSecond, rule.nanos("bucket"))
        minFlows = Int64(rule.int("min_flows"))
        sigma = rule.number("sigma")
        consecutive = max(1, rule.int("consecutive"))
        alpha = rule.number("alpha")
        synShare = rule.number("syn_share")
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: rates.count, highWater: rates.highWater,
            evicted: rates.evicted, expired: rates.expired, alerts: alerts, observed: observed)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard !f.fromSessionLog else { return }
        observed += 1
        let b = f.ts / bucket
        var fired: Rate?
        rates.update(f.dst, now: f.ts, make: { Rate(bucket: b) }) { r in
            if b > r.bucket {
                fired = close(&r, upTo: b)
            }
            if b == r.bucket {
                r.count += 1
                if f.failedAttempt || f.outcome == .attemptNoReply { r.failed += 1 }
            }
        }
        if let r = fired { report(f.dst, r, ctx) }
    }

    /// Closes the current bucket and any empty ones up to `b`; returns the state when a run completes.
    private func close(_ r: inout Rate, upTo b: Int64) -> Rate? {
        var out: Rate?
        let c = Double(r.count)
        let sd = r.variance.squareRoot()
        let anomalous = r.count >= minFlows && (!r.seeded || c > r.mean + sigma * sd)
        if anomalous {
            if r.run == 0 { r.runStart = r.bucket * bucket; r.runFlows = 0; r.runFailed = 0 }
            r.run += 1
            r.runFlows += r.count
            r.runFailed += r.failed
            if r.run == consecutive { out = r }
        } else {
            r.run = 0
            // only normal buckets feed the baseline, so a flood does not teach itself
            if !r.seeded {
                r.mean = c
                r.seeded = true
            } else {
                let d = c - r.mean
                r.mean += alpha * d
                r.variance = (1 - alpha) * (r.variance + alpha * d * d)
            }
        }
        let empties = min(10, b - r.bucket - 1)
        if empties > 0 {
            r.run = 0
            for _ in 0..<empties {
                let d = -r.mean
                r.mean += alpha * d
                r.variance = (1 - alpha) * (r.variance + alpha * d * d)
            }
        }
        r.bucket = b
        r.count = 0
        r.failed = 0
        return out
    }

    private func report(_ dst: IPAddress, _ r: Rate, _ ctx: BehaviourContext) {
        let share = r.runFlows > 0 ? Double(r.runFailed) / Double(r.runFlows) : 0
        let kind = share >= synShare ? "syn_flood" : "flood"
        alerts += 1
        var a = DetectorAlert(
            kind: kind, identifier: "\(dst)", level: .high, first: r.runStart, last: (r.bucket) * bucket - 1,
            destination: dst, count: Int(r.runFlows), metric: Double(r.runFlows), windowSeconds: Double(bucket) / 1e9,
            summary: "\(dst) received \(r.runFlows) connections in \(consecutive) consecutive \(secondsText(bucket)) buckets (\(Int((share * 100).rounded()))% unanswered; baseline \(Int(r.mean.rounded())) per bucket)",
            extra: ["unanswered_percent": String(Int((share * 100).rounded()))])
        a.includeCurrent = false
        ctx.emit(a, from: self)
    }

    func finish(_ ctx: BehaviourContext) {
        var done: [(IPAddress, Rate)] = []
        rates.mutateAll { k, r in
            if let x = close(&r, upTo: r.bucket + 1) { done.append((k, x)) }
        }
        for (k, r) in done.sorted(by: { $0.0 < $1.0 }) { report(k, r, ctx) }
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) { rates.removeStale(olderThan: now &- 600 * bucket) }
}
