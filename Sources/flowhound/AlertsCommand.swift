import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline
import FlowhoundSinks

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Print alerts from the SQLite alert store (written by scan --store DB or --output sqlite:DB).",
        discussion: """
            Alerts are printed oldest first (by the log time of their last event). --since/--until take an RFC 3339 \
            time, a date (midnight UTC), epoch seconds, or a duration back from now (24h, 7d); with --relative-to latest \
            a duration counts back from the newest stored alert's last event instead (log time, for stores filled \
            from archived logs). Repeats merged by \
            --suppress are part of the stored alert's count. Exit status: 0, or 2 on an error.
            """)

    @Option(name: .customLong("store"), help: "The alert store (SQLite).")
    var store: String

    @Option(name: .customLong("since"), help: "Only alerts whose last event is at or after this time.")
    var since: String?

    @Option(name: .customLong("until"), help: "Only alerts whose last event is before this time.")
    var until: String?

    @Option(
        name: .customLong("relative-to"),
        help: "What a duration in --since/--until counts back from: now (the wall clock) or latest (the newest stored alert's last event).")
    var relativeTo: RelativeTo = .now

    enum RelativeTo: String, ExpressibleByArgument, CaseIterable { case now, latest }

    @Option(name: .customLong("rule"), help: "Only alerts of this rule id.")
    var rule: String?

    @Option(name: .customLong("level"), help: "Only alerts at or above this level.")
    var level: LevelChoice?

    @Option(name: .customLong("limit"), help: "Only the newest N alerts (still printed oldest first).")
    var limit: Int?

    @Option(name: .customLong("format"), help: "json, text, csv, or auto (text on a terminal, else json).")
    var format: AlertFormatChoice = .auto

    func run() throws {
        var o = AlertsQuery.Options(storePath: store)
        o.since = since
        o.until = until
        o.relativeToLatest = relativeTo == .latest
        o.ruleID = rule
        o.minimumLevel = level?.severity
        o.limit = limit
        let terminal = isatty(1) == 1
        switch format {
        case .auto: o.format = terminal ? .text : .json
        case .json: o.format = .json
        case .text: o.format = .text
        case .csv: o.format = .csv
        }
        o.colour = terminal && o.format == .text && ProcessEnvironment.current["NO_COLOR"] == nil
        let (bytes, diagnostics, status) = AlertsQuery.run(o)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { p in write(1, p.baseAddress! + off, p.count - off) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
            off += n
        }
        for d in diagnostics { FileOutput.stderr(d.description + "\n") }
        throw ExitCode(status)
    }
}
