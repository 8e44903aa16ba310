import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline
import FlowhoundSinks

/// The alert output options shared by `scan` and `tail`: formats, outputs, the alert store and suppression.
struct AlertOutputFlags: ParsableArguments {
    @Option(name: .customLong("alert-format"), help: "json, text, csv, or auto (text on a terminal, else json).")
    var alertFormat: AlertFormatChoice = .auto

    @Option(
        name: .customLong("output"),
        help: ArgumentHelp(
            "An alert output (repeatable): -, FILE, file:FILE, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, syslog+unix:///dev/log, https://URL, sqlite:DB; options follow as key=value words.",
            discussion: "Default: standard output. See README \"Alert outputs\" for the options (format=, queue=, ca=, …)."))
    var output: [String] = []

    @Option(name: .customLong("outputs-file"), help: "A file of alert outputs, one spec per line (# comments).")
    var outputsFile: String?

    @Option(name: .customLong("store"), help: "Also write alerts to this SQLite alert store (same as --output sqlite:DB).")
    var store: String?

    @Option(
        name: .customLong("suppress"),
        help: "Merge repeats of a finding within this much log time (90s, 15m, 1h, 1d) into the first alert; with a store, across runs.")
    var suppress: String?

    func validate() throws {
        if let suppress, DurationText.seconds(suppress) == nil {
            throw ValidationError("--suppress takes a duration such as 90s, 15m, 1h or 1d")
        }
    }

    /// Sets the outputs, formats and suppression of `o`. `emitRaw`: lines, not alerts, are written, to standard
    /// output or to one plain file. Errors (a bad spec, an unreadable outputs file) are printed; exit status 2.
    func apply(to o: inout ScanOptions, emitRaw: Bool) throws(ExitCode) {
        var specs: [OutputSpec] = []
        do {
            for text in output { specs.append(try OutputSpec.parse(text)) }
            if let outputsFile { specs += try OutputSpec.load(file: outputsFile) }
        } catch {
            FileOutput.stderr(error.description + "\n")
            throw ExitCode(ExitStatus.error)
        }
        if let store {
            // "also": with no other output named, alerts still go to standard output
            if specs.isEmpty { specs.append(OutputSpec(kind: .stdout, display: "stdout")) }
            specs.append(OutputSpec(kind: .sqlite(store), display: "sqlite:" + store))
        }
        // a single plain file is the classic `--output FILE` (also what --emit-raw writes to)
        if specs.count == 1, case .file(let path) = specs[0].kind, specs[0].options.isEmpty {
            o.outputPath = path
            specs = []
        }
        if specs.count == 1, specs[0].kind == .stdout, specs[0].options.isEmpty { specs = [] }
        if emitRaw && (!specs.isEmpty || suppress != nil) {
            FileOutput.stderr(
                "flowhound: error[bad_output]: --emit-raw writes the lines read to standard output or to one --output FILE; "
                    + "alert outputs, --store and --suppress need detection (leave out --emit-raw)\n")
            throw ExitCode(ExitStatus.error)
        }
        let stdoutIsTerminal = isatty(1) == 1
        let toTerminal = stdoutIsTerminal && ((specs.isEmpty && o.outputPath == nil) || specs.contains { $0.kind == .stdout })
        switch alertFormat {
        case .auto: o.alertFormat = toTerminal ? .text : .json
        case .json: o.alertFormat = .json
        case .text: o.alertFormat = .text
        case .csv: o.alertFormat = .csv
        }
        o.alerts.specs = specs
        o.alerts.fileFormat = alertFormat == .auto ? .json : o.alertFormat
        o.alerts.stdoutIsTerminal = stdoutIsTerminal && ProcessEnvironment.current["NO_COLOR"] == nil
        o.alerts.suppressSeconds = suppress.flatMap(DurationText.seconds)
        o.colour = o.alerts.stdoutIsTerminal && o.alertFormat == .text
    }
}
