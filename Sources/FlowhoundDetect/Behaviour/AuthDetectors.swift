import FlowhoundCore
import FlowhoundRules

/// D4 `fanout` — one actor reaching many internal hosts quickly (white cane / blast).
///
/// Key (`key`): `source` (default) or `source_user` (source and account). Inputs: successful logons with a source
/// and a destination (Zeek rdp/ssh/ntlm/kerberos, sshd `Accepted`, Windows 4624), internal admin-service sessions
/// (flows and protocol logs), admin-share mappings. Window kind: *trailing sliding*, inclusive: a destination
/// counts while its latest contact lies in `[t − window, t]`. Tiers evaluated on every event: blast (at least
/// `blast_destinations` in `blast_window`, high) before white cane (at least `white_cane_destinations` in
/// `white_cane_window`, rule level). Suppression per (actor, tier) for `suppress_for`. `mgmt`, `jump_hosts`,
/// `scanners` and machine/anonymous accounts are skipped. State bound: `max_keys` actors, each remembering its
/// 64 most recent distinct destinations (exact for thresholds up to 64). Time source: log time.
final class FanoutDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = [.flow, .auth, .remoteOp]

    struct ActorKey: Hashable {
        var src: IPAddress
        var user: UInt64
    }

    struct Actor {
        var dsts: [IPAddress] = []
        var last: [Int64] = []
        var evidence: [EvidenceRef] = []
    }

    private var actors: BoundedMap<ActorKey, Actor>
    private let wcN: Int, wcW: Int64, blN: Int, blW: Int64
    private let byUser: Bool
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        actors = BoundedMap(capacity: rule.int("max_keys"))
        wcN = rule.int("white_cane_destinations")
        wcW = rule.nanos("white_cane_window")
        blN = rule.int("blast_destinations")
        blW = rule.nanos("blast_window")
        byUser = rule.key == "source_user"
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: actors.count, highWater: actors.highWater,
            evicted: actors.evicted, expired: actors.expired, alerts: alerts, observed: observed)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard ServiceCode.isAdmin(f.service), isSessionEvidence(f), ctx.roles.isInternal(f.dst), f.src != f.dst else { return }
        contact(f.src, user: 0, f.dst, f.ts, ctx)
    }

    func auth(_ a: AuthView, _ ctx: BehaviourContext) {
        guard a.outcome == .success, !a.userIsNoise, let src = a.src, let dst = a.dst, src != dst else { return }
        if a.service == ServiceCode.kerberos { return }  // tickets go to the KDC: a sink
        contact(src, user: byUser ? a.user : 0, dst, a.ts, ctx)
    }

    func remoteOp(_ op: RemoteOpView, _ ctx: BehaviourContext) {
        guard op.kind == .shareMapAdmin else { return }
        contact(op.src, user: 0, op.dst, op.ts, ctx)
    }

    private func contact(_ src: IPAddress, user: UInt64, _ dst: IPAddress, _ ts: Int64, _ ctx: BehaviourContext) {
        if ctx.roles.hasRoles {
            let r = ctx.roles.roles(src)
            if r.contains(.mgmt) || r.contains(.jumpHost) || r.contains(.scanner) { return }
        }
        observed += 1
        let ref = ctx.currentRef
        let hit: (String, Int, Int64, Int64, [EvidenceRef])? = actors.update(ActorKey(src: src, user: byUser ? user : 0), now: ts, make: { Actor() }) { a in
            if let i = a.dsts.firstIndex(of: dst) {
                a.last[i] = max(a.last[i], ts)
            } else {
                if a.dsts.count >= 64, let oldest = a.last.indices.min(by: { a.last[$0] < a.last[$1] }) {
                    a.dsts.remove(at: oldest)
                    a.last.remove(at: oldest)
                }
                a.dsts.append(dst)
                a.last.append(ts)
                if let ref {
                    if a.evidence.count >= Finding.maxEvidence - 1 { a.evidence.removeFirst() }
                    a.evidence.append(ref)
                }
            }
            func within(_ w: Int64) -> (Int, Int64) {
                var n = 0
                var first = ts
                for t in a.last where t >= ts &- w && t <= ts {
                    n += 1
                    if t < first { first = t }
                }
                return (n, first)
            }
            if blN > 0 {
                let (n, first) = within(blW)
                if n >= blN { return ("blast", n, first, blW, a.evidence) }
            }
            if wcN > 0 {
                let (n, first) = within(wcW)
                if n >= wcN { return ("white_cane", n, first, wcW, a.evidence) }
            }
            return nil
        }
        guard let (tier, n, first, w, ev) = hit else { return }
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: tier, identifier: "\(tier)|\(src)|\(user)", level: tier == "blast" ? .high : nil, first: first, last: ts,
                source: src, user: byUser ? ctx.currentText(.user) : nil, count: n, metric: Double(n),
                windowSeconds: Double(w) / 1e9,
                summary: "\(src) reached \(n) distinct internal hosts within \(secondsText(ts - first)) (\(tier.replacingUnderscores) threshold \(tier == "blast" ? blN : wcN) in \(secondsText(w)))",
                evidence: ev),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        actors.removeStale(olderThan: now &- max(wcW, blW))
    }
}

