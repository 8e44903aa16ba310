import FlowhoundCore
import FlowhoundRules

/// Where an earlier contributing line is; turned into an `Evidence` (location only, no excerpt) when a finding
/// is built. The line that completes a finding is always added with its excerpt.
package struct EvidenceRef: Sendable, Hashable {
    package var path: String
    package var line: Int64
    package var byteOffset: Int64
}

/// What a detector reports to the engine; the engine adds the rule identity, applies allow entries and
/// suppression, assigns the incident and makes the `Finding`.
package struct DetectorAlert {
    /// Sub-kind (`failed_attempts`, `white_cane`, `burst_then_success`…), rendered as `group["kind"]`.
    package var kind: String
    /// Suppression identifier (Zeek `$identifier`): one finding per (rule, identifier) per `suppress_for`.
    package var identifier: String
    /// nil: the rule's level.
    package var level: Severity?
    package var first: Int64
    package var last: Int64
    package var source: IPAddress?
    package var destination: IPAddress?
    package var destinationPort: Int?
    package var user: String?
    package var count: Int
    package var metric: Double?
    package var windowSeconds: Double?
    /// One line of explanation (why it fired).
    package var summary: String
    package var extra: [String: String] = [:]
    package var evidence: [EvidenceRef] = []
    /// Whether to append the current event's line as evidence.
    package var includeCurrent = true

    package init(
        kind: String, identifier: String, level: Severity? = nil, first: Int64, last: Int64, source: IPAddress? = nil,
        destination: IPAddress? = nil, destinationPort: Int? = nil, user: String? = nil, count: Int, metric: Double? = nil,
        windowSeconds: Double? = nil, summary: String, extra: [String: String] = [:], evidence: [EvidenceRef] = []
    ) {
        self.kind = kind
        self.identifier = identifier
        self.level = level
        self.first = first
        self.last = last
        self.source = source
        self.destination = destination
        self.destinationPort = destinationPort
        self.user = user
        self.count = count
        self.metric = metric
        self.windowSeconds = windowSeconds
        self.summary = summary
        self.extra = extra
        self.evidence = evidence
    }
}

/// Counters one detector reports (state size, evictions, findings).
package struct DetectorStats: Sendable, Hashable {
    package var ruleID: String
    package var type: String
    package var keys: Int = 0
    package var highWater: Int = 0
    /// Keys dropped because a state cap was reached.
    package var evicted: Int = 0
    /// Keys dropped by time expiry.
    package var expired: Int = 0
    package var alerts: Int = 0
    /// Events the detector looked at.
    package var observed: Int = 0
    /// Events seen while the detector was still learning.
    package var learningEvents: Int = 0
}

/// Roles of hosts, read from the site file's `groups` (by conventional names) and `assets`.
///
/// Group names: `workstations`, `servers`, `jump_hosts`, `mgmt` (also `management`, `admin_tools`), `scanners`,
/// `domain_controllers` (also `dcs`, `dc`), `admin_workstations`, `file_servers`, `backup`, `darknets`,
/// `dns_resolvers` (also `dns_servers`).
package struct SiteRoles: Sendable {
    package struct Roles: OptionSet, Sendable, Hashable {
        package let rawValue: UInt16
        package init(rawValue: UInt16) { self.rawValue = rawValue }
        package static let workstation = Roles(rawValue: 1)
        package static let server = Roles(rawValue: 2)
        package static let jumpHost = Roles(rawValue: 4)
        package static let mgmt = Roles(rawValue: 8)
        package static let scanner = Roles(rawValue: 16)
        package static let dc = Roles(rawValue: 32)
        package static let adminWorkstation = Roles(rawValue: 64)
        package static let fileServer = Roles(rawValue: 128)
        package static let backup = Roles(rawValue: 256)
        package static let darknet = Roles(rawValue: 512)
        package static let sensitive = Roles(rawValue: 1024)
        package static let dnsResolver = Roles(rawValue: 2048)
    }

    private var sets: [(Roles, HostSet)] = []
    package let site: SiteConfiguration
    /// Whether any role group is defined at all (role-based policies need it).
    package var hasRoles: Bool { !sets.isEmpty }

    package init(site: SiteConfiguration) {
        self.site = site
        let names: [(String, Roles)] = [
            ("workstations", .workstation), ("servers", .server), ("jump_hosts", .jumpHost), ("mgmt", .mgmt),
            ("management", .mgmt), ("admin_tools", .mgmt), ("scanners", .scanner), ("domain_controllers", .dc),
            ("dcs", .dc), ("dc", .dc), ("admin_workstations", .adminWorkstation), ("file_servers", .fileServer),
            ("backup", .backup), ("darknets", .darknet), ("dns_resolvers", .dnsResolver), ("dns_servers", .dnsResolver),
        ]
        for (n, r) in names { if let g = site.groups[n], !g.isEmpty { sets.append((r, g)) } }
        for a in site.assets where a.sensitive { sets.append((.sensitive, a.hosts)) }
    }

    package func roles(_ ip: IPAddress) -> Roles {
        var r: Roles = []
        for (role, set) in sets where !r.contains(role) && set.contains(ip) { r.insert(role) }
        if r.contains(.adminWorkstation) { r.insert(.workstation) }
        if r.contains(.dc) || r.contains(.fileServer) { r.insert(.server) }
        return r
    }

    package func isInternal(_ ip: IPAddress) -> Bool { HostID.isNamed(ip) || site.isInternal(ip) }
}

