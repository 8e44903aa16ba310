import FlowhoundCore

/// How findings are rendered.
package enum AlertFormat: String, Sendable, CaseIterable {
    /// One JSON object per line, ECS-aligned, fixed key order (the canonical form).
    case json
    /// One line per finding plus indented evidence lines, for people at a terminal.
    case text
    /// Comma-separated values with a header row (RFC 4180 quoting), one row per finding.
    case csv
}

/// Pure renderers from `Finding` to bytes. Every string that came from a log is escaped.
package enum AlertFormatter {
    /// Renders one finding as a JSON line (with the trailing newline).
    ///
    /// Key order is fixed: `@timestamp`, `event`, `rule`, `threat`, `source`, `destination`, `user`, `flowhound`.
    /// Absent values are left out rather than written as null.
    package static func json(_ f: Finding) -> [UInt8] {
        var o: [UInt8] = []
        o.reserveCapacity(512)
        func raw(_ s: String) { o.append(contentsOf: Array(s.utf8)) }
        func str(_ s: String) { Escaping.appendJSONString(s, to: &o) }
        func key(_ k: String) {
            str(k)
            o.append(0x3A)
        }
        raw("{")
        key("@timestamp"); str(f.lastSeen.iso8601)
        raw(",")
        key("event"); raw("{")
        key("kind"); str("alert"); raw(",")
        key("start"); str(f.firstSeen.iso8601); raw(",")
        key("end"); str(f.lastSeen.iso8601); raw(",")
        key("severity"); raw(String(f.level.rawValue * 25))
        raw("},")
        key("rule"); raw("{")
        key("id"); str(f.ruleID); raw(",")
        key("name"); str(f.title); raw(",")
        key("level"); str(f.level.description)
        raw("}")
        let techniques = f.techniques, tactics = f.tactics
        if !techniques.isEmpty || !tactics.isEmpty {
            raw(","); key("threat"); raw("{")
            key("framework"); str("MITRE ATT&CK"); raw(",")
            key("technique"); raw("{"); key("id"); list(techniques, &o); raw("}"); raw(",")
            key("tactic"); raw("{"); key("name"); list(tactics, &o); raw("}")
            raw("}")
        }
        endpoint("source", f.sourceIP, f.sourcePort, &o)
        endpoint("destination", f.destinationIP, f.destinationPort, &o)
        if let u = f.userName {
            raw(","); key("user"); raw("{"); key("name"); str(u); raw("}")
        }
        raw(","); key("flowhound"); raw("{")
        key("count"); raw(String(f.count)); raw(",")
        if let w = f.windowSeconds {
            key("window"); raw(formatSeconds(w)); raw(",")
        }
        key("group"); raw("{")
        for (i, k) in f.group.keys.sorted().enumerated() {
            if i > 0 { raw(",") }
            key(k); str(f.group[k] ?? "")
        }
        raw("},")
        key("format"); str(f.format); raw(",")
        key("evidence"); raw("[")
        for (i, e) in f.evidence.enumerated() {
            if i > 0 { raw(",") }
            raw("{"); key("file"); str(e.path); raw(",")
            key("line"); raw(String(e.line)); raw(",")
            key("offset"); raw(String(e.byteOffset)); raw(",")
            key("excerpt"); str(e.excerpt); raw("}")
        }
        raw("]}}\n")
        return o
    }

    private static func list(_ items: [String], _ o: inout [UInt8]) {
        o.append(0x5B)
        for (i, s) in items.enumerated() {
            if i > 0 { o.append(0x2C) }
            Escaping.appendJSONString(s, to: &o)
        }
        o.append(0x5D)
    }

    private static func endpoint(_ name: String, _ ip: String?, _ port: Int?, _ o: inout [UInt8]) {
        if ip == nil && port == nil { return }
        o.append(0x2C)
        Escaping.appendJSONString(name, to: &o)
        o.append(contentsOf: Array(":{".utf8))
        var first = true
        if let ip {
            Escaping.appendJSONString("ip", to: &o)
            o.append(0x3A)
            Escaping.appendJSONString(ip, to: &o)
            first = false
        }
        if let port {
            if !first { o.append(0x2C) }
            Escaping.appendJSONString("port", to: &o)
            o.append(0x3A)
            o.append(contentsOf: Array(String(port).utf8))
        }
        o.append(0x7D)
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() && abs(s) < 1e15 ? String(Int64(s)) : String(s)
    }

    /// Renders one finding for a terminal: a summary line, then up to `maxEvidenceLines` evidence lines.
    package static func text(_ f: Finding, colour: Bool, maxEvidenceLines: Int = 3) -> [UInt8] {
        let (on, off): (String, String) =
            switch (colour, f.level) {
            case (false, _): ("", "")
            case (true, .critical), (true, .high): ("\u{1B}[1;31m", "\u{1B}[0m")
            case (true, .medium): ("\u{1B}[33m", "\u{1B}[0m")
            default: ("\u{1B}[36m", "\u{1B}[0m")
            }
        var line = f.firstSeen.iso8601
        if f.lastSeen != f.firstSeen {
            let span = Double(f.lastSeen.nanoseconds - f.firstSeen.nanoseconds) / 1e9
            line += " (+\(span < 10 ? String(Double(Int(span * 10)) / 10) : String(Int(span)))s)"
        }
        line += " \(on)\(f.level.description.uppercased())\(off) "
        line += Escaping.terminalSafe(f.title)
        var flow = ""
        if let s = f.sourceIP { flow += Escaping.terminalSafe(s) }
        if let p = f.sourcePort { flow += ":\(p)" }
        if f.destinationIP != nil || f.destinationPort != nil {
            flow += " -> " + Escaping.terminalSafe(f.destinationIP ?? "?")
            if let p = f.destinationPort { flow += ":\(p)" }
        }
        if !flow.isEmpty { line += "  " + flow }
        if let u = f.userName { line += "  user=" + Escaping.terminalSafe(u) }
        line += "  count=\(f.count)"
        if !f.group.isEmpty && !(f.group.count == 1 && f.group["source.ip"] == f.sourceIP) {
            line += "  group=" + f.group.keys.sorted().map { "\(Escaping.terminalSafe($0))=\(Escaping.terminalSafe(f.group[$0] ?? ""))" }
                .joined(separator: ",")
        }
        line += "  [\(Escaping.terminalSafe(f.ruleID))]\n"
        for e in f.evidence.prefix(maxEvidenceLines) {
            let excerpt = Escaping.terminalSafe(String(e.excerpt.prefix(200)), tabsAsSpaces: true)
            line += "    \(Escaping.terminalSafe(e.path)):\(e.line): \(excerpt)\n"
        }
        if f.evidence.count > maxEvidenceLines {
            line += "    … \(f.evidence.count - maxEvidenceLines) more evidence lines\n"
        }
        return Array(line.utf8)
    }
}
