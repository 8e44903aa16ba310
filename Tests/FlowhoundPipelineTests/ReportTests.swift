import FlowhoundTestSupport
import Foundation
import Testing

/// The HTML report, opened in a real headless browser (Debian's `chromium`; CI installs it).
@Suite(.serialized) struct ReportTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs headless chromium with `arguments` + the page; returns standard output (the DOM for --dump-dom).
    func browser(_ arguments: [String], page: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.chromium!)
        p.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
            "--user-data-dir=" + (try Repo.temporaryDirectory()),
        ] + arguments + ["file://" + page]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The `<html …>` start tag of a dumped DOM: where the page script puts its markers.
    func htmlTag(_ dom: String) -> String {
        guard let start = dom.firstRange(of: "<html") else { return "" }
        return String(dom[start.lowerBound...].prefix { $0 != ">" })
    }

    func makeReport(_ dir: String, _ extra: [String]) throws -> (CommandResult, String) {
        let page = dir + "/report.html"
        let r = try runFlowhound(["report", "--html", page] + extra, cwd: Repo.root)
        return (r, page)
    }

    @Test func pageIsSelfContainedAndHasEverySection() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (r, page) = try makeReport(dir, ["SampleLogs/zeek"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        for needle in ["id=\"fh-summary\"", "id=\"fh-graph\"", "id=\"fh-timeline\"", "id=\"fh-alerts\"", "id=\"fh-data\""] {
            #expect(html.contains(needle), "\(needle)")
        }
        // nothing to fetch: no src=, no href= to anything, no url() but the page's own markers, no @import
        #expect(!html.contains(" src=") && !html.contains("href=") && !html.contains("@import"))
        #expect(html.components(separatedBy: "url(").dropFirst().allSatisfy { $0.hasPrefix("#arrow-") }, "only in-page markers")
        let withoutNamespace = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        #expect(!withoutNamespace.contains("http://") && !withoutNamespace.contains("https://"))
        // the pivot: 10.20.1.23 (a workstation) → 10.20.10.40 over RDP is a numbered finding edge
        #expect(html.contains("data-edge=\"10.20.1.23&gt;10.20.10.40\""))
        #expect(html.contains("RDP 3389"))
    }

    @Test func rendersInChromiumWithoutScriptErrors() throws {
        guard Self.chromium != nil else {
            print("skipped: chromium is not installed (apt-get install chromium); CI installs it")
            return
        }
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (r, page) = try makeReport(dir, ["SampleLogs/zeek"])
        #expect(r.status == 0, "\(r.stderr)")
        let dom = try browser(["--dump-dom", "--virtual-time-budget=3000"], page: page)
        let tag = htmlTag(dom)
        let ready = try #require(tag.firstRange(of: "data-flowhound-ready=\""), "the page script ran to its end: \(tag)")
        let count = tag[ready.upperBound...].prefix { $0 != "\"" }
        #expect(count == "9", "the script read all 9 alerts back from the embedded JSON")
        #expect(!tag.contains("data-flowhound-error"), "no script error: \(tag)")
        let shot = dir + "/shot.png"
        _ = try browser(["--screenshot=" + shot, "--window-size=1400,2400"], page: page)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.count > 20_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "a real screenshot")
        if let keep = ProcessInfo.processInfo.environment["FLOWHOUND_REPORT_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: shot, toPath: keep)
        }
    }

    @Test func aScriptErrorWouldBeCaught() throws {
        guard Self.chromium != nil else {
            print("skipped: chromium is not installed")
            return
        }
        // the check above must be able to fail: the same page with its data broken sets the error marker
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, page) = try makeReport(dir, ["SampleLogs/zeek"])
        var html = try String(contentsOfFile: page, encoding: .utf8)
        html = html.replacingOccurrences(of: "<script type=\"application/json\" id=\"fh-data\">{", with: "<script type=\"application/json\" id=\"fh-data\">{{")
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        let dom = try browser(["--dump-dom", "--virtual-time-budget=3000"], page: page)
        let tag = htmlTag(dom)
        #expect(tag.contains("data-flowhound-error") && !tag.contains("data-flowhound-ready"), "\(tag)")
    }

    @Test func reportFromTheStore() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let scan = try runFlowhound(["scan", "--output", dir + "/a.jsonl", "--store", dir + "/s.sqlite", "SampleLogs/zeek"], cwd: Repo.root)
        #expect(scan.status == 1)
        let (r, page) = try makeReport(dir, ["--store", dir + "/s.sqlite"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("made from the alert store") && html.contains("data-edge=\"10.20.1.23&gt;10.20.10.40\""))
        #expect(html.components(separatedBy: "<tr data-edge=").count - 1 == 9)
        let both = try runFlowhound(["report", "--html", page, "--store", dir + "/s.sqlite", "SampleLogs/zeek"], cwd: Repo.root)
        #expect(both.status == 2)
    }
}
