import FlowhoundCore
import FlowhoundDetect
import FlowhoundIngest
import FlowhoundParse
import FlowhoundRules
import FlowhoundSinks

/// Where findings go: the seam between detection and the alert sinks (stdout or a file through
/// `AlertWriter` today; other sinks plug in behind the same three calls).
protocol FindingOutput: AnyObject {
    func write(_ f: Finding)
    /// Pushes buffered findings to the sink (a write to stdout or the file).
    func flush()
    /// `flush`, then makes them durable (fsync of an output file): call before committing state that covers them.
    func sync()
    /// The first write problem, if any.
    var failure: Diagnostic? { get }
    /// The file outputs' identities and lengths after the last `sync` (what a state commit records).
    var syncedFiles: [SyncedFile] { get }
}

/// Opens the alert outputs of `scan --incremental` and `tail`.
enum AlertWriterOutput {
    /// The run's alert outputs (`AlertOutputs`: stdout, file, syslog, webhook, store), behind `FindingOutput`.
    static func make(_ options: ScanOptions) -> Result<any FindingOutput, Diagnostic> {
        do {
            return .success(SinkSetOutput(try AlertOutputs.open(options, installHangup: false)))
        } catch {
            return .failure(error)
        }
    }
}

/// Rules, site and the three engines of one run of `scan --incremental` or `tail`, built like `ScanRunner`
/// builds them, plus a mute switch used while carried lines are replayed.
final class DetectionStack {
    let options: ScanOptions
    let rules: [SigmaRule]
    let loaded: SigmaLoadResult
    let site: SiteConfiguration
    let engine: DetectionEngine
    let correlations: CorrelationEngine
    let behaviour: BehaviourEngine
    let compiler: RuleCache
    let requested: Set<String>
    let fieldMap: FieldMap?
    let timeZone: LogTimeZone
    /// Problems found while loading (errors make the exit status 2; `usable` says whether to go on).
    private(set) var diagnostics: [Diagnostic] = []
    private(set) var usable = true
    /// While true, findings are dropped (replay of carried lines).
    var muted = false
    private(set) var written = 0
    private(set) var atFailLevel = 0
    /// Kept when rules are reloaded (`tail` on SIGHUP): a new stack is built over the same outputs.
    let output: any FindingOutput

    var errors: [Diagnostic] { diagnostics.filter { $0.kind == .error } }

