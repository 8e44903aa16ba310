import FlowhoundCore

/// Links findings about one host that lie days apart into one incident (netdetect.md §7.0 "Correlator").
///
/// Rule: the entity is the finding's acting host — its source address (the scanner, the client, the pivot);
/// findings without a source are not correlated. A finding joins the host's open incident when it is at most
/// `window` (default 14 days, inclusive) after that incident's latest finding; otherwise it opens a new
/// incident. The incident id is `inc-<host>-<epoch seconds of its first finding>`, so it depends only on the
/// input. Each finding gets `group["incident"]`, `group["incident_tactics"]` (the tactics seen so far, in
/// kill-chain order) and, once the incident spans at least two tactics, `group["incident_stage"] =
/// "multi_tactic"`. State: one entry per host, `BoundedMap` with `maxHosts` (least recently updated evicted).
package final class IncidentCorrelator {
    package struct Incident: Sendable, Hashable {
        package var id: String
        package var host: IPAddress
        package var first: Int64
        package var last: Int64
        package var findings: Int
        /// Tactics seen, kill-chain order.
        package var tactics: [String]
        /// Rule ids, in order of first appearance (at most 32).
        package var rules: [String]
    }

    /// ATT&CK enterprise tactics in kill-chain order.
    package static let killChain = [
        "reconnaissance", "resource_development", "initial_access", "execution", "persistence",
        "privilege_escalation", "defense_evasion", "credential_access", "discovery", "lateral_movement",
        "collection", "command_and_control", "exfiltration", "impact",
    ]

    package let window: Int64
    private var open: BoundedMap<IPAddress, Incident>
    /// Every incident opened, in order (bounded to `maxHosts` most recent).
    package private(set) var closed: [Incident] = []

    package init(windowSeconds: Int64 = 14 * 86_400, maxHosts: Int = 100_000) {
        window = windowSeconds * nanosPerSecond
        open = BoundedMap(capacity: maxHosts)
    }

    package var evicted: Int { open.evicted }

    /// Assigns the finding to an incident and annotates its group.
    package func assign(_ f: inout Finding, host: IPAddress?) {
        guard let host else { return }
        let t = f.lastSeen.nanoseconds
        let tactics = f.tactics
        let ruleID = f.ruleID
        let inc: Incident = open.update(host, now: t, make: {
            Incident(id: "", host: host, first: t, last: t, findings: 0, tactics: [], rules: [])
        }) { inc in
            if inc.findings > 0 && t - inc.last > window {
                inc = Incident(id: "", host: host, first: t, last: t, findings: 0, tactics: [], rules: [])
            }
            if inc.id.isEmpty {
                inc.id = "inc-\(host)-\(Timestamp(nanoseconds: f.firstSeen.nanoseconds).seconds)"
                inc.first = f.firstSeen.nanoseconds
            }
            inc.findings += 1
            if t > inc.last { inc.last = t }
            for tac in tactics where !inc.tactics.contains(tac) { inc.tactics.append(tac) }
            inc.tactics.sort { (IncidentCorrelator.killChain.firstIndex(of: $0) ?? 99) < (IncidentCorrelator.killChain.firstIndex(of: $1) ?? 99) }
            if !inc.rules.contains(ruleID) && inc.rules.count < 32 { inc.rules.append(ruleID) }
            return inc
        }
        f.group["incident"] = inc.id
        if !inc.tactics.isEmpty { f.group["incident_tactics"] = inc.tactics.joined(separator: ",") }
        if inc.tactics.count >= 2 { f.group["incident_stage"] = "multi_tactic" }
    }

    /// Open incidents, oldest first.
    package var incidents: [Incident] { open.entriesOldestFirst().map { $0.1 } }
}
