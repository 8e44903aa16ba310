/// One line that contributed to a finding: where it is and a bounded, raw excerpt of it.
package struct Evidence: Hashable, Sendable {
    package var path: String
    package var line: Int64
    package var byteOffset: Int64
    /// At most `Evidence.maxExcerptBytes` bytes of the line, decoded as UTF-8 with replacement.
    /// Untrusted: every alert format escapes it.
    package var excerpt: String

    package static let maxExcerptBytes = 512

    package init(path: String, line: Int64, byteOffset: Int64, excerpt: String) {
        self.path = path
        self.line = line
        self.byteOffset = byteOffset
        self.excerpt = excerpt
    }

    /// Copies at most `maxExcerptBytes` bytes of a line (the only String made from a matching line).
    package init(path: String, line: Int64, byteOffset: Int64, bytes: UnsafePointer<UInt8>, count: Int) {
        let n = min(count, Evidence.maxExcerptBytes)
        self.init(
            path: path, line: line, byteOffset: byteOffset,
            excerpt: String(decoding: UnsafeBufferPointer(start: bytes, count: n), as: UTF8.self)
                + (count > n ? "…" : ""))
    }
}

/// What a rule or detector reports. Strings here come from rules (trusted) or logs (untrusted: escape on output).
package struct Finding: Hashable, Sendable {
    package var ruleID: String
    package var title: String
    package var level: Severity
    /// Sigma tags as written (`attack.t1021.002`, `attack.lateral_movement`).
    package var tags: [String]
    package var firstSeen: Timestamp
    package var lastSeen: Timestamp
    /// The group-by key that this finding aggregates, rendered `field=value` pairs; empty for single events.
    package var group: [String: String]
    package var sourceIP: String?
    package var sourcePort: Int?
    package var destinationIP: String?
    package var destinationPort: Int?
    package var userName: String?
    /// Number of events behind the finding.
    package var count: Int
    /// Window length in seconds for aggregating rules, else nil.
    package var windowSeconds: Double?
    /// Name of the format the events came from (`zeek-tsv`…).
    package var format: String
    package var evidence: [Evidence]

    /// Evidence lines kept per finding at most.
    package static let maxEvidence = 10

    package init(
        ruleID: String, title: String, level: Severity, tags: [String] = [], firstSeen: Timestamp,
        lastSeen: Timestamp, group: [String: String] = [:], sourceIP: String? = nil, sourcePort: Int? = nil,
        destinationIP: String? = nil, destinationPort: Int? = nil, userName: String? = nil, count: Int = 1,
        windowSeconds: Double? = nil, format: String, evidence: [Evidence] = []
    ) {
        self.ruleID = ruleID
        self.title = title
        self.level = level
        self.tags = tags
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.group = group
        self.sourceIP = sourceIP
        self.sourcePort = sourcePort
        self.destinationIP = destinationIP
        self.destinationPort = destinationPort
        self.userName = userName
        self.count = count
        self.windowSeconds = windowSeconds
        self.format = format
        self.evidence = evidence
    }

    /// ATT&CK technique ids from the tags (`attack.t1021.002` → `T1021.002`).
    package var techniques: [String] {
        tags.compactMap { tag in
            let t = tag.lowercased()
            guard t.hasPrefix("attack.t"), t.count > 8 else { return nil }
            let id = t.dropFirst("attack.".count)
            guard id.dropFirst().first?.isNumber == true else { return nil }
            return id.uppercased()
        }
    }

    /// ATT&CK tactics from the tags (`attack.lateral_movement` → `lateral_movement`).
    package var tactics: [String] {
        tags.compactMap { tag in
            let t = tag.lowercased()
            guard t.hasPrefix("attack."), !t.hasPrefix("attack.t") || t.dropFirst(8).first?.isNumber != true,
                !t.hasPrefix("attack.g"), !t.hasPrefix("attack.s0")
            else { return nil }
            return String(t.dropFirst("attack.".count))
        }
    }
}
