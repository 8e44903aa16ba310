import Foundation
import Testing

/// Several inputs are one log-time stream: the findings do not depend on `--jobs` or on how a log is cut into files.
@Suite struct MergeScanTests {
    /// The alerts without their evidence locations (file, line and offset differ when a log is cut into files).
    static func withoutEvidence(_ stdout: String) throws -> [String] {
        try jsonLines(stdout).map { a in
            var a = a
            if var fh = a["flowhound"] as? [String: Any] {
                fh["evidence"] = nil
                a["flowhound"] = fh
            }
            return String(decoding: try JSONSerialization.data(withJSONObject: a, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    /// Writes `records` as a Zeek TSV file with `header` (the 8 lines before the data) and a #close trailer.
    static func write(_ path: String, header: [Substring], records: [Substring]) throws {
        let text = (header + records + ["#close\t2026-03-02-10-00-00"]).joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// SampleLogs/zeek/conn.log, sorted by ts (Zeek writes records when connections end), as one file, as three
    /// files taking every third record, and as three consecutive pieces: the same alerts, with --jobs 1 and 2.
    @Test func aLogCutIntoFilesGivesTheSameFindingsAsTheWholeLog() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: Repo.root + "/SampleLogs/zeek/conn.log", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = Array(lines.prefix { $0.hasPrefix("#") && !$0.hasPrefix("#close") })
        #expect(header.count == 8)
        let records = lines.filter { !$0.hasPrefix("#") }.sorted {
            Double($0.prefix { $0 != "\t" })! < Double($1.prefix { $0 != "\t" })!
        }
        #expect(records.count > 2_000)
        for d in ["whole", "interleaved", "pieces"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true)
        }
        try Self.write(dir + "/whole/conn.log", header: header, records: records)
        for k in 0..<3 {
            let every = records.enumerated().filter { $0.offset % 3 == k }.map(\.element)
            try Self.write(dir + "/interleaved/conn.\(k).log", header: header, records: every)
            let third = (records.count + 2) / 3
            try Self.write(dir + "/pieces/conn.\(k).log", header: header, records: Array(records[min(records.count, k * third)..<min(records.count, (k + 1) * third)]))
        }
        func scan(_ path: String, jobs: Int) throws -> CommandResult {
            try runFlowhound(["scan", "--jobs", String(jobs), "--alert-format", "json", dir + "/" + path], cwd: Repo.root)
        }
        let whole = try scan("whole", jobs: 1)
        #expect(whole.status == 1, "\(whole.stderr)")
        let expected = try Self.withoutEvidence(whole.stdout)
        #expect(expected.count >= 5, "the sample has planted findings")
        for split in ["interleaved", "pieces"] {
            let one = try scan(split, jobs: 1)
            let two = try scan(split, jobs: 2)
            #expect(one.stdout == two.stdout, "\(split): --jobs 1 and --jobs 2 differ")
            #expect(one.stderr.contains("3 inputs"), "\(one.stderr)")
            let got = try Self.withoutEvidence(one.stdout)
            #expect(got == expected, "\(split): \(Set(got).symmetricDifference(expected).sorted().prefix(3))")
        }
    }

    /// SampleLogs/ (an hourly gzip archive and the current conn.log): the same bytes for --jobs 1 and 3; --jobs 0 is
    /// refused.
    @Test func jobsDoNotChangeTheOutputOnTheSampleLogs() throws {
        let one = try runFlowhound(["scan", "--jobs", "1", "--alert-format", "json", "SampleLogs/"], cwd: Repo.root)
        let three = try runFlowhound(["scan", "--jobs", "3", "--alert-format", "json", "SampleLogs/"], cwd: Repo.root)
        #expect(one.status == 1 && three.status == 1)
        #expect(!one.stdout.isEmpty && one.stdout == three.stdout)
        let bad = try runFlowhound(["scan", "--jobs", "0", "SampleLogs/"], cwd: Repo.root)
        #expect(bad.status != 0 && bad.stderr.contains("--jobs"))
    }
}
