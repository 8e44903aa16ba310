import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline
import FlowhoundSinks

struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow log files live, through rename, copytruncate, delete and compression.",
        discussion: """
            Files and globs are followed like tail -F, but a renamed or deleted file is read until it stops \
            growing while its successor is read from the start, a truncated file's missed lines are read from \
            its rotated copy, and with --state positions survive restarts and kill -9 (lines after the last \
            commit may repeat; none are lost). SIGHUP reloads rules and site (rules with errors are refused and \
            the old ones kept); SIGTERM and SIGINT read what is pending, write open findings, save the state and \
            exit 0. Findings are written at once by default (--merge-window 0).
            """)

    @Argument(help: "Files or globs (quote globs: new files that match later are followed too).")
    var patterns: [String]

    @Option(name: .customLong("rules"), help: "A rules directory or file (repeatable). Default: the bundled Rules/.")
    var rules: [String] = []

    @Option(name: .customLong("site"), help: "The site file. Default: site.yml of the bundled rules.")
    var site: String?

    @Option(name: .customLong("state"), help: "A state store (SQLite) for positions, detector windows and the baseline.")
    var state: String?

    @Option(name: .customLong("format"), help: "Input format, instead of detecting it per file.")
    var format: LogFormat?

    @Option(name: .customLong("field-map"), help: "A YAML map from another JSON source's keys to ECS names.")
    var fieldMap: String?

    @OptionGroup(title: "Alert outputs")
    var outputs: AlertOutputFlags

    @Option(name: .customLong("min-level"), help: "Write only findings at or above this level.")
    var minLevel: LevelChoice = .informational

    @Option(name: .customLong("merge-window"), help: "Merge matches of one rule from one source within this many seconds (log time); 0 writes each at once.")
    var mergeWindow: Int64 = 0

    @Option(
        name: .customLong("from"),
        help: "Where a file without saved position starts when tail starts: beginning, end, or a log time (RFC 3339, date, epoch seconds, or a duration back from now such as 2h: the first line at or after it).")
    var from: String = "end"

    @Option(
        name: .customLong("stale-after"),
        help: "Warn at start when the saved state was last committed longer ago than this (wall-clock time: 6h, 1d).")
    var staleAfter: String?

    @Flag(name: .customLong("poll"), help: "Poll instead of using inotify (network file systems).")
    var poll = false

    @Option(name: .customLong("poll-interval"), help: "Milliseconds between polls.")
    var pollInterval: Int32 = 250

    @Option(name: .customLong("rotate-grace"), help: "Seconds a renamed or deleted file is still read after it stopped growing.")
    var rotateGrace: Double = 5

    @Option(name: .customLong("commit-interval"), help: "Milliseconds between state commits.")
    var commitInterval: Int64 = 1000

    @Flag(name: .customLong("emit-raw"), help: "Print every new line as read instead of detecting.")
    var emitRaw = false

    @Option(name: .customLong("max-line-length"), help: "Longest line read, in bytes; longer lines are cut and counted.")
    var maxLineLength: Int = 1 << 20

    func validate() throws {
        if patterns.isEmpty { throw ValidationError("name at least one file or glob") }
        if patterns.contains("-") { throw ValidationError("tail follows files; for standard input use scan -") }
        if pollInterval < 1 || rotateGrace < 0 || commitInterval < 0 || mergeWindow < 0 {
            throw ValidationError("--poll-interval, --rotate-grace, --commit-interval and --merge-window must not be negative")
        }
    }

    func run() throws {
        var o = ScanOptions(paths: patterns)
        o.rulePaths = rules
        o.sitePath = site
        o.forcedFormat = format
        o.fieldMapPath = fieldMap
        try outputs.apply(to: &o, emitRaw: emitRaw)
        o.minimumLevel = minLevel.severity
        o.mergeWindowSeconds = mergeWindow
        o.maxLineLength = maxLineLength
        var t = TailOptions(patterns: patterns)
        t.statePath = state
        switch from {
        case "beginning": t.from = .beginning
        case "end": t.from = .end
        default:
            guard let since = parseLogTime(from) else {
                FileOutput.stderr("flowhound: " + badTime("--from", from).description + " (or beginning, end)\n")
                throw ExitCode(ExitStatus.error)
            }
            t.from = .beginning
            t.since = since
        }
        if let staleAfter {
            guard let s = DurationText.seconds(staleAfter) else {
                FileOutput.stderr("flowhound: " + badDuration("--stale-after", staleAfter).description + "\n")
                throw ExitCode(ExitStatus.error)
            }
            t.staleAfterSeconds = s
        }
        t.poll = poll
        t.pollIntervalMs = pollInterval
        t.rotateGraceSeconds = rotateGrace
        t.emitRaw = emitRaw
        t.commitIntervalMs = commitInterval
        let status = TailRunner(t, scan: o) { FileOutput.stderr($0) }.run()
        throw ExitCode(status)
    }
}
