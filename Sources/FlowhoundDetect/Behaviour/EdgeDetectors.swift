import FlowhoundCore
import FlowhoundRules

/// A directed edge between two hosts on one service class.
package struct EdgeKey: Hashable, Sendable {
    package var src: IPAddress
    package var dst: IPAddress
    package var service: UInt32
    package init(src: IPAddress, dst: IPAddress, service: UInt32) {
        self.src = src
        self.dst = dst
        self.service = service
    }

    /// One pre-mixed word: cheaper than combining five fields (hot in the edge table).
    package func hash(into h: inout Hasher) {
        h.combine(mixHash(src, mixHash(dst, UInt64(service))))
    }
}

/// A destination's service as used by one peer group of clients (`NewInternalEdgeDetector.peerGroup`).
package struct PeerKey: Hashable, Sendable {
    package var dst: IPAddress
    package var service: UInt32
    package var group: UInt8
}

/// Learned facts about one edge.
package struct EdgeInfo: Sendable {
    package var first: Int64
    package var last: Int64
    package var lastDay: Int32
    package var days: UInt8
}

/// Per-host counters learned alongside the edges.
package struct HostInfo: Sendable {
    var first: Int64
    var last: Int64
    var clients: Int32 = 0
    var destinations: Int32 = 0
    var newEdgesDay: Int32 = .min
    var newEdgesToday: Int32 = 0
    var findingsToday: Int32 = 0
    var reportedNew = false
}

/// A flow that shows a session: a protocol log, or data in both directions (not a bare handshake or probe).
@inline(__always) func isSessionEvidence(_ f: FlowView) -> Bool {
    f.fromSessionLog || (f.hasPayload && f.outcome != .partial && f.outcome != .rejected && f.outcome != .attemptNoReply)
}

