import FlowhoundCore
import FlowhoundRules

/// `flowhound rules check` and `rules list`: what was loaded and what is wrong with it.
package struct RulesReport {
    package var lines: [String] = []
    package var exitStatus: Int32 = 0

    static func resolve(_ paths: [String]) -> ([String], Diagnostic?) {
        if !paths.isEmpty { return (paths, nil) }
        if let d = RulesLocator.defaultRulesDirectory(
            environment: ProcessEnvironment.current, executablePath: RulesLocator.currentExecutable())
        {
            return ([d], nil)
        }
        return ([], Diagnostic(code: "no_rules", "no default rules directory found; name one, or set FLOWHOUND_RULES"))
    }

    /// Loads every rule and reports every diagnostic; exit 2 when any is an error.
    package static func check(paths: [String]) -> RulesReport {
        var r = RulesReport()
        let (resolved, missing) = resolve(paths)
        if let missing {
            r.lines.append(missing.description)
            r.exitStatus = 2
            return r
        }
        let loaded = SigmaLoader.load(paths: resolved)
        r.lines += loaded.diagnostics.map(\.description)
        let errors = loaded.errors.count
        r.lines.append(
            "flowhound: \(loaded.filesRead) files, \(loaded.rules.count) detection rules, \(loaded.correlations.count) correlation rules, "
                + "\(loaded.filters.count) filters; \(errors) error\(errors == 1 ? "" : "s"), \(loaded.diagnostics.count - errors) warning\(loaded.diagnostics.count - errors == 1 ? "" : "s")")
        r.exitStatus = errors > 0 ? 2 : 0
        return r
    }

    /// One line per detection rule: id, level, logsource, title, file.
    package static func list(paths: [String]) -> RulesReport {
        var r = RulesReport()
        let (resolved, missing) = resolve(paths)
        if let missing {
            r.lines.append(missing.description)
            r.exitStatus = 2
            return r
        }
        let loaded = SigmaLoader.load(paths: resolved)
        for rule in loaded.rules {
            r.lines.append("\(rule.displayID)\t\(rule.level)\t\(rule.logsource)\t\(rule.title)\t\(rule.location)")
        }
        if !loaded.errors.isEmpty { r.exitStatus = 2 }
        return r
    }
}
