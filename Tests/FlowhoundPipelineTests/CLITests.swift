import FlowhoundPipeline
import Foundation
import Testing

private let header = """
    #separator \\x09
    #set_separator\t,
    #empty_field\t(empty)
    #unset_field\t-
    #path\tconn
    #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state
    #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring

    """
private let benign = "1772442000.000000\tCa1\t10.20.1.30\t50000\t10.20.10.20\t445\ttcp\tsmb\t1.0\t100\t200\tSF\n"
private let upload = "1772442100.000000\tCa2\t10.20.10.40\t50001\t203.0.113.9\t443\ttcp\tssl\t60.0\t200000000\t5000\tSF\n"

@Suite struct CLITests {
    func write(_ text: String, _ name: String, in dir: String) throws -> String {
        let p = dir + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    @Test func nothingFoundExitsZeroAndPrintsNoAlerts() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try write(header + benign, "conn.log", in: dir)
        let r = try runFlowhound(["scan", "--quiet", f], cwd: Repo.root)
        #expect(r.status == 0)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.isEmpty, "quiet and clean: \(r.stderr)")
    }

    @Test func findingsExitOneAndFailLevelRaisesTheBar() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try write(header + benign + upload, "conn.log", in: dir)
        let r = try runFlowhound(["scan", "--alert-format", "json", f], cwd: Repo.root)
        #expect(r.status == 1)
        #expect(try jsonLines(r.stdout).count == 1)
        #expect(r.stderr.contains("1 finding"))
        let high = try runFlowhound(["scan", "--fail-level", "critical", f], cwd: Repo.root)
        #expect(high.status == 0, "a high finding is below --fail-level critical")
        let hidden = try runFlowhound(["scan", "--min-level", "critical", f], cwd: Repo.root)
        #expect(hidden.status == 0 && hidden.stdout.isEmpty)
    }

    @Test func missingInputIsAnErrorThatWinsOverFindings() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try write(header + upload, "conn.log", in: dir)
        let r = try runFlowhound(["scan", "--alert-format", "json", f, dir + "/nope.log"], cwd: Repo.root)
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(dir)/nope.log: error[cannot_open]:"))
        #expect(try jsonLines(r.stdout).count == 1, "the readable input was still scanned")
    }

    @Test func truncatedGzipReportsOffsetAfterItsGoodLines() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var body = header
        for i in 0..<2000 { body += "17724421\(String(format: "%02d", i % 100)).000000\tCb\(i)\t10.20.1.30\t5\(i)\t10.20.10.20\t445\ttcp\tsmb\t1.0\t100\t200\tSF\n" }
        body += upload
        for i in 0..<2000 { body += "177244300\(i % 10).000000\tCc\(i)\t10.20.1.31\t5\(i)\t10.20.10.20\t445\ttcp\tsmb\t1.0\t100\t200\tSF\n" }
        let plain = try write(body, "conn.log", in: dir)
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/bin/sh")
        sh.arguments = ["-c", "gzip -c '\(plain)' > '\(dir)/full.gz' && head -c -200 '\(dir)/full.gz' > '\(dir)/cut.gz'"]
        try sh.run()
        sh.waitUntilExit()
        let r = try runFlowhound(["scan", "--alert-format", "json", dir + "/cut.gz"], cwd: Repo.root)
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(dir)/cut.gz:@"), "error names the file and the byte offset: \(r.stderr)")
        #expect(r.stderr.contains("error[gzip_truncated]"))
        #expect(try jsonLines(r.stdout).count == 1, "the upload line before the cut was still matched")
    }

    @Test func badRuleSaysFileLineAndColumnAndExitsTwo() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rule = """
            title: broken
            id: 6b0c5a0e-0000-4000-8000-000000000001
            logsource:
                product: zeek
                service: conn
            detection:
                selection:
                    id.resp_p|contans: 445
                condition: selection
            level: high

            """
        let rules = dir + "/rules"
        try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: true)
        _ = try write(rule, "bad.yml", in: rules)
        let f = try write(header + benign, "conn.log", in: dir)
        let r = try runFlowhound(["scan", "--rules", rules, f], cwd: Repo.root)
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(rules)/bad.yml:8:"), "\(r.stderr)")
        #expect(r.stderr.contains("error[unknown_modifier]"))
        let check = try runFlowhound(["rules", "check", rules], cwd: Repo.root)
        #expect(check.status == 2)
        #expect(check.stderr.contains("bad.yml:8:"))
    }

    @Test func bundledRulesCheckCleanly() throws {
        let r = try runFlowhound(["rules", "check"], cwd: Repo.root)
        #expect(r.status == 0, "\(r.stderr)")
        let list = try runFlowhound(["rules", "list"], cwd: Repo.root)
        #expect(list.status == 0)
        #expect(list.stdout.split(separator: "\n").count == 21, "6 detection rules, 1 correlation, 14 detectors")
    }

    @Test func unknownFormatIsAnErrorWhenNamedAndASkipInsideADirectory() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notes = try write("just some prose\nnothing to see\n", "notes.txt", in: dir)
        let named = try runFlowhound(["scan", notes], cwd: Repo.root)
        #expect(named.status == 2)
        #expect(named.stderr.contains("\(notes):1: error[unknown_format]"))
        _ = try write(header + benign, "conn.log", in: dir)
        let walked = try runFlowhound(["scan", dir], cwd: Repo.root)
        #expect(walked.status == 0)
        #expect(walked.stderr.contains("notes.txt: skipped (format not recognised)"))
    }

    @Test func malformedLinesAreCountedAndLocated() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try write(header + benign + "only\tthree\tfields\n" + upload + "x\n", "conn.log", in: dir)
        let r = try runFlowhound(["scan", "--alert-format", "json", f], cwd: Repo.root)
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(f): 2 malformed lines (field_count 2); first at line 9 (field_count), 11 (field_count)"), "\(r.stderr)")
        #expect(try jsonLines(r.stdout).count == 1)
    }

    @Test func usageErrorsExitTwo() throws {
        #expect(try runFlowhound(["scan"]).status == 2)
        #expect(try runFlowhound(["scan", "--alert-format", "xml", "x"]).status == 2)
        #expect(try runFlowhound(["--help"]).status == 0)
    }

    @Test func installedLayoutFindsItsRules() throws {
        let prefix = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        try FileManager.default.createDirectory(atPath: prefix + "/share/flowhound/Rules", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        let found = RulesLocator.defaultRulesDirectory(environment: [:], executablePath: prefix + "/bin/flowhound")
        #expect(found == prefix + "/bin/../share/flowhound/Rules")
        let env = RulesLocator.defaultRulesDirectory(environment: ["FLOWHOUND_RULES": prefix], executablePath: prefix + "/bin/flowhound")
        #expect(env == prefix)
        // a copied binary far from the checkout, with rules installed beside it, really runs with them
        try FileManager.default.copyItem(atPath: Repo.executable, toPath: prefix + "/bin/flowhound")
        try FileManager.default.removeItem(atPath: prefix + "/share/flowhound/Rules")
        try FileManager.default.copyItem(atPath: Repo.root + "/Rules", toPath: prefix + "/share/flowhound/Rules")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: prefix + "/bin/flowhound")
        p.arguments = ["rules", "list"]
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(p.terminationStatus == 0)
        #expect(text.contains(prefix + "/bin/../share/flowhound/Rules/flowhound/zeek/"), "\(text)")
    }
}
