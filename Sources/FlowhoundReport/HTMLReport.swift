import FlowhoundCore
import FlowhoundSinks

/// Renders `ReportData` as one self-contained HTML page: inline CSS, inline SVG, a small inline script; no
/// fetch of anything (no external style sheet, font, script or image), so it opens offline and can be mailed.
///
/// Sections: a header with totals; the summary table (one row per rule); the communication graph (hosts as
/// dots clustered by subnet, grey lines for the traffic seen, red numbered arrows for the findings between two
/// hosts in time order, red rings for hosts named by findings); the timeline (one row per rule, a mark per
/// alert from its first to its last event); the alert list with the first evidence line. Every string from a
/// log goes through `Escaping.html` (or, inside the embedded JSON, JSON escaping plus `<`/`>`/`&` escapes).
/// The script only adds hover highlighting and marks the page: `data-flowhound-ready` on `<html>` holds the
/// number of alerts it read back from the embedded JSON, `data-flowhound-error` is set by any script error.
package enum HTMLReport {
    static let levelColours: [Severity: String] = [
        .critical: "#8e24aa", .high: "#d32f2f", .medium: "#ef6c00", .low: "#c0a000", .informational: "#1e88e5",
    ]

    static func h(_ s: String) -> String { Escaping.html(s) }

    package static func render(_ d: ReportData) -> String {
        let findings = d.findings.sorted { ($0.firstSeen, $0.ruleID) < ($1.firstSeen, $1.ruleID) }
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
            <title>\(h(d.title))</title>
            <style>\(css)</style>
            <script>\(errorHook)</script>
            </head>
            <body>
            <header><h1>\(h(d.title))</h1>
            <p class="meta">\(h(metaLine(d, findings)))</p>
            <p class="meta">Sources: \(h(d.sources.prefix(8).joined(separator: ", ")))\(d.sources.count > 8 ? h(" and \(d.sources.count - 8) more") : "")</p>
            <div id="fh-errors" hidden></div>
            </header>

            """
        out += summaryTable(findings)
        out += graphSection(d, findings)
        out += timelineSection(findings)
        out += alertsTable(findings, notShown: d.findingsNotShown)
        out += "<script type=\"application/json\" id=\"fh-data\">" + dataJSON(findings) + "</script>\n"
        out += "<script>\(script)</script>\n</body>\n</html>\n"
        return out
    }

    static func metaLine(_ d: ReportData, _ f: [Finding]) -> String {
        var parts = ["\(f.count) alert\(f.count == 1 ? "" : "s")"]
        let high = f.filter { $0.level >= .high }.count
        if high > 0 { parts.append("\(high) high or critical") }
        if d.lines > 0 { parts.append("\(d.lines) lines, \(d.events) events read") }
        if let first = f.map(\.firstSeen).min(), let last = f.map(\.lastSeen).max() {
            parts.append("log time \(first.iso8601) – \(last.iso8601)")
        }
        if !d.generatedAt.isEmpty { parts.append("generated \(d.generatedAt)") }
        return parts.joined(separator: " · ")
    }

    // MARK: summary

    static func summaryTable(_ findings: [Finding]) -> String {
        struct Row {
            var rule = "", title = "", level = Severity.informational, alerts = 0, events = 0
            var sources = Set<String>(), destinations = Set<String>()
            var first = Timestamp(nanoseconds: .max), last = Timestamp(nanoseconds: .min)
        }
        var rows: [String: Row] = [:]
        for f in findings {
            var r = rows[f.ruleID] ?? Row(rule: f.ruleID, title: f.title, level: f.level)
            r.level = max(r.level, f.level)
            r.alerts += 1
            r.events += f.count
            if let s = f.sourceIP { r.sources.insert(s) }
            if let t = f.destinationIP { r.destinations.insert(t) }
            r.first = min(r.first, f.firstSeen)
            r.last = max(r.last, f.lastSeen)
            rows[f.ruleID] = r
        }
        let ordered = rows.values.sorted { ($0.level, $1.first) > ($1.level, $0.first) }
        var s = "<section><h2>Summary</h2>\n"
        if ordered.isEmpty { return s + "<p class=\"none\">No findings.</p></section>\n" }
        s += "<table id=\"fh-summary\"><thead><tr><th>Level</th><th>Rule</th><th>Alerts</th><th>Events</th>"
        s += "<th>Sources</th><th>Destinations</th><th>First</th><th>Last</th></tr></thead><tbody>\n"
        for r in ordered {
            s += "<tr><td>\(badge(r.level))</td><td>\(h(r.title))<div class=\"id\">\(h(r.rule))</div></td>"
            s += "<td class=\"n\">\(r.alerts)</td><td class=\"n\">\(r.events)</td>"
            s += "<td>\(h(list(r.sources)))</td><td>\(h(list(r.destinations)))</td>"
            s += "<td class=\"t\">\(h(short(r.first)))</td><td class=\"t\">\(h(short(r.last)))</td></tr>\n"
        }
        return s + "</tbody></table></section>\n"
    }

    static func list(_ set: Set<String>) -> String {
        let sorted = set.sorted(by: GraphLayout.addressOrder)
        return sorted.prefix(4).joined(separator: ", ") + (sorted.count > 4 ? " +\(sorted.count - 4)" : "")
    }

    static func badge(_ l: Severity) -> String {
        "<span class=\"lvl\" style=\"background:\(levelColours[l]!)\">\(l.description)</span>"
    }

    static func short(_ t: Timestamp) -> String {
        let s = t.iso8601
        return String(s.prefix(19)).replacingAll("T", with: " ")
    }

    // MARK: graph

    struct DrawnFinding {
        var number: Int
        var source: String
        var destination: String
        var services: [String]
        var level: Severity
        var titles: [String]

        /// The first two services, then how many more.
        var label: String {
            services.prefix(2).joined(separator: ", ") + (services.count > 2 ? " +\(services.count - 2)" : "")
        }
    }

    static func graphSection(_ d: ReportData, _ findings: [Finding]) -> String {
        // finding edges (source and destination known), numbered in time order; repeated pairs share a number
        var drawn: [DrawnFinding] = []
        var pairIndex: [String: Int] = [:]
        var findingHosts = Set<String>()
        var hostRules: [String: Set<String>] = [:]
        for f in findings {
            if let s = f.sourceIP {
                findingHosts.insert(s)
                hostRules[s, default: []].insert(f.title)
            }
            if let t = f.destinationIP {
                findingHosts.insert(t)
                hostRules[t, default: []].insert(f.title)
            }
            guard let s = f.sourceIP, let t = f.destinationIP, s != t else { continue }
            let port = f.destinationPort.map { serviceName($0) } ?? ""
            let key = s + ">" + t
            if let i = pairIndex[key] {
                drawn[i].level = max(drawn[i].level, f.level)
                if !drawn[i].titles.contains(f.title) { drawn[i].titles.append(f.title) }
                if !port.isEmpty && !drawn[i].services.contains(port) { drawn[i].services.append(port) }
            } else {
                pairIndex[key] = drawn.count
                drawn.append(DrawnFinding(number: drawn.count + 1, source: s, destination: t, services: port.isEmpty ? [] : [port], level: f.level, titles: [f.title]))
            }
        }
        // background traffic between hosts: busiest first, within the node cap
        var pairTraffic: [String: (String, String, Int, Int64, Set<String>)] = [:]
        var internalHosts = d.internalHosts
        if d.edges.isEmpty { internalHosts.formUnion(findingHosts.filter { isPrivate($0) }) }
        for e in d.edges where e.source != e.destination && internalHosts.contains(e.source) && internalHosts.contains(e.destination) {
            let key = e.source + ">" + e.destination
            var v = pairTraffic[key] ?? (e.source, e.destination, 0, 0, [])
            v.2 += e.connections
            v.3 += e.bytes
            if v.4.count < 6 { v.4.insert(e.service) }
            pairTraffic[key] = v
        }
        var degree: [String: Int] = [:]
        for (_, v) in pairTraffic {
            degree[v.0, default: 0] += 1
            degree[v.1, default: 0] += 1
        }
        var hosts = findingHosts
        let others = degree.keys.filter { !findingHosts.contains($0) }.sorted { (degree[$0]!, $1) > (degree[$1]!, $0) }
        for h in others where hosts.count < d.maxNodes { hosts.insert(h) }
        let hiddenHosts = degree.keys.count - degree.keys.filter { hosts.contains($0) }.count
        let layout = GraphLayout(
            hosts: Array(hosts), degree: degree, findingHosts: findingHosts, internalHosts: internalHosts, roles: d.hostRoles)
        var background = pairTraffic.values.filter { hosts.contains($0.0) && hosts.contains($0.1) && pairIndex[$0.0 + ">" + $0.1] == nil }
        background.sort { ($0.2, $1.0, $1.1) > ($1.2, $0.0, $0.1) }
        let hiddenEdges = max(0, background.count - d.maxEdges) + d.edgesDropped
        background = Array(background.prefix(d.maxEdges))
        // the weak (medium and below) finding edges first, so the strong ones are drawn on top
        let drawOrder = drawn.sorted { ($0.level >= .high ? 1 : 0, $0.number) < ($1.level >= .high ? 1 : 0, $1.number) }

        var s = "<section><h2>Communication graph</h2>\n"
        s += "<p class=\"legend\"><span class=\"k bg\"></span> traffic seen in the logs"
        s += " <span class=\"k fe\"></span> finding between two hosts, numbered in time order"
        s += " <span class=\"k fh\"></span> host named by a finding"
        if d.edges.isEmpty { s += " · made from the alert store: only the findings' own hosts and edges are known" }
        if hiddenHosts > 0 || hiddenEdges > 0 {
            s += " · not drawn: \(hiddenHosts) quieter host\(hiddenHosts == 1 ? "" : "s"), \(hiddenEdges) host pair\(hiddenEdges == 1 ? "" : "s")"
        }
        s += "</p>\n"
        let w = Int(layout.width.rounded(.up)), ht = Int(layout.height.rounded(.up))
        s += "<div class=\"graph\"><svg id=\"fh-graph\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(w) \(ht)\" style=\"max-width:\(max(w, 900))px\" role=\"img\" aria-label=\"internal communication graph\">\n"
        s += "<defs>"
        for (l, c) in levelColours.sorted(by: { $0.key < $1.key }) {
            s += "<marker id=\"arrow-\(l.description)\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"\(c)\"/></marker>"
        }
        s += "</defs>\n"
        for c in layout.clusters {
            let label = c.external ? "external" : c.name + (c.role.map { " · " + $0 } ?? "")
            s += "<g class=\"cluster\"><circle cx=\"\(f1(c.x))\" cy=\"\(f1(c.y))\" r=\"\(f1(c.radius))\"/>"
            s += "<text x=\"\(f1(c.x))\" y=\"\(f1(c.y - c.radius - 8))\" text-anchor=\"middle\">\(h(label))</text></g>\n"
        }
        let maxConn = Double(background.map(\.2).max() ?? 1)
        s += "<g class=\"bg-edges\">"
        for e in background {
            guard let a = layout.nodes[e.0], let b = layout.nodes[e.1] else { continue }
            let width = 0.6 + 2.4 * log(1 + Double(e.2)) / log(1 + maxConn)
            s += "<line x1=\"\(f1(a.x))\" y1=\"\(f1(a.y))\" x2=\"\(f1(b.x))\" y2=\"\(f1(b.y))\" stroke-width=\"\(f1(width))\">"
            s += "<title>\(h(e.0)) → \(h(e.1)): \(e.2) connection\(e.2 == 1 ? "" : "s"), \(e.3) bytes (\(h(e.4.sorted().joined(separator: ", "))))</title></line>"
        }
        // hosts named in high or critical findings get a label; the others have a tooltip
        var important = Set<String>()
        for f in findings where f.level >= .high {
            if let a = f.sourceIP { important.insert(a) }
            if let b = f.destinationIP { important.insert(b) }
        }
        if important.count > 40 { important = [] }
        s += "</g>\n<g class=\"nodes\">"
        for id in layout.nodes.keys.sorted(by: GraphLayout.addressOrder) {
            let n = layout.nodes[id]!
            let r = n.inFinding ? 7.0 : 3.0 + min(3, Double(n.degree).squareRoot() / 2)
            var tip = id
            if let l = d.hostLabels[id] { tip += " (\(l))" }
            if let role = d.hostRoles[id] { tip += " · \(role)" }
            if let rules = hostRules[id] { tip += "\n" + rules.sorted().joined(separator: "\n") }
            s += "<g class=\"node\(n.inFinding ? " hit" : "")\" data-host=\"\(h(id))\"><circle cx=\"\(f1(n.x))\" cy=\"\(f1(n.y))\" r=\"\(f1(r))\"><title>\(h(tip))</title></circle>"
            if important.contains(id) || d.hostLabels[id] != nil {
                let name = d.hostLabels[id].map { "\(id) \($0)" } ?? (d.hostRoles[id].map { "\(id) · \($0)" } ?? id)
                s += "<text x=\"\(f1(n.x + r + 3))\" y=\"\(f1(n.y + 4))\">\(h(name))</text>"
            }
            s += "</g>"
        }
        s += "</g>\n<g class=\"f-edges\">"
        for f in drawOrder {
            guard let a = layout.nodes[f.source], let b = layout.nodes[f.destination] else { continue }
            let (path, mx, my) = curve(a.x, a.y, b.x, b.y, shortenEnd: 9)
            let colour = levelColours[f.level]!
            let tip = "\(f.number). \(f.source) → \(f.destination) \(f.label)\n" + f.titles.joined(separator: "\n")
            let strong = f.level >= .high
            let style = strong ? " strong" : f.level == .medium ? " mid" : " weak"
            s += "<g class=\"fe\(style)\" data-edge=\"\(h(f.source + ">" + f.destination))\"><path d=\"\(path)\" stroke=\"\(colour)\" marker-end=\"url(#arrow-\(f.level.description))\"><title>\(h(tip))</title></path>"
            s += "<circle class=\"num\" cx=\"\(f1(mx))\" cy=\"\(f1(my))\" r=\"\(strong ? 9 : 7)\" fill=\"\(colour)\"/><text class=\"num\" x=\"\(f1(mx))\" y=\"\(f1(my + 4))\" text-anchor=\"middle\">\(f.number)</text>"
            if !f.label.isEmpty && f.level >= .medium {
                s += "<text class=\"svc\" x=\"\(f1(mx + 12))\" y=\"\(f1(my - 6))\">\(h(f.label))</text>"
            }
            s += "</g>"
        }
        s += "</g>\n</svg></div>\n"
        if !drawn.isEmpty {
            s += "<ol class=\"steps\">"
            for f in drawn {
                s += "<li data-edge=\"\(h(f.source + ">" + f.destination))\">\(badge(f.level)) <b>\(h(f.source))\(d.hostLabels[f.source].map { " (" + h($0) + ")" } ?? "") → \(h(f.destination))\(d.hostLabels[f.destination].map { " (" + h($0) + ")" } ?? "")</b> \(h(f.label)) — \(h(f.titles.joined(separator: "; ")))</li>"
            }
            s += "</ol>\n"
        }
        return s + "</section>\n"
    }

    /// A slightly bent path from a to b (so opposite directions do not overlap), ending `shortenEnd` before b.
    static func curve(_ ax: Double, _ ay: Double, _ bx: Double, _ by: Double, shortenEnd: Double) -> (String, Double, Double) {
        let dx = bx - ax, dy = by - ay
        let len = max(1, (dx * dx + dy * dy).squareRoot())
        let nx = -dy / len, ny = dx / len
        let bend = min(60, len * 0.18)
        let cx = (ax + bx) / 2 + nx * bend, cy = (ay + by) / 2 + ny * bend
        let ex = bx - (bx - cx) / max(1, ((bx - cx) * (bx - cx) + (by - cy) * (by - cy)).squareRoot()) * shortenEnd
        let ey = by - (by - cy) / max(1, ((bx - cx) * (bx - cx) + (by - cy) * (by - cy)).squareRoot()) * shortenEnd
        let mx = 0.25 * ax + 0.5 * cx + 0.25 * bx, my = 0.25 * ay + 0.5 * cy + 0.25 * by
        return ("M\(f1(ax)),\(f1(ay)) Q\(f1(cx)),\(f1(cy)) \(f1(ex)),\(f1(ey))", mx, my)
    }

    static func isPrivate(_ ip: String) -> Bool {
        guard let a = IPAddress.parse(ip) else { return false }
        return CIDR.defaultInternal.contains { $0.contains(a) }
    }

    static func serviceName(_ port: Int) -> String {
        let names: [Int: String] = [
            22: "SSH", 23: "Telnet", 53: "DNS", 80: "HTTP", 88: "Kerberos", 135: "RPC", 139: "NetBIOS", 389: "LDAP",
            443: "HTTPS", 445: "SMB", 1433: "MSSQL", 3306: "MySQL", 3389: "RDP", 5432: "PostgreSQL", 5985: "WinRM",
            5986: "WinRM",
        ]
        return names[port].map { "\($0) \(port)" } ?? "port \(port)"
    }

    static func f1(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        let sign = t < 0 ? "-" : ""
        return "\(sign)\(abs(t) / 10).\(abs(t) % 10)"
    }

    // MARK: timeline

    static func timelineSection(_ findings: [Finding]) -> String {
        var s = "<section><h2>Timeline</h2>\n"
        guard let t0 = findings.map(\.firstSeen).min(), let t1 = findings.map(\.lastSeen).max() else {
            return s + "<p class=\"none\">No findings.</p></section>\n"
        }
        var rules: [String] = []
        var titles: [String: (String, Severity)] = [:]
        for f in findings where titles[f.ruleID] == nil {
            rules.append(f.ruleID)
            titles[f.ruleID] = (f.title, f.level)
        }
        let shown = Array(rules.prefix(40))
        let labelW = 300.0, plotW = 820.0, rowH = 22.0, top = 28.0
        let height = top + rowH * Double(shown.count) + 24
        let span = max(1, Double(t1.nanoseconds - t0.nanoseconds))
        func x(_ t: Timestamp) -> Double { labelW + plotW * Double(t.nanoseconds - t0.nanoseconds) / span }
        s += "<svg id=\"fh-timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(labelW + plotW + 20)) \(Int(height))\" width=\"\(Int(labelW + plotW + 20))\" height=\"\(Int(height))\">\n"
        // ticks: whole days for spans over two days, else whole hours
        let daySpan = span / 1e9 / 86_400
        let step: Int64 = daySpan > 2 ? 86_400 * Int64(max(1, Int((daySpan / 10).rounded(.up)))) : 3600 * Int64(max(1, Int((span / 1e9 / 3600 / 10).rounded(.up))))
        var tick = (t0.seconds / step + 1) * step
        while tick * 1_000_000_000 <= t1.nanoseconds {
            let tx = x(Timestamp(seconds: tick))
            let label = step >= 86_400 ? String(Timestamp(seconds: tick).iso8601.prefix(10)) : String(Timestamp(seconds: tick).iso8601.dropFirst(11).prefix(5))
            s += "<line class=\"tick\" x1=\"\(f1(tx))\" y1=\"\(Int(top - 6))\" x2=\"\(f1(tx))\" y2=\"\(Int(height - 20))\"/><text class=\"tick\" x=\"\(f1(tx))\" y=\"\(Int(top - 10))\" text-anchor=\"middle\">\(label)</text>"
            tick += step
        }
        s += "<text class=\"tick\" x=\"\(Int(labelW))\" y=\"\(Int(height - 4))\">\(h(short(t0)))</text>"
        s += "<text class=\"tick\" x=\"\(Int(labelW + plotW))\" y=\"\(Int(height - 4))\" text-anchor=\"end\">\(h(short(t1)))</text>\n"
        for (i, rule) in shown.enumerated() {
            let y = top + rowH * Double(i)
            let (title, level) = titles[rule]!
            let label = title.count > 44 ? String(title.prefix(43)) + "…" : title
            s += "<g class=\"row\"><rect class=\"band\" x=\"0\" y=\"\(f1(y))\" width=\"\(Int(labelW + plotW + 20))\" height=\"\(Int(rowH))\"/>"
            s += "<text x=\"4\" y=\"\(f1(y + 15))\" fill=\"\(levelColours[level]!)\">\(h(label))<title>\(h(title + " [" + rule + "]"))</title></text>"
            for f in findings where f.ruleID == rule {
                let a = x(f.firstSeen), b = max(x(f.lastSeen), a + 4)
                var tip = "\(f.title)\n\(f.firstSeen.iso8601) – \(f.lastSeen.iso8601)\ncount \(f.count)"
                if let src = f.sourceIP { tip += "\n\(src)" + (f.destinationIP.map { " → \($0)" } ?? "") }
                s += "<rect class=\"mark\" x=\"\(f1(a - 1))\" y=\"\(f1(y + 4))\" width=\"\(f1(b - a + 2))\" height=\"\(Int(rowH - 8))\" fill=\"\(levelColours[f.level]!)\"><title>\(h(tip))</title></rect>"
            }
            s += "</g>\n"
        }
        s += "</svg>\n"
        if rules.count > shown.count { s += "<p class=\"none\">\(rules.count - shown.count) more rules not drawn.</p>\n" }
        return s + "</section>\n"
    }

    // MARK: alerts

    static func alertsTable(_ findings: [Finding], notShown: Int) -> String {
        var s = "<section><h2>Alerts</h2>\n"
        if findings.isEmpty { return s + "<p class=\"none\">No findings.</p></section>\n" }
        s += "<table id=\"fh-alerts\"><thead><tr><th>First event</th><th>Level</th><th>Rule</th><th>Source</th>"
        s += "<th>Destination</th><th>User</th><th>Count</th><th>Evidence</th></tr></thead><tbody>\n"
        let limit = 2000
        for f in findings.prefix(limit) {
            let edge = (f.sourceIP ?? "") + ">" + (f.destinationIP ?? "")
            let dst = (f.destinationIP ?? "") + (f.destinationPort.map { ":\($0)" } ?? "")
            var ev = ""
            if let e = f.evidence.first {
                let excerpt = e.excerpt.count > 180 ? String(e.excerpt.prefix(180)) + "…" : e.excerpt
                ev = "<div class=\"loc\">\(h(e.path)):\(e.line)</div><code>\(h(excerpt))</code>"
                if f.evidence.count > 1 { ev += "<div class=\"loc\">+\(f.evidence.count - 1) more</div>" }
            }
            s += "<tr data-edge=\"\(h(edge))\" data-host=\"\(h(f.sourceIP ?? ""))\"><td class=\"t\">\(h(short(f.firstSeen)))</td><td>\(badge(f.level))</td>"
            s += "<td>\(h(f.title))<div class=\"id\">\(h(f.ruleID))</div></td><td>\(h(f.sourceIP ?? ""))</td><td>\(h(dst))</td>"
            s += "<td>\(h(f.userName ?? ""))</td><td class=\"n\">\(f.count)</td><td>\(ev)</td></tr>\n"
        }
        s += "</tbody></table>\n"
        let hidden = max(0, findings.count - limit) + notShown
        if hidden > 0 { s += "<p class=\"none\">\(hidden) more alerts not listed.</p>\n" }
        return s + "</section>\n"
    }

    /// The findings as JSON lines objects in an array, safe inside `<script>`.
    static func dataJSON(_ findings: [Finding]) -> String {
        var bytes: [UInt8] = Array("{\"alerts\":[".utf8)
        for (i, f) in findings.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            var line = AlertFormatter.json(f)
            line.removeLast()
            bytes += line
        }
        bytes += Array("]}".utf8)
        return Escaping.scriptSafeJSON(bytes)
    }

    static let errorHook = """
        window.addEventListener('error', function (e) {
          document.documentElement.setAttribute('data-flowhound-error', String(e.message || e));
          var el = document.getElementById('fh-errors');
          if (el) { el.hidden = false; el.textContent += 'script error: ' + (e.message || e) + '\\n'; }
        });
        """

    static let script = """
        (function () {
          var data = JSON.parse(document.getElementById('fh-data').textContent);
          function mark(edge, host, on) {
            var sel = [];
            if (edge) sel.push('[data-edge="' + CSS.escape(edge) + '"]');
            if (host) sel.push('.node[data-host="' + CSS.escape(host) + '"]');
            if (!sel.length) return;
            document.querySelectorAll(sel.join(',')).forEach(function (el) { el.classList.toggle('lit', on); });
          }
          document.querySelectorAll('#fh-alerts tbody tr, ol.steps li').forEach(function (row) {
            row.addEventListener('mouseenter', function () { mark(row.dataset.edge, row.dataset.host, true); });
            row.addEventListener('mouseleave', function () { mark(row.dataset.edge, row.dataset.host, false); });
          });
          document.documentElement.setAttribute('data-flowhound-ready', String(data.alerts.length));
        })();
        """

    static let css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
        header{background:#1d2330;color:#fff;padding:16px 28px}h1{margin:0 0 4px;font-size:22px}
        .meta{margin:2px 0;color:#c9d1e0;font-size:13px}section{background:#fff;margin:18px 28px;padding:14px 20px;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
        h2{font-size:17px;margin:4px 0 10px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e5e8ee;vertical-align:top}
        th{font-size:12px;text-transform:uppercase;color:#5b6475;letter-spacing:.03em}td.n{text-align:right;font-variant-numeric:tabular-nums}td.t{white-space:nowrap;font-variant-numeric:tabular-nums}
        .id,.loc{font-size:11px;color:#7a8394}code{font:12px ui-monospace,"DejaVu Sans Mono",monospace;white-space:pre-wrap;word-break:break-all;color:#394150}
        .lvl{display:inline-block;color:#fff;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600}
        .legend{font-size:13px;color:#5b6475}.k{display:inline-block;width:22px;height:0;vertical-align:middle;margin:0 4px 0 10px}
        .k.bg{border-top:2px solid #9aa3b2}.k.fe{border-top:3px solid #d32f2f}.k.fh{width:10px;height:10px;border-radius:50%;border:3px solid #d32f2f;background:#fff}
        .graph svg{width:100%;height:auto;display:block;margin:0 auto}svg{font:11px system-ui,"DejaVu Sans",sans-serif}
        .cluster circle{fill:#f0f3f8;stroke:#d5dbe6}.cluster text{fill:#5b6475;font-size:12px;font-weight:600}
        .bg-edges line{stroke:#9aa3b2;stroke-opacity:.35}.node circle{fill:#4a6fa5;stroke:#fff;stroke-width:1}
        .node.hit circle{fill:#fff;stroke:#d32f2f;stroke-width:3.5}.node text{fill:#1d2330;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
        .fe path{fill:none}.fe.strong path{stroke-width:3.4;opacity:.95}.fe.mid path{stroke-width:2.4;opacity:.8}.fe.weak path{stroke-width:1.6;opacity:.5}.fe.weak circle.num{opacity:.75}.fe text.num{fill:#fff;font-weight:700;font-size:11px}
        .fe text.svc{fill:#7a1a1a;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
        .fe.lit path{stroke-width:6;opacity:1}.node.lit circle{stroke:#ffb300;stroke-width:5}tr.lit,li.lit{background:#fff3d6}
        ol.steps{margin:8px 0 0;padding-left:22px}ol.steps li{margin:2px 0}
        line.tick{stroke:#e1e5ec}text.tick{fill:#7a8394;font-size:11px}.band{fill:transparent}.row:nth-child(odd) .band{fill:#f7f8fa}
        .mark{opacity:.85}.none{color:#7a8394}#fh-errors{background:#ffebee;color:#b71c1c;padding:6px;white-space:pre}
        """
}
