import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report: summary, communication graph with the findings, timeline.",
        discussion: """
            From logs (PATH…) the inputs are scanned like `scan` does and read again for the graph of internal \
            communication; from --store DB the stored alerts are shown (their own hosts and edges only). The page \
            loads nothing from the network. Exit status: 0, or 2 on an error (the page is still written when some \
            input could not be read).
            """)

    @Argument(help: "Files, directories (recursive); not with --store.")
    var paths: [String] = []

    @Option(name: .customLong("html"), help: "The HTML file to write.")
    var html: String

    @Option(name: .customLong("store"), help: "Make the report from this alert store instead of logs.")
    var store: String?

    @Option(name: .customLong("since"), help: "With --store: only alerts whose last event is at or after this time.")
    var since: String?

    @Option(name: .customLong("title"), help: "The page title.")
    var title = "flowhound report"

    @Option(name: .customLong("rules"), help: "A rules directory or file (repeatable). Default: the bundled Rules/.")
    var rules: [String] = []

    @Option(name: .customLong("site"), help: "The site file. Default: site.yml of the bundled rules.")
    var site: String?

    @Option(name: .customLong("state"), help: "A state store, as for scan (its baseline is used, and updated after the scan).")
    var state: String?

    @Option(name: .customLong("format"), help: "Input format, instead of detecting it per input.")
    var format: LogFormat?

    @Option(name: .customLong("min-level"), help: "Show only findings at or above this level.")
    var minLevel: LevelChoice = .informational

    @Option(name: .customLong("merge-window"), help: "As for scan.")
    var mergeWindow: Int64 = 300

    @Option(name: .customLong("max-hosts"), help: "Most hosts drawn in the graph (the hosts of findings always are).")
    var maxHosts = 160

    @Flag(name: .customLong("quiet"), help: "No summary on standard error.")
    var quiet = false

    func validate() throws {
        if store == nil && paths.isEmpty { throw ValidationError("name the logs to report on, or --store DB") }
        if store != nil && !paths.isEmpty { throw ValidationError("give either logs or --store, not both") }
        if maxHosts < 2 { throw ValidationError("--max-hosts must be at least 2") }
    }

    func run() throws {
        var scan = ScanOptions(paths: paths)
        scan.rulePaths = rules
        scan.sitePath = site
        scan.forcedFormat = format
        scan.minimumLevel = minLevel.severity
        scan.mergeWindowSeconds = mergeWindow
        scan.quiet = quiet
        var o = ReportRunner.Options(scan: scan, htmlPath: html)
        o.storePath = store
        o.since = since
        o.title = title
        o.maxNodes = maxHosts
        if let state { o.scan.statePath = state }
        let status = ReportRunner.run(o) { FileOutput.stderr($0) }
        throw ExitCode(status)
    }
}
