import FlowhoundCore
import Foundation
import Yams

/// A `--field-map FILE` as written: how another JSON source's keys map to flowhound names.
///
/// ```yaml
/// logtype: acme-fw                               # name of the schema family (shown in alerts)
/// logsource: {product: acme, category: firewall} # the Sigma logsource(s) the mapped input serves
/// fields:
///   src: source.ip                               # JSON key path → name (an ECS name fills that field)
///   dpt: {name: destination.port, type: port}    # optional type (string, count, integer, double, time,
///   verdict: {name: event.action, role: action}  #   interval, address, port, bool, list) and role
/// ```
/// The pipeline turns it into the decoder's `FieldMap`. Unknown keys, types and roles are errors with file:line:col.
package struct FieldMapSpec: Sendable {
    package struct Entry: Sendable {
        package var key: String
        package var name: String
        package var type: FieldType?
        package var role: FieldRole?
    }

    package var logType: String
    package var logSources: [LogSource]
    package var entries: [Entry]

    package static func load(path: String) -> (FieldMapSpec?, [Diagnostic]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return (nil, [Diagnostic(code: "cannot_read", "cannot read the field map (--field-map)", at: FileLocation(path: path))])
        }
        return parse(yaml: text, path: path)
    }

    package static func parse(yaml: String, path: String) -> (FieldMapSpec?, [Diagnostic]) {
        var diags: [Diagnostic] = []
        func loc(_ n: Node?) -> FileLocation {
            FileLocation(path: path, line: n?.mark.map { $0.line }, column: n?.mark.map { $0.column })
        }
        func err(_ code: String, _ m: String, _ n: Node?) { diags.append(Diagnostic(code: code, m, at: loc(n))) }
        let root: Node?
        do { root = try Yams.compose(yaml: yaml, SigmaLoader.resolver) } catch {
            return (nil, [SigmaLoader.yamlDiagnostic(error, path: path, text: yaml)])
        }
        guard let map = root?.mapping else {
            err("bad_field_map", "a field map is a mapping with logtype, logsource and fields", root)
            return (nil, diags)
        }
        for (k, _) in map where !["logtype", "logsource", "fields"].contains(k.string ?? "") {
            err("unknown_key", "unknown key '\(k.string ?? "")'; expected logtype, logsource, fields", k)
        }
        var spec = FieldMapSpec(logType: map["logtype"]?.string ?? "", logSources: [], entries: [])
        func source(_ n: Node) -> LogSource? {
            guard let m = n.mapping else {
                err("bad_field_map", "logsource is a mapping of product, service, category", n)
                return nil
            }
            for (k, _) in m where !["product", "service", "category"].contains(k.string ?? "") {
                err("unknown_key", "unknown logsource key '\(k.string ?? "")'", k)
            }
            return LogSource(product: m["product"]?.string, service: m["service"]?.string, category: m["category"]?.string)
        }
        if let ls = map["logsource"] {
            if let seq = ls.sequence { spec.logSources = seq.compactMap(source) } else if let one = source(ls) { spec.logSources = [one] }
        }
        let types: [String: FieldType] = [
            "string": .string, "count": .count, "integer": .integer, "double": .double, "time": .time,
            "interval": .interval, "address": .address, "port": .port, "bool": .bool, "list": .list,
        ]
        var roles: [String: FieldRole] = [:]
        for r in FieldRole.allCases { roles["\(r)"] = r }
        guard let fields = map["fields"]?.mapping else {
            err("bad_field_map", "'fields' maps JSON keys to names", map["fields"] ?? root)
            return (nil, diags)
        }
        for (k, v) in fields {
            guard let key = k.string, !key.isEmpty else { continue }
            if let name = v.string, v.mapping == nil {
                spec.entries.append(Entry(key: key, name: name, type: nil, role: nil))
                continue
            }
            guard let m = v.mapping, let name = m["name"]?.string else {
                err("bad_field_map", "field '\(key)' maps to a name or to {name, type, role}", v)
                continue
            }
            for (kk, _) in m where !["name", "type", "role"].contains(kk.string ?? "") {
                err("unknown_key", "unknown field key '\(kk.string ?? "")'; expected name, type, role", kk)
            }
            var e = Entry(key: key, name: name, type: nil, role: nil)
            if let t = m["type"]?.string {
                if let ft = types[t] { e.type = ft } else { err("bad_field_map", "unknown type '\(t)'; one of \(types.keys.sorted().joined(separator: ", "))", m["type"]) }
            }
            if let r = m["role"]?.string {
                if let fr = roles[r] { e.role = fr } else { err("bad_field_map", "unknown role '\(r)'; one of \(roles.keys.sorted().joined(separator: ", "))", m["role"]) }
            }
            spec.entries.append(e)
        }
        return (diags.isEmpty ? spec : nil, diags)
    }
}