/// D2 `new_internal_edge` — first-seen internal communication, scored by context ("new terms", persisted).
///
/// Key (`key`): `src_dst_service` (default; service = Zeek service or port class, unknown ports ≥ 49152 collapse to
/// `ephemeral`), `src_dst_port`, or `src_dst`. Input: flows between two internal hosts that show a session
/// (established, bytes back, or a protocol log). Window kind: *learned set* — an edge is new when it is absent
/// from the set, which holds every edge seen in the last `retention` (expired by last-seen, log time). Learning:
/// during [learningStart, learningStart + `learning`) edges are only learned; nothing is emitted.
/// Score (≥ `min_score` emits): 0.3 base, +0.3 admin service, +0.2 destination sensitive (site asset), +0.2 source
/// role unexpected for the destination (workstation → workstation, server → server over an admin service,
/// non-admin workstation → domain controller over an admin service; needs site groups), +0.2 destination had at
/// most `rare_clients` clients, +0.1 source opened more than `burst_new_edges` new edges today (UTC day), +0.1
/// off-hours (before 07:00 or from 19:00 UTC). Peer-group prevalence: when at least `peer_clients` distinct
/// clients of the source's peer group (site role class: workstations, servers, or hosts with neither) already
/// have an edge to the same (destination, service) — learned or seen since, within `retention` — the service is
/// one that group uses on that destination: the admin, unexpected-role and rare-destination points are not
/// given (a new file server adopted by the workstations, domain-controller RPC). FP controls: sinks
/// (≥ `sink_clients` clients) are exempt for
/// non-admin services; hubs (≥ `hub_destinations` destinations) are exempt unless the destination is sensitive;
/// `mgmt`/`jump_hosts`/`scanners` sources are exempt; at most `max_findings_per_source_per_day` per source per UTC
/// day. A source first seen after learning yields one low `new_host` finding instead of edge findings (when
/// `new_host` is true). Suppression: per edge for `suppress_for` (default = retention). State bound: `max_keys`
/// edges, `max_hosts` hosts and `max_hosts` (destination, service, peer group) counters, least recently seen
/// evicted (counted). Time source: log time.
final class NewInternalEdgeDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow
    private(set) var edges: BoundedMap<EdgeKey, EdgeInfo>
    private(set) var hosts: BoundedMap<IPAddress, HostInfo>
    /// Distinct clients per (destination, service, peer group): edges counted when first seen.
    private(set) var peers: BoundedMap<PeerKey, Int32>
    /// Restored edges whose peer counts are still to be rebuilt (needs the site roles: on the next edge).
    private var peersPending = false
    private let peerClients: Int32
    private let learning: Int64, retention: Int64
    private let minScore: Double
    private let maxPerDay: Int32, sinkClients: Int32, hubDestinations: Int32, rareClients: Int32, burst: Int32
    private let reportNewHosts: Bool
    private let keyMode: Int
    private var alerts = 0, observed = 0, learningEvents = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        edges = BoundedMap(capacity: rule.int("max_keys"))
        hosts = BoundedMap(capacity: rule.int("max_hosts"))
        peers = BoundedMap(capacity: rule.int("max_hosts"))
        peerClients = Int32(rule.int("peer_clients"))
        learning = rule.nanos("learning")
        retention = rule.nanos("retention")
        minScore = rule.number("min_score")
        maxPerDay = Int32(rule.int("max_findings_per_source_per_day"))
        sinkClients = Int32(rule.int("sink_clients"))
        hubDestinations = Int32(rule.int("hub_destinations"))
        rareClients = Int32(rule.int("rare_clients"))
        burst = Int32(rule.int("burst_new_edges"))
        reportNewHosts = rule.bool("new_host")
        keyMode = rule.key == "src_dst_port" ? 1 : rule.key == "src_dst" ? 2 : 0
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: edges.count + hosts.count + peers.count,
            highWater: edges.highWater + hosts.highWater + peers.highWater,
            evicted: edges.evicted + hosts.evicted + peers.evicted, expired: edges.expired + hosts.expired + peers.expired,
            alerts: alerts, observed: observed, learningEvents: learningEvents)
    }

    @inline(__always) func serviceKey(_ f: FlowView) -> UInt32 {
        switch keyMode {
        case 1: return f.dport >= 49152 ? ServiceCode.ephemeral : 0x1_0000 | UInt32(max(0, f.dport))
        case 2: return 0
        default: return f.service
        }
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard isSessionEvidence(f), f.src != f.dst, ctx.roles.isInternal(f.src), ctx.roles.isInternal(f.dst) else { return }
        observeEdge(src: f.src, dst: f.dst, service: serviceKey(f), admin: ServiceCode.isAdmin(f.service),
                    ts: f.ts, port: f.dport, ctx)
    }

    /// The per-edge work (also the entry point of the flood test).
    func observeEdge(src: IPAddress, dst: IPAddress, service: UInt32, admin: Bool, ts: Int64, port: Int32, _ ctx: BehaviourContext) {
        observed += 1
        if peersPending { rebuildPeers(ctx) }
        let day = dayOf(ts)
        var isNew = false
        edges.update(EdgeKey(src: src, dst: dst, service: service), now: ts, make: {
            isNew = true
            return EdgeInfo(first: ts, last: ts, lastDay: day, days: 1)
        }) { e in
            if isNew { return }
            if ts > e.last { e.last = ts }
            if day != e.lastDay {
                e.lastDay = day
                if e.days < 255 { e.days += 1 }
            }
        }
        let learningNow = ctx.isLearning(ts, period: learning)
        if learningNow { learningEvents += 1 }
        let srcInfo = hosts.update(src, now: ts, make: { HostInfo(first: ts, last: ts) }) { h -> HostInfo in
            if ts > h.last { h.last = ts }
            if isNew {
                h.destinations &+= 1
                if h.newEdgesDay != day {
                    h.newEdgesDay = day
                    h.newEdgesToday = 0
                    h.findingsToday = 0
                }
                h.newEdgesToday &+= 1
            }
            return h
        }
        var dstClientsBefore: Int32 = 0
        hosts.update(dst, now: ts, make: { HostInfo(first: ts, last: ts) }) { h in
            if ts > h.last { h.last = ts }
            dstClientsBefore = h.clients
            if isNew { h.clients &+= 1 }
        }
        guard isNew else { return }
        let hasRoles = ctx.roles.hasRoles
        let srcRoles: SiteRoles.Roles = hasRoles ? ctx.roles.roles(src) : []
        let peersBefore = peers.update(
            PeerKey(dst: dst, service: service, group: NewInternalEdgeDetector.peerGroup(srcRoles)), now: ts,
            make: { 0 }
        ) { n -> Int32 in
            defer { n &+= 1 }
            return n
        }
        guard !learningNow else { return }
        if hasRoles && (srcRoles.contains(.mgmt) || srcRoles.contains(.jumpHost) || srcRoles.contains(.scanner)) { return }
        // a host first seen after learning: one new_host finding, not a burst of edges
        if srcInfo.first >= (ctx.learningStart ?? ts) &+ learning {
            if reportNewHosts && !srcInfo.reportedNew {
                hosts.modify(src) { $0.reportedNew = true }
                alerts += 1
                ctx.emit(
                    DetectorAlert(
                        kind: "new_host", identifier: "new_host|\(src)", level: .low, first: ts, last: ts, source: src,
                        destination: dst, destinationPort: port >= 0 ? Int(port) : nil, count: 1,
                        summary: "\(src) was first seen after the learning period (first edge to \(dst) on \(ServiceCode.name(service)))"),
                    from: self)
            }
            return
        }
        let dstRoles: SiteRoles.Roles = hasRoles ? ctx.roles.roles(dst) : []
        let sensitive = hasRoles && dstRoles.contains(.sensitive)
        if dstClientsBefore >= sinkClients && !admin { return }
        if srcInfo.destinations - 1 >= hubDestinations && !sensitive { return }
        // score as bit flags first; reasons (Strings) only for a finding
        let common = peerClients > 0 && peersBefore >= peerClients
        let admin = admin && !common
        let unexpected = !common && hasRoles && unexpectedRole(srcRoles, dstRoles, admin: admin)
        let rare = !common && dstClientsBefore <= rareClients
        let burstNow = srcInfo.newEdgesToday > burst
        let hour = ((ts / nanosPerSecond) % 86_400 + 86_400) % 86_400 / 3600
        let offHours = hour < 7 || hour >= 19
        var tenths = 3
        if admin { tenths += 3 }
        if sensitive { tenths += 2 }
        if unexpected { tenths += 2 }
        if rare { tenths += 2 }
        if burstNow { tenths += 1 }
        if offHours { tenths += 1 }
        let score = Double(tenths) / 10
        guard score >= minScore - 1e-9 else { return }
        if srcInfo.findingsToday >= maxPerDay { return }
        var reasons = ["new edge"]
        if admin { reasons.append("admin service") }
        if sensitive { reasons.append("sensitive destination") }
        if unexpected { reasons.append("unexpected source role") }
        if rare { reasons.append("rare destination (\(dstClientsBefore) clients)") }
        if burstNow { reasons.append("\(srcInfo.newEdgesToday) new edges today") }
        if offHours { reasons.append("off-hours") }
        hosts.modify(src) { $0.findingsToday &+= 1 }
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: "new_edge", identifier: "edge|\(src)|\(dst)|\(service)", level: score >= 0.8 ? .high : nil,
                first: ts, last: ts, source: src, destination: dst, destinationPort: port >= 0 ? Int(port) : nil,
                count: 1, metric: score,
                summary: "first \(ServiceCode.name(service)) session \(src) → \(dst) after learning; score \(score): \(reasons.joined(separator: ", "))",
                extra: ["score": String(score), "service": ServiceCode.name(service)]),
            from: self)
    }

    /// The peer group of a source for prevalence: 1 workstations, 2 servers, 0 anything else (or no roles).
    static func peerGroup(_ r: SiteRoles.Roles) -> UInt8 {
        r.contains(.workstation) ? 1 : r.contains(.server) ? 2 : 0
    }

    /// Counts every known edge once per (destination, service, peer group of its source).
    private func rebuildPeers(_ ctx: BehaviourContext) {
        peersPending = false
        for (k, v, _) in edges.entriesOldestFirst() {
            let g = NewInternalEdgeDetector.peerGroup(ctx.roles.hasRoles ? ctx.roles.roles(k.src) : [])
            peers.update(PeerKey(dst: k.dst, service: k.service, group: g), now: v.last, make: { 0 }) { $0 &+= 1 }
        }
    }

    func unexpectedRole(_ s: SiteRoles.Roles, _ d: SiteRoles.Roles, admin: Bool) -> Bool {
        if s.isEmpty || d.isEmpty { return false }
        if d.contains(.workstation) && s.contains(.workstation) { return true }
        if admin && d.contains(.server) && s.contains(.server) { return true }
        if admin && d.contains(.dc) && s.contains(.workstation) && !s.contains(.adminWorkstation) { return true }
        return false
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        if retention > 0 {
            edges.removeStale(olderThan: now &- retention)
            hosts.removeStale(olderThan: now &- retention)
            peers.removeStale(olderThan: now &- retention)
        }
    }

    func export(into s: inout BaselineSnapshot) {
        for (k, v, _) in edges.entriesOldestFirst() {
            s.edges.append(.init(detector: rule.id, source: k.src, destination: k.dst, service: k.service, firstSeen: v.first, lastSeen: v.last, days: v.days))
        }
        for (k, v, _) in hosts.entriesOldestFirst() {
            s.hosts.append(.init(detector: rule.id, address: k, firstSeen: v.first, lastSeen: v.last, clients: v.clients, destinations: v.destinations))
        }
    }

    func restore(from s: BaselineSnapshot) {
        for e in s.edges where e.detector == rule.id {
            edges.update(EdgeKey(src: e.source, dst: e.destination, service: e.service), now: e.lastSeen, make: {
                EdgeInfo(first: e.firstSeen, last: e.lastSeen, lastDay: dayOf(e.lastSeen), days: e.days)
            }) { _ in }
        }
        peersPending = !edges.isEmpty
        for h in s.hosts where h.detector == rule.id {
            hosts.update(h.address, now: h.lastSeen, make: {
                HostInfo(first: h.firstSeen, last: h.lastSeen, clients: h.clients, destinations: h.destinations)
            }) { _ in }
        }
    }
}

