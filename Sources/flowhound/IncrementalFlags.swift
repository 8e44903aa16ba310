import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline

extension IncrementalOptions.Start: ExpressibleByArgument {}

/// The options of `scan --incremental` (also used by `tail` for its state).
struct IncrementalFlags: ParsableArguments {
    @Flag(
        name: .customLong("incremental"),
        help: "Read only what is new since the last run (positions in the --state store), rotated generations included.")
    var incremental = false

    @Flag(name: .customLong("wait"), help: "If another run holds the state lock, wait for it instead of exiting 2.")
    var wait = false

    @Option(name: .customLong("from"), help: "Where a first run starts in a file without saved position: beginning or end.")
    var from: IncrementalOptions.Start?

    @Option(
        name: .customLong("since"),
        help: "On a first run, start each file at its first line at or after this log time (RFC 3339 time, date, epoch seconds, or a duration back from now such as 2h); binary search in plain files, a forward scan in .gz.")
    var since: String?

    @Option(
        name: .customLong("stale-after"),
        help: "Warn when the saved state was last committed longer ago than this (wall-clock time: 6h, 1d), or when the run holding the lock took it longer ago.")
    var staleAfter: String?

    @Flag(name: .customLong("include-archives"), help: "On a first run also read rotated generations already on disk.")
    var includeArchives = false

    @Option(name: .customLong("rotated-glob"), help: "Another glob of rotated generations, e.g. an olddir (repeatable).")
    var rotatedGlobs: [String] = []

    @Flag(name: .customLong("emit-raw"), help: "Print every new line as read instead of detecting (rotation-proof tail of the raw log).")
    var emitRaw = false

    @Flag(name: .customLong("reset-state"), help: "If the state store cannot be read, move it aside and start over.")
    var resetState = false

    @Flag(name: .customLong("verbose"), help: "Print the summary on standard error even when nothing was found.")
    var verbose = false

    @Option(name: .customLong("forget-after"), help: "Forget a file identity not seen on disk for this many seconds.")
    var forgetAfter: Int64 = 7 * 86_400

    var anyGiven: Bool {
        wait || from != nil || since != nil || staleAfter != nil || includeArchives || !rotatedGlobs.isEmpty || emitRaw || resetState || verbose
    }

    func options(statePath: String?) -> Result<IncrementalOptions, Diagnostic> {
        let path: String
        if let statePath {
            path = statePath
        } else {
            switch StateLocation.defaultStore(environment: ProcessEnvironment.current, isRoot: geteuid() == 0) {
            case .success(let p): path = p
            case .failure(let d): return .failure(d)
            }
        }
        var o = IncrementalOptions(statePath: path)
        o.wait = wait
        o.from = from ?? .beginning
        o.includeArchives = includeArchives
        o.rotatedGlobs = rotatedGlobs
        o.emitRaw = emitRaw
        o.resetState = resetState
        o.verbose = verbose
        o.forgetAfterSeconds = forgetAfter
        if let since {
            guard let t = parseLogTime(since) else { return .failure(badTime("--since", since)) }
            if from != nil { return .failure(Diagnostic(code: "bad_usage", "give --from or --since, not both")) }
            o.since = t
        }
        if let staleAfter {
            guard let s = DurationText.seconds(staleAfter) else { return .failure(badDuration("--stale-after", staleAfter)) }
            o.staleAfterSeconds = s
        }
        return .success(o)
    }
}

/// A log time from the command line: RFC 3339, a date, epoch seconds, or a duration back from now.
func parseLogTime(_ text: String) -> Timestamp? {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return AlertsQuery.time(text, now: Timestamp(seconds: Int64(ts.tv_sec), nanos: Int64(ts.tv_nsec)))
}

func badTime(_ flag: String, _ text: String) -> Diagnostic {
    Diagnostic(
        code: "bad_time",
        "\(flag): cannot read the time '\(text)'; use 2026-03-02T09:00:00Z, 2026-03-02, epoch seconds or a duration such as 2h")
}

func badDuration(_ flag: String, _ text: String) -> Diagnostic {
    Diagnostic(code: "bad_duration", "\(flag): cannot read the duration '\(text)'; use 90s, 15m, 6h or 1d")
}
