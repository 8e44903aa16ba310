import FlowhoundCore

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
