import FlowhoundCore
import FlowhoundDetect
import FlowhoundIngest
import FlowhoundParse
import FlowhoundRules
import FlowhoundSinks
import FlowhoundState

/// `flowhound scan`: load rules, read every input once, match, write findings, report.
///
/// Run order: load rules → open the alert output → for each input (in the order `InputExpander` gives):
/// frame lines → sniff the format on the first non-blank line → decode → match the rules compiled for the
/// current schema → findings → writer. Inputs are read one after another on this thread; findings appear in
/// input order. Rule and input problems are collected as diagnostics and decide the exit status.
package enum ScanRunner {
    package static func run(_ options: ScanOptions, diagnostics: (String) -> Void) -> ScanReport {
        var report = ScanReport()

        // 1. rules
        let rulePaths: [String]
        if options.rulePaths.isEmpty {
            guard
                let dir = RulesLocator.defaultRulesDirectory(
                    environment: ProcessEnvironment.current, executablePath: RulesLocator.currentExecutable())
            else {
                report.errors.append(
                    Diagnostic(
                        code: "no_rules",
                        "no default rules directory found; pass --rules DIR, set FLOWHOUND_RULES, or install with Scripts/install.sh"
                    ))
                emit(report.errors, to: diagnostics)
                return report
            }
            rulePaths = [dir]
        } else {
            rulePaths = options.rulePaths
        }
        let loaded = SigmaLoader.load(paths: rulePaths)
        for d in loaded.diagnostics {
            if d.kind == .error { report.errors.append(d) } else { report.warnings.append(d) }
        }
        emit(loaded.diagnostics, to: diagnostics)
        let rules = loaded.rules
        report.rulesLoaded = rules.count
        if rules.isEmpty {
            let d = Diagnostic(
                code: "no_rules", "no usable detection rules in \(rulePaths.joined(separator: ", ")); nothing can be found")
            report.errors.append(d)
            emit([d], to: diagnostics)
        }

        // 1b. site
        var site = SiteConfiguration()
        let sitePath = options.sitePath ?? RulesLocator.defaultSiteFile(
            environment: ProcessEnvironment.current, executablePath: RulesLocator.currentExecutable())
        if let sitePath {
            let (loadedSite, siteDiagnostics) = SiteFile.load(path: sitePath)
            report.errors += siteDiagnostics.filter { $0.kind == .error }
            emit(siteDiagnostics, to: diagnostics)
            if let loadedSite { site = loadedSite }
        }

        // 2. output: every finding goes to `sinks` (bounded queue per output, suppression); see AlertOutputs
        let sinks: AlertSinkSet
        do {
            sinks = try AlertOutputs.open(options)
        } catch {
            report.errors.append(error)
            emit([error], to: diagnostics)
            return report
        }

        // 3. inputs
        let (inputs, inputErrors) = InputExpander.expand(options.paths)
        report.errors += inputErrors
        emit(inputErrors, to: diagnostics)

        let identities = rules.map {
            RuleIdentity(id: $0.displayID, title: $0.title, level: $0.level, tags: $0.tags)
        }
        var atFailLevel = 0
        var written = 0
        let failLevel = options.failLevel
        let engine = DetectionEngine(
            rules: identities, minimumLevel: options.minimumLevel, policy: MergePolicy(intervalSeconds: options.mergeWindowSeconds, maxPending: options.maxOpenFindings),
            allow: site.allow
        ) { finding in
            if sinks.submit(finding) {
                written += 1
                if finding.level >= failLevel { atFailLevel += 1 }
            }
        }
        // correlation findings honour the site's allow entries too (counted with the detection engine's)
        var correlationAllowed = [Int](repeating: 0, count: site.allow.count)
        let correlations = CorrelationEngine(
            rules: rules, correlations: loaded.correlations, minimumLevel: options.minimumLevel
        ) { finding in
            if let i = site.allow.firstAllowing(finding) {
                correlationAllowed[i] += 1
                return
            }
            if sinks.submit(finding) {
                written += 1
                if finding.level >= failLevel { atFailLevel += 1 }
            }
        }
        var behaviourOptions = BehaviourEngine.Options()
        behaviourOptions.minimumLevel = options.minimumLevel
        behaviourOptions.learnFrom = options.learnFrom
        let behaviour = BehaviourEngine(rules: options.detectorsEnabled ? loaded.detectorRules : [], site: site, options: behaviourOptions) { finding in
            if options.learnOnly { return }
            if sinks.submit(finding) {
                written += 1
                if finding.level >= failLevel { atFailLevel += 1 }
            }
        }
        var store: StateStore?
        if let statePath = options.statePath {
            do {
                let s = try StateStore(path: statePath)
                store = s
                if let baseline = try s.loadBaseline() {
                    behaviour.restore(baseline)
                    report.baselineRestored = true
                }
            } catch {
                report.errors.append(error)
                emit([error], to: diagnostics)
            }
        }
        report.detectorsLoaded = options.detectorsEnabled ? loaded.detectorRules.count : 0
        for d in correlations.diagnostics {
            if d.kind == .error { report.errors.append(d) } else { report.warnings.append(d) }
        }
        emit(correlations.diagnostics, to: diagnostics)
        let compiler = RuleCache(rules: rules, placeholders: site.placeholders)
        var requested = referencedFields(rules)
        for c in loaded.correlations {
            if let corr = c.correlation {
                requested.formUnion(corr.groupBy)
                if let f = corr.field { requested.insert(f) }
                for (_, m) in corr.aliases { requested.formUnion(m.values) }
            }
        }
        var fieldMap: FieldMap?
        if let path = options.fieldMapPath {
            let (spec, ds) = FieldMapSpec.load(path: path)
            report.errors += ds.filter { $0.kind == .error }
            emit(ds, to: diagnostics)
            if let spec {
                fieldMap = FieldMap(
                    logType: spec.logType, logSources: spec.logSources,
                    entries: spec.entries.map { FieldMap.Entry(key: $0.key, name: $0.name, type: $0.type, role: $0.role) })
            }
        }
        let timeZone = LogTimeZone.named(site.timezone) ?? .utc

        func decoderContext(_ input: InputSpec) -> DecoderContext {
            var context = DecoderContext(timeZone: timeZone, fieldMap: fieldMap)
            if !input.isStandardInput {
                var st = stat()
                if stat(input.path, &st) == 0 {
                    context.referenceTime = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanos: Int64(st.st_mtim.tv_nsec))
                }
            }
            return context
        }
        let progress = options.progress ? ProgressMeter(paths: inputs.map(\.path)) : nil
        func makeSink(_ input: InputSpec) -> ScanSink {
            progress?.begin(input.path)
            return ScanSink(
                input: input, options: options, compiler: compiler, engine: engine, correlations: correlations,
                behaviour: behaviour, context: decoderContext(input), requestedFields: requested)
        }
        func ingestOptions(_ input: InputSpec) -> IngestOptions {
            var ingest = IngestOptions()
            ingest.maxLineLength = options.maxLineLength
            return ingest
        }
        /// Bookkeeping once an input has been read to its end (either path below).
        func finishInput(_ input: InputSpec, _ sink: InputLineCounts, _ summary: IngestSummary, _ error: IngestError?) {
            progress?.end(input.path)
            var stats = InputStats(path: input.path)
            if options.mergeAcrossInputs == false { engine.finish() }
            let compileDiagnostics = compiler.drainDiagnostics()
            report.errors += compileDiagnostics.filter { $0.kind == .error }
            emit(compileDiagnostics, to: diagnostics)
            stats.lines = summary.lines
            stats.bytesDecoded = summary.bytesDecoded
            stats.compressed = summary.compressed
            stats.overlongLines = summary.overlongLines
            stats.events = sink.events
            stats.malformed = sink.malformed
            stats.malformedByReason = sink.malformedByReason
            stats.malformedSamples = sink.samples
            stats.format = sink.formatName
            stats.keptSchemasEvicted = sink.keptSchemasEvicted
            stats.keptSchemasHighWater = sink.keptSchemasHighWater
            stats.adoptedSchemasEvicted = sink.adoptedSchemasEvicted
            stats.sharedRuleSetsEvicted = sink.sharedRuleSetsEvicted
            stats.sharedSchemasEvicted = sink.sharedSchemasEvicted
            if let error {
                report.errors.append(error.diagnostic)
                emit([error.diagnostic], to: diagnostics)
            }
            if sink.formatName == nil && summary.lines > 0 && error == nil {
                if input.explicit {
                    let d = Diagnostic(
                        code: "unknown_format",
                        "cannot tell the log format from the first line; pass --format (\(LogFormat.allCases.map(\.rawValue).joined(separator: ", ")))",
                        at: FileLocation(path: displayPath(input.path), line: Int(sink.firstLineNumber)))
                    report.errors.append(d)
                    emit([d], to: diagnostics)
                } else {
                    stats.skipped = "format not recognised"
                }
            }
            if let unsupported = sink.unsupportedFormat {
                let d = Diagnostic(
                    code: "unsupported_format", "format \(unsupported.rawValue) is not decoded by this version",
                    at: FileLocation(path: displayPath(input.path)))
                report.errors.append(d)
                emit([d], to: diagnostics)
            }
            report.inputs.append(stats)
        }

        if inputs.count > 1 && options.orderInputsByTime && options.mergeAcrossInputs {
            // several inputs: one stream in log-time order, read by `jobs` workers (EventMerge)
            // Decoding and rule matching run on the workers (ScanStage); the merge feeds the engines (ScanMergeSink).
            let planned = EventMerge.plan(inputs, forcedFormat: options.forcedFormat, context: decoderContext)
            report.merge = EventMerge.run(
                planned, options: options.merge, ingestOptions: ingestOptions,
                makeStage: { i in
                    ScanStage(
                        input: planned[i].input, options: options, compiler: compiler,
                        interest: behaviour.makeInterest(), context: decoderContext(planned[i].input),
                        requestedFields: requested)
                },
                openSink: { i in
                    progress?.begin(planned[i].input.path)
                    return ScanMergeSink(
                        input: planned[i].input, compiler: compiler, engine: engine, correlations: correlations,
                        behaviour: behaviour)
                },
                closeSink: { i, sink, stage, summary, error in
                    sink.finish()
                    finishInput(planned[i].input, stage.counts, summary, error)
                })
        } else {
            // one input (or order as given, input after input): read on this thread, no copies
            let orderedInputs = options.orderInputsByTime
                ? InputOrdering.ordered(inputs, forcedFormat: options.forcedFormat, context: decoderContext) : inputs
            for input in orderedInputs {
                var sink = makeSink(input)
                var ingest = ingestOptions(input)
                // With a second processor allowed, gzip input inflates on its own thread (P7's two-thread pipeline).
                ingest.decodeOnSecondThread = options.merge.jobs > 1
                let (summary, error) = ingestLines(path: input.path, options: ingest, into: &sink)
                sink.finish()
                finishInput(input, sink.counts, summary, error)
            }
        }
        engine.finish()
        correlations.finish()
        report.correlationBindingsEvicted = correlations.schemaBindingsEvicted
        behaviour.finish()
        progress?.finish()
        let delivery = sinks.close()
        report.delivery = delivery
        report.errors += delivery.errors
        report.warnings += delivery.warnings
        emit(delivery.errors + delivery.warnings, to: diagnostics)
        if let store {
            do {
                try store.saveBaseline(behaviour.snapshot())
                report.baselineSaved = true
            } catch {
                report.errors.append(error)
                emit([error], to: diagnostics)
            }
        }
        report.baseline = behaviour.snapshot()
        report.findingsWritten = written
        for (i, entry) in engine.allowList.enumerated() where engine.allowedCounts[i] + correlationAllowed[i] > 0 {
            report.allowed.append((entry.location.description, entry.reason, engine.allowedCounts[i] + correlationAllowed[i]))
        }
        report.findingsAtFailLevel = atFailLevel
        if !options.quiet { diagnostics(summaryText(report, samples: options.malformedSamples)) }
        return report
    }

    static func emit(_ ds: [Diagnostic], to out: (String) -> Void) {
        for d in ds { out(d.description + "\n") }
    }

    static func displayPath(_ p: String) -> String { p == "-" ? "<stdin>" : p }

    /// The stderr summary: totals, malformed lines by reason with the first samples, skipped inputs.
    static func summaryText(_ r: ScanReport, samples: Int) -> String {
        var s =
            "flowhound: \(r.inputs.count) input\(r.inputs.count == 1 ? "" : "s"), \(r.totalLines) lines, "
            + "\(r.inputs.reduce(0) { $0 + $1.events }) events, \(r.totalMalformed) malformed, "
            + "\(r.findingsWritten) finding\(r.findingsWritten == 1 ? "" : "s") (\(r.rulesLoaded) rules, \(r.detectorsLoaded) detectors)\n"
        s += r.delivery.suppressionSummary
        if r.merge.lateLines > 0 {
            s += "flowhound: \(r.merge.lateLines) event\(r.merge.lateLines == 1 ? "" : "s") merged more than \(r.merge.toleranceSeconds) s behind the newest log time (still used)\n"
        }
        if r.merge.delayedAdmissions > 0 {
            s += "flowhound: \(r.merge.delayedAdmissions) input\(r.merge.delayedAdmissions == 1 ? "" : "s") waited for a free place in the merge (more than \(r.merge.openHighWater) inputs overlap in time)\n"
        }
        if r.correlationBindingsEvicted > 0 {
            let n = r.correlationBindingsEvicted
            s += "flowhound: correlations met more schemas in use than the \(CorrelationPolicy().maxSchemaBindings) whose field "
                + "bindings they keep: \(n) binding\(n == 1 ? " was" : "s were") forgotten and rebuilt (slower, same findings)\n"
        }
        for (place, reason, n) in r.allowed {
            s += "flowhound: \(n) match\(n == 1 ? "" : "es") allowed by \(place) (\(reason))\n"
        }
        for i in r.inputs {
            if i.malformed > 0 {
                let reasons = i.malformedByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    .joined(separator: ", ")
                s += "flowhound: \(displayPath(i.path)): \(i.malformed) malformed line\(i.malformed == 1 ? "" : "s") (\(reasons))"
                let shown = i.malformedSamples.prefix(samples).map { "\($0.0) (\($0.1))" }.joined(separator: ", ")
                s += shown.isEmpty ? "\n" : "; first at line \(shown)\n"
            }
            if i.overlongLines > 0 {
                s += "flowhound: \(displayPath(i.path)): \(i.overlongLines) line\(i.overlongLines == 1 ? "" : "s") longer than the line limit, cut\n"
            }
            if i.keptSchemasEvicted > 0 || i.adoptedSchemasEvicted > 0 {
                s += "flowhound: \(displayPath(i.path)): lines of more schemas (syslog programs) alternate than the scan keeps at "
                    + "hand: its \(ScanSink.othersCapacity) kept schemas were replaced \(i.keptSchemasEvicted) times, its 32 "
                    + "compiled ones \(i.adoptedSchemasEvicted) times (slower, same findings)\n"
            }
            if i.sharedRuleSetsEvicted > 0 || i.sharedSchemasEvicted > 0 {
                s += "flowhound: \(displayPath(i.path)): its schemas pushed \(i.sharedRuleSetsEvicted) of the scan's "
                    + "\(RuleCache.keyCapacity) compiled rule sets and \(i.sharedSchemasEvicted) of its "
                    + "\(RuleCache.objectCapacity) schemas in use out of the shared cache (more distinct schemas than it "
                    + "keeps: compiled again when they come back, slower, same findings)\n"
            }
            if let why = i.skipped { s += "flowhound: \(displayPath(i.path)): skipped (\(why))\n" }
        }
        return s
    }
}

