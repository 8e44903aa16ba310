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
        wait || from != nil || includeArchives || !rotatedGlobs.isEmpty || emitRaw || resetState || verbose
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
        return .success(o)
    }
}
