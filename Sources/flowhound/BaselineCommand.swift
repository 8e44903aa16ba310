import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline", abstract: "Learn and inspect the behavioural baseline (first-seen edges, volume profiles).",
        subcommands: [BaselineLearnCommand.self, BaselineShowCommand.self])
}

struct BaselineLearnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learn",
        abstract: "Read logs of normal activity and store what the detectors learn from them; writes no alerts.",
        discussion: """
            The stored baseline is read by later `scan --state FILE` runs, so first-seen detectors judge new \
            traffic against it instead of waiting out a learning period. Learning again adds to the baseline.
            """)

    @Argument(help: "Files, directories or - for standard input.")
    var paths: [String]

    @Option(name: .customLong("state"), help: "The state store file (SQLite), created when missing.")
    var state: String

    @Option(name: .customLong("rules"), help: "Rule directories or files with detector rules. Default: the bundled Rules/.")
    var rules: [String] = []

    @Option(name: .customLong("site"), help: "The site file. Default: site.yml of the bundled rules.")
    var site: String?

    func run() throws {
        var o = ScanOptions(paths: paths)
        o.rulePaths = rules
        o.sitePath = site
        o.statePath = state
        o.learnOnly = true
        o.outputPath = "/dev/null"
        o.quiet = true
        let report = ScanRunner.run(o) { FileOutput.stderr($0) }
        let b = report.baseline
        FileOutput.stderr(
            "flowhound: learned from \(report.totalLines) lines; baseline: \(b.edges.count) edges, \(b.hosts.count) hosts, \(b.volumes.count) volume profiles -> \(state)\n")
        throw ExitCode(report.errors.isEmpty ? 0 : 2)
    }
}

struct BaselineShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Summarise the stored baseline.")

    @Option(name: .customLong("state"), help: "The state store file (SQLite).")
    var state: String

    @Flag(name: .customLong("edges"), help: "Also list every learned edge.")
    var edges = false

    func run() throws {
        let (lines, status) = BaselineReport.show(statePath: state, listEdges: edges)
        for l in lines { print(l) }
        throw ExitCode(status)
    }
}
