import FlowhoundCore

extension AlertFormatter {
    /// The CSV columns, in order. One row per finding; evidence beyond the first line is counted, not listed.
    package static let csvColumns = [
        "timestamp", "start", "end", "rule_id", "rule_name", "level", "severity", "source_ip", "source_port",
        "destination_ip", "destination_port", "user", "count", "window", "techniques", "tactics", "group", "format",
        "evidence_count", "evidence_file", "evidence_line", "evidence_excerpt",
    ]

    /// The header row (with CRLF, as RFC 4180 has it).
    package static var csvHeader: [UInt8] { Array((csvColumns.joined(separator: ",") + "\r\n").utf8) }

    /// One finding as a CSV row ending in CRLF. Every text field goes through `Escaping.csvField`, so a log line
    /// cannot add a row, a column or a formula.
    package static func csv(_ f: Finding) -> [UInt8] {
        let first = f.evidence.first
        let group = f.group.keys.sorted().map { "\($0)=\(f.group[$0] ?? "")" }.joined(separator: ";")
        let fields: [String] = [
            f.lastSeen.iso8601, f.firstSeen.iso8601, f.lastSeen.iso8601,
            f.ruleID, f.title, f.level.description, String(f.level.rawValue * 25),
            f.sourceIP ?? "", f.sourcePort.map(String.init) ?? "", f.destinationIP ?? "",
            f.destinationPort.map(String.init) ?? "", f.userName ?? "", String(f.count),
            f.windowSeconds.map(formatSeconds) ?? "", f.techniques.joined(separator: ";"),
            f.tactics.joined(separator: ";"), group, f.format, String(f.evidence.count), first?.path ?? "",
            first.map { String($0.line) } ?? "", first.map { String($0.excerpt.prefix(300)) } ?? "",
        ]
        return Array((fields.map(Escaping.csvField).joined(separator: ",") + "\r\n").utf8)
    }
}