/// Shared per-scan context handed to detectors: site, roles, clock, learning start, the current event (for
/// evidence) and the alert sink.
package final class BehaviourContext {
    package let roles: SiteRoles
    package var site: SiteConfiguration { roles.site }
    /// Newest log time seen (ns).
    package internal(set) var clock: Int64 = .min
    /// Start of the learning period (ns): restored from a snapshot, `learnFrom`, or the first event's time.
    package internal(set) var learningStart: Int64?
    var currentRecord: EventRecord?
    var currentOrigin: EventOrigin?
    var currentSchema: Schema?
    var sink: (DetectorAlert, any BehaviourDetector) -> Void = { _, _ in }

    init(roles: SiteRoles) { self.roles = roles }

    /// Whether `ts` lies inside a learning period of `period` nanoseconds: [learningStart, learningStart + period).
    @inline(__always)
    package func isLearning(_ ts: Int64, period: Int64) -> Bool {
        guard period > 0, let s = learningStart else { return false }
        return ts < s &+ period
    }

    /// Location of the current line (for evidence kept in state).
    package var currentRef: EvidenceRef? {
        currentOrigin.map { EvidenceRef(path: $0.path, line: $0.line, byteOffset: $0.byteOffset) }
    }

    /// The current event's host/user text (made only when a finding fires).
    package func currentText(_ role: FieldRole) -> String? {
        guard let r = currentRecord, let s = currentSchema, let slot = s.slot(role) else { return nil }
        let v = r[slot]
        guard v.count > 0, v.base != nil else { return nil }
        return v.string
    }

    package func emit(_ alert: DetectorAlert, from d: any BehaviourDetector) { sink(alert, d) }
}

/// A built-in behavioural detector. One instance per rule per scan; not thread-safe.
///
/// Contract (style guide §3.9): events arrive in log-time order with small disorder tolerated (each detector
/// uses the event's own time for its windows; expiry runs from the engine clock); `tick` is called whenever
/// log time crosses a minute boundary; every keyed state is a `BoundedMap` with a cap from the rule's
/// `max_keys`; the doc comment of each type names its key, window kind, inclusivity, suppression and bound.
package protocol BehaviourDetector: AnyObject {
    var rule: DetectorRule { get }
    /// The event kinds the detector wants.
    var kinds: EventKinds { get }
    /// Whether it also wants the findings of other detectors (lateral chain).
    var wantsFindings: Bool { get }
    func flow(_ f: FlowView, _ ctx: BehaviourContext)
    func auth(_ a: AuthView, _ ctx: BehaviourContext)
    func dns(_ d: DnsView, _ ctx: BehaviourContext)
    func remoteOp(_ op: RemoteOpView, _ ctx: BehaviourContext)
    func finding(_ f: Finding, type: DetectorType, src: IPAddress?, dst: IPAddress?, _ ctx: BehaviourContext)
    func tick(_ now: Int64, _ ctx: BehaviourContext)
    func finish(_ ctx: BehaviourContext)
    var stats: DetectorStats { get }
    func export(into s: inout BaselineSnapshot)
    func restore(from s: BaselineSnapshot)
}

extension BehaviourDetector {
    package var wantsFindings: Bool { false }
    package func flow(_ f: FlowView, _ ctx: BehaviourContext) {}
    package func auth(_ a: AuthView, _ ctx: BehaviourContext) {}
    package func dns(_ d: DnsView, _ ctx: BehaviourContext) {}
    package func remoteOp(_ op: RemoteOpView, _ ctx: BehaviourContext) {}
    package func finding(_ f: Finding, type: DetectorType, src: IPAddress?, dst: IPAddress?, _ ctx: BehaviourContext) {}
    package func tick(_ now: Int64, _ ctx: BehaviourContext) {}
    package func finish(_ ctx: BehaviourContext) {}
    package func export(into s: inout BaselineSnapshot) {}
    package func restore(from s: BaselineSnapshot) {}
}

package let nanosPerSecond: Int64 = 1_000_000_000

/// Seconds with up to one decimal, for summaries.
func secondsText(_ ns: Int64) -> String {
    let s = Double(ns) / 1e9
    if s == s.rounded() { return "\(Int64(s))s" }
    return "\((s * 10).rounded() / 10)s"
}

func bytesText(_ b: Double) -> String {
    if b >= 1e9 { return "\((b / 1e8).rounded() / 10) GB" }
    if b >= 1e6 { return "\((b / 1e5).rounded() / 10) MB" }
    if b >= 1e3 { return "\((b / 1e2).rounded() / 10) kB" }
    return "\(Int64(b)) B"
}

/// UTC day number of a log time.
@inline(__always) func dayOf(_ ns: Int64) -> Int32 {
    Int32(truncatingIfNeeded: (ns >= 0 ? ns : ns - 86_399_999_999_999) / 86_400_000_000_000)
}
