import Foundation
import Testing

/// The NTT-like scenario (SampleLogs/scenario, generated into a temporary folder): a baseline learned from the
/// first days makes the day-15 RDP pivot from device A to device B a first-seen internal edge.
@Suite(.serialized) struct BaselineScenarioTests {
    static func generate(into dir: String, days: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repo.root + "/SampleLogs/scenario/generate_ntt.py", "--out", dir, "--days", String(days)]
        p.standardOutput = Pipe()
        p.standardError = Pipe()
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "scenario generator failed")
    }

    @Test func aLearnedBaselineTurnsThePivotIntoAFirstSeenEdge() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.generate(into: dir + "/out", days: 16)
        let state = dir + "/state.sqlite"
        let learnDays = (1...8).map { dir + "/out/zeek/2026-03-0\($0)" }
        let learn = try runFlowhound(["baseline", "learn", "--state", state, "--site", "SampleLogs/scenario/site.yml"] + learnDays, cwd: Repo.root)
        #expect(learn.status == 0, "\(learn.stderr)")
        #expect(learn.stdout.isEmpty, "learning writes no alerts")
        let show = try runFlowhound(["baseline", "show", "--state", state], cwd: Repo.root)
        #expect(show.stdout.contains("learning start: 2026-03-01T"))
        #expect(show.stdout.contains("net.new_internal_edge\t"))
        let later = (9...16).map { String(format: "%@/out/zeek/2026-03-%02d", dir, $0) }
        let scan = try runFlowhound(["scan", "--state", state, "--site", "SampleLogs/scenario/site.yml", "--alert-format", "json"] + later, cwd: Repo.root)
        #expect(scan.status == 1)
        let alerts = try jsonLines(scan.stdout)
        func has(_ rule: String, _ src: String, _ dst: String?) -> Bool {
            alerts.contains { a in
                (a["rule"] as? [String: Any])?["id"] as? String == rule
                    && (a["source"] as? [String: Any])?["ip"] as? String == src
                    && (dst == nil || (a["destination"] as? [String: Any])?["ip"] as? String == dst)
            }
        }
        #expect(has("net.new_internal_edge", "10.20.1.23", "10.20.10.40"), "S6: device A → device B over RDP, first seen on day 15")
        #expect(has("net.internal_scan", "10.20.1.23", nil), "S2: the day-9 sweep")
        #expect(has("net.sensitive_asset_access", "10.20.1.23", "10.20.10.50"), "S4: device A at the order DB")
        #expect(has("net.beaconing", "10.20.1.23", "198.51.100.145"), "S1: the 60 s beacon")
        // the incident links the sweep (day 9) and the pivot (day 15) of the same host
        let incidents = Set(alerts.filter { ($0["source"] as? [String: Any])?["ip"] as? String == "10.20.1.23" }
            .compactMap { (($0["flowhound"] as? [String: Any])?["group"] as? [String: Any])?["incident"] as? String })
        #expect(incidents.count == 1, "\(incidents)")
        // without the baseline the pivot falls inside the learning period of this shorter run and is not reported
        let cold = try runFlowhound(["scan", "--site", "SampleLogs/scenario/site.yml", "--alert-format", "json"] + later, cwd: Repo.root)
        #expect(!(try jsonLines(cold.stdout)).contains { ($0["rule"] as? [String: Any])?["id"] as? String == "net.new_internal_edge" })
    }
}
