import FlowhoundCore
import FlowhoundRules

/// D10 `dns_tunnel` — many long or unique names under one registered domain.
///
/// Registered domain: the last two labels, or three when the second-level label is a common public second level
/// (`co`, `com`, `net`, `org`, `gov`, `ac`, `edu` under a two-letter TLD) — an approximation of the Public Suffix
/// List. `.arpa`, `.local` and single-label names are skipped. Queries sent by a host of the site's
/// `dns_resolvers` group are skipped too: a resolver forwards its clients' queries, and the tunnel is reported
/// on the client that asked (whose query the resolver received).
/// (fast) Key: (client, registered domain). Window kind: *trailing sliding* `fast_window`, inclusive. Fires
/// `fast` when the window holds at least `fast_queries` queries and at least `fast_long_names` distinct names
/// whose longest label has `long_label` or more characters, or `txt` when at least `fast_queries` queries of which
/// a share of at least `txt_share` are TXT/NULL.
/// (slow) Key: registered domain. Window kind: *trailing sliding* `slow_window`: unique FQDNs (all clients) reach
/// `slow_unique` (RITA's 100/500/800/1000 buckets decide the level; each bucket fires once per `suppress_for`).
/// Findings carry the longest label's length and Shannon entropy. State bound: `max_keys` (client, domain) pairs
/// × 256 queries and `max_keys` domains × 1,001 names. Time source: log time.
final class DnsTunnelDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .dns

    struct ClientDomain: Hashable {
        var client: IPAddress
        var domain: UInt64
    }

    struct Fast {
        var ts: [Int64] = []
        var name: [UInt64] = []
        var long: [Bool] = []
        var txt: [Bool] = []
    }

    struct Slow {
        var names: [UInt64: Int64] = [:]
        var fired: Int = 0
    }

    private var fast: BoundedMap<ClientDomain, Fast>
    private var slow: BoundedMap<UInt64, Slow>
    private let fastW: Int64, fastQ: Int, fastLong: Int, longLabel: Int, txtShare: Double, slowW: Int64, slowUnique: Int
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        fast = BoundedMap(capacity: rule.int("max_keys"))
        slow = BoundedMap(capacity: rule.int("max_keys"))
        fastW = rule.nanos("fast_window")
        fastQ = rule.int("fast_queries")
        fastLong = rule.int("fast_long_names")
        longLabel = max(1, rule.int("long_label"))
        txtShare = rule.number("txt_share")
        slowW = rule.nanos("slow_window")
        slowUnique = rule.int("slow_unique")
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: fast.count + slow.count, highWater: fast.highWater + slow.highWater,
            evicted: fast.evicted + slow.evicted, expired: fast.expired + slow.expired, alerts: alerts, observed: observed)
    }

    /// Start offset of the registered domain inside `q` (after trimming a trailing dot), or nil to skip.
    static func registeredDomainStart(_ q: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        var dots: [Int] = []
        for i in 0..<n where q[i] == 46 { dots.append(i) }
        guard let last = dots.last else { return nil }
        let tldLen = n - last - 1
        if tldLen == 4 && Bytes.equalFolded(q + last + 1, "arpa", 4) { return nil }
        if tldLen == 5 && Bytes.equalFolded(q + last + 1, "local", 5) { return nil }
        if dots.count == 1 { return 0 }
        let second = dots[dots.count - 2]
        let slLen = last - second - 1
        var start = second + 1
        if tldLen == 2 && slLen <= 3 {
            let sl = q + second + 1
            let known: [StaticString] = ["co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"]
            if known.contains(where: { $0.utf8CodeUnitCount == slLen && Bytes.equalFolded(sl, $0.utf8Start, slLen) }) {
                start = dots.count >= 3 ? dots[dots.count - 3] + 1 : 0
            }
        }
        return start
    }

    static func entropy(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double {
        guard n > 0 else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        for i in 0..<n { counts[Int(Bytes.lower(p[i]))] += 1 }
        var h = 0.0
        for c in counts where c > 0 {
            let f = Double(c) / Double(n)
            h -= f * log2(f)
        }
        return (h * 1000).rounded() / 1000
    }

    func dns(_ d: DnsView, _ ctx: BehaviourContext) {
        guard let q0 = d.query else { return }
        if ctx.roles.hasRoles && ctx.roles.roles(d.client).contains(.dnsResolver) { return }
        var n = d.queryLength
        if n > 0 && q0[n - 1] == 46 { n -= 1 }
        guard n > 0, let start = DnsTunnelDetector.registeredDomainStart(q0, n) else { return }
        observed += 1
        let domain = fnv1aFolded(q0 + start, n - start)
        let name = fnv1aFolded(q0, n)
        // longest label (of the part below the registered domain)
        var longest = 0, longestAt = 0, run = 0, runStart = 0
        for i in 0..<start {
            if q0[i] == 46 {
                run = 0
                runStart = i + 1
            } else {
                run += 1
                if run > longest { longest = run; longestAt = runStart }
            }
        }
        let isLong = longest >= longLabel
        let isTxt = d.qtype == 16 || d.qtype == 10
        let t = d.ts
        let lower = t &- fastW
        let fastHit: (String, Int, Int)? = fast.update(ClientDomain(client: d.client, domain: domain), now: t, make: { Fast() }) { w in
            var drop = 0
            while drop < w.ts.count && w.ts[drop] < lower { drop += 1 }
            if drop > 0 {
                w.ts.removeFirst(drop); w.name.removeFirst(drop); w.long.removeFirst(drop); w.txt.removeFirst(drop)
            }
            if w.ts.count >= 256 { w.ts.removeFirst(); w.name.removeFirst(); w.long.removeFirst(); w.txt.removeFirst() }
            w.ts.append(t)
            w.name.append(name)
            w.long.append(isLong)
            w.txt.append(isTxt)
            guard fastQ > 0, w.ts.count >= fastQ else { return nil }
            var longNames = Set<UInt64>()
            var txt = 0
            for i in 0..<w.ts.count {
                if w.long[i] { longNames.insert(w.name[i]) }
                if w.txt[i] { txt += 1 }
            }
            if fastLong > 0 && longNames.count >= fastLong { return ("fast", w.ts.count, longNames.count) }
            if txtShare > 0 && Double(txt) >= txtShare * Double(w.ts.count) { return ("txt", w.ts.count, txt) }
            return nil
        }
        let domainText = { String(decoding: UnsafeBufferPointer(start: q0 + start, count: n - start), as: UTF8.self) }
        let ent = DnsTunnelDetector.entropy(q0 + longestAt, longest)
        if let (kind, queries, names) = fastHit {
            alerts += 1
            ctx.emit(
                DetectorAlert(
                    kind: kind, identifier: "\(kind)|\(d.client)|\(domain)", first: lower, last: t, source: d.client,
                    destination: d.server, count: queries, metric: Double(names), windowSeconds: Double(fastW) / 1e9,
                    summary: kind == "fast"
                        ? "\(d.client) queried \(names) distinct long names under \(domainText()) (\(queries) queries in \(secondsText(fastW)))"
                        : "\(d.client) sent \(names) TXT/NULL queries of \(queries) under \(domainText()) in \(secondsText(fastW))",
                    extra: ["domain": domainText(), "max_label_length": String(longest), "label_entropy": String(ent)]),
                from: self)
        }
        guard slowUnique > 0 else { return }
        let slowLower = t &- slowW
        let slowHit: (Int, Int)? = slow.update(domain, now: t, make: { Slow() }) { s in
            s.names[name] = t
            if s.names.count > 1001 { s.names = s.names.filter { $0.value >= slowLower } }
            if s.names.count > 1001, let oldest = s.names.min(by: { $0.value < $1.value }) { s.names[oldest.key] = nil }
            let u = s.names.count
            let bucket = u >= 1000 ? 4 : u >= 800 ? 3 : u >= 500 ? 2 : u >= slowUnique ? 1 : 0
            if bucket > s.fired {
                let live = s.names.values.filter { $0 >= slowLower }.count
                let b2 = live >= 1000 ? 4 : live >= 800 ? 3 : live >= 500 ? 2 : live >= slowUnique ? 1 : 0
                if b2 > s.fired {
                    s.fired = b2
                    return (live, b2)
                }
            }
            return nil
        }
        if let (unique, bucket) = slowHit {
            alerts += 1
            let level: Severity = bucket >= 3 ? .high : bucket == 2 ? .medium : .low
            ctx.emit(
                DetectorAlert(
                    kind: "unique_subdomains", identifier: "slow|\(domain)|\(bucket)", level: level, first: slowLower, last: t,
                    source: d.client, count: unique, metric: Double(unique), windowSeconds: Double(slowW) / 1e9,
                    summary: "\(unique) unique names under \(domainText()) within \(secondsText(slowW))",
                    extra: ["domain": domainText(), "max_label_length": String(longest), "label_entropy": String(ent)]),
                from: self)
        }
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        fast.removeStale(olderThan: now &- fastW)
        slow.removeStale(olderThan: now &- slowW)
    }
}
