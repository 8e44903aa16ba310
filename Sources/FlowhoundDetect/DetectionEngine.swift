import FlowhoundCore
import FlowhoundRules

/// How repeated findings of one rule are merged before they are written.
package struct MergePolicy: Sendable {
    /// Findings of the same rule from the same source whose events lie within this many nanoseconds of the
    /// first one are merged into one (count, last-seen and evidence updated). 0 writes every match.
    package var interval: Int64
    /// Most findings held open at once; when full, the one opened first is written out early (counted).
    package var maxPending: Int

    package init(intervalSeconds: Int64 = 300, maxPending: Int = 10_000) {
        interval = intervalSeconds * 1_000_000_000
        self.maxPending = max(1, maxPending)
    }

    package static let none = MergePolicy(intervalSeconds: 0)
}

/// Turns rule matches into findings.
///
/// Sigma detection rules are stateless: every matching event is one match. Matches of the same rule with the
/// same source address are merged while they fall within `MergePolicy.interval` of the first one (log time):
/// the finding then covers `count` events from `firstSeen` to `lastSeen`, keeps destination/port/user only when
/// all merged events agree, and keeps the first `Finding.maxEvidence` lines as evidence.
///
/// Window: anchored at the first match of a key, `[first, first + interval]` inclusive. A finding is written
/// when log time (the newest event time seen) passes the end of its window, when the state is full, or at
/// `finish()`. State bound: `maxPending` open findings; the oldest is written early when a new key arrives
/// at the cap (`earlyFlushes`). Output order is the order in which findings close, which depends only on
/// the input's content and order.
///
/// One engine is owned by one scan; it is not shared between threads.
package final class DetectionEngine {
    package let rules: [RuleIdentity]
    package let minimumLevel: Severity
    package let policy: MergePolicy
    private let emit: (Finding) -> Void
    /// Matches per rule index, including those below the minimum level.
    package private(set) var matchCounts: [Int]
    package private(set) var emitted = 0
    package private(set) var belowMinimumLevel = 0
    /// Findings written before their window ended because `maxPending` was reached.
    package private(set) var earlyFlushes = 0
    /// The site's `allow` entries; a match they cover is counted per entry and never becomes a finding.
    package let allowList: [SiteAllow]
    /// Matches suppressed, per `allowList` entry.
    package private(set) var allowedCounts: [Int]

    private struct Key: Hashable {
        var rule: Int
        var source: String?
    }

    private var pending: [Key: Finding] = [:]
    private var openedOrder: [Key] = []  // keys in the order their findings opened (may hold closed keys)
    private var openedHead = 0
    private var clock = Timestamp.distantPast
    private var nextDeadline = Int64.max

    package init(
        rules: [RuleIdentity], minimumLevel: Severity, policy: MergePolicy = MergePolicy(), allow: [SiteAllow] = [],
        emit: @escaping (Finding) -> Void
    ) {
        self.rules = rules
        allowList = allow
        allowedCounts = [Int](repeating: 0, count: allow.count)
        self.minimumLevel = minimumLevel
        self.policy = policy
        self.emit = emit
        matchCounts = [Int](repeating: 0, count: rules.count)
    }

    package var pendingCount: Int { pending.count }

    /// Tells the engine that log time has reached `time` (call for every event; O(1) unless a window closes).
    @inline(__always)
    package func advance(to time: Timestamp) {
        // nanoseconds compared directly: `>` on `Timestamp` went through the generic `Comparable` default
        if time.nanoseconds > clock.nanoseconds { clock = time }
        if clock.nanoseconds > nextDeadline { closeExpired() }
    }

    /// Records that the event in `record` matched the rule at `ruleIndex`.
    package func matched(ruleIndex: Int, record: EventRecord, schema: Schema, origin: EventOrigin) {
        matchCounts[ruleIndex] += 1
        let rule = rules[ruleIndex]
        if rule.level < minimumLevel {
            belowMinimumLevel += 1
            return
        }
        let entities = EventEntities(record: record, schema: schema)
        if !allowList.isEmpty {
            let src = entities.sourceIP.flatMap { IPAddress.parse($0) }
            let dst = entities.destinationIP.flatMap { IPAddress.parse($0) }
            if let i = allowList.firstIndex(where: { $0.allows(id: rule.id, title: rule.title, source: src, destination: dst) }) {
                allowedCounts[i] += 1
                return
            }
        }
        let time = record.timestamp ?? clock
        let evidence = Evidence(
            path: origin.path, line: origin.line, byteOffset: origin.byteOffset, bytes: record.line,
            count: record.lineLength)
        if policy.interval == 0 {
            write(newFinding(rule, entities, time, schema, evidence))
            return
        }
        let key = Key(rule: ruleIndex, source: entities.sourceIP)
        if var open = pending[key] {
            if abs(time.nanoseconds &- open.firstSeen.nanoseconds) <= policy.interval {
                merge(&open, entities, time, evidence)
                pending[key] = open
                return
            }
            pending[key] = nil
            write(open)
        }
        if pending.count >= policy.maxPending { flushOldest() }
        let f = newFinding(rule, entities, time, schema, evidence)
        pending[key] = f
        openedOrder.append(key)
        nextDeadline = min(nextDeadline, f.firstSeen.nanoseconds &+ policy.interval)
    }

    /// Writes every open finding (in the order they opened). Call once at the end of input.
    package func finish() {
        while openedHead < openedOrder.count {
            let k = openedOrder[openedHead]
            openedHead += 1
            if let f = pending.removeValue(forKey: k) { write(f) }
        }
        openedOrder.removeAll()
        openedHead = 0
        nextDeadline = .max
    }

    private func newFinding(
        _ rule: RuleIdentity, _ e: EventEntities, _ time: Timestamp, _ schema: Schema, _ evidence: Evidence
    ) -> Finding {
        Finding(
            ruleID: rule.id, title: rule.title, level: rule.level, tags: rule.tags, firstSeen: time, lastSeen: time,
            group: e.sourceIP.map { ["source.ip": $0] } ?? [:],
            sourceIP: e.sourceIP, sourcePort: e.sourcePort, destinationIP: e.destinationIP,
            destinationPort: e.destinationPort, userName: e.userName, count: 1,
            windowSeconds: policy.interval == 0 ? nil : Double(policy.interval) / 1e9,
            format: schema.format.rawValue + (schema.logType.isEmpty ? "" : "/" + schema.logType),
            evidence: [evidence])
    }

    private func merge(_ f: inout Finding, _ e: EventEntities, _ time: Timestamp, _ evidence: Evidence) {
        f.count += 1
        if time > f.lastSeen { f.lastSeen = time }
        if time < f.firstSeen { f.firstSeen = time }
        if f.sourcePort != e.sourcePort { f.sourcePort = nil }
        if f.destinationIP != e.destinationIP { f.destinationIP = nil }
        if f.destinationPort != e.destinationPort { f.destinationPort = nil }
        if f.userName != e.userName { f.userName = nil }
        if f.evidence.count < Finding.maxEvidence { f.evidence.append(evidence) }
    }

    private func closeExpired() {
        var deadline = Int64.max
        var expired: [Key] = []
        for (k, f) in pending {
            let end = f.firstSeen.nanoseconds &+ policy.interval
            if end < clock.nanoseconds { expired.append(k) } else { deadline = min(deadline, end) }
        }
        nextDeadline = deadline
        if expired.isEmpty { return }
        let closing = Set(expired)
        // write in opening order, so output does not depend on hashing
        var kept: [Key] = []
        kept.reserveCapacity(openedOrder.count - openedHead)
        for i in openedHead..<openedOrder.count {
            let k = openedOrder[i]
            if closing.contains(k), let f = pending.removeValue(forKey: k) {
                write(f)
            } else if pending[k] != nil {
                kept.append(k)
            }
        }
        openedOrder = kept
        openedHead = 0
    }

    private func flushOldest() {
        while openedHead < openedOrder.count {
            let k = openedOrder[openedHead]
            openedHead += 1
            if let f = pending.removeValue(forKey: k) {
                earlyFlushes += 1
                write(f)
                break
            }
        }
        if openedHead > 4096 && openedHead * 2 > openedOrder.count {
            openedOrder.removeFirst(openedHead)
            openedHead = 0
        }
    }

    private func write(_ f: Finding) {
        emitted += 1
        emit(f)
    }
}