/// D3 `admin_protocol` — admin/remote-execution protocols between the wrong roles, and remote operations.
///
/// Key: (source, destination, service or operation kind). Inputs: internal→internal flows on an admin service
/// (`ports`, or an admin service class) that show a session; remote operations (Zeek dce_rpc, smb_mapping,
/// smb_files; Windows 5140/5145). Policy (needs site groups): `mgmt`/`jump_hosts`/`scanners` may do anything;
/// workstation → workstation on any admin service is a finding; a server originating an admin session is a
/// finding unless learned; a workstation outside `admin_workstations` opening RDP/SSH/WinRM/VNC/telnet to a server
/// is a finding (SMB/RPC from workstations to servers is normal file/print traffic). Learned exceptions: (source,
/// service) pairs seen on at least `learned_days` distinct UTC days during learning. Remote operations fire
/// without roles: service creation, task registration, DCOM activation, WMI, executable writes to admin shares
/// → high; DC replication (`DRSGetNCChanges`) → high unless the source is in `domain_controllers`; `ADMIN$`/`C$`
/// mapping → medium; `IPC$` alone → nothing. Remote operations are reported during learning too (they are not
/// learned). Window kind: *policy + learned set*. Suppression per (source,
/// destination, service/kind) for `suppress_for`. State bound: `max_keys` learned (source, service) pairs.
/// Time source: log time.
final class AdminProtocolDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = [.flow, .remoteOp]

    struct Habit {
        var lastDay: Int32
        var days: Int32
    }

    private var habits: BoundedMap<EdgeKey, Habit>
    private let learning: Int64
    private let learnedDays: Int32
    private let ports: Set<Int32>
    private var alerts = 0, observed = 0, learningEvents = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        habits = BoundedMap(capacity: rule.int("max_keys"))
        learning = rule.nanos("learning")
        learnedDays = Int32(rule.int("learned_days"))
        ports = Set(rule.ports("ports").map(Int32.init))
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: habits.count, highWater: habits.highWater,
            evicted: habits.evicted, expired: habits.expired, alerts: alerts, observed: observed,
            learningEvents: learningEvents)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        let admin = ServiceCode.isAdmin(f.service) || ports.contains(f.dport)
        guard admin, isSessionEvidence(f), f.src != f.dst, ctx.roles.isInternal(f.src), ctx.roles.isInternal(f.dst) else { return }
        observed += 1
        let habitKey = EdgeKey(src: f.src, dst: IPAddress(high: 0, low: 0), service: f.service)
        if ctx.isLearning(f.ts, period: learning) {
            learningEvents += 1
            let day = dayOf(f.ts)
            habits.update(habitKey, now: f.ts, make: { Habit(lastDay: day, days: 1) }) { h in
                if h.lastDay != day {
                    h.lastDay = day
                    h.days += 1
                }
            }
            return
        }
        guard ctx.roles.hasRoles else { return }
        let s = ctx.roles.roles(f.src), d = ctx.roles.roles(f.dst)
        if s.contains(.mgmt) || s.contains(.jumpHost) || s.contains(.scanner) { return }
        if let h = habits.peek(habitKey), h.days >= learnedDays { return }
        let svc = f.service
        var kind: String?
        if s.contains(.workstation) && d.contains(.workstation) {
            kind = "workstation_to_workstation"
        } else if s.contains(.server) && !s.contains(.workstation) {
            kind = "server_originated_admin"
        } else if s.contains(.workstation) && !s.contains(.adminWorkstation) && d.contains(.server)
            && (svc == ServiceCode.rdp || svc == ServiceCode.ssh || svc == ServiceCode.winrm || svc == ServiceCode.vnc || svc == ServiceCode.telnet)
        {
            kind = "workstation_to_server_admin"
        }
        guard let kind else { return }
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: kind, identifier: "\(f.src)|\(f.dst)|\(ServiceCode.name(svc))", first: f.ts, last: f.ts, source: f.src,
                destination: f.dst, destinationPort: f.dport >= 0 ? Int(f.dport) : nil, count: 1,
                summary: "\(ServiceCode.name(svc)) session \(f.src) → \(f.dst) violates the role policy (\(kind.replacingUnderscores))",
                extra: ["service": ServiceCode.name(svc)]),
            from: self)
    }

    func remoteOp(_ op: RemoteOpView, _ ctx: BehaviourContext) {
        if op.kind == .shareMapIPC { return }
        observed += 1
        let s = ctx.roles.hasRoles ? ctx.roles.roles(op.src) : []
        if s.contains(.mgmt) || s.contains(.jumpHost) { return }
        var level: Severity = op.kind.isHighRisk ? .high : .medium
        if op.kind == .dcReplication {
            if s.contains(.dc) { return }
            level = .high
        }
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: op.kind.name, identifier: "\(op.src)|\(op.dst)|\(op.kind.name)", level: level, first: op.ts, last: op.ts,
                source: op.src, destination: op.dst, count: 1,
                summary: "remote operation \(op.kind.name) from \(op.src) to \(HostID.isNamed(op.dst) ? (ctx.currentText(.host) ?? "host") : op.dst.description)",
                extra: ["operation": op.kind.name]),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        habits.removeStale(olderThan: now &- max(learning, 30 * 86_400 * nanosPerSecond))
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

