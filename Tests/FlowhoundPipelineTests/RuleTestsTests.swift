import FlowhoundPipeline
import Foundation
import Testing

/// `swift test` runs the project's rule tests (Rules/tests) exactly as `flowhound rules test` does.
@Suite struct RuleTestsTests {
    @Test func bundledRuleTestsPassAndCoverEveryRule() {
        let report = RuleTester.run(rulePaths: [Repo.root + "/Rules"], testsDirectory: Repo.root + "/Rules/tests")
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.failed.isEmpty, "\(report.failed.joined(separator: "\n"))")
        #expect(report.untested.isEmpty, "rules without tests: \(report.untested)")
        #expect(report.passed == 29)
    }

    @Test func aWrongExpectationFails() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            rule: 2e171588-cbd2-4940-a8bc-e1faf37bc2fa
            format: zeek-tsv
            no_match:
              - "1772443450.412998\\tC4dtEzENhtE78EW9Nj\\t10.20.10.40\\t54719\\t203.0.113.50\\t443\\ttcp\\tssl\\t690.2\\t612408119\\t1922070\\tSF\\tT\\tF\\t0\\tShADadfF\\t4\\t6\\t2\\t1\\t-"
            ---
            rule: no-such-rule
            match: ["x"]

            """.write(toFile: dir + "/t.yml", atomically: true, encoding: .utf8)
        let report = RuleTester.run(rulePaths: [Repo.root + "/Rules"], testsDirectory: dir)
        #expect(report.failed.count == 1)
        #expect(report.failed.first?.contains("t.yml:1:1: error[rule_test_failed]: rule 2e171588-cbd2-4940-a8bc-e1faf37bc2fa matched") == true)
        #expect(report.errors.map(\.code) == ["unknown_rule"])
        #expect(report.exitStatus == 2)
    }

    @Test(.enabled(if: Repo.corpusAvailable, "needs ../shared/corpus beside the checkout"))
    func rulesCheckReportsLogsourcesAndFieldsNoFormatProvides() throws {
        let r = try runFlowhound(["rules", "check", Repo.sharedCorpus + "/sigmahq-rules/rules/network"], cwd: Repo.root)
        #expect(r.status == 0, "warnings only")
        #expect(r.stderr.contains("warning[unsupported_logsource]: rule ddbbe845-1d74-43a8-8231-2156d180234d: no format flowhound reads serves logsource (product: fortigate, service: event)"))
        #expect(r.stderr.contains("warning[unprovided_field]: rule d7fb8f0e-bd5f-45c2-b467-19571c490d7e: field action not provided by zeek-tsv/conn"))
        #expect(r.stderr.contains("53 detection rules"))
    }
}
