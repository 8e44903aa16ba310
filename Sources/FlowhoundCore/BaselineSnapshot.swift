
/// Learned state of a scan, as plain value arrays a state store can persist row by row (no Codable).
///
/// Every row names the rule (`detector` = rule id) that learned it, so two rules of one type keep apart.
/// Times are log time in nanoseconds. Restoring a snapshot before the first event makes a scan continue where
/// the previous one stopped: the learning start is kept, so a finished learning period is not repeated.
package struct BaselineSnapshot: Sendable, Equatable {
    /// First-seen (src, dst, service) edges (new_internal_edge, sensitive_asset_access egress/clients).
    package struct Edge: Sendable, Hashable {
        package var detector: String
        package var source: IPAddress
        package var destination: IPAddress
        /// `ServiceCode` (or port class) of the edge.
        package var service: UInt32
        package var firstSeen: Int64
        package var lastSeen: Int64
        /// Distinct UTC days the edge was seen on (capped at 255).
        package var days: UInt8

        package init(detector: String, source: IPAddress, destination: IPAddress, service: UInt32, firstSeen: Int64, lastSeen: Int64, days: UInt8) {
            self.detector = detector
            self.source = source
            self.destination = destination
            self.service = service
            self.firstSeen = firstSeen
            self.lastSeen = lastSeen
            self.days = days
        }
    }

    /// Per-host counters (first seen, distinct peers learned).
    package struct Host: Sendable, Hashable {
        package var detector: String
        package var address: IPAddress
        package var firstSeen: Int64
        package var lastSeen: Int64
        /// Distinct (client, service) edges that reached the host.
        package var clients: Int32
        /// Distinct (destination, service) edges the host originated.
        package var destinations: Int32

        package init(detector: String, address: IPAddress, firstSeen: Int64, lastSeen: Int64, clients: Int32, destinations: Int32) {
            self.detector = detector
            self.address = address
            self.firstSeen = firstSeen
            self.lastSeen = lastSeen
            self.clients = clients
            self.destinations = destinations
        }
    }

    /// Per-host hourly upload profile (exfil_volume): a log2 histogram of hourly bytes out and of hourly PCR.
    package struct Volume: Sendable, Hashable {
        package var detector: String
        package var address: IPAddress
        /// `hourlyBytesOut[i]` = hours whose bytes out fell in [2^i, 2^(i+1)) (i = 0 also holds 0 bytes).
        package var hourlyBytesOut: [UInt32]
        /// Hours per PCR decile: index 0 = [-1, -0.8), …, 9 = [0.8, 1].
        package var hourlyPCR: [UInt32]

        package init(detector: String, address: IPAddress, hourlyBytesOut: [UInt32], hourlyPCR: [UInt32]) {
            self.detector = detector
            self.address = address
            self.hourlyBytesOut = hourlyBytesOut
            self.hourlyPCR = hourlyPCR
        }
    }

    /// Learning start (ns), nil when nothing was seen.
    package var learningStart: Int64?
    /// Newest log time seen (ns).
    package var clock: Int64?
    package var edges: [Edge] = []
    package var hosts: [Host] = []
    package var volumes: [Volume] = []

    package init() {}
}

// MARK: - Merging baselines of several hosts (`flowhound baseline push` / `pull`)