/// D6 `sensitive_asset_access` — crown-jewel systems (site assets with `sensitive: true` or `allowed_clients`).
///
/// Key: (asset host, client) and (asset host, egress destination, service). Sub-kinds:
/// (a) `unexpected_client` — a session from a client outside the asset's `allowed_clients` (immediately, no
/// learning needed); without `allowed_clients`, `new_client` — a client not seen during learning.
/// (b) `data_pull` — the asset sent at least `pull_floor` bytes to one client within the trailing `pull_window`
/// (sliding, inclusive, summed over the contributing connections' responder bytes).
/// (c) `new_egress` — after learning, the asset originates a session to a (destination, service) it never used,
/// with at least `egress_floor` bytes out or on an admin service; high when the destination is external.
/// Window kind: *learned sets + sliding* `pull_window`. Suppression per (asset, client/destination, kind) for
/// `suppress_for`. State bound: `max_keys` per table, least recently seen evicted. Time source: log time.
final class SensitiveAssetDetector: BehaviourDetector {
    let rule: DetectorRule
    let kinds: EventKinds = .flow

    struct Pull {
        var ts: [Int64] = []
        var bytes: [Int64] = []
        var sum: Int64 = 0
    }

    private var clients: BoundedMap<EdgeKey, Int64>
    private var egress: BoundedMap<EdgeKey, Int64>
    private var pulls: BoundedMap<AddressPair, Pull>
    private let learning: Int64, pullWindow: Int64
    private let pullFloor: Int64, egressFloor: Int64
    private var alerts = 0, observed = 0, learningEvents = 0