/// D5 `lateral_chain` — a host reached suspiciously that then moves on (X → A, then A → B).
///
/// Key: host. Inputs: findings of `new_internal_edge`, `admin_protocol`, `sensitive_asset_access`,
/// `bruteforce_success` and `fanout` (their source → destination), plus inbound admin sessions from outside the
/// internal networks. Window kind: *taint with TTL*: the destination of such a finding is tainted at the
/// finding's time with depth 1 and path [X, A]; when a tainted host A is the source of a later such finding
/// (time in `[taint, taint + taint_ttl]`, inclusive; the second hop must not precede the first) a chain finding
/// X → A → B is emitted and B is tainted with depth + 1 (up to `max_depth`). Level: high; critical when the second
/// hop came within `fast_bridge`, the account changed between the hops ("switched bridge"), the path has 4 or
/// more hosts, or the end host is sensitive. Jump hosts pass taint on only with an account switch.
/// Suppression per (A, B) for `suppress_for`. State bound: `max_keys` tainted hosts, oldest evicted.
/// Time source: log time (the findings' last-seen times).
final class LateralChainDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow
    var wantsFindings: Bool { true }

    struct Taint {
        var at: Int64
        var depth: Int
        var path: [IPAddress]
        var user: String?
        var rules: [String]
    }

    private var taints: BoundedMap<IPAddress, Taint>
    private let ttl: Int64, fast: Int64, maxDepth: Int
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        taints = BoundedMap(capacity: rule.int("max_keys"))
        ttl = rule.nanos("taint_ttl")
        fast = rule.nanos("fast_bridge")
        maxDepth = max(2, rule.int("max_depth"))
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: taints.count, highWater: taints.highWater,
            evicted: taints.evicted, expired: taints.expired, alerts: alerts, observed: observed)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard ServiceCode.isAdmin(f.service), isSessionEvidence(f), !ctx.roles.isInternal(f.src), ctx.roles.isInternal(f.dst) else { return }
        observed += 1
        taint(f.dst, at: f.ts, depth: 1, path: [f.src, f.dst], user: nil, rules: ["inbound_admin"])
    }

    func finding(_ f: Finding, type: DetectorType, src: IPAddress?, dst: IPAddress?, _ ctx: BehaviourContext) {
        switch type {
        case .newInternalEdge, .adminProtocol, .sensitiveAssetAccess, .bruteforceSuccess: break
        default: return
        }
        if f.group["kind"] == "new_host" || f.group["kind"] == "failed_login_burst" { return }
        guard let a = src, let b = dst, a != b else { return }
        observed += 1
        let t = f.lastSeen.nanoseconds
        if let prior = taints.peek(a), t >= prior.at, t - prior.at <= ttl {
            let switched = prior.user != nil && f.userName != nil && prior.user != f.userName
            let aRoles = ctx.roles.hasRoles ? ctx.roles.roles(a) : []
            if aRoles.contains(.jumpHost) && !switched { return }
            let path = prior.path + [b]
            let bSensitive = ctx.roles.hasRoles && ctx.roles.roles(b).contains(.sensitive)
            let isFast = t - prior.at <= fast
            let critical = isFast || switched || path.count >= 4 || bSensitive
            alerts += 1
            var a1 = DetectorAlert(
                kind: switched ? "switched_bridge" : "bridge", identifier: "\(a)|\(b)", level: critical ? .critical : .high,
                first: prior.at, last: t, source: a, destination: b, user: f.userName, count: path.count,
                metric: Double(path.count), windowSeconds: Double(t - prior.at) / 1e9,
                summary: "lateral chain \(path.map(\.description).joined(separator: " → ")): second hop \(secondsText(t - prior.at)) after the first\(isFast ? " (fast bridge)" : "")\(switched ? ", account changed" : "")",
                extra: ["path": path.map(\.description).joined(separator: ","), "hops": String(path.count - 1),
                        "first_hop_rules": prior.rules.joined(separator: ","), "second_hop_rule": f.ruleID])
            a1.includeCurrent = false
            a1.evidence = f.evidence.prefix(Finding.maxEvidence).map { EvidenceRef(path: $0.path, line: $0.line, byteOffset: $0.byteOffset) }
            ctx.emit(a1, from: self)
            if prior.depth + 1 < maxDepth {
                taint(b, at: t, depth: prior.depth + 1, path: path, user: f.userName, rules: [f.ruleID])
            }
        } else {
            taint(b, at: t, depth: 1, path: [a, b], user: f.userName, rules: [f.ruleID])
        }
    }

    private func taint(_ host: IPAddress, at t: Int64, depth: Int, path: [IPAddress], user: String?, rules: [String]) {
        taints.update(host, now: t, make: { Taint(at: t, depth: depth, path: path, user: user, rules: rules) }) { x in
            // keep the deeper (or, at equal depth, the earlier still-valid) taint
            if x.at == t && x.path == path { return }
            if depth > x.depth || t - x.at > ttl {
                x = Taint(at: t, depth: depth, path: path, user: user, rules: rules)
            }
        }
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        taints.removeStale(olderThan: now &- ttl)
    }
}

