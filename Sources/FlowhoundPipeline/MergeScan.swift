import FlowhoundCore
import FlowhoundDetect
import FlowhoundIngest
import FlowhoundParse
import FlowhoundRules

/// What one input's lines came to: counted per input, so independent of where its lines fall in a merge.
struct InputLineCounts {
    var events: Int64 = 0
    var malformed: Int64 = 0
    var malformedByReason: [String: Int64] = [:]
    var samples: [(Int64, String)] = []
    var formatName: String?
    var unsupportedFormat: LogFormat?
    var firstLineNumber: Int64 = 0
    /// The scan sink's schema caches (`ScanSink.others`, `ScanSink.adopted` / `ScanStage.adopted`): schemas
    /// replaced at their caps, and the most the first held at once.
    var keptSchemasEvicted: Int64 = 0
    var keptSchemasHighWater = 0
    var adoptedSchemasEvicted: Int64 = 0
    /// What the input's schemas pushed out of the shared `RuleCache` (`RuleCache.Evictions`).
    var sharedRuleSetsEvicted: Int64 = 0
    var sharedSchemasEvicted: Int64 = 0
}

/// The stateless half of `ScanSink`, run on an input's worker thread when several inputs are merged
/// (`EventMerge`): sniff, decode, match the compiled rules. Nothing here depends on other inputs or on log-time
/// order, so doing it on `jobs` threads cannot change a result.
///
/// For each event it leaves in the batch what the merge needs, and only that: the event time (the merge key),
/// and, when the behavioural detectors read the schema or a rule matched, the record decoded in full with its
/// schema and the matched rule indices (`LineBatch.keep`). The rule sets it adopts are noted at their line so
/// that their compile diagnostics are reported in merge order (`ScanMergeSink`), as `ScanSink` reports them.
struct ScanStage: MergeStage {
    let input: InputSpec
    let forcedFormat: LogFormat?
    let maxLineLength: Int
    let compiler: RuleCache
    /// This stage's own `BehaviourEngine.wants` (the engine itself belongs to the merging thread).
    let interest: BehaviourInterest
    let context: DecoderContext
    let requestedFields: Set<String>
    var refs = DecoderRefs()
    var decoder: (any LineDecoder)? { refs.decoder }
    var tsv: ZeekTSVDecoder? { refs.tsv }
    var json: ZeekJSONDecoder? { refs.json }
    var syslogRef: Unmanaged<SyslogDecoder>? { refs.syslogRef }
    var compiled: CompiledRuleSet?
    var compiledRef: Unmanaged<CompiledRuleSet>?
    var record = EventRecord(capacity: 64)
    var scratch = MatchScratch()
    /// Schemas adopted so far (at most 32, the oldest forgotten first: `counts.adoptedSchemasEvicted`), with their
    /// compiled rules and whether the detectors read them.
    var adopted: [(schema: Schema, compiled: CompiledRuleSet, feedsBehaviour: Bool)] = []
    var feedsBehaviour = false
    var fieldCount = 0
    var matches: [Int] = []
    /// Rule sets adopted while decoding the current line (noted in the batch at that line).
    var adoptedHere: [CompiledRuleSet] = []
    var counts = InputLineCounts()
    var gaveUp = false

    init(
        input: InputSpec, options: ScanOptions, compiler: RuleCache, interest: BehaviourInterest,
        context: DecoderContext, requestedFields: Set<String>
    ) {
        self.input = input
        forcedFormat = options.forcedFormat
        maxLineLength = options.maxLineLength
        self.compiler = compiler
        self.interest = interest
        self.context = context
        self.requestedFields = requestedFields
        matches.reserveCapacity(16)
    }

    var stopped: Bool { gaveUp }

    mutating func process(_ batch: LineBatch, _ index: Int, _ l: BatchLine) -> Int64? {
        let bytes = UnsafePointer(batch.arena + l.start)
        let count = l.count
        if decoder == nil {
            if gaveUp || isBlankLine(bytes, count) { return nil }
            counts.firstLineNumber = l.number
            let name = input.isStandardInput ? "" : input.path
            guard let format = forcedFormat ?? FormatSniffer.sniff(bytes, count, fileName: name) else {
                gaveUp = true
                return nil
            }
            guard
                let d = makeDecoder(
                    format: format, fileName: name, requestedFields: requestedFields, maxLineLength: maxLineLength,
                    context: context)
            else {
                counts.unsupportedFormat = format
                gaveUp = true
                return nil
            }
            refs = DecoderRefs(d)
            counts.formatName = format.rawValue
            adopt(d.schema)
        }
        var outcome = decode(bytes, count)
        if case .schemaChanged = outcome, let decoder {
            adopt(decoder.schema)
            outcome = decode(bytes, count)
        }
        if !adoptedHere.isEmpty {
            batch.noteAdoptions(index, adoptedHere)
            adoptedHere.removeAll(keepingCapacity: true)
        }
        switch outcome {
        case .event:
            counts.events += 1
            let time = record.timestamp?.nanoseconds
            guard let compiledRef, let decoder else { return time }
            if !matches.isEmpty { matches.removeAll(keepingCapacity: true) }
            compiledRef._withUnsafeGuaranteedRef { $0.matches(record, scratch: &scratch, into: &matches) }
            if feedsBehaviour || !matches.isEmpty {
                // what `ScanSink.report` hands the engines: every field decoded
                if !matches.isEmpty {
                    if let tsv { _ = tsv.decodeAllFields(bytes, count, into: &record) }
                    if let json { _ = json.decodeAllFields(bytes, count, into: &record) }
                }
                batch.keep(
                    record, schema: decoder.schema, line: index, feedsBehaviour: feedsBehaviour, matches: matches)
            }
            return time
        case .malformed(let reason):
            counts.malformed += 1
            counts.malformedByReason[reason.rawValue, default: 0] += 1
            if counts.samples.count < 16 { counts.samples.append((l.number, reason.rawValue)) }
            return nil
        case .skipped, .schemaChanged:
            return nil
        }
    }

