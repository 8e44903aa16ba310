import FlowhoundPipeline
import Foundation
import Testing

/// An in-process scan of `paths` for the flood tests: the rules under `dir/rules`, the site file `dir/site.yml`,
/// JSON alerts to `dir/alerts.json` without merging repeats. Records an issue when the scan reports errors.
/// Returns the report and the evidence (`file name:line`) of the alerts whose rule id ends with `ruleIDSuffix`.
func floodScan(
    dir: String, paths: [String], jobs: Int, orderInputsByTime: Bool? = nil, ruleIDSuffix: String
) throws -> (report: ScanReport, found: Set<String>) {
    var options = ScanOptions(paths: paths)
    options.rulePaths = [dir + "/rules"]
    options.sitePath = dir + "/site.yml"
    options.outputPath = dir + "/alerts.json"
    options.mergeWindowSeconds = 0
    options.quiet = true
    if let orderInputsByTime { options.orderInputsByTime = orderInputsByTime }
    options.merge.jobs = jobs
    var diagnostics = ""
    let report = ScanRunner.run(options) { diagnostics += $0 }
    #expect(report.errors.isEmpty, "\(diagnostics)")
    var found: Set<String> = []
    let text = (try? String(contentsOfFile: dir + "/alerts.json", encoding: .utf8)) ?? ""
    for a in try jsonLines(text) where ((a["rule"] as? [String: Any])?["id"] as? String)?.hasSuffix(ruleIDSuffix) == true {
        for e in (a["flowhound"] as? [String: Any])?["evidence"] as? [[String: Any]] ?? [] {
            let path = try #require(e["file"] as? String)
            found.insert("\(URL(fileURLWithPath: path).lastPathComponent):\(try #require(e["line"] as? Int))")
        }
    }
    return (report, found)
}