/// Compiled rule sets, one per schema seen, so each rule is compiled once per schema.
///
/// Decoders reuse their schema objects, so the cache is looked up by object identity first (cheap when a syslog
/// input switches between program schemas every few lines) and by `Schema.key` for equal schemas from other
/// inputs. Compile diagnostics (unresolved `|expand` placeholders) are reported once per rule. Safe to use from
/// several threads (the merge's workers compile with `compiledUnreported` and the merge `report`s in merge order).
///
/// Bounded: at most `keyCapacity` compiled rule sets by key and `objectCapacity` schema objects. An object entry
/// keeps its schema alive, so its `ObjectIdentifier` cannot name another schema while the entry exists; entries
/// whose schema nobody else holds any more (its input is done) can never be looked up again and are dropped
/// first, uncounted. Past that the least recently used entry goes, counted in the caller's `Evictions`: a later
/// schema of that key is compiled again (slower, the same rule set).
final class RuleCache: @unchecked Sendable {
    /// Compiled rule sets kept by key (a few dozen schemas in normal use: syslog programs, Zeek paths).
    static let keyCapacity = 256
    /// Schema objects kept (every input has its own decoder, so its own schema objects).
    static let objectCapacity = 1024

    /// What one caller's lookups pushed out of the cache.
    struct Evictions {
        /// Compiled rule sets forgotten (their key is compiled again when it comes back).
        var ruleSets: Int64 = 0
        /// Schema objects still in use forgotten (found by key again when they come back).
        var schemas: Int64 = 0
    }

