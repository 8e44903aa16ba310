import Foundation
import Testing

/// End to end on the bundled sample logs: the real binary, the bundled rules, the JSON-lines alerts.
@Suite struct ScanGoldenTests {
    /// Evidence paths are made relative to the package root so the golden file does not depend on the checkout.
    func scanSample(_ extra: [String] = []) throws -> CommandResult {
        try runFlowhound(["scan", "--alert-format", "json"] + extra + ["SampleLogs/zeek"], cwd: Repo.root)
    }

    @Test func sampleLogsGiveTheRecordedAlerts() throws {
        let r = try scanSample()
        #expect(r.status == 1, "findings mean exit status 1; stderr: \(r.stderr)")
        try assertGolden(r.stdout, named: "sample-scan.jsonl")
    }

    @Test func everyPlantedFlowIsReported() throws {
        let r = try scanSample(["--merge-window", "0", "--rules", "Rules/flowhound/zeek"])
        let alerts = try jsonLines(r.stdout)
        func hits(_ rule: String) -> [(String?, String?, Int?)] {
            alerts.filter { (($0["rule"] as? [String: Any])?["id"] as? String) == rule }.map {
                (
                    ($0["source"] as? [String: Any])?["ip"] as? String,
                    ($0["destination"] as? [String: Any])?["ip"] as? String,
                    ($0["destination"] as? [String: Any])?["port"] as? Int
                )
            }
        }
        // the planted flows of SampleLogs/README.md, one rule each
        #expect(hits("2048a8a1-253e-4d5d-846a-62f6f99f48cd").map { "\($0.0!)>\($0.1!):\($0.2!)" } == ["10.20.1.23>10.20.10.50:5432"])
        #expect(hits("69595a53-1a53-43cd-8417-4833503df242").map { "\($0.0!)>\($0.1!):\($0.2!)" } == ["10.20.1.23>10.20.10.40:3389"])
        #expect(hits("2e171588-cbd2-4940-a8bc-e1faf37bc2fa").map { "\($0.0!)>\($0.1!):\($0.2!)" } == ["10.20.10.40>203.0.113.50:443"])
        #expect(
            hits("577768ce-f535-436c-b0b7-fe6548d41fd5").map { "\($0.0!)>\($0.1!):\($0.2!)" }
                == ["10.20.1.23>10.20.1.37:445", "10.20.1.23>10.20.1.41:135", "10.20.1.23>10.20.1.41:445"])
        let sweep = hits("40c43109-6b72-4770-9ec3-1e8c9797c400")
        #expect(sweep.count == 65 && sweep.allSatisfy { $0.0 == "10.20.1.23" })
        #expect(alerts.count == 71)
    }

    @Test func mergedAlertsCarryCountWindowAndEvidence() throws {
        let alerts = try jsonLines(try scanSample(["--rules", "Rules/flowhound/zeek"]).stdout)
        #expect(alerts.count == 6)
        let sweep = try #require(
            alerts.first { (($0["rule"] as? [String: Any])?["id"] as? String) == "40c43109-6b72-4770-9ec3-1e8c9797c400" })
        let fh = try #require(sweep["flowhound"] as? [String: Any])
        #expect(fh["count"] as? Int == 64)
        #expect(fh["window"] as? Int == 300)
        #expect((fh["evidence"] as? [Any])?.count == 10)
        let event = try #require(sweep["event"] as? [String: Any])
        #expect(event["start"] as? String == "2026-03-02T08:47:10.415052Z")
        #expect(event["end"] as? String == "2026-03-02T08:47:55.934364Z")
        #expect(sweep["destination"] == nil, "merged events reach many destinations")
    }

    @Test func behaviouralDetectorsFindTheSweepAndLinkItToAnIncident() throws {
        let alerts = try jsonLines(try scanSample().stdout)
        let scans = alerts.filter { (($0["rule"] as? [String: Any])?["id"] as? String) == "net.internal_scan" }
        #expect(scans.count == 2, "failed-attempt scan and vertical scan")
        for s in scans {
            #expect((s["source"] as? [String: Any])?["ip"] as? String == "10.20.1.23")
            let group = (s["flowhound"] as? [String: Any])?["group"] as? [String: Any]
            #expect(group?["incident"] as? String == "inc-10.20.1.23-1772441225")
        }
        let kinds = Set(scans.compactMap { (($0["flowhound"] as? [String: Any])?["group"] as? [String: Any])?["kind"] as? String })
        #expect(kinds == ["failed_attempts", "vertical"])
    }

    @Test func plainAndGzipCopiesGiveTheSameAlerts() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = Repo.root + "/SampleLogs/zeek/conn.log"
        let data = try Data(contentsOf: URL(fileURLWithPath: plain))
        try data.write(to: URL(fileURLWithPath: dir + "/a.log"))
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/sh")
        gz.arguments = ["-c", "gzip -c '\(dir)/a.log' > '\(dir)/b.log' && cp '\(dir)/b.log' '\(dir)/c.txt'"]
        try gz.run()
        gz.waitUntilExit()
        func ids(_ path: String) throws -> [String] {
            let r = try runFlowhound(["scan", "--alert-format", "json", path], cwd: Repo.root)
            return try jsonLines(r.stdout).map { a in
                let rule = (a["rule"] as? [String: Any])?["id"] as? String ?? ""
                let ev = ((a["flowhound"] as? [String: Any])?["evidence"] as? [[String: Any]])?.map { "\($0["line"]!)" } ?? []
                return rule + "@" + ev.joined(separator: ",")
            }
        }
        let a = try ids(dir + "/a.log")
        #expect(!a.isEmpty)
        #expect(try ids(dir + "/b.log") == a, "gzip named .log is detected by its magic bytes")
        #expect(try ids(dir + "/c.txt") == a)
        let stdin = try runFlowhound(["scan", "--alert-format", "json", "-"], stdin: data, cwd: Repo.root)
        #expect(stdin.status == 1)
        #expect(try jsonLines(stdin.stdout).count == a.count)
        #expect(stdin.stdout.contains("\"file\":\"<stdin>\""))
    }
}
