import FlowhoundPipeline
import Foundation
import Testing

/// Flood test of the scan sink's schema caches (`ScanSink.others`, at most 4 earlier adopted schemas kept for
/// an exchange, and `ScanSink.adopted`, at most 32 compiled schemas): syslog lines of 200 programs, each followed
/// by an sshd line, so both caches thrash. The caches must stay within their caps, count every eviction the
/// input forces, and change nothing in what is found.
@Suite struct ScanSchemaCacheFloodTests {
    static let rules = """
        title: sshd password failure
        id: 5b1d0e52-0000-4000-8000-000000000001
        level: low
        logsource: {product: linux, service: sshd}
        detection:
            sel: {event.outcome: failure, system.auth.ssh.method: password}
            condition: sel
        ---
        title: marker in any program's message
        id: 5b1d0e52-0000-4000-8000-000000000002
        level: low
        logsource: {product: linux, service: syslog}
        detection:
            sel: {message|contains: EVIL}
            condition: sel
        ---
        title: marker in prog007's message
        id: 5b1d0e52-0000-4000-8000-000000000003
        level: low
        logsource: {product: linux, service: prog007}
        detection:
            sel: {message|contains: EVIL}
            condition: sel
        """

    static let programs = 200
    static let rounds = 3

    @Test("200 programs interleaved with sshd: caches at their caps, evictions counted, findings unchanged")
    func floodOfPrograms() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/rules/r.yml", atomically: true, encoding: .utf8)
        try "timezone: UTC\n".write(toFile: dir + "/site.yml", atomically: true, encoding: .utf8)

        // round r, program j: `progJJJ` then sshd; which lines each rule must find follows from the text alone
        var lines: [String] = []
        var expected: [String: [Int]] = [:]  // rule id suffix → line numbers
        for r in 0..<Self.rounds {
            for j in 0..<Self.programs {
                let s = (r * Self.programs + j) % 3600
                let stamp = String(format: "Mar  1 10:%02d:%02d", s / 60, s % 60)
                let evil = (j + r) % 5 == 0 || j == 7
                let name = String(format: "prog%03d", j)
                lines.append("\(stamp) bastion \(name)[\(1000 + j)]: job \(r) \(evil ? "EVIL payload" : "routine run")")
                if evil {
                    // prog000…prog063 get schemas of their own (the decoder's limit); later programs the generic
                    // `syslog` one, which still serves `service: syslog`
                    expected["2", default: []].append(lines.count)
                    if j == 7 { expected["3", default: []].append(lines.count) }
                }
                let password = (j + r) % 3 != 0
                lines.append(
                    "\(stamp) bastion sshd[\(2000 + j)]: Failed \(password ? "password" : "publickey") for root from "
                        + "198.51.100.\(j % 250) port \(40000 + j) ssh2")
                if password { expected["1", default: []].append(lines.count) }
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/auth.log", atomically: true, encoding: .utf8)

        var options = ScanOptions(paths: [dir + "/auth.log"])
        options.rulePaths = [dir + "/rules"]
        options.sitePath = dir + "/site.yml"
        options.outputPath = dir + "/alerts.json"
        options.mergeWindowSeconds = 0
        options.quiet = true
        var diagnostics = ""
        let report = ScanRunner.run(options) { diagnostics += $0 }
        #expect(report.errors.isEmpty, "\(diagnostics)")
        let stats = try #require(report.inputs.first)
        #expect(stats.events == Int64(lines.count))

        // (c) every line matched with its own schema's rules, whatever the caches did
        var found: [String: [Int]] = [:]
        let text = (try? String(contentsOfFile: dir + "/alerts.json", encoding: .utf8)) ?? ""
        for a in try jsonLines(text) {
            let id = try #require((a["rule"] as? [String: Any])?["id"] as? String)
            let ev = (a["flowhound"] as? [String: Any])?["evidence"] as? [[String: Any]] ?? []
            for e in ev { found[String(id.suffix(1)), default: []].append(try #require(e["line"] as? Int)) }
        }
        for k in ["1", "2", "3"] {
            #expect(expected[k] != nil)
            #expect(found[k]?.sorted() == expected[k], "rule \(k): \(found[k]?.count ?? 0) lines found")
        }

        // Schemas: the decoder starts on the generic one (G); prog000…prog063 have their own (P0…P63), prog064…
        // prog199 share G; sshd has S. Line by line: G (adopted before the first line), P0, S, P1, S, …, P63, S,
        // then G, S, G, S … to the end of the round; the next rounds the same from P0.
        //
        // `others` (4 kept): a line whose schema is kept there is an exchange, any other adopts it, and every
        // adopt but the first keeps the schema it leaves. S is always kept (left one line before); G, back to back
        // with S, is kept after its first line of the round. P_j comes back a round later, after more than 4
        // other adopts, so it is never kept: adopts are 1 (G) + P0 + S + P1…P63 + G = 67 in the first round, and
        // P0…P63 + G = 65 in each later one. The first 4 kept schemas fill the cache, every later one replaces one.
        let adopts = 67 + 65 * (Self.rounds - 1)
        #expect(stats.keptSchemasHighWater == 4, "(a) the kept schemas never exceed 4 (and reach 4)")
        #expect(stats.keptSchemasEvicted == Int64(adopts - 1 - 4), "(b) one eviction per kept schema past the fourth")
        // `adopted` (32 compiled, oldest forgotten first): every adopt above is of a schema not adopted among the
        // last 32 (the cycle of 65 is longer), so each one is new there: 67 - 32 in the first round fill it and
        // evict, every later one evicts.
        #expect(stats.adoptedSchemasEvicted == Int64(adopts - 32))
    }

    @Test("two inputs merged (the workers' stage): 40 programs in turn, compiled schemas forgotten and counted")
    func floodThroughTheMerge() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/rules/r.yml", atomically: true, encoding: .utf8)
        try "timezone: UTC\n".write(toFile: dir + "/site.yml", atomically: true, encoding: .utf8)
        let programs = 40
        var expected: Set<String> = []  // "file:line" of rule 2's matches
        for (f, name) in ["a.log", "b.log"].enumerated() {
            var lines: [String] = []
            for r in 0..<Self.rounds {
                for j in 0..<programs {
                    let s = (r * programs + j) * 2 + f
                    let stamp = String(format: "Mar  1 11:%02d:%02d", s / 60, s % 60)
                    let evil = (j + r + f) % 4 == 0
                    lines.append("\(stamp) bastion \(String(format: "prog%03d", j)): \(evil ? "EVIL" : "quiet") \(r)")
                    if evil { expected.insert("\(name):\(lines.count)") }
                }
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
        let (report, found) = try floodScan(
            dir: dir, paths: [dir + "/a.log", dir + "/b.log"], jobs: 2, ruleIDSuffix: "2")
        #expect(!expected.isEmpty && found == expected, "\(found.count) matches found, \(expected.count) expected")
        // Each input's stage adopts at every line (its decoder reports each change of schema): G before the first
        // line, then P0…P39 in turn. The 32 compiled schemas are forgotten oldest first, so a cycle of 40 never
        // finds its schema: the first round's 41 adopts fill them and evict 9, every later adopt evicts one.
        #expect(report.inputs.count == 2)
        for stats in report.inputs {
            #expect(stats.adoptedSchemasEvicted == Int64(41 - 32 + programs * (Self.rounds - 1)), "\(stats.path)")
            #expect(stats.keptSchemasEvicted == 0 && stats.keptSchemasHighWater == 0, "the stage keeps no earlier schemas")
        }
    }
}
