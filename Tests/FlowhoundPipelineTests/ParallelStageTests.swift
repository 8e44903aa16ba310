import Foundation
import Testing

/// When several inputs are merged, decoding and rule matching run on the inputs' worker threads and only the
/// engines run on the merging thread (`ScanStage` / `ScanMergeSink`). These tests compare that path with the
/// one-input path (`ScanSink`, everything on one thread) on the same events, with Sigma matches, an order-sensitive
/// correlation, the behavioural detectors and JSON values the decoder unescapes into its own scratch (which the
/// worker must copy into the batch): any result the parallel path changes shows up as a difference.
@Suite struct ParallelStageTests {
    /// A Sigma rule on SMB connections and an event_count correlation over it (5 within 15 minutes per source,
    /// the base rule's own matches still reported): the correlation's windows depend on the order the matches
    /// arrive in.
    static let rules = """
        title: SMB Connection (parallel stage test)
        name: test_smb_conn
        id: 0d6f3c1e-5b7a-4d2e-9c11-7f3a2b6e8d01
        logsource:
            product: zeek
            service: conn
        detection:
            selection:
                id.resp_p: 445
            condition: selection
        level: low
        ---
        title: SMB Burst From One Host (parallel stage test)
        id: 7a9e2c44-1b3d-4f5e-8a6b-2c4d6e8f0a12
        correlation:
            type: event_count
            generate: true
            rules:
                - test_smb_conn
            group-by:
                - id.orig_h
            timespan: 15m
            condition:
                gte: 5
        level: high

        """

    /// A Zeek TSV record as a Zeek JSON line, every string written with its first character as a `\\u00XX`
    /// escape (so the decoder unescapes every string value into its scratch buffer).
    static func json(_ record: Substring, names: [Substring], types: [Substring]) -> String {
        func escaped(_ s: Substring) -> String {
            guard let first = s.unicodeScalars.first, first.isASCII, first != "\"", first != "\\" else {
                return "\"" + s + "\""
            }
            return "\"" + String(format: "\\u%04x", first.value) + s.dropFirst() + "\""
        }
        var parts: [String] = []
        let values = record.split(separator: "\t", omittingEmptySubsequences: false)
        for (i, v) in values.enumerated() where i < names.count {
            if v == "-" { continue }
            let value: String
            switch types[i] {
            case "time", "interval", "count", "int", "double", "port": value = String(v)
            case "bool": value = v == "T" ? "true" : "false"
            case let t where t.hasPrefix("set[") || t.hasPrefix("vector["):
                value = v == "(empty)" ? "[]" : "[" + v.split(separator: ",").map(escaped).joined(separator: ",") + "]"
            default: value = escaped(v)
            }
            parts.append("\"\(names[i])\":\(value)")
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// The alerts without their evidence locations (file, line and offset differ when a log is cut into files).
    static func withoutEvidence(_ stdout: String) throws -> [String] {
        try MergeScanTests.withoutEvidence(stdout)
    }

    @Test func theWorkersFindWhatOneThreadFinds() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/rules/smb_burst.yml", atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: Repo.root + "/SampleLogs/zeek/conn.log", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = Array(lines.prefix { $0.hasPrefix("#") && !$0.hasPrefix("#close") })
        let names = Array(header.first { $0.hasPrefix("#fields\t") }!.split(separator: "\t").dropFirst())
        let types = Array(header.first { $0.hasPrefix("#types\t") }!.split(separator: "\t").dropFirst())
        let records = lines.filter { !$0.hasPrefix("#") }.sorted {
            Double($0.prefix { $0 != "\t" })! < Double($1.prefix { $0 != "\t" })!
        }
        #expect(records.count > 2_000)
        let jsonRecords = records.map { Self.json($0, names: names, types: types) }

        func write(_ path: String, _ body: [String], tsv: Bool) throws {
            let all = tsv ? header.map(String.init) + body + ["#close\t2026-03-02-10-00-00"] : body
            try (all.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        func scan(_ path: String, jobs: Int, store: String? = nil) throws -> CommandResult {
            var args = [
                "scan", "--jobs", String(jobs), "--alert-format", "json", "--rules", dir + "/rules",
                "--rules", "Rules/flowhound",
            ]
            if let store { args += ["--output", "stdout format=json", "--output", "sqlite:" + store] }
            return try runFlowhound(args + [dir + "/" + path], cwd: Repo.root)
        }

        for (kind, body) in [("tsv", records.map(String.init)), ("json", jsonRecords)] {
            let tsv = kind == "tsv"
            try FileManager.default.createDirectory(atPath: "\(dir)/\(kind)-whole", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(dir)/\(kind)-split", withIntermediateDirectories: true)
            try write("\(dir)/\(kind)-whole/conn.log", body, tsv: tsv)
            // four files, record i in file i % 4 except that every seventh record goes to the next one: the
            // merge interleaves all four all the time
            var parts = [[String]](repeating: [], count: 4)
            for (i, r) in body.enumerated() { parts[(i + (i % 7 == 0 ? 1 : 0)) % 4].append(r) }
            for (k, p) in parts.enumerated() { try write("\(dir)/\(kind)-split/conn.\(k).log", p, tsv: tsv) }

            let whole = try scan("\(kind)-whole", jobs: 1)
            #expect(whole.status == 1, "\(kind): \(whole.stderr)")
            #expect(
                whole.stderr.contains("1 input,") && whole.stderr.contains(" 0 malformed"), "\(kind): \(whole.stderr)")
            // all three kinds of work are in the result, so a change in any of them shows
            let sigma = "0d6f3c1e-5b7a-4d2e-9c11-7f3a2b6e8d01"
            let correlation = "7a9e2c44-1b3d-4f5e-8a6b-2c4d6e8f0a12"
            for id in [sigma, correlation, "net.internal_scan"] {
                #expect(whole.stdout.contains("\"id\":\"\(id)\""), "\(kind): no finding of \(id)")
            }
            let expected = try Self.withoutEvidence(whole.stdout)
            var outputs: [String] = []
            var stores: [String] = []
            for jobs in [1, 2, 4] {
                let store = "\(dir)/\(kind)-\(jobs).sqlite"
                let split = try scan("\(kind)-split", jobs: jobs, store: store)
                #expect(split.status == 1, "\(kind) --jobs \(jobs): \(split.stderr)")
                #expect(split.stderr.contains("4 inputs"), "\(split.stderr)")
                let got = try Self.withoutEvidence(split.stdout)
                #expect(
                    got == expected,
                    "\(kind) --jobs \(jobs): \(Set(got).symmetricDifference(expected).sorted().prefix(3))")
                outputs.append(split.stdout)
                let listed = try runFlowhound(["alerts", "--store", store, "--format", "json"], cwd: Repo.root)
                #expect(listed.status == 0 && !listed.stdout.isEmpty, "\(listed.stderr)")
                stores.append(listed.stdout)
            }
            #expect(outputs.allSatisfy { $0 == outputs[0] }, "\(kind): --jobs 1, 2 and 4 differ")
            #expect(stores.allSatisfy { $0 == stores[0] }, "\(kind): the stores of --jobs 1, 2 and 4 differ")
        }
    }
}