    init(options: ScanOptions, output: any FindingOutput) {
        self.options = options
        self.output = output
        var ds: [Diagnostic] = []
        var rulePaths = options.rulePaths
        if rulePaths.isEmpty {
            if let dir = RulesLocator.defaultRulesDirectory(
                environment: ProcessEnvironment.current, executablePath: RulesLocator.currentExecutable())
            {
                rulePaths = [dir]
            } else {
                ds.append(
                    Diagnostic(
                        code: "no_rules",
                        "no default rules directory found; pass --rules DIR, set FLOWHOUND_RULES, or install with Scripts/install.sh"))
            }
        }
        loaded = rulePaths.isEmpty ? SigmaLoader.load(paths: []) : SigmaLoader.load(paths: rulePaths)
        ds += loaded.diagnostics
        rules = loaded.rules
        if rules.isEmpty && !rulePaths.isEmpty {
            ds.append(
                Diagnostic(
                    code: "no_rules", "no usable detection rules in \(rulePaths.joined(separator: ", ")); nothing can be found"))
        }
        var site = SiteConfiguration()
        let sitePath =
            options.sitePath
            ?? RulesLocator.defaultSiteFile(
                environment: ProcessEnvironment.current, executablePath: RulesLocator.currentExecutable())
        if let sitePath {
            let (loadedSite, siteDiagnostics) = SiteFile.load(path: sitePath)
            ds += siteDiagnostics
            if let loadedSite { site = loadedSite }
        }
        self.site = site
        var fieldMap: FieldMap?
        if let path = options.fieldMapPath {
            let (spec, fds) = FieldMapSpec.load(path: path)
            ds += fds
            if let spec {
                fieldMap = FieldMap(
                    logType: spec.logType, logSources: spec.logSources,
                    entries: spec.entries.map { FieldMap.Entry(key: $0.key, name: $0.name, type: $0.type, role: $0.role) })
            }
        }
        self.fieldMap = fieldMap
        timeZone = LogTimeZone.named(site.timezone) ?? .utc

        let identities = rules.map { RuleIdentity(id: $0.displayID, title: $0.title, level: $0.level, tags: $0.tags) }
        // the engines call back into `deliver`; a box breaks the cycle until `self` exists
        let box = DeliveryBox()
        engine = DetectionEngine(
            rules: identities, minimumLevel: options.minimumLevel,
            policy: MergePolicy(intervalSeconds: options.mergeWindowSeconds, maxPending: options.maxOpenFindings),
            allow: site.allow
        ) { box.deliver?($0) }
        let allow = site.allow
        correlations = CorrelationEngine(rules: rules, correlations: loaded.correlations, minimumLevel: options.minimumLevel) {
            if allow.firstAllowing($0) != nil { return }  // site allow entries cover correlation findings too (ScanRunner)
            box.deliver?($0)
        }
        var behaviourOptions = BehaviourEngine.Options()
        behaviourOptions.minimumLevel = options.minimumLevel
        behaviourOptions.learnFrom = options.learnFrom
        behaviour = BehaviourEngine(
            rules: options.detectorsEnabled ? loaded.detectorRules : [], site: site, options: behaviourOptions
        ) { box.deliver?($0) }
        ds += correlations.diagnostics
        compiler = RuleCache(rules: rules, placeholders: site.placeholders)
        var requested = referencedFields(rules)
        for c in loaded.correlations {
            if let corr = c.correlation {
                requested.formUnion(corr.groupBy)
                if let f = corr.field { requested.insert(f) }
                for (_, m) in corr.aliases { requested.formUnion(m.values) }
            }
        }
        self.requested = requested
        diagnostics = ds
        usable = !ds.contains { $0.kind == .error }
        box.deliver = { [unowned self] f in self.deliver(f) }
    }

    private func deliver(_ f: Finding) {
        if muted || options.learnOnly { return }
        output.write(f)
        written += 1
        if f.level >= options.failLevel { atFailLevel += 1 }
    }

    /// The decoding context for a file (its mtime gives syslog lines their year).
    func decoderContext(path: String) -> DecoderContext {
        var context = DecoderContext(timeZone: timeZone, fieldMap: fieldMap)
        var st = stat()
        if path != "-" && stat(path, &st) == 0 {
            context.referenceTime = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanos: Int64(st.st_mtim.tv_nsec))
        }
        return context
    }

    func makeSink(path: String, forcedFormat: LogFormat? = nil, explicit: Bool = true) -> ScanSink {
        var o = options
        if let forcedFormat { o.forcedFormat = forcedFormat }
        return ScanSink(
            input: InputSpec(path: path, explicit: explicit), options: o, compiler: compiler, engine: engine,
            correlations: correlations, behaviour: behaviour, context: decoderContext(path: path),
            requestedFields: requested)
    }

    /// Compile diagnostics raised since the last call (unresolved placeholders).
    func drainCompileDiagnostics() -> [Diagnostic] { compiler.drainDiagnostics() }

    /// Ends the run: writes open findings, then flushes and syncs the output.
    func finish() {
        engine.finish()
        correlations.finish()
        behaviour.finish()
        output.sync()
    }

    func flush() { output.flush() }

    func sync() { output.sync() }

    var outputFailure: Diagnostic? { output.failure }

    var syncedFiles: [SyncedFile] { output.syncedFiles }

    /// Log time reached by the engines (nil before the first event).
    var horizon: Int64 {
        max(correlations.horizonNanoseconds, 1_800 * 1_000_000_000)
    }
}

private final class DeliveryBox {
    var deliver: ((Finding) -> Void)?
}
