import FlowhoundCore
import FlowhoundRules

/// Two addresses as one key.
package struct AddressPair: Hashable, Sendable {
    package var a: IPAddress
    package var b: IPAddress
    package init(_ a: IPAddress, _ b: IPAddress) {
        self.a = a
        self.b = b
    }

    package func hash(into h: inout Hasher) { h.combine(mixHash(a, mixHash(b, 0x5bd1_e995))) }
}

@inline(__always) func mixHash(_ ip: IPAddress, _ extra: UInt64) -> UInt64 {
    var h = ip.low &* 0x9E37_79B9_7F4A_7C15
    h ^= (ip.high &+ 0x632B_E59B_D9B4_E019) &* 0xBF58_476D_1CE4_E5B9
    h ^= extra &* 0x94D0_49BB_1331_11EB
    return h ^ (h >> 31)
}

/// D1 `internal_scan` — failed-attempt scans (bro-simple-scan semantics) and vertical bursts.
///
/// **Failed-attempt scan.** Key: scanner (source address). Only failed attempts count (`FlowView.failedAttempt`:
/// Zeek history S/SW/Sr/SWr, else S0/REJ on TCP, firewall/VPC rejects). Per scanner the set of unique
/// (victim, port) attempts; window kind *idle timeout*: the set is discarded when the next attempt comes more than
/// `idle_timeout` after the previous one (a gap of exactly `idle_timeout` keeps it). Fires when the set reaches
/// `threshold_internal` (scanner inside the site) or `threshold_external`; after `darknet_hits` attempts on hosts
/// of the `darknets` group the `…_darknet` thresholds apply. Classification as simple-scan: one port →
/// Address_Scan, one victim → Port_Scan, ≤ 5 ports → Address_Scan listing them, ≤ 5 victims → Port_Scan listing
/// them, else Random_Scan. Suppression: after firing the scanner is *known* for `suppress_for` and its attempts
/// are ignored (detector-internal, like simple-scan's `known_scanners`); the finding identifier is the scanner.
/// Hosts of the `scanners` and `mgmt` groups are never tracked. State bound: `max_keys` scanners (least recently
/// active evicted, counted), each set holding at most threshold entries.
///
/// **Vertical burst** (Elastic-style). Key: (source, destination). Window kind *tumbling epoch* of
/// `vertical_bucket` (aligned to the epoch), any outcome: fires once per epoch when the distinct destination ports
/// reach `vertical_ports`, or the distinct `sensitive_ports` reach `vertical_sensitive_ports` (0 disables).
/// Suppression per source for `suppress_for` (one vertical finding per scanner per period, naming the first
/// host; further hosts are counted in the detector's alerts, not reported). State bound: `max_keys` pairs.
///
/// Time source: log time.
final class InternalScanDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Scanner {
        var first: Int64
        var last: Int64
        var pairs: [UInt64] = []
        var ports: [Int32] = []
        var victims: [IPAddress] = []
        var darkHits = 0
        var knownUntil: Int64 = .min
        var evidence: [EvidenceRef] = []
    }

    struct Vertical {
        var bucket: Int64
        var ports: [Int32] = []
        var sensitive = 0
        var fired = false
        var first: Int64
    }

    private var scanners: BoundedMap<IPAddress, Scanner>
    private var vertical: BoundedMap<AddressPair, Vertical>
    private let idle: Int64, known: Int64, bucket: Int64
    private let tInt: Int, tExt: Int, tIntDark: Int, tExtDark: Int, darkHits: Int
    private let vPorts: Int, vSensitive: Int
    private let sensitive: Set<Int32>
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        scanners = BoundedMap(capacity: rule.int("max_keys"))
        vertical = BoundedMap(capacity: rule.int("max_keys"))
        idle = rule.nanos("idle_timeout")
        known = rule.nanos("suppress_for")
        bucket = max(nanosPerSecond, rule.nanos("vertical_bucket"))
        tInt = rule.int("threshold_internal")
        tExt = rule.int("threshold_external")
        tIntDark = rule.int("threshold_internal_darknet")
        tExtDark = rule.int("threshold_external_darknet")
        darkHits = rule.int("darknet_hits")
        vPorts = rule.int("vertical_ports")
        vSensitive = rule.int("vertical_sensitive_ports")
        sensitive = Set(rule.ports("sensitive_ports").map(Int32.init))
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: scanners.count + vertical.count,
            highWater: scanners.highWater + vertical.highWater, evicted: scanners.evicted + vertical.evicted,
            expired: scanners.expired + vertical.expired, alerts: alerts, observed: observed)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        if f.transport == .icmp || f.dport < 0 { return }
        observed += 1
        let roles = ctx.roles.hasRoles ? ctx.roles.roles(f.src) : []
        if roles.contains(.scanner) || roles.contains(.mgmt) { return }
        if f.failedAttempt && tInt > 0 { failedAttempt(f, ctx) }
        if vPorts > 0 || vSensitive > 0 { verticalBurst(f, ctx) }
    }

    private func failedAttempt(_ f: FlowView, _ ctx: BehaviourContext) {
        let internalScanner = ctx.roles.isInternal(f.src)
        let dark = ctx.roles.hasRoles && ctx.roles.roles(f.dst).contains(.darknet)
        let ref = ctx.currentRef
        let fire: Scanner? = scanners.update(f.src, now: f.ts, make: { Scanner(first: f.ts, last: f.ts) }) { s in
            if s.knownUntil != .min {
                if f.ts <= s.knownUntil { return nil }
                s = Scanner(first: f.ts, last: f.ts)
            }
            if f.ts - s.last > idle { s = Scanner(first: f.ts, last: f.ts) }
            if f.ts > s.last { s.last = f.ts }
            if f.ts < s.first { s.first = f.ts }
            let h = mixHash(f.dst, UInt64(UInt32(bitPattern: f.dport)))
            if s.pairs.contains(h) { return nil }
            s.pairs.append(h)
            if s.ports.count < 6 && !s.ports.contains(f.dport) { s.ports.append(f.dport) }
            if s.victims.count < 6 && !s.victims.contains(f.dst) { s.victims.append(f.dst) }
            if dark { s.darkHits += 1 }
            if let ref, s.evidence.count < Finding.maxEvidence - 1 { s.evidence.append(ref) }
            let useDark = darkHits > 0 && s.darkHits >= darkHits
            let threshold = internalScanner ? (useDark ? tIntDark : tInt) : (useDark ? tExtDark : tExt)
            guard threshold > 0, s.pairs.count >= threshold else { return nil }
            let snapshot = s
            s.pairs = []
            s.ports = []
            s.victims = []
            s.evidence = []
            s.knownUntil = f.ts &+ known
            return snapshot
        }
        guard let s = fire else { return }
        let kind: String
        var detail: String
        let ports = s.ports.map(String.init).joined(separator: ",")
        let victims = s.victims.map(\.description).joined(separator: ",")
        if s.ports.count == 1 {
            kind = "Address_Scan"
            detail = "\(s.pairs.count) unique failed attempts on port \(ports)"
        } else if s.victims.count == 1 {
            kind = "Port_Scan"
            detail = "\(s.pairs.count) unique failed attempts on host \(victims)"
        } else if s.ports.count <= 5 {
            kind = "Address_Scan"
            detail = "\(s.pairs.count) unique failed attempts on ports \(ports)"
        } else if s.victims.count <= 5 {
            kind = "Port_Scan"
            detail = "\(s.pairs.count) unique failed attempts on hosts \(victims)"
        } else {
            kind = "Random_Scan"
            detail = "\(s.pairs.count) unique failed attempts on more than 5 hosts and ports"
        }
        detail = "\(f.src) made \(detail) within \(secondsText(s.last - s.first))"
        alerts += 1
        var a = DetectorAlert(
            kind: "failed_attempts", identifier: "scan|\(f.src)", first: s.first, last: s.last, source: f.src,
            destinationPort: s.ports.count == 1 ? Int(s.ports[0]) : nil, count: s.pairs.count,
            metric: Double(s.pairs.count), windowSeconds: Double(idle) / 1e9, summary: detail,
            extra: ["scan_class": kind, "scanner_internal": internalScanner ? "true" : "false"], evidence: s.evidence)
        if s.ports.count <= 5 { a.extra["ports"] = ports }
        if s.victims.count <= 5 { a.extra["victims"] = victims }
        ctx.emit(a, from: self)
    }

    private func verticalBurst(_ f: FlowView, _ ctx: BehaviourContext) {
        let b = f.ts >= 0 ? f.ts / bucket : (f.ts - bucket + 1) / bucket
        let isSensitive = sensitive.contains(f.dport)
        let fire: Vertical? = vertical.update(AddressPair(f.src, f.dst), now: f.ts, make: { Vertical(bucket: b, first: f.ts) }) { v in
            if v.bucket != b {
                if b < v.bucket { return nil }  // late event of a closed epoch
                v = Vertical(bucket: b, first: f.ts)
            }
            if v.fired || v.ports.contains(f.dport) { return nil }
            v.ports.append(f.dport)
            if isSensitive { v.sensitive += 1 }
            if (vPorts > 0 && v.ports.count >= vPorts) || (vSensitive > 0 && v.sensitive >= vSensitive) {
                v.fired = true
                return v
            }
            return nil
        }
        guard let v = fire else { return }
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: "vertical", identifier: "vertical|\(f.src)", first: v.first, last: f.ts, source: f.src,
                destination: f.dst, count: v.ports.count, metric: Double(v.ports.count),
                windowSeconds: Double(bucket) / 1e9,
                summary: "\(f.src) reached \(v.ports.count) distinct ports (\(v.sensitive) sensitive) on \(f.dst) within one \(secondsText(bucket)) epoch",
                extra: ["sensitive_ports": String(v.sensitive)]),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        scanners.removeStale(olderThan: now &- max(idle, known))
        vertical.removeStale(olderThan: now &- 2 * bucket)
    }
}