    let rules: [SigmaRule]
    let placeholders: [String: [String]]
    private let lock = ConditionLock()
    /// A compiled rule set by key; `used` is the last lookup that found it, by key or through an object entry.
    private final class KeyEntry {
        let compiled: CompiledRuleSet
        var used: UInt64
        init(_ compiled: CompiledRuleSet, _ used: UInt64) {
            self.compiled = compiled
            self.used = used
        }
    }
    private struct ObjectEntry {
        var schema: Schema
        let key: KeyEntry
        var used: UInt64
    }
    private var byKey: [String: KeyEntry] = [:]
    private var byObject: [ObjectIdentifier: ObjectEntry] = [:]
    /// Lookups so far (the recency of an entry is the lookup that last used it).
    private var clock: UInt64 = 0
    private var reported = Set<String>()
    /// Compile diagnostics not yet taken by `drainDiagnostics()`.
    private var pending: [Diagnostic] = []

    init(rules: [SigmaRule], placeholders: [String: [String]] = [:]) {
        self.rules = rules
        self.placeholders = placeholders
    }

    func drainDiagnostics() -> [Diagnostic] {
        lock.lock()
        defer {
            pending.removeAll()
            lock.unlock()
        }
        return pending
    }

    /// Entries held now: (compiled rule sets by key, schema objects).
    var counts: (keys: Int, objects: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (byKey.count, byObject.count)
    }

