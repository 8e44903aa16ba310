import FlowhoundCore

/// The identifier that makes two findings "the same" for suppression and for the alert store.
///
/// It is the rule id plus a 64-bit FNV-1a hash of what the finding is about. That is its group (a merged Sigma
/// match's `source.ip`, a correlation's group-by values, a detector's `key`…) without the pairs that describe
/// rather than identify (`summary`, `metric`, the incident fields, a correlation's metric/windows/fired_at);
/// a finding with no such group is identified by its source and destination address, destination port and user
/// (never the ephemeral source port). So a merged match that lost its destination (several) and a single match
/// of the same rule and source are the same finding. Each part is length-prefixed before hashing, so no value
/// can imitate another split.
package enum FindingKey {
    package static let descriptiveGroupKeys: Set<String> = [
        "summary", "metric", "incident", "incident_tactics", "incident_stage", "correlation.metric",
        "correlation.windows", "correlation.fired_at",
    ]

    package static func identifier(_ f: Finding) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ s: String) {
            for b in String(s.utf8.count).utf8 { mix(b) }
            mix(0x3A)
            for b in s.utf8 { mix(b) }
        }
        func mix(_ b: UInt8) {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        add(f.ruleID)
        let identity = f.group.keys.filter { !descriptiveGroupKeys.contains($0) }.sorted()
        if identity.isEmpty {
            add(f.sourceIP ?? "")
            add(f.destinationIP ?? "")
            add(f.destinationPort.map(String.init) ?? "")
            add(f.userName ?? "")
        } else {
            for k in identity {
                add(k)
                add(f.group[k] ?? "")
            }
        }
        let hex = String(h, radix: 16)
        return f.ruleID + "/" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Merges repeats of a finding within an interval of log time (`--suppress DURATION`).
///
/// The first finding of a key is emitted and opens an interval that starts at its `@timestamp` (its last event).
/// A later finding of the same key whose first event falls within `interval` of that start is a repeat: it is
/// merged (the store adds its count and moves last-seen; stream outputs write nothing). The first finding
/// beyond the interval is emitted again and opens a new one. Keys seeded from the store (earlier cron runs)
/// work the same way, and a finding that ends no later than what the store already holds for its key is a
/// replay of logs scanned before: it is dropped and counted.
///
/// Bounded: at most `capacity` keys. When full, keys whose interval has passed (by the newest log time seen) go
/// first, then the oldest; each removal is counted in `evicted`.
package struct AlertSuppressor: Sendable {
    package enum Decision: Equatable, Sendable { case emit, merge, replay }

    struct Entry: Sendable {
        var anchor: Int64
        var lastSeen: Int64
        var fromStore: Bool
    }

    package let interval: Int64
    package let capacity: Int
    private var entries: [String: Entry] = [:]
    private var newest: Int64 = .min
    package private(set) var merged = 0
    package private(set) var replayed = 0
    package private(set) var evicted = 0

    /// - Parameter intervalSeconds: the suppression interval in log-time seconds.
    package init(intervalSeconds: Int64, capacity: Int = 100_000) {
        interval = intervalSeconds &* 1_000_000_000
        self.capacity = max(1, capacity)
    }

    package var count: Int { entries.count }

    /// Remembers a key written by an earlier run: its alert's `@timestamp` and the last event merged into it.
    package mutating func seed(key: String, anchor: Timestamp, lastSeen: Timestamp) {
        entries[key] = Entry(anchor: anchor.nanoseconds, lastSeen: lastSeen.nanoseconds, fromStore: true)
        evictIfNeeded()
    }

    package mutating func decide(_ f: Finding, key: String) -> Decision {
        let first = f.firstSeen.nanoseconds, last = f.lastSeen.nanoseconds
        if last > newest { newest = last }
        if var e = entries[key] {
            if e.fromStore && last <= e.lastSeen {
                replayed += 1
                return .replay
            }
            if first <= e.anchor &+ interval {
                if last > e.lastSeen { e.lastSeen = last }
                entries[key] = e
                merged += 1
                return .merge
            }
        }
        entries[key] = Entry(anchor: last, lastSeen: last, fromStore: false)
        evictIfNeeded()
        return .emit
    }

    private mutating func evictIfNeeded() {
        guard entries.count > capacity else { return }
        let before = entries.count
        let horizon = newest &- interval
        entries = entries.filter { $0.value.anchor >= horizon && $0.value.lastSeen >= horizon }
        if entries.count > capacity * 9 / 10 {
            let keep = entries.sorted { $0.value.anchor > $1.value.anchor }.prefix(capacity * 9 / 10)
            entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
        evicted += before - entries.count
    }
}