/// D7 `bruteforce_success` — failure bursts, spraying and distributed guessing, then a successful logon.
///
/// Key: source address (and account for the distributed case). Inputs: authentication results (sshd, Windows
/// 4624/4625/4771/4776, Zeek ssh/ntlm/kerberos/rdp). Machine/anonymous accounts and Windows noise statuses are
/// skipped. Window kind: *trailing sliding*, inclusive `[t − window, t]`, plus a *primed state*: a source whose
/// failures reach `burst_failures` in `burst_window`, `long_failures` in `long_window`, or whose failures name
/// `spray_users` distinct accounts in `spray_window`, is primed until `success_window` after its latest failure;
/// an account failing from `distributed_sources` distinct sources in `distributed_window` is primed likewise.
/// Findings: `failed_login_burst` (medium) when a source is first primed; `burst_then_success` (high) when a
/// primed source (any account) or a primed account logs on successfully. Suppression per (kind, source) for
/// `suppress_for`. State bound: `max_keys` sources and accounts, each remembering its 32 latest failures.
/// Time source: log time.
final class BruteforceSuccessDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .auth

    struct Source {
        var fails: [Int64] = []
        var users: [(UInt64, Int64)] = []
        var primedUntil: Int64 = .min
        var primedBy = ""
        var total = 0
        var first: Int64 = .max
        var evidence: [EvidenceRef] = []
    }

    struct Account {
        var sources: [(IPAddress, Int64)] = []
        var primedUntil: Int64 = .min
    }

    private var sources: BoundedMap<IPAddress, Source>
    private var accounts: BoundedMap<UInt64, Account>
    private let burstN: Int, burstW: Int64, longN: Int, longW: Int64, sprayN: Int, sprayW: Int64
    private let distN: Int, distW: Int64, successW: Int64
    private var alerts = 0, observed = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        sources = BoundedMap(capacity: rule.int("max_keys"))
        accounts = BoundedMap(capacity: rule.int("max_keys"))
        burstN = rule.int("burst_failures")
        burstW = rule.nanos("burst_window")
        longN = rule.int("long_failures")
        longW = rule.nanos("long_window")
        sprayN = rule.int("spray_users")
        sprayW = rule.nanos("spray_window")
        distN = rule.int("distributed_sources")
        distW = rule.nanos("distributed_window")
        successW = rule.nanos("success_window")
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: sources.count + accounts.count,
            highWater: sources.highWater + accounts.highWater, evicted: sources.evicted + accounts.evicted,
            expired: sources.expired + accounts.expired, alerts: alerts, observed: observed)
    }

    func auth(_ a: AuthView, _ ctx: BehaviourContext) {
        if a.userIsNoise || a.noisyStatus { return }
        observed += 1
        if a.outcome == .failure { failure(a, ctx) } else if a.outcome == .success { success(a, ctx) }
    }

    private func failure(_ a: AuthView, _ ctx: BehaviourContext) {
        let t = a.ts
        if let src = a.src {
            let ref = ctx.currentRef
            let primed: (String, Int, Int64)? = sources.update(src, now: t, make: { Source() }) { s in
                for _ in 0..<max(1, min(a.attempts, 32)) {
                    if s.fails.count >= 32 { s.fails.removeFirst() }
                    s.fails.append(t)
                }
                s.total += a.attempts
                if t < s.first { s.first = t }
                if a.user != 0 {
                    if let i = s.users.firstIndex(where: { $0.0 == a.user }) { s.users[i].1 = t } else {
                        if s.users.count >= 32 { s.users.removeFirst() }
                        s.users.append((a.user, t))
                    }
                }
                if let ref {
                    if s.evidence.count >= Finding.maxEvidence - 1 { s.evidence.remove(at: min(1, s.evidence.count - 1)) }
                    s.evidence.append(ref)
                }
                let wasPrimed = s.primedUntil >= t
                var by: String?
                if burstN > 0 && count(s.fails, t, burstW) >= burstN { by = "burst" }
                if by == nil && longN > 0 && count(s.fails, t, longW) >= longN { by = "long_burst" }
                if by == nil && sprayN > 0 && s.users.filter({ $0.1 >= t &- sprayW }).count >= sprayN { by = "spray" }
                if let by {
                    s.primedUntil = t &+ successW
                    if !wasPrimed { s.primedBy = by }
                    return wasPrimed ? nil : (by, count(s.fails, t, by == "long_burst" ? longW : burstW), s.first)
                }
                if wasPrimed { s.primedUntil = max(s.primedUntil, t &+ successW) }
                return nil
            }
            if let (by, n, first) = primed {
                alerts += 1
                ctx.emit(
                    DetectorAlert(
                        kind: "failed_login_burst", identifier: "burst|\(src)", level: .medium, first: first, last: t,
                        source: src, destination: HostID.isNamed(a.dst ?? src) ? nil : a.dst, count: n, metric: Double(n),
                        summary: "\(src) failed \(n) logons (\(by)) — primed for \(secondsText(successW)) after its last failure",
                        extra: ["primed_by": by] .merging(hostExtra(ctx, a)) { x, _ in x },
                        evidence: sources.peek(src)?.evidence ?? []),
                    from: self)
            }
        }
        if a.user != 0 && distN > 0 {
            let src = a.src ?? IPAddress(high: 0, low: 0)
            accounts.update(a.user, now: t, make: { Account() }) { acc in
                if let i = acc.sources.firstIndex(where: { $0.0 == src }) { acc.sources[i].1 = t } else {
                    if acc.sources.count >= 64 { acc.sources.removeFirst() }
                    acc.sources.append((src, t))
                }
                if acc.sources.filter({ $0.1 >= t &- distW }).count >= distN { acc.primedUntil = t &+ successW }
            }
        }
    }

    private func count(_ xs: [Int64], _ t: Int64, _ w: Int64) -> Int {
        var n = 0
        for x in xs where x >= t &- w && x <= t { n += 1 }
        return n
    }

    private func hostExtra(_ ctx: BehaviourContext, _ a: AuthView) -> [String: String] {
        if let d = a.dst, HostID.isNamed(d), let h = ctx.currentText(.host) { return ["destination.host": h] }
        return [:]
    }

    private func success(_ a: AuthView, _ ctx: BehaviourContext) {
        let t = a.ts
        var by: String?
        var failures = 0
        var first = t
        var evidence: [EvidenceRef] = []
        if let src = a.src, let s = sources.peek(src), s.primedUntil >= t, !s.fails.isEmpty, s.fails.last! <= t {
            by = s.primedBy
            failures = s.total
            first = s.first
            evidence = s.evidence
        } else if a.user != 0, let acc = accounts.peek(a.user), acc.primedUntil >= t {
            by = "distributed"
            failures = acc.sources.count
            first = acc.sources.map(\.1).min() ?? t
        }
        guard let by else { return }
        alerts += 1
        let user = ctx.currentText(.user)
        ctx.emit(
            DetectorAlert(
                kind: "burst_then_success", identifier: "success|\(a.src?.description ?? "-")|\(a.user)", level: .high,
                first: first, last: t, source: a.src, destination: HostID.isNamed(a.dst ?? IPAddress(high: 0, low: 0)) ? nil : a.dst,
                user: user, count: failures + 1, metric: Double(failures),
                summary: "successful logon\(user.map { " as \($0)" } ?? "")\(a.src.map { " from \($0)" } ?? "") after \(failures) failures (\(by))",
                extra: ["primed_by": by].merging(hostExtra(ctx, a)) { x, _ in x }, evidence: evidence),
            from: self)
        if let src = a.src { sources.modify(src) { $0.primedUntil = .min; $0.fails = []; $0.total = 0; $0.first = .max } }
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        let keep = max(burstW, longW, sprayW, distW) &+ successW
        sources.removeStale(olderThan: now &- keep)
        accounts.removeStale(olderThan: now &- keep)
    }
}