    init(_ rule: DetectorRule) {
        self.rule = rule
        clients = BoundedMap(capacity: rule.int("max_keys"))
        egress = BoundedMap(capacity: rule.int("max_keys"))
        pulls = BoundedMap(capacity: rule.int("max_keys"))
        learning = rule.nanos("learning")
        pullWindow = rule.nanos("pull_window")
        pullFloor = Int64(rule.number("pull_floor"))
        egressFloor = Int64(rule.number("egress_floor"))
    }

    var stats: DetectorStats {
        DetectorStats(
            ruleID: rule.id, type: rule.type.rawValue, keys: clients.count + egress.count + pulls.count,
            highWater: clients.highWater + egress.highWater + pulls.highWater,
            evicted: clients.evicted + egress.evicted + pulls.evicted, expired: clients.expired + egress.expired,
            alerts: alerts, observed: observed, learningEvents: learningEvents)
    }

    func flow(_ f: FlowView, _ ctx: BehaviourContext) {
        guard isSessionEvidence(f) else { return }
        let assets = ctx.site.assets
        if assets.isEmpty { return }
        let learningNow = ctx.isLearning(f.ts, period: learning)
        for asset in assets where asset.sensitive || asset.allowedClients != nil {
            if asset.hosts.contains(f.dst) && !asset.hosts.contains(f.src) {
                observed += 1
                inbound(asset, f, learningNow, ctx)
            } else if asset.hosts.contains(f.src) && !asset.hosts.contains(f.dst) {
                observed += 1
                outbound(asset, f, learningNow, ctx)
            }
        }
    }

