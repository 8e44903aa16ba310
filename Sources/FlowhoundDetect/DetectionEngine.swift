import FlowhoundCore

/// Turns rule matches into findings, in log-time order of the events that produced them.
///
/// Sigma detection rules are stateless: every matching event is one finding (count 1, evidence = that line),
/// emitted at once. Findings below `minimumLevel` are counted but not emitted.
/// One engine is owned by one scan; it is not shared between threads.
package final class DetectionEngine {
    package let rules: [RuleIdentity]
    package let minimumLevel: Severity
    private let emit: (Finding) -> Void
    /// Findings per rule index, including those below the minimum level.
    package private(set) var matchCounts: [Int]
    package private(set) var emitted = 0
    package private(set) var belowMinimumLevel = 0

    package init(rules: [RuleIdentity], minimumLevel: Severity, emit: @escaping (Finding) -> Void) {
        self.rules = rules
        self.minimumLevel = minimumLevel
        self.emit = emit
        matchCounts = [Int](repeating: 0, count: rules.count)
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
        let time = record.timestamp ?? Timestamp(nanoseconds: 0)
        let finding = Finding(
            ruleID: rule.id, title: rule.title, level: rule.level, tags: rule.tags, firstSeen: time, lastSeen: time,
            sourceIP: entities.sourceIP, sourcePort: entities.sourcePort, destinationIP: entities.destinationIP,
            destinationPort: entities.destinationPort, userName: entities.userName, count: 1,
            format: schema.format.rawValue + (schema.logType.isEmpty ? "" : "/" + schema.logType),
            evidence: [
                Evidence(
                    path: origin.path, line: origin.line, byteOffset: origin.byteOffset, bytes: record.line,
                    count: record.lineLength)
            ])
        emitted += 1
        emit(finding)
    }
}
