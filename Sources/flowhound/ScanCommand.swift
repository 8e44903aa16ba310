import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline
import FlowhoundSinks

/// Sigma levels as the command line spells them.
enum LevelChoice: String, ExpressibleByArgument, CaseIterable {
    case informational, low, medium, high, critical

    var severity: Severity { Severity(name: rawValue) ?? .informational }
}

extension LogFormat: ExpressibleByArgument {}

enum AlertFormatChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, json, text, csv
}

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan log files, directories (recursively) or standard input (-) once.",
        discussion: """
            gzip input is recognised by its magic bytes, whatever the file is called. Each input's format is \
            detected from its first line unless --format is given. Findings go to standard output (or --output); \
            the summary and every problem go to standard error as path:line: error[code]: message.
            """)

    @Argument(help: "Files, directories or - for standard input.")
    var paths: [String]

    @Option(name: .customLong("rules"), help: "A rules directory or file (repeatable). Default: the bundled Rules/.")
    var rules: [String] = []

    @Option(name: .customLong("site"), help: "The site file (networks, assets, groups, allow entries). Default: site.yml of the bundled rules.")
    var site: String?

    @Option(name: .customLong("state"), help: "A state store (SQLite): its baseline is used, and updated after the scan.")
    var state: String?

    @Option(name: .customLong("field-map"), help: "A YAML map from another JSON source's keys to ECS names (generic JSON).")
    var fieldMap: String?

    @Option(name: .customLong("format"), help: "Input format, instead of detecting it per input.")
    var format: LogFormat?

    @OptionGroup(title: "Alert outputs")
    var outputs: AlertOutputFlags

    @Flag(name: .customLong("no-progress"), help: "No progress bar (it is drawn only when standard error is a terminal).")
    var noProgress = false

    @Option(name: .customLong("min-level"), help: "Write only findings at or above this level.")
    var minLevel: LevelChoice = .informational

    @Option(name: .customLong("fail-level"), help: "Exit 1 only for findings at or above this level.")
    var failLevel: LevelChoice = .informational

    @Option(name: .customLong("max-line-length"), help: "Longest line read, in bytes; longer lines are cut and counted.")
    var maxLineLength: Int = 1 << 20

    @Option(
        name: .customLong("merge-window"),
        help: "Merge matches of one rule from one source within this many seconds of log time into one finding (0: one finding per match).")
    var mergeWindow: Int64 = 300

    @Option(
        name: .customLong("jobs"),
        help: "Threads to use (default: the number of online processors). Several inputs are read and decoded by this many workers and merged into one log-time stream; one gzip input is inflated on a second thread unless --jobs 1. The findings do not depend on this number.")
    var jobs: Int?

    @Flag(name: .customLong("quiet"), help: "No summary on standard error (problems are still reported).")
    var quiet = false

    @OptionGroup(title: "Incremental (cron) runs")
    var incremental: IncrementalFlags

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one file, directory or -") }
        if !incremental.incremental && incremental.anyGiven {
            throw ValidationError("--wait, --from, --since, --stale-after, --include-archives, --rotated-glob, --emit-raw, --reset-state and --verbose need --incremental")
        }
        if mergeWindow < 0 { throw ValidationError("--merge-window must be 0 or more seconds") }
        if let jobs, jobs < 1 || jobs > 256 { throw ValidationError("--jobs must be between 1 and 256") }
        if maxLineLength < 64 || maxLineLength > 64 << 20 {
            throw ValidationError("--max-line-length must be between 64 and 67108864")
        }
    }

    func run() throws {
        var o = ScanOptions(paths: paths)
        o.rulePaths = rules
        o.forcedFormat = format
        o.sitePath = site
        o.fieldMapPath = fieldMap
        o.statePath = state
        try outputs.apply(to: &o, emitRaw: incremental.incremental && incremental.emitRaw)
        o.progress = !noProgress && !quiet && isatty(2) == 1
        o.minimumLevel = minLevel.severity
        o.failLevel = failLevel.severity
        o.quiet = quiet
        o.maxLineLength = maxLineLength
        o.mergeWindowSeconds = mergeWindow
        o.merge.jobs = jobs ?? onlineProcessors()
        if incremental.incremental {
            let report: ScanReport
            switch incremental.options(statePath: state) {
            case .success(let inc): report = IncrementalRunner.run(o, inc) { FileOutput.stderr($0) }
            case .failure(let d):
                FileOutput.stderr(d.description + "\n")
                throw ExitCode(ExitStatus.error)
            }
            throw ExitCode(report.exitStatus)
        }
        let report = ScanRunner.run(o) { FileOutput.stderr($0) }
        throw ExitCode(report.exitStatus)
    }
}
