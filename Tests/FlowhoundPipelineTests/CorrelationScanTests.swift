import Foundation
import Testing

/// Correlations, syslog year inference, the field catalog and field maps, through the real binary.
@Suite struct CorrelationScanTests {
    func sshdLines(_ count: Int, from ip: String, start: Date, step: TimeInterval, user: String = "root") -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "MMM d HH:mm:ss"
        return (0..<count).map { i in
            var stamp = f.string(from: start.addingTimeInterval(Double(i) * step))
            // RFC 3164 pads one-digit days with a space
            if let sp = stamp.firstIndex(of: " "), stamp[stamp.index(after: sp)...].prefix(while: { $0 != " " }).count == 1 {
                stamp.insert(" ", at: stamp.index(after: sp))
            }
            return "\(stamp) srv-db sshd[\(4000 + i)]: Failed password for \(user) from \(ip) port \(51000 + i) ssh2\n"
        }.joined()
    }

    func setMTime(_ path: String, _ iso: String) throws {
        let d = try #require(ISO8601DateFormatter().date(from: iso))
        try FileManager.default.setAttributes([.modificationDate: d], ofItemAtPath: path)
    }

    @Test func aBurstSplitAcrossTwoFilesFiresOnceAndSilencesItsBaseRule() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = try #require(ISO8601DateFormatter().date(from: "2026-03-09T23:37:00Z"))
        try sshdLines(6, from: "10.20.1.23", start: start, step: 7).write(toFile: dir + "/auth.log.1", atomically: true, encoding: .utf8)
        try sshdLines(6, from: "10.20.1.23", start: start.addingTimeInterval(42), step: 7)
            .write(toFile: dir + "/auth.log", atomically: true, encoding: .utf8)
        try setMTime(dir + "/auth.log.1", "2026-03-09T23:40:00Z")
        try setMTime(dir + "/auth.log", "2026-03-10T08:00:00Z")
        let r = try runFlowhound(["scan", "--rules", "Rules/flowhound/linux", "--alert-format", "json", dir + "/auth.log.1", dir + "/auth.log"], cwd: Repo.root)
        #expect(r.status == 1, "\(r.stderr)")
        let alerts = try jsonLines(r.stdout)
        #expect(alerts.count == 1, "one correlation finding, no base-rule findings: \(r.stdout)")
        let a = try #require(alerts.first)
        #expect((a["rule"] as? [String: Any])?["id"] as? String == "4b95648e-58ef-488a-9caa-a07b0204e175")
        let fh = try #require(a["flowhound"] as? [String: Any])
        #expect(fh["count"] as? Int == 12)
        #expect((fh["group"] as? [String: Any])?["source.ip"] as? String == "10.20.1.23")
        #expect((fh["group"] as? [String: Any])?["correlation.fired_at"] as? String == "2026-03-09T23:38:03.000000Z", "the 10th failure, in the second file, at 23:37:00 + 9 × 7 s")
        #expect((a["event"] as? [String: Any])?["start"] as? String == "2026-03-09T23:37:00.000000Z", "year 2026 from the file time")
        let files = Set(((fh["evidence"] as? [[String: Any]]) ?? []).compactMap { $0["file"] as? String })
        #expect(files == [dir + "/auth.log.1", dir + "/auth.log"])
    }

    @Test func rotationsGivenNewestFirstAreScannedInTimeOrder() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = try #require(ISO8601DateFormatter().date(from: "2026-03-09T23:37:00Z"))
        try sshdLines(6, from: "10.20.1.23", start: start, step: 7).write(toFile: dir + "/auth.log.1", atomically: true, encoding: .utf8)
        // auth.log goes on for hours after the burst, so its clock is far past the older file's events
        try (sshdLines(6, from: "10.20.1.23", start: start.addingTimeInterval(42), step: 7)
            + sshdLines(1, from: "10.7.7.7", start: start.addingTimeInterval(7200), step: 1))
            .write(toFile: dir + "/auth.log", atomically: true, encoding: .utf8)
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/bin/sh")
        sh.arguments = ["-c", "gzip '\(dir)/auth.log.1' && mv '\(dir)/auth.log.1.gz' '\(dir)/auth.log.2.gz'"]
        try sh.run()
        sh.waitUntilExit()
        try setMTime(dir + "/auth.log.2.gz", "2026-03-09T23:40:00Z")
        try setMTime(dir + "/auth.log", "2026-03-10T08:00:00Z")
        // the directory walk yields auth.log before auth.log.2.gz; the scan must still see the older file first
        let r = try runFlowhound(["scan", "--rules", "Rules/flowhound/linux", "--alert-format", "json", dir], cwd: Repo.root)
        let alerts = try jsonLines(r.stdout)
        #expect(alerts.count == 1, "\(r.stdout)\n\(r.stderr)")
        let fh = try #require(alerts.first?["flowhound"] as? [String: Any])
        #expect(fh["count"] as? Int == 12)
        let ev = (fh["evidence"] as? [[String: Any]]) ?? []
        #expect(ev.first?["file"] as? String == dir + "/auth.log.2.gz")
    }

    @Test func belowTheThresholdNothingFires() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = try #require(ISO8601DateFormatter().date(from: "2026-03-09T23:37:00Z"))
        // 9 failures in 5 minutes, then 9 more after a gap: never 10 within [t - 5 min, t]
        try (sshdLines(9, from: "10.9.9.9", start: start, step: 30) + sshdLines(9, from: "10.9.9.9", start: start.addingTimeInterval(600), step: 30))
            .write(toFile: dir + "/auth.log", atomically: true, encoding: .utf8)
        try setMTime(dir + "/auth.log", "2026-03-10T00:00:00Z")
        let r = try runFlowhound(["scan", "--rules", "Rules/flowhound/linux", "--quiet", dir + "/auth.log"], cwd: Repo.root)
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.isEmpty)
    }

    @Test func decemberLinesInAJanuaryFileBelongToTheYearBefore() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = try #require(ISO8601DateFormatter().date(from: "2025-12-31T23:59:00Z"))
        try sshdLines(12, from: "10.20.1.23", start: start, step: 10).write(toFile: dir + "/auth.log", atomically: true, encoding: .utf8)
        try setMTime(dir + "/auth.log", "2026-01-01T06:00:00Z")
        let r = try runFlowhound(["scan", "--rules", "Rules/flowhound/linux", "--alert-format", "json", dir + "/auth.log"], cwd: Repo.root)
        let a = try #require(try jsonLines(r.stdout).first)
        #expect((a["event"] as? [String: Any])?["start"] as? String == "2025-12-31T23:59:00.000000Z")
        #expect((a["event"] as? [String: Any])?["end"] as? String == "2026-01-01T00:00:50.000000Z")
    }

    @Test func expandPlaceholdersComeFromTheSiteFile() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            placeholders:
              order_db_hosts: [10.20.10.50, 10.20.10.51]
            """.write(toFile: dir + "/site.yml", atomically: true, encoding: .utf8)
        try """
            title: Order DB reached
            id: 5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f
            logsource: {product: zeek, service: conn}
            detection:
              sel:
                id.resp_h|expand: '%order_db_hosts%'
              condition: sel
            level: medium

            """.write(toFile: dir + "/rule.yml", atomically: true, encoding: .utf8)
        let conn = Repo.root + "/SampleLogs/zeek/conn.log"
        let r = try runFlowhound(["scan", "--rules", dir + "/rule.yml", "--site", dir + "/site.yml", "--merge-window", "0", "--alert-format", "json", conn], cwd: Repo.root)
        #expect(r.status == 1, "\(r.stderr)")
        let dsts = Set(try jsonLines(r.stdout).compactMap { ($0["destination"] as? [String: Any])?["ip"] as? String })
        #expect(dsts == ["10.20.10.50"])
        try "placeholders: {}\n".write(toFile: dir + "/site.yml", atomically: true, encoding: .utf8)
        let missing = try runFlowhound(["scan", "--rules", dir + "/rule.yml", "--site", dir + "/site.yml", conn], cwd: Repo.root)
        #expect(missing.status == 2, "an unresolved placeholder is an error, not a silent no-match")
        #expect(missing.stderr.contains("order_db_hosts"))
    }

    @Test func fieldsListsEveryFormatUnderEveryName() throws {
        let r = try runFlowhound(["fields"], cwd: Repo.root)
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first == "format\tlog_type\tfield\ttype\taliases\troles")
        #expect(lines.contains { $0.hasPrefix("zeek-tsv\tconn\tid.orig_h\taddress\t") && $0.contains("source.ip") && $0.contains("src_ip") && $0.contains("id_orig_h") })
        #expect(Set(lines.dropFirst().map { String($0.split(separator: "\t").first ?? "") }) == ["zeek-tsv", "zeek-json", "syslog", "vpc-flow", "windows-json", "json"])
        let one = try runFlowhound(["fields", "--format", "vpc-flow"], cwd: Repo.root)
        #expect(one.stdout.split(separator: "\n").dropFirst().allSatisfy { $0.hasPrefix("vpc-flow\t") })
    }

    @Test func aFieldMapMakesOtherJSONReachableByRules() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            logtype: acme-fw
            logsource: {product: acme, category: firewall}
            fields:
              src: source.ip
              dst: destination.ip
              dpt: {name: destination.port, type: port}
              verdict: {name: event.action, role: action}
            """.write(toFile: dir + "/map.yml", atomically: true, encoding: .utf8)
        try """
            title: Acme telnet
            id: 0d8f8a7e-1b52-4f0c-9c1a-2f6d1c3e4b5a
            logsource: {category: firewall}
            detection:
              sel:
                dst_port: 23
                event.action: allow
              condition: sel
            level: medium

            """.write(toFile: dir + "/rule.yml", atomically: true, encoding: .utf8)
        try """
            {"time":"2026-03-02T09:00:00Z","src":"10.0.0.5","dst":"10.0.0.9","dpt":23,"verdict":"allow"}
            {"time":"2026-03-02T09:00:01Z","src":"10.0.0.5","dst":"10.0.0.9","dpt":22,"verdict":"allow"}

            """.write(toFile: dir + "/fw.json", atomically: true, encoding: .utf8)
        let r = try runFlowhound(["scan", "--rules", dir + "/rule.yml", "--field-map", dir + "/map.yml", "--alert-format", "json", dir + "/fw.json"], cwd: Repo.root)
        #expect(r.status == 1, "\(r.stderr)")
        let alerts = try jsonLines(r.stdout)
        #expect(alerts.count == 1)
        #expect((alerts.first?["destination"] as? [String: Any])?["port"] as? Int == 23)
        let bad = try runFlowhound(["scan", "--field-map", dir + "/rule.yml", dir + "/fw.json"], cwd: Repo.root)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("rule.yml:1:1: error[unknown_key]: unknown key 'title'"))
    }
}