    @inline(__always)
    mutating func decode(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> DecodeOutcome {
        refs.decode(bytes, count, fieldCount: fieldCount, into: &record)
    }

    mutating func adopt(_ schema: Schema) {
        record.ensureCapacity(schema.fieldCount)
        fieldCount = schema.fieldCount
        let c: CompiledRuleSet
        if let known = adopted.first(where: { $0.schema === schema }) {
            c = known.compiled
            feedsBehaviour = known.feedsBehaviour
        } else {
            var evictions = RuleCache.Evictions()
            c = compiler.compiledUnreported(for: schema, evictions: &evictions)
            counts.sharedRuleSetsEvicted += evictions.ruleSets
            counts.sharedSchemasEvicted += evictions.schemas
            feedsBehaviour = interest.wants(schema)
            if adopted.count == 32 {  // bounded; decoders reuse a few schema objects
                adopted.removeFirst()
                counts.adoptedSchemasEvicted += 1
            }
            adopted.append((schema, c, feedsBehaviour))
        }
        adoptedHere.append(c)
        compiled = c
        compiledRef = Unmanaged.passUnretained(c)
        let slots = feedsBehaviour ? nil : c.referencedSlots
        tsv?.decodeOnly(slots: slots)
        json?.decodeOnly(slots: slots)
    }

    mutating func release() {
        record.deallocate()
        scratch.deallocate()
    }
}

/// The order-dependent half of `ScanSink`, on the merging thread: for each merged line, in log-time order,
/// report the compile diagnostics of rule sets adopted there, move the engines' clocks to the event's time, feed
/// the behavioural detectors and hand matched rules to the correlation and detection engines — the same calls,
/// in the same order, with the same records as `ScanSink` makes when it reads the merged stream itself.
struct ScanMergeSink: MergeSink {
    let compiler: RuleCache
    let engine: DetectionEngine
    let correlations: CorrelationEngine
    let behaviour: BehaviourEngine
    let engineClock: Unmanaged<DetectionEngine>
    let correlationClock: Unmanaged<CorrelationEngine>
    let originPath: String
    /// A record whose storage is swapped for a kept record's slots (its own one slot is freed in `finish`).
    var shell = EventRecord(capacity: 1)

    init(
        input: InputSpec, compiler: RuleCache, engine: DetectionEngine, correlations: CorrelationEngine,
        behaviour: BehaviourEngine
    ) {
        self.compiler = compiler
        self.engine = engine
        self.correlations = correlations
        self.behaviour = behaviour
        engineClock = Unmanaged.passUnretained(engine)
        correlationClock = Unmanaged.passUnretained(correlations)
        originPath = input.isStandardInput ? "<stdin>" : input.path
    }

    @inline(__always) mutating func merged(_ batch: LineBatch, _ l: BatchLine) {
        if l.note < 0 {
            if l.timed { advance(l.key) }
            return
        }
        let note = batch.notes[Int(l.note)]
        if note.adoptCount > 0 {
            for k in Int(note.adoptStart)..<Int(note.adoptStart + note.adoptCount) {
                compiler.report(batch.adoptions[k])
            }
        }
        if l.timed { advance(l.key) }
        if note.record >= 0 { deliver(batch, l, note) }
    }

    @inline(__always) func advance(_ key: Int64) {
        let t = Timestamp(nanoseconds: key)
        engineClock._withUnsafeGuaranteedRef { $0.advance(to: t) }
        correlationClock._withUnsafeGuaranteedRef { $0.advance(to: t) }
    }

    mutating func deliver(_ batch: LineBatch, _ l: BatchLine, _ note: LineNote) {
        let schema = batch.schemas[Int(note.schema)]
        var record = shell
        record.values = batch.record(at: note.record)
        record.capacity = schema.fieldCount
        record.line = UnsafePointer(batch.arena + l.start)
        record.lineLength = l.count
        record.timestamp = l.timed ? Timestamp(nanoseconds: l.key) : nil
        let origin = EventOrigin(path: originPath, line: l.number, byteOffset: l.offset)
        if note.feedsBehaviour { behaviour.observe(record: record, schema: schema, origin: origin) }
        for k in Int(note.matchStart)..<Int(note.matchStart + note.matchCount) {
            let m = batch.matches[k]
            if correlations.isReferenced(ruleIndex: m) {
                correlations.observe(ruleIndex: m, record: record, schema: schema, origin: origin)
            }
            if !correlations.isSilenced(ruleIndex: m) {
                engine.matched(ruleIndex: m, record: record, schema: schema, origin: origin)
            }
        }
    }

    func finish() { shell.deallocate() }
}
