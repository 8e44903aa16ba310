import FlowhoundCore
import FlowhoundParse
import FlowhoundReport
import FlowhoundRules
import FlowhoundSinks
import FlowhoundState

/// `flowhound report`: an HTML page of the findings and the communication graph, from logs or from the store.
///
/// From logs (`PATH…`), the inputs are scanned as `scan` would (same rules, site, state, merge window), the
/// findings are collected, and the inputs are read a second time for the graph (every flow from an internal
/// host, summed per source, destination and service). From a store (`--store DB`), the stored alerts are used
/// and the graph shows only their own hosts and edges. Exit status: 0 written, 2 on any error (the page is
/// still written when the scan had input errors, so the findings that were found are not lost).
package enum ReportRunner {
    package struct Options: Sendable {
        package var scan: ScanOptions
        package var storePath: String?
        package var htmlPath: String
        package var title = "flowhound report"
        package var since: String?
        package var maxNodes = 160
        package init(scan: ScanOptions, htmlPath: String) {
            self.scan = scan
            self.htmlPath = htmlPath
        }
    }

    package static func run(_ o: Options, diagnostics: (String) -> Void) -> Int32 {
        var data = ReportData()
        data.title = o.title
        data.maxNodes = o.maxNodes
        data.generatedAt = String(AlertsQuery.wallClock().iso8601.prefix(19)).replacingAll("T", with: " ") + " UTC"
        var status: Int32 = 0
        var site = SiteConfiguration()
        let sitePath = o.scan.sitePath ?? RulesLocator.defaultSiteFile(
            environment: ProcessEnvironment.current, executablePath: RulesLocator.currentExecutable())
        if let sitePath {
            let (loaded, ds) = SiteFile.load(path: sitePath)
            if let loaded { site = loaded }
            if o.storePath != nil {
                for d in ds { diagnostics(d.description + "\n") }
                if ds.contains(where: { $0.kind == .error }) { status = 2 }
            }
        }
        if let store = o.storePath {
            var q = AlertsQuery.Options(storePath: store)
            q.since = o.since
            q.minimumLevel = o.scan.minimumLevel
            var st = stat()
            guard stat(store, &st) == 0 else {
                diagnostics(Diagnostic(code: "no_store", "no alert store here", at: FileLocation(path: store)).description + "\n")
                return 2
            }
            do {
                let s = try AlertStore(path: store)
                var query = AlertStore.Query()
                if let since = o.since {
                    guard let t = AlertsQuery.time(since, now: AlertsQuery.wallClock()) else {
                        diagnostics(Diagnostic(code: "bad_time", "cannot read the time '\(since)'").description + "\n")
                        return 2
                    }
                    query.since = t
                }
                query.minimumLevel = o.scan.minimumLevel
                data.findings = try s.alerts(query).map(\.finding)
            } catch {
                diagnostics(error.description + "\n")
                return 2
            }
            data.sources = ["store " + store]
        } else {
            var scan = o.scan
            let collector = FindingCollector()
            scan.alerts.collector = collector
            scan.alerts.specs = []
            scan.alerts.defaultToStdout = false
            scan.outputPath = nil
            scan.progress = false
            let report = ScanRunner.run(scan, diagnostics: diagnostics)
            if !report.errors.isEmpty { status = 2 }
            data.findings = collector.findings
            data.findingsNotShown = collector.dropped
            data.sources = scan.paths.map(ScanRunner.displayPath) + ["(\(report.inputs.count) input\(report.inputs.count == 1 ? "" : "s"))"]
            if report.inputs.isEmpty && !report.errors.isEmpty { return 2 }
            // second pass: the communication graph
            let builder = CommunicationGraphBuilder(site: site)
            let (inputs, _) = InputExpander.expand(scan.paths)
            let zone = LogTimeZone.named(site.timezone) ?? .utc
            for input in inputs where !input.isStandardInput {
                var context = DecoderContext(timeZone: zone)
                var st = stat()
                if stat(input.path, &st) == 0 {
                    context.referenceTime = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanos: Int64(st.st_mtim.tv_nsec))
                }
                builder.read(input, forcedFormat: scan.forcedFormat, maxLineLength: scan.maxLineLength, context: context)
            }
            data.edges = builder.graphEdges
            data.edgesDropped = builder.edgesDropped
            data.lines = report.totalLines
            data.events = report.inputs.reduce(0) { $0 + $1.events }
        }
        // names and roles from the site file
        var hosts = Set<String>()
        for e in data.edges {
            hosts.insert(e.source)
            hosts.insert(e.destination)
        }
        for f in data.findings {
            if let s = f.sourceIP { hosts.insert(s) }
            if let d = f.destinationIP { hosts.insert(d) }
        }
        for h in hosts {
            guard let ip = IPAddress.parse(h) else { continue }
            if site.isInternal(ip) { data.internalHosts.insert(h) }
            if let asset = site.assets.first(where: { $0.hosts.contains(ip) }) { data.hostLabels[h] = asset.name }
            var best: (String, Int)?
            for (name, set) in site.groups {
                for b in set.blocks where b.contains(ip) {
                    if best == nil || b.prefixLength > best!.1 || (b.prefixLength == best!.1 && name < best!.0) {
                        best = (name, b.prefixLength)
                    }
                }
            }
            if let best { data.hostRoles[h] = best.0 }
        }
        let html = HTMLReport.render(data)
        if !writeFile(o.htmlPath, Array(html.utf8)) {
            diagnostics(
                Diagnostic(code: "cannot_write_report", "cannot write the report: \(String(cString: strerror(errno)))", at: FileLocation(path: o.htmlPath)).description + "\n")
            return 2
        }
        if !o.scan.quiet {
            diagnostics("flowhound: report of \(data.findings.count) alert\(data.findings.count == 1 ? "" : "s"), \(data.edges.count) traffic edges -> \(o.htmlPath)\n")
        }
        return status
    }

    /// Writes to a temporary file beside `path`, then renames it into place.
    static func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { return false }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { p in write(fd, p.baseAddress! + off, p.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                close(fd)
                unlink(tmp)
                return false
            }
            off += n
        }
        close(fd)
        if rename(tmp, path) != 0 {
            unlink(tmp)
            return false
        }
        return true
    }
}