extension BaselineSnapshot {
    /// Adds what `other` learned to this baseline, so that both hosts' knowledge counts as learned.
    ///
    /// The rules (they make merging associative and commutative; everything except volume profiles is also
    /// idempotent, so merging a baseline that already contains part of the other loses nothing and adds nothing):
    /// - learning start: the earlier one; clock (newest event): the later one.
    /// - edges, one per (rule, source, destination, service): the union; first seen = the earlier, last seen =
    ///   the later; distinct days = the sum (capped at 255) when the two edges' UTC-day ranges do not overlap
    ///   (so no day can be counted twice), else the larger of the two (a lower bound of the true union).
    /// - hosts, one per (rule, address): first/last seen as for edges; `clients` and `destinations` (distinct
    ///   edges that reached / left the host) = the largest of both sides and of the count of merged edges of that
    ///   rule ending / starting at the host (exact when no side evicted edges, never an overstatement).
    /// - volume profiles, one per (rule, address): the histograms are added bucket by bucket (saturating), since
    ///   they count learned hours. This is the one non-idempotent rule: merge a host's volume profile once only
    ///   (the state store keeps what it pulled apart for that reason, see `StateStore.mergeShared`).
    package mutating func merge(_ other: BaselineSnapshot) {
        learningStart = Self.pick(learningStart, other.learningStart, min)
        clock = Self.pick(clock, other.clock, max)

        struct EdgeKey: Hashable {
            var detector: String
            var source: IPAddress
            var destination: IPAddress
            var service: UInt32
        }
        var edgeIndex: [EdgeKey: Int] = [:]
        edgeIndex.reserveCapacity(edges.count + other.edges.count)
        var mergedEdges = edges
        for (i, e) in mergedEdges.enumerated() {
            edgeIndex[EdgeKey(detector: e.detector, source: e.source, destination: e.destination, service: e.service)] = i
        }
        for e in other.edges {
            let k = EdgeKey(detector: e.detector, source: e.source, destination: e.destination, service: e.service)
            if let i = edgeIndex[k] {
                mergedEdges[i] = Self.mergeEdge(mergedEdges[i], e)
            } else {
                edgeIndex[k] = mergedEdges.count
                mergedEdges.append(e)
            }
        }
        edges = mergedEdges.sorted { a, b in
            (a.lastSeen, a.detector, a.source, a.destination, a.service) < (b.lastSeen, b.detector, b.source, b.destination, b.service)
        }

        struct HostKey: Hashable {
            var detector: String
            var address: IPAddress
        }
        var inbound: [HostKey: Int32] = [:], outbound: [HostKey: Int32] = [:]
        for e in edges {
            inbound[HostKey(detector: e.detector, address: e.destination), default: 0] &+= 1
            outbound[HostKey(detector: e.detector, address: e.source), default: 0] &+= 1
        }
        var hostIndex: [HostKey: Int] = [:]
        var mergedHosts = hosts
        for (i, h) in mergedHosts.enumerated() { hostIndex[HostKey(detector: h.detector, address: h.address)] = i }
        for h in other.hosts {
            let k = HostKey(detector: h.detector, address: h.address)
            if let i = hostIndex[k] {
                var m = mergedHosts[i]
                m.firstSeen = min(m.firstSeen, h.firstSeen)
                m.lastSeen = max(m.lastSeen, h.lastSeen)
                m.clients = max(m.clients, h.clients)
                m.destinations = max(m.destinations, h.destinations)
                mergedHosts[i] = m
            } else {
                hostIndex[k] = mergedHosts.count
                mergedHosts.append(h)
            }
        }
        for i in mergedHosts.indices {
            let k = HostKey(detector: mergedHosts[i].detector, address: mergedHosts[i].address)
            mergedHosts[i].clients = max(mergedHosts[i].clients, inbound[k] ?? 0)
            mergedHosts[i].destinations = max(mergedHosts[i].destinations, outbound[k] ?? 0)
        }
        hosts = mergedHosts.sorted { a, b in (a.lastSeen, a.detector, a.address) < (b.lastSeen, b.detector, b.address) }

        var volumeIndex: [HostKey: Int] = [:]
        var mergedVolumes = volumes
        for (i, v) in mergedVolumes.enumerated() { volumeIndex[HostKey(detector: v.detector, address: v.address)] = i }
        for v in other.volumes {
            let k = HostKey(detector: v.detector, address: v.address)
            if let i = volumeIndex[k] {
                mergedVolumes[i].hourlyBytesOut = Self.add(mergedVolumes[i].hourlyBytesOut, v.hourlyBytesOut)
                mergedVolumes[i].hourlyPCR = Self.add(mergedVolumes[i].hourlyPCR, v.hourlyPCR)
            } else {
                volumeIndex[k] = mergedVolumes.count
                mergedVolumes.append(v)
            }
        }
        volumes = mergedVolumes.sorted { a, b in (a.detector, a.address) < (b.detector, b.address) }
    }

    /// This baseline's volume profiles minus `pulled` (bucket by bucket, never below 0); profiles left with no
    /// learned hour are dropped. Used to push only the hours a host learned itself, not the ones it pulled.
    package mutating func subtractVolumes(_ pulled: [Volume]) {
        struct Key: Hashable {
            var detector: String
            var address: IPAddress
        }
        var index: [Key: Volume] = [:]
        for v in pulled { index[Key(detector: v.detector, address: v.address)] = v }
        volumes = volumes.compactMap { v in
            guard let p = index[Key(detector: v.detector, address: v.address)] else { return v }
            var r = v
            r.hourlyBytesOut = Self.subtract(v.hourlyBytesOut, p.hourlyBytesOut)
            r.hourlyPCR = Self.subtract(v.hourlyPCR, p.hourlyPCR)
            return r.hourlyBytesOut.contains { $0 > 0 } || r.hourlyPCR.contains { $0 > 0 } ? r : nil
        }
    }

    /// True when nothing was learned.
    package var isEmpty: Bool { edges.isEmpty && hosts.isEmpty && volumes.isEmpty && learningStart == nil }

    static func pick(_ a: Int64?, _ b: Int64?, _ f: (Int64, Int64) -> Int64) -> Int64? {
        switch (a, b) {
        case (let x?, let y?): f(x, y)
        case (let x?, nil): x
        case (nil, let y): y
        }
    }

    static func mergeEdge(_ a: Edge, _ b: Edge) -> Edge {
        var m = a
        m.firstSeen = min(a.firstSeen, b.firstSeen)
        m.lastSeen = max(a.lastSeen, b.lastSeen)
        let day: (Int64) -> Int64 = { t in t >= 0 ? t / 86_400_000_000_000 : (t + 1) / 86_400_000_000_000 - 1 }
        let disjoint = day(a.lastSeen) < day(b.firstSeen) || day(b.lastSeen) < day(a.firstSeen)
        m.days = disjoint ? UInt8(clamping: Int(a.days) + Int(b.days)) : max(a.days, b.days)
        return m
    }

    static func add(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        (0..<max(a.count, b.count)).map { i in
            let (s, o) = (i < a.count ? a[i] : 0).addingReportingOverflow(i < b.count ? b[i] : 0)
            return o ? .max : s
        }
    }

    static func subtract(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        a.enumerated().map { i, x in i < b.count ? (x > b[i] ? x - b[i] : 0) : x }
    }
}
