import FlowhoundCore
import FlowhoundParse
import FlowhoundRules

/// The schemas flowhound can produce, as far as they are known before reading any input: one per Zeek log type
/// of the catalog (TSV and JSON carry the same fields), per syslog and Windows message family, VPC flow and
/// generic JSON. `rules check` compiles every rule against the schemas
/// that serve its logsource to report fields no format provides.
package enum KnownSchemas {
    package static func all() -> [Schema] {
        // Zeek TSV and JSON share their fields; list the Zeek schemas once.
        [LogFormat.zeekTSV, .syslog, .vpcFlow, .windowsJSON, .json].flatMap { FieldCatalog.schemas(format: $0) }
    }

    /// Warnings for rules that no known format serves, and for fields a serving schema cannot provide.
    package static func coverage(of rules: [SigmaRule]) -> [Diagnostic] {
        let schemas = all()
        var out: [Diagnostic] = []
        var servedBy: [[Schema]] = Array(repeating: [], count: rules.count)
        for (i, r) in rules.enumerated() {
            servedBy[i] = schemas.filter { s in s.logSources.contains { $0.serves(r.logsource) } }
            if servedBy[i].isEmpty {
                out.append(
                    Diagnostic(
                        .warning, code: "unsupported_logsource",
                        "rule \(r.displayID): no format flowhound reads serves logsource (\(r.logsource)); the rule never runs",
                        at: r.location))
            }
        }
        for s in schemas {
            let idx = rules.indices.filter { servedBy[$0].contains { $0 === s } }
            if idx.isEmpty { continue }
            let compiled = CompiledRuleSet(rules: idx.map { rules[$0] }, schema: s)
            for note in compiled.missingFields {
                let rule = rules[idx[note.ruleIndex]]
                out.append(
                    Diagnostic(
                        .warning, code: "unprovided_field",
                        "rule \(rule.displayID): \(note.description); items on it only match absent fields",
                        at: rule.location))
            }
            out += compiled.diagnostics
        }
        return out
    }
}
