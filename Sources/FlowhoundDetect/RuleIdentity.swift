import FlowhoundCore
import FlowhoundRules

/// What a finding says about the rule that produced it.
package struct RuleIdentity: Hashable, Sendable {
    package var id: String
    package var title: String
    package var level: Severity
    package var tags: [String]

    package init(id: String, title: String, level: Severity, tags: [String]) {
        self.id = id
        self.title = title
        self.level = level
        self.tags = tags
    }
}

extension Array where Element == SiteAllow {
    /// The first entry that allows `finding` (matched on its rule id or title, source and destination), if any.
    /// Used for findings made outside `DetectionEngine`, such as correlation findings.
    package func firstAllowing(_ finding: Finding) -> Int? {
        if isEmpty { return nil }
        let src = finding.sourceIP.flatMap { IPAddress.parse($0) }
        let dst = finding.destinationIP.flatMap { IPAddress.parse($0) }
        return firstIndex { $0.allows(id: finding.ruleID, title: finding.title, source: src, destination: dst) }
    }
}