    private func inbound(_ asset: SiteAsset, _ f: FlowView, _ learningNow: Bool, _ ctx: BehaviourContext) {
        let key = EdgeKey(src: f.dst, dst: f.src, service: 0)
        var known = true
        clients.update(key, now: f.ts, make: {
            known = false
            return f.ts
        }) { $0 = max($0, f.ts) }
        if let allowed = asset.allowedClients {
            if !allowed.contains(f.src) {
                emit("unexpected_client", asset, f, level: nil, metric: nil,
                     "\(f.src) reached \(asset.name) (\(f.dst)) on \(ServiceCode.name(f.service)); it is not in allowed_clients", ctx)
            }
        } else if learningNow {
            learningEvents += 1
        } else if !known {
            emit("new_client", asset, f, level: nil, metric: nil,
                 "\(f.src) reached \(asset.name) (\(f.dst)) on \(ServiceCode.name(f.service)) for the first time after learning", ctx)
        }
        // (b) data pulled from the asset by this client
        guard pullFloor > 0, !f.fromSessionLog, f.bytesIn > 0 else { return }
        let lower = f.ts &- pullWindow
        let sum: Int64? = pulls.update(AddressPair(f.dst, f.src), now: f.ts, make: { Pull() }) { p in
            var drop = 0
            while drop < p.ts.count && p.ts[drop] < lower { p.sum -= p.bytes[drop]; drop += 1 }
            if drop > 0 { p.ts.removeFirst(drop); p.bytes.removeFirst(drop) }
            if p.ts.count >= 4096 { p.sum -= p.bytes[0]; p.ts.removeFirst(); p.bytes.removeFirst() }
            p.ts.append(f.ts)
            p.bytes.append(f.bytesIn)
            p.sum += f.bytesIn
            return p.sum >= pullFloor ? p.sum : nil
        }
        if let sum {
            emit("data_pull", asset, f, level: .high, metric: Double(sum),
                 "\(asset.name) (\(f.dst)) sent \(bytesText(Double(sum))) to \(f.src) within \(secondsText(pullWindow))", ctx)
        }
    }