    /// The rule set for `schema`, its compile diagnostics reported (once per rule, in call order).
    func compiled(for schema: Schema, evictions: inout Evictions) -> CompiledRuleSet {
        let c = compiledUnreported(for: schema, evictions: &evictions)
        report(c)
        return c
    }

    /// The rule set for `schema`; its diagnostics wait for `report`.
    func compiledUnreported(for schema: Schema, evictions: inout Evictions) -> CompiledRuleSet {
        lock.lock()
        defer { lock.unlock() }
        clock &+= 1
        let id = ObjectIdentifier(schema)
        if let i = byObject.index(forKey: id), byObject.values[i].schema === schema {
            byObject.values[i].used = clock
            let k = byObject.values[i].key
            k.used = clock
            return k.compiled
        }
        let k: KeyEntry
        if let known = byKey[schema.key] {
            known.used = clock
            k = known
        } else {
            k = KeyEntry(CompiledRuleSet(rules: rules, schema: schema, placeholders: placeholders), clock)
            if byKey.count >= Self.keyCapacity, let oldest = byKey.min(by: { $0.value.used < $1.value.used })?.key {
                byKey[oldest] = nil
                evictions.ruleSets += 1
            }
            byKey[schema.key] = k
        }
        if byObject[id] == nil && byObject.count >= Self.objectCapacity {
            dropUnusedSchemas()
            if byObject.count >= Self.objectCapacity, let oldest = byObject.min(by: { $0.value.used < $1.value.used })?.key {
                byObject[oldest] = nil
                evictions.schemas += 1
            }
        }
        byObject[id] = ObjectEntry(schema: schema, key: k, used: clock)
        return k.compiled
    }

