import FlowhoundCore
import FlowhoundParse
import FlowhoundRules
import FlowhoundSinks

/// `flowhound rules test`: runs the sample lines of `Rules/tests/` through the real decoders and compiled rules.
///
/// Each case line is decoded on its own (after the case's header lines) and must, or must not, make the named
/// rule match. Also reports rules that have no test at all.
package struct RuleTestReport: Sendable {
    package var passed = 0
    package var failed: [String] = []
    package var errors: [Diagnostic] = []
    /// Rules (display ids) with no test case.
    package var untested: [String] = []

    /// 0 all passed, 1 a case failed, 2 the tests or rules could not be loaded.
    package var exitStatus: Int32 { !errors.isEmpty ? 2 : (failed.isEmpty ? 0 : 1) }

    package var lines: [String] {
        errors.map(\.description) + failed
            + untested.map { "flowhound: warning[untested_rule]: rule \($0) has no case in the rule tests" }
            + ["flowhound: rule tests: \(passed) passed, \(failed.count) failed"]
    }
}

package enum RuleTester {
    /// Runs the tests in `testsDirectory` against the rules loaded from `rulePaths`.
    package static func run(rulePaths: [String], testsDirectory: String) -> RuleTestReport {
        var report = RuleTestReport()
        let loaded = SigmaLoader.load(paths: rulePaths)
        report.errors += loaded.errors
        let (cases, diags) = RuleTestFile.load(directory: testsDirectory)
        report.errors += diags.filter { $0.kind == .error }
        let rules = loaded.rules
        let requested = referencedFields(rules)
        var tested = Set<Int>()
        for c in cases {
            guard let idx = rules.firstIndex(where: { $0.id == c.rule || $0.name == c.rule || $0.title == c.rule }) else {
                report.errors.append(Diagnostic(code: "unknown_rule", "no loaded rule has id, name or title '\(c.rule)'", at: c.location))
                continue
            }
            tested.insert(idx)
            for (expect, line) in c.match.map({ (true, $0) }) + c.noMatch.map({ (false, $0) }) {
                switch evaluate(rules: rules, ruleIndex: idx, case: c, line: line, requested: requested) {
                case .failure(let d):
                    report.errors.append(d)
                case .success(let matched):
                    if matched == expect {
                        report.passed += 1
                    } else {
                        let shown = Escaping.terminalSafe(line.count > 160 ? String(line.prefix(160)) + "…" : line)
                        report.failed.append(
                            "\(c.location): error[rule_test_failed]: rule \(rules[idx].displayID) "
                                + (expect ? "did not match" : "matched") + " the line: \(shown)")
                    }
                }
            }
        }
        report.untested = rules.indices.filter { !tested.contains($0) }.map { rules[$0].displayID }
        return report
    }

    static func evaluate(rules: [SigmaRule], ruleIndex: Int, case c: RuleTestCase, line: String, requested: Set<String>)
        -> Result<Bool, Diagnostic>
    {
        guard let decoder = makeDecoder(format: c.format, fileName: c.fileName, requestedFields: requested, maxLineLength: 1 << 20)
        else {
            return .failure(Diagnostic(code: "unsupported_format", "format \(c.format.rawValue) cannot be decoded", at: c.location))
        }
        var record = EventRecord(capacity: 64)
        defer { record.deallocate() }
        var outcome = DecodeOutcome.skipped
        func feed(_ text: String) {
            var bytes = Array(text.utf8)
            bytes.append(contentsOf: [UInt8](repeating: 0, count: 64))
            let n = text.utf8.count
            bytes.withUnsafeBufferPointer { p in
                guard let base = p.baseAddress else { return }
                record.ensureCapacity(decoder.schema.fieldCount)
                outcome = decoder.decode(base, n, into: &record)
                if outcome == .schemaChanged {
                    record.ensureCapacity(decoder.schema.fieldCount)
                    outcome = decoder.decode(base, n, into: &record)
                }
            }
        }
        for h in c.header { feed(h) }
        var matched = false
        var bytes = Array(line.utf8)
        let n = bytes.count
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 64))
        var failure: Diagnostic?
        bytes.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            record.ensureCapacity(decoder.schema.fieldCount)
            outcome = decoder.decode(base, n, into: &record)
            if outcome == .schemaChanged {
                record.ensureCapacity(decoder.schema.fieldCount)
                outcome = decoder.decode(base, n, into: &record)
            }
            guard outcome == .event else {
                failure = Diagnostic(code: "rule_test_line", "the test line does not decode as one \(c.format.rawValue) event (\(outcome))", at: c.location)
                return
            }
            let compiled = CompiledRuleSet(rules: rules, schema: decoder.schema)
            var out: [Int] = []
            compiled.matches(record, into: &out)
            matched = out.contains(ruleIndex)
        }
        if let failure { return .failure(failure) }
        return .success(matched)
    }
}