    private func outbound(_ asset: SiteAsset, _ f: FlowView, _ learningNow: Bool, _ ctx: BehaviourContext) {
        let key = EdgeKey(src: f.src, dst: f.dst, service: f.service)
        var known = true
        egress.update(key, now: f.ts, make: {
            known = false
            return f.ts
        }) { $0 = max($0, f.ts) }
        if learningNow { learningEvents += 1; return }
        guard !known else { return }
        let admin = ServiceCode.isAdmin(f.service)
        guard admin || f.bytesOut >= egressFloor else { return }
        let external = !ctx.roles.isInternal(f.dst)
        emit("new_egress", asset, f, level: external ? .high : nil, metric: f.bytesOut >= 0 ? Double(f.bytesOut) : nil,
             "\(asset.name) (\(f.src)) opened a new \(ServiceCode.name(f.service)) session to \(external ? "external" : "internal") \(f.dst)", ctx)
    }

    private func emit(_ kind: String, _ asset: SiteAsset, _ f: FlowView, level: Severity?, metric: Double?, _ summary: String, _ ctx: BehaviourContext) {
        alerts += 1
        ctx.emit(
            DetectorAlert(
                kind: kind, identifier: "\(asset.name)|\(f.src)|\(f.dst)|\(kind)", level: level, first: f.ts, last: f.ts,
                source: f.src, destination: f.dst, destinationPort: f.dport >= 0 ? Int(f.dport) : nil, count: 1,
                metric: metric, summary: summary, extra: ["asset": asset.name, "service": ServiceCode.name(f.service)]),
            from: self)
    }

    func tick(_ now: Int64, _ ctx: BehaviourContext) {
        pulls.removeStale(olderThan: now &- pullWindow)
        clients.removeStale(olderThan: now &- max(learning, 30 * 86_400 * nanosPerSecond))
        egress.removeStale(olderThan: now &- max(learning, 30 * 86_400 * nanosPerSecond))
    }

    func export(into s: inout BaselineSnapshot) {
        for (k, v, _) in clients.entriesOldestFirst() {
            s.edges.append(.init(detector: rule.id + "#clients", source: k.src, destination: k.dst, service: k.service, firstSeen: v, lastSeen: v, days: 1))
        }
        for (k, v, _) in egress.entriesOldestFirst() {
            s.edges.append(.init(detector: rule.id + "#egress", source: k.src, destination: k.dst, service: k.service, firstSeen: v, lastSeen: v, days: 1))
        }
    }

    func restore(from s: BaselineSnapshot) {
        for e in s.edges {
            if e.detector == rule.id + "#clients" {
                clients.update(EdgeKey(src: e.source, dst: e.destination, service: e.service), now: e.lastSeen, make: { e.lastSeen }) { _ in }
            } else if e.detector == rule.id + "#egress" {
                egress.update(EdgeKey(src: e.source, dst: e.destination, service: e.service), now: e.lastSeen, make: { e.lastSeen }) { _ in }
            }
        }
    }
}
