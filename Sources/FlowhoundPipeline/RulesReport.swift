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
        return (
            [],
            Diagnostic(
                code: "no_rules", "no default rules directory found; name one, or set FLOWHOUND_RULES")
        )
    }

    /// Runs `body` on the resolved rule paths, or reports that there are none (exit 2).
    static func withRules(_ paths: [String], _ body: (inout RulesReport, [String]) -> Void)
        -> RulesReport
    {
        var r = RulesReport()
        let (resolved, missing) = resolve(paths)
        if let missing {
            r.lines.append(missing.description)
            r.exitStatus = 2
            return r
        }
        body(&r, resolved)
        return r
    }

    /// Loads every rule and reports every diagnostic; exit 2 when any is an error.
    package static func check(paths: [String]) -> RulesReport {
        withRules(paths) { r, resolved in
            let loaded = SigmaLoader.load(paths: resolved)
            let all = loaded.diagnostics + KnownSchemas.coverage(of: loaded.rules)
            r.lines += all.map(\.description)
            let errors = all.filter { $0.kind == .error }.count
            r.lines.append(
                "flowhound: \(loaded.filesRead) files, \(loaded.rules.count) detection rules, \(loaded.correlations.count) correlation rules, "
                    + "\(loaded.filters.count) filters, \(loaded.detectorRules.count) detectors; \(errors) error\(errors == 1 ? "" : "s"), \(all.count - errors) warning\(all.count - errors == 1 ? "" : "s")"
            )
            r.exitStatus = errors > 0 ? 2 : 0
        }
    }

    /// One line per rule: id, level, kind (logsource, `correlation: type` or `detector: type`), title, file.
    package static func list(paths: [String]) -> RulesReport {
        withRules(paths) { r, resolved in
            let loaded = SigmaLoader.load(paths: resolved)
            for rule in loaded.rules {
                r.lines.append(
                    "\(rule.displayID)\t\(rule.level)\t\(rule.logsource)\t\(rule.title)\t\(rule.location)")
            }
            for c in loaded.correlations {
                r.lines.append(
                    "\(c.id ?? c.title)\t\(c.level)\tcorrelation: \(c.correlation?.type.rawValue ?? "?")\t\(c.title)\t\(c.location)"
                )
            }
            for d in loaded.detectorRules {
                r.lines.append(
                    "\(d.id)\t\(d.level)\tdetector: \(d.type.rawValue)\t\(d.title)\t\(d.location)")
            }
            if !loaded.errors.isEmpty { r.exitStatus = 2 }
        }
    }
}

extension RulesReport {
    /// Runs the rule tests (`<rules>/tests` unless `testsDirectory` is given).
    package static func test(rulePaths: [String], testsDirectory: String?) -> RulesReport {
        withRules(rulePaths) { r, resolved in
            let dir =
                testsDirectory
                ?? (resolved.first.map { $0.hasSuffix("/") ? $0 + "tests" : $0 + "/tests" } ?? "tests")
            let report = RuleTester.run(rulePaths: resolved, testsDirectory: dir)
            r.lines = report.lines
            r.exitStatus = report.exitStatus
        }
    }
}