    /// Removes the object entries whose schema only this cache still holds: no decoder can present it again.
    private func dropUnusedSchemas() {
        var unused: [ObjectIdentifier] = []
        var i = byObject.values.startIndex
        while i != byObject.values.endIndex {
            if isKnownUniquelyReferenced(&byObject.values[i].schema) { unused.append(byObject.keys[i]) }
            byObject.values.formIndex(after: &i)
        }
        for id in unused { byObject[id] = nil }
    }

    /// Queues the compile diagnostics of `c` not reported before.
    func report(_ c: CompiledRuleSet) {
        if c.diagnostics.isEmpty { return }
        lock.lock()
        defer { lock.unlock() }
        for d in c.diagnostics where reported.insert(d.description).inserted { pending.append(d) }
    }
}

/// The fields `ScanSink.adopt` sets for one schema (kept to switch back to it without searching).
struct AdoptedState {
    var identity: UnsafeMutableRawPointer?
    var schema: Schema?
    var compiled: CompiledRuleSet?
    var feedsBehaviour: Bool
    var fieldCount: Int
}

/// Per-input line consumer: sniff, decode, match.
///
/// Hot path: the decoder is held by concrete type (Zeek TSV / JSON) so `decode` is a direct call, the schema's
/// field count is hoisted, rules are matched with a reused `MatchScratch`, and the TSV decoder builds only the
/// fields the compiled rules read (a matching line is decoded again in full before it becomes a finding).
struct ScanSink: LineSink {
    let input: InputSpec
    let options: ScanOptions
    let compiler: RuleCache
    let engine: DetectionEngine
    let correlations: CorrelationEngine
    let behaviour: BehaviourEngine
    /// The same objects, for the per-event `advance` calls without reference counting (the strong
    /// references above keep them alive as long as the sink).
    let engineClock: Unmanaged<DetectionEngine>
    let correlationClock: Unmanaged<CorrelationEngine>
    /// The behavioural detectors read this schema's events (then fields are decoded in full).
    var feedsBehaviour = false
    let context: DecoderContext
    let requestedFields: Set<String>
    /// The decoder, by concrete type where the per-line call is direct (see `DecoderRefs`).
    var refs = DecoderRefs()
    var decoder: (any LineDecoder)? { refs.decoder }
    var tsv: ZeekTSVDecoder? { refs.tsv }
    var json: ZeekJSONDecoder? { refs.json }
    var syslogRef: Unmanaged<SyslogDecoder>? { refs.syslogRef }
    var compiled: CompiledRuleSet?
    /// Unretained view of `compiled` for the per-line calls (no reference counting; `compiled` keeps it alive).
    var compiledRef: Unmanaged<CompiledRuleSet>?
    /// Zeek TSV / JSON with fields only keyed rules read (`CompiledRuleSet.lateSlots`): lines are decoded without them
    /// and matched in two passes, the second only after a full decode of a line with a deferred rule.
    var deferLate = false
    var record = EventRecord(capacity: 64)
    var scratch = MatchScratch()
    /// Schemas adopted so far (at most 32, the oldest forgotten first and counted in `adoptedEvicted`), with their
    /// compiled rules, whether the detectors read them and whether nothing but syslog header fields is read (then
    /// the syslog decoder skips the message parsers).
    var adopted: [(schema: Schema, compiled: CompiledRuleSet, feedsBehaviour: Bool, headerOnly: Bool)] = []
    var adoptedEvicted: Int64 = 0
    /// What this input's schemas pushed out of the shared `RuleCache`.
    var sharedEvicted = RuleCache.Evictions()
    /// The address of the adopted schema object (syslog: compared with `SyslogDecoder.schemaIdentity` after every
    /// line, the decoder switching schemas in place).
    var adoptedIdentity: UnsafeMutableRawPointer?
    /// The adopted schema object itself (keeps `adoptedIdentity` from naming a freed and reused address).
    var adoptedSchema: Schema?
    var fieldCount = 0
    /// What `adopt` set for up to `othersCapacity` schemas adopted before the current one: syslog lines alternate
    /// between a few programs, and going back to one of them is then an exchange of these fields with the current
    /// ones. When it is full, the next one replaces them in turn (`othersNext`); each replacement is counted in
    /// `othersEvicted` (a line of the replaced schema then goes through `adopt`: slower, the same result).
    var others: [AdoptedState] = []
    var othersNext = 0
    static let othersCapacity = 4
    var othersEvicted: Int64 = 0
    /// The most schemas `others` held at once.
    var othersHighWater = 0
    var matches: [Int] = []
    var events: Int64 = 0
    var malformed: Int64 = 0
    var malformedByReason: [String: Int64] = [:]
    var samples: [(Int64, String)] = []
    var formatName: String?
    var unsupportedFormat: LogFormat?
    var gaveUp = false
    var firstLineNumber: Int64 = 0
    /// The path evidence names (decided once: `isStandardInput` is a string comparison).
    let originPath: String

