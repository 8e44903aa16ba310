import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline", abstract: "Learn and inspect the behavioural baseline (first-seen edges, volume profiles).",
        subcommands: [
            BaselineLearnCommand.self, BaselineShowCommand.self, BaselinePushCommand.self, BaselinePullCommand.self,
        ])
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

struct BaselinePushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Store this host's baseline in a shared PostgreSQL database, for the other flowhound hosts.",
        discussion: """
            Replaces what this source pushed before (one transaction; pushing again is harmless). Other sources' \
            baselines are left alone; they are merged when a host pulls. Volume-profile hours this host pulled from \
            the others are not sent back. Tables: flowhound_baseline_{sources,edges,hosts,volumes}, created if missing.
            """)

    @Option(name: .customLong("state"), help: "The state store file (SQLite) whose baseline is pushed.")
    var state: String

    @Option(name: .customLong("to"), help: "The shared store: postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (any libpq URI).")
    var url: String

    @Option(name: .customLong("source"), help: "The name this host's baseline is stored under. Default: the host name.")
    var source: String?

    func run() throws {
        let (lines, status) = BaselineSharing.push(statePath: state, url: url, source: source)
        for l in lines { FileOutput.stderr(l + "\n") }
        throw ExitCode(status)
    }
}

struct BaselinePullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Merge the baselines the other flowhound hosts pushed into this host's state store.",
        discussion: """
            Edges and hosts are united (earliest first seen, latest last seen); volume profiles add up the other \
            hosts' learned hours, replacing those of an earlier pull. The learning start becomes the earliest one, \
            so a new host judges traffic against what the others learned at once. Use the same --source as for push.
            """)

    @Option(name: .customLong("state"), help: "The state store file (SQLite) to merge into, created when missing.")
    var state: String

    @Option(name: .customLong("from"), help: "The shared store: postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (any libpq URI).")
    var url: String

    @Option(name: .customLong("source"), help: "This host's source name, whose own rows are not pulled back. Default: the host name.")
    var source: String?

    func run() throws {
        let (lines, status) = BaselineSharing.pull(statePath: state, url: url, source: source)
        for l in lines { FileOutput.stderr(l + "\n") }
        throw ExitCode(status)
    }
}