/// D1 rule 2 `admin_port_sweep` — one source touching many internal hosts on admin ports, mostly failing.
///
/// Key: source address. Input: flows to internal destinations whose port is in `ports`, any outcome. Window kind
/// *trailing sliding* `[t − window, t]`, inclusive at both ends. Fires when the distinct destinations in the
/// window reach `min_destinations` and the failed share of the window's attempts is at least `min_fail_ratio`.
/// Suppression per source for `suppress_for` (central). `scanners`/`mgmt` hosts are skipped. State bound:
/// `max_keys` sources, each window holding at most `max_events_per_key` attempts (oldest dropped, counted).
/// Time source: log time.
final class AdminPortSweepDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Window {
        var ts: [Int64] = []
        var dst: [IPAddress] = []
        var failed: [Bool] = []
        var head = 0
        var perDst: [IPAddress: Int] = [:]
        var failedCount = 0
        var evidence: [EvidenceRef] = []

        var count: Int { ts.count - head }

        mutating func popFront() {
            let d = dst[head]
            if let c = perDst[d] { if c <= 1 { perDst[d] = nil } else { perDst[d] = c - 1 } }
            if failed[head] { failedCount -= 1 }
            head += 1
            if head > 1024 && head * 2 > ts.count {
                ts.removeFirst(head)
                dst.removeFirst(head)
                failed.removeFirst(head)
                head = 0
            }
        }
    }

    private var windows: BoundedMap<IPAddress, Window>
    private let span: Int64, minDst: Int, ratio: Double, maxEvents: Int
    private let ports: Set<Int32>
    private var alerts = 0, observed = 0, droppedEvents = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        windows = BoundedMap(capacity: rule.int("max_keys"))
        span = rule.nanos("window")
        minDst = max(1, rule.int("min_destinations"))
        ratio = rule.number("min_fail_ratio")
        maxEvents = max(minDst, rule.int("max_events_per_key"))
        ports = Set(rule.ports("ports").map(Int32.init))
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: windows.count, highWater: windows.highWater,
            evicted: windows.evicted + droppedEvents, expired: windows.expired, alerts: alerts, observed: observed)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard ports.contains(f.dport), f.transport != .icmp, !f.fromSessionLog, ctx.roles.isInternal(f.dst) else { return }
        if ctx.roles.hasRoles {
            let r = ctx.roles.roles(f.src)
            if r.contains(.scanner) || r.contains(.mgmt) { return }
        }
        observed += 1
        let ref = ctx.currentRef
        let lower = f.ts &- span
        let result: (Int, Int, Int, Int64, [EvidenceRef])? = windows.update(f.src, now: f.ts, make: { Window() }) { w in
            while w.count > 0 && w.ts[w.head] < lower { w.popFront() }
            if w.count >= maxEvents {
                w.popFront()
                droppedEvents += 1
            }
            w.ts.append(f.ts)
            w.dst.append(f.dst)
            w.failed.append(f.failedAttempt)
            w.perDst[f.dst, default: 0] += 1
            if f.failedAttempt { w.failedCount += 1 }
            if w.perDst[f.dst] == 1, let ref {
                if w.evidence.count >= Finding.maxEvidence - 1 { w.evidence.removeFirst() }
                w.evidence.append(ref)
            }
            let distinct = w.perDst.count
            guard distinct >= minDst, Double(w.failedCount) >= ratio * Double(w.count) else { return nil }
            return (distinct, w.failedCount, w.count, w.ts[w.head], w.evidence)
        }
        guard let (distinct, failed, total, first, ev) = result else { return }
        alerts += 1
        let pct = Int((Double(failed) / Double(total) * 100).rounded())
        ctx.emit(
            DetectorAlert(
                kind: "admin_port_sweep", identifier: "sweep|\(f.src)", first: first, last: f.ts, source: f.src,
                count: total, metric: Double(distinct), windowSeconds: Double(span) / 1e9,
                summary: "\(f.src) reached \(distinct) internal hosts on admin ports within \(secondsText(span)), \(pct)% of \(total) attempts failed",
                extra: ["distinct_destinations": String(distinct), "failed_percent": String(pct)], evidence: ev),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        windows.removeStale(olderThan: now &- span)
    }
}