    init(
        input: InputSpec, options: ScanOptions, compiler: RuleCache, engine: DetectionEngine,
        correlations: CorrelationEngine, behaviour: BehaviourEngine, context: DecoderContext = DecoderContext(),
        requestedFields: Set<String>
    ) {
        self.behaviour = behaviour
        self.input = input
        self.options = options
        self.compiler = compiler
        self.engine = engine
        self.correlations = correlations
        engineClock = Unmanaged.passUnretained(engine)
        correlationClock = Unmanaged.passUnretained(correlations)
        self.context = context
        self.requestedFields = requestedFields
        originPath = input.isStandardInput ? "<stdin>" : input.path
        matches.reserveCapacity(16)
    }

    mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
        if decoder == nil {
            if gaveUp { return }
            if isBlank(bytes, count) { return }
            firstLineNumber = number
            let name = input.isStandardInput ? "" : input.path
            guard let format = options.forcedFormat ?? FormatSniffer.sniff(bytes, count, fileName: name) else {
                gaveUp = true
                return
            }
            guard
                let d = makeDecoder(
                    format: format, fileName: name, requestedFields: requestedFields, maxLineLength: options.maxLineLength,
                    context: context)
            else {
                unsupportedFormat = format
                gaveUp = true
                return
            }
            refs = DecoderRefs(d)
            if let syslogRef { syslogRef._withUnsafeGuaranteedRef { $0.switchesInPlace = true } }
            formatName = format.rawValue
            adopt(d.schema)
        }
        var outcome = decode(bytes, count)
        if case .schemaChanged = outcome {
            guard let decoder else { return }
            adopt(decoder.schema)
            outcome = decode(bytes, count)
        } else if let syslogRef, syslogRef._withUnsafeGuaranteedRef({ $0.schemaIdentity }) != adoptedIdentity {
            let id = syslogRef._withUnsafeGuaranteedRef { $0.schemaIdentity }
            var k = 0
            while k < others.count && others[k].identity != id { k += 1 }
            if k < others.count {
                exchange(with: k)
            } else {
                adopt(syslogRef._withUnsafeGuaranteedRef { $0.schema })
            }
        }
        switch outcome {
        case .event:
            events += 1
            if let t = record.timestamp {
                engineClock._withUnsafeGuaranteedRef { $0.advance(to: t) }
                correlationClock._withUnsafeGuaranteedRef { $0.advance(to: t) }
            }
            if feedsBehaviour, let decoder {
                behaviour.observe(
                    record: record, schema: decoder.schema,
                    origin: EventOrigin(path: originPath, line: number, byteOffset: offset))
            }
            guard let compiledRef else { return }
            // one by one: the generic range removal of `removeAll(keepingCapacity:)` cost ~80 instructions
            while !matches.isEmpty { matches.removeLast() }
            if deferLate {
                let pending = compiledRef._withUnsafeGuaranteedRef {
                    $0.matches(record, scratch: &scratch, deferringLateInto: &matches)
                }
                if pending { matchLate(bytes, count, compiledRef) }
            } else {
                compiledRef._withUnsafeGuaranteedRef { $0.matches(record, scratch: &scratch, into: &matches) }
            }
            if !matches.isEmpty { report(bytes, count, number: number, offset: offset) }
        case .malformed(let reason):
            malformed += 1
            malformedByReason[reason.rawValue, default: 0] += 1
            if samples.count < 16 { samples.append((number, reason.rawValue)) }
        case .skipped, .schemaChanged:
            break
        }
    }

    @inline(__always)
    mutating func decode(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> DecodeOutcome {
        refs.decode(bytes, count, fieldCount: fieldCount, into: &record)
    }

    /// The second pass of `deferLate`: the line decoded in full, then its deferred rules (matches in rule order, as
    /// one pass would give them).
    @inline(never)
    mutating func matchLate(_ bytes: UnsafePointer<UInt8>, _ count: Int, _ c: Unmanaged<CompiledRuleSet>) {
        var full = DecodeOutcome.skipped
        if let tsv { full = tsv.decodeAllFields(bytes, count, into: &record) }
        if let json { full = json.decodeAllFields(bytes, count, into: &record) }
        if case .event = full {
            c._withUnsafeGuaranteedRef { $0.matchDeferred(record, scratch: &scratch, into: &matches) }
            matches.sort()
        } else {
            // the fields past the first pass do not decode: the deferred rules cannot hold
            c._withUnsafeGuaranteedRef { $0.dropDeferred(scratch: &scratch) }
        }
    }

    /// A line matched: hand it to the engine with every field decoded.
    mutating func report(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
        guard let decoder else { return }
        if let tsv { _ = tsv.decodeAllFields(bytes, count, into: &record) }
        if let json { _ = json.decodeAllFields(bytes, count, into: &record) }
        if let syslogRef, syslogRef._withUnsafeGuaranteedRef({ $0.headerOnly }) {
            _ = syslogRef._withUnsafeGuaranteedRef { $0.decodeAllFields(bytes, count, into: &record) }
        }
        let origin = EventOrigin(path: originPath, line: number, byteOffset: offset)
        let schema = decoder.schema
        for m in matches {
            if correlations.isReferenced(ruleIndex: m) {
                correlations.observe(ruleIndex: m, record: record, schema: schema, origin: origin)
            }
            if !correlations.isSilenced(ruleIndex: m) {
                engine.matched(ruleIndex: m, record: record, schema: schema, origin: origin)
            }
        }
    }

    /// Makes the schema kept in `others[k]` current again, and keeps the current one there instead.
    mutating func exchange(with k: Int) {
        swap(&adoptedIdentity, &others[k].identity)
        swap(&adoptedSchema, &others[k].schema)
        swap(&compiled, &others[k].compiled)
        swap(&feedsBehaviour, &others[k].feedsBehaviour)
        swap(&fieldCount, &others[k].fieldCount)
        compiledRef = compiled.map { Unmanaged.passUnretained($0) }
    }

    mutating func adopt(_ schema: Schema) {
        if let adoptedSchema, let compiled, adoptedSchema !== schema {
            // remember what the current schema needs (bounded: the oldest of four is replaced)
            let state = AdoptedState(
                identity: adoptedIdentity, schema: adoptedSchema, compiled: compiled, feedsBehaviour: feedsBehaviour,
                fieldCount: fieldCount)
            if let k = others.firstIndex(where: { $0.identity == adoptedIdentity }) {
                others[k] = state
            } else if others.count < Self.othersCapacity {
                others.append(state)
            } else {
                others[othersNext] = state
                othersNext = (othersNext + 1) % Self.othersCapacity
                othersEvicted += 1
            }
            if others.count > othersHighWater { othersHighWater = others.count }
        }
        let identity = Unmanaged.passUnretained(schema).toOpaque()
        if others.contains(where: { $0.identity == identity }) { others.removeAll { $0.identity == identity } }
        record.ensureCapacity(schema.fieldCount)
        fieldCount = schema.fieldCount
        adoptedIdentity = identity
        adoptedSchema = schema
        // Syslog switches schema with the program every few lines: remember what each schema object needs.
        let c: CompiledRuleSet
        var known = -1
        for k in adopted.indices where adopted[k].schema === schema {
            known = k
            break
        }
        if known >= 0 {
            c = adopted[known].compiled
            feedsBehaviour = adopted[known].feedsBehaviour
        } else {
            c = compiler.compiled(for: schema, evictions: &sharedEvicted)
            feedsBehaviour = behaviour.wants(schema)
            if adopted.count == 32 {  // bounded; decoders reuse a few schema objects
                adopted.removeFirst()
                adoptedEvicted += 1
            }
            let h = SyslogDecoder.headerFieldCount
            let headerOnly = syslogRef != nil && !feedsBehaviour && c.referencedSlots.allSatisfy { $0 < h }
            adopted.append((schema, c, feedsBehaviour, headerOnly))
            // the decoder remembers it per schema object (a matching line is decoded in full in `report`)
            if let syslogRef { syslogRef._withUnsafeGuaranteedRef { $0.setHeaderOnly(headerOnly) } }
        }
        compiled = c
        compiledRef = Unmanaged.passUnretained(c)
        deferLate = false
        if tsv != nil || json != nil {
            deferLate = !feedsBehaviour && !c.lateSlots.isEmpty
            let slots = feedsBehaviour ? nil : deferLate ? c.firstPassSlots : c.referencedSlots
            tsv?.decodeOnly(slots: slots)
            json?.decodeOnly(slots: slots)
        }
    }

    func finish() {
        record.deallocate()
        scratch.deallocate()
    }

    /// The per-input counts `finishInput` reports.
    var counts: InputLineCounts {
        InputLineCounts(
            events: events, malformed: malformed, malformedByReason: malformedByReason, samples: samples,
            formatName: formatName, unsupportedFormat: unsupportedFormat, firstLineNumber: firstLineNumber,
            keptSchemasEvicted: othersEvicted, keptSchemasHighWater: othersHighWater, adoptedSchemasEvicted: adoptedEvicted,
            sharedRuleSetsEvicted: sharedEvicted.ruleSets, sharedSchemasEvicted: sharedEvicted.schemas)
    }

    @inline(__always) func isBlank(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for i in 0..<n where p[i] != 32 && p[i] != 9 { return false }
        return true
    }
}
