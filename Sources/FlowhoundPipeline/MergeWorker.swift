import FlowhoundCore
import FlowhoundIngest
import FlowhoundParse
import FlowhoundRules

/// A line copied out of the framer, and where it lies in its batch's arena.
struct BatchLine {
    var start: Int
    var count: Int
    var number: Int64
    var offset: Int64
    /// Merge key (`EventMerge`): nanoseconds of log time.
    var key: Int64
    /// The key is this line's own event time (not inherited from the line before).
    var timed: Bool
    /// What the worker's stage left for the merge about this line (`LineBatch.notes`), or -1.
    var note: Int32 = -1
}

/// What the worker's stage (`ScanStage`) left for the merge about one line: the decoded record kept for the
/// stateful engines (first slot in `LineBatch.values`, or -1), its schema (`LineBatch.schemas`), whether the
/// behavioural detectors read it, the rules it matched (`LineBatch.matches`) and the rule sets adopted at this
/// line (`LineBatch.adoptions`). Only lines with something to say have one, so most lines stay small.
struct LineNote {
    var record: Int32 = -1
    var schema: Int32 = 0
    var matchStart: Int32 = 0
    var matchCount: Int32 = 0
    var adoptStart: Int32 = 0
    var adoptCount: Int32 = 0
    var feedsBehaviour = false
}

/// Lines of one input copied into one arena, so they outlive the framer buffer they were read from, with what
/// the worker's stage found in them (decoded records, rule matches).
///
/// Each line is followed by a `\n` and the arena by 64 zero bytes, so a consumer may read up to 64 bytes past a
/// line, as `LineSink` promises (bytes after the last line are readable but not cleared: only what is written
/// is touched, so a small input's batch costs no more than its lines).
///
/// A kept record's values point into its line in the arena, or (bytes the decoder unescaped into its own scratch)
/// into side blocks the batch owns; records and side bytes count against `capacity`, so a batch holds about
/// `capacity` bytes however many records it keeps. Nothing moves while the batch holds lines: the arena is only
/// replaced when empty, records are addressed by index.
final class LineBatch: @unchecked Sendable {
    private(set) var arena: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var used = 0
    private(set) var lines: [BatchLine] = []
    static let padding = 64
    /// Notes of the lines that have one (`BatchLine.note`).
    private(set) var notes: [LineNote] = []
    /// Slot values of kept records (`LineNote.record` indexes them).
    private(set) var values: UnsafeMutablePointer<FieldValue>
    private var valueCapacity = 0
    private var valueCount = 0
    /// Rule indices matched by lines (`LineNote.matchStart`).
    private(set) var matches: [Int] = []
    /// Schemas of kept records (`LineNote.schema`; consecutive records of one schema share an entry).
    private(set) var schemas: [Schema] = []
    /// Rule sets adopted by the worker (their compile diagnostics are reported when the merge reaches the line).
    private(set) var adoptions: [CompiledRuleSet] = []
    /// Side blocks for value bytes outside the line; the first is kept across `reset`.
    private var blocks: [(UnsafeMutablePointer<UInt8>, Int)] = []
    private var blockUsed = 0
    /// Bytes of records and side blocks, counted with the lines against `capacity`.
    private(set) var annexBytes = 0
    static let blockBytes = 16 << 10

    init(bytes: Int) {
        capacity = max(bytes, 64)
        arena = .allocate(capacity: capacity + LineBatch.padding)
        (arena + capacity).initialize(repeating: 0, count: LineBatch.padding)
        values = .allocate(capacity: 1)
    }

    deinit {
        arena.deallocate()
        values.deallocate()
        for (b, _) in blocks { b.deallocate() }
    }

    var isEmpty: Bool { lines.isEmpty }

    /// Whether a line of `count` bytes still fits (an empty batch takes any line: it grows).
    @inline(__always) func fits(_ count: Int) -> Bool { used + annexBytes + count + 1 <= capacity }

    @discardableResult
    func append(_ p: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64, key: Int64, timed: Bool)
        -> BatchLine
    {
        if used + count + 1 > capacity {
            precondition(lines.isEmpty, "append to a full batch")
            arena.deallocate()
            capacity = count + 1
            arena = .allocate(capacity: capacity + LineBatch.padding)
            (arena + capacity).initialize(repeating: 0, count: LineBatch.padding)
        }
        (arena + used).update(from: p, count: count)
        arena[used + count] = 10
        let line = BatchLine(start: used, count: count, number: number, offset: offset, key: key, timed: timed)
        lines.append(line)
        used += count + 1
        return line
    }

    /// Gives line `i` its own event time as merge key.
    @inline(__always) func setKey(_ i: Int, _ key: Int64) {
        lines[i].key = key
        lines[i].timed = true
    }

    /// The note of line `i`, made if it has none yet.
    private func noteIndex(_ i: Int) -> Int {
        if lines[i].note >= 0 { return Int(lines[i].note) }
        lines[i].note = Int32(notes.count)
        notes.append(LineNote())
        annexBytes += MemoryLayout<LineNote>.stride
        return notes.count - 1
    }

    /// Notes the rule sets the worker adopted while decoding line `i`.
    func noteAdoptions(_ i: Int, _ sets: [CompiledRuleSet]) {
        let k = noteIndex(i)
        notes[k].adoptStart = Int32(adoptions.count)
        notes[k].adoptCount = Int32(sets.count)
        adoptions += sets
    }

    /// Keeps the record decoded from line `i` (first `fieldCount` slots) with its schema, detector flag and
    /// matched rules, for the merge. Values outside the line are copied into side blocks.
    func keep(
        _ record: borrowing EventRecord, schema: Schema, line i: Int, feedsBehaviour: Bool, matches m: [Int]
    ) {
        let n = min(schema.fieldCount, record.capacity)
        if valueCount + n > valueCapacity {
            // doubling, but never much past what the byte budget lets a batch keep
            let budget = capacity / MemoryLayout<FieldValue>.stride + n
            let grown = max(valueCount + n, min(max(valueCapacity * 2, 64), budget))
            let fresh = UnsafeMutablePointer<FieldValue>.allocate(capacity: grown)
            fresh.moveInitialize(from: values, count: valueCount)
            values.deallocate()
            values = fresh
            valueCapacity = grown
        }
        let lo = UnsafePointer(arena + lines[i].start)
        let hi = lo + lines[i].count + 1
        let out = values + valueCount
        for s in 0..<n {
            var v = record.values[s]
            if let b = v.base, !(b >= lo && b + v.count <= hi) { v.base = copyAside(b, v.count) }
            (out + s).initialize(to: v)
        }
        if schemas.last !== schema { schemas.append(schema) }
        let k = noteIndex(i)
        notes[k].record = Int32(valueCount)
        notes[k].schema = Int32(schemas.count - 1)
        notes[k].feedsBehaviour = feedsBehaviour
        notes[k].matchStart = Int32(matches.count)
        notes[k].matchCount = Int32(m.count)
        matches += m
        valueCount += n
        annexBytes += n * MemoryLayout<FieldValue>.stride + m.count * MemoryLayout<Int>.stride
    }

    /// Slot values of the record kept at `start` (valid until `reset`).
    @inline(__always) func record(at start: Int32) -> UnsafeMutablePointer<FieldValue> { values + Int(start) }

    private func copyAside(_ p: UnsafePointer<UInt8>, _ count: Int) -> UnsafePointer<UInt8> {
        if blocks.isEmpty || blockUsed + count > blocks[blocks.count - 1].1 {
            let size = max(LineBatch.blockBytes, count)
            blocks.append((.allocate(capacity: size), size))
            blockUsed = 0
        }
        let dst = blocks[blocks.count - 1].0 + blockUsed
        dst.update(from: p, count: count)
        blockUsed += count
        annexBytes += count
        return UnsafePointer(dst)
    }

    /// Empties the batch for reuse. Bytes after the last line of the next use may be stale lines of this one:
    /// readable, as promised; the 64 bytes after `capacity` are never written and stay zero.
    func reset() {
        used = 0
        lines.removeAll(keepingCapacity: true)
        if valueCount > 0 { values.deinitialize(count: valueCount) }
        valueCount = 0
        notes.removeAll(keepingCapacity: true)
        matches.removeAll(keepingCapacity: true)
        schemas.removeAll(keepingCapacity: true)
        adoptions.removeAll(keepingCapacity: true)
        while blocks.count > 1 { blocks.removeLast().0.deallocate() }
        if let first = blocks.first, first.1 > LineBatch.blockBytes {
            first.0.deallocate()
            blocks.removeAll()
        }
        blockUsed = 0
        annexBytes = 0
    }
}

/// The bounded queue between one input's worker and the merge.
final class InputFeed: @unchecked Sendable {
    private let lock = ConditionLock()
    private var ready: [LineBatch] = []
    private var spare: [LineBatch] = []
    private var done = false
    private let depth: Int
    private let batchBytes: Int
    /// Set before the worker starts when it runs on the merging thread: never wait for room.
    var unbounded = false
    /// Valid once the worker has finished (`next()` returned nil).
    private(set) var summary = IngestSummary()
    private(set) var error: IngestError?

    init(depth: Int, batchBytes: Int) {
        self.depth = depth
        self.batchBytes = batchBytes
    }

    /// An empty batch for the producer (a recycled one when there is one).
    func emptyBatch() -> LineBatch {
        lock.lock()
        let b = spare.popLast()
        lock.unlock()
        return b ?? LineBatch(bytes: batchBytes)
    }

    /// Producer: queue a filled batch, waiting while `depth` batches are ready.
    func push(_ b: LineBatch) {
        lock.lock()
        while !unbounded && ready.count >= depth { lock.wait() }
        ready.append(b)
        lock.broadcast()
        lock.unlock()
    }

    /// Producer: the input has been read to its end.
    func finish(summary: IngestSummary, error: IngestError?) {
        lock.lock()
        self.summary = summary
        self.error = error
        done = true
        lock.broadcast()
        lock.unlock()
    }

    /// Consumer: the next batch, waiting for one; nil when the input has ended and every batch was taken.
    func next() -> LineBatch? {
        lock.lock()
        defer { lock.unlock() }
        while ready.isEmpty && !done { lock.wait() }
        if ready.isEmpty { return nil }
        let b = ready.removeFirst()
        lock.broadcast()
        return b
    }

    /// Consumer: a batch it has finished with.
    func recycle(_ b: LineBatch) {
        b.reset()
        lock.lock()
        if spare.count < 2 { spare.append(b) }
        lock.unlock()
    }
}

/// The per-line work done on an input's worker thread before the merge: whatever depends on the line and its
/// input alone (decoding, rule matching). It must not touch state shared between inputs; what the merge needs is
/// left in the batch.
protocol MergeStage {
    /// Looks at `line`, line `index` of `batch` (just appended); returns its event time when it is an event with one.
    mutating func process(_ batch: LineBatch, _ index: Int, _ line: BatchLine) -> Int64?
    /// Once true, the rest of the input is not queued (its format cannot be told).
    var stopped: Bool { get }
    /// Frees per-input buffers; called on the worker thread once the input has been read.
    mutating func release()
}

/// Takes merged lines, in merge order, on the merging thread.
protocol MergeSink {
    /// `line` is one of `batch.lines`.
    mutating func merged(_ batch: LineBatch, _ line: BatchLine)
}

/// Reads one input on its own thread: frames it, runs its stage on each line (at least: decode the timestamp) and
/// queues the lines with their merge keys and what the stage found.
final class MergeWorker<Stage: MergeStage>: @unchecked Sendable {
    let input: InputSpec
    let feed: InputFeed
    let permits: CountingSemaphore
    let ingest: IngestOptions
    let firstKey: Int64
    let batchLines: Int
    /// Owned by the worker thread until `feed` reports the end of the input; then by the merge.
    private(set) var stage: Stage

    init(
        input: InputSpec, feed: InputFeed, permits: CountingSemaphore, ingest: IngestOptions, stage: Stage,
        firstKey: Int64, batchLines: Int
    ) {
        self.input = input
        self.feed = feed
        self.permits = permits
        self.ingest = ingest
        self.stage = stage
        self.firstKey = firstKey
        self.batchLines = batchLines
    }

    func run() {
        permits.acquire()
        var sink = StagedSink(worker: self, batch: feed.emptyBatch(), lastKey: firstKey, stage: stage)
        let (summary, error) = ingestLines(path: input.path, options: ingest, into: &sink)
        sink.stage.release()
        stage = sink.stage
        let last = sink.batch.isEmpty ? nil : sink.batch
        // never wait for room while holding a permit: another input's worker may need it for the merge to go on
        permits.release()
        if let last { feed.push(last) }
        feed.finish(summary: summary, error: error)
    }

    /// Hands a full batch to the merge without holding a decode permit while waiting for room.
    func hand(_ b: LineBatch) -> LineBatch {
        permits.release()
        feed.push(b)
        permits.acquire()
        return feed.emptyBatch()
    }
}

/// The worker's line consumer: copies each line into the batch, then lets the stage look at it there (so what the
/// stage keeps may point into the batch) and keys the line by its event time, or the key of the line before.
struct StagedSink<Stage: MergeStage>: LineSink {
    let worker: MergeWorker<Stage>
    var batch: LineBatch
    var lastKey: Int64
    var stage: Stage

    mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
        if stage.stopped { return }
        if !batch.isEmpty && (!batch.fits(count) || batch.lines.count >= worker.batchLines) {
            batch = worker.hand(batch)
        }
        let l = batch.append(bytes, count, number: number, offset: offset, key: lastKey, timed: false)
        let i = batch.lines.count - 1
        if let t = stage.process(batch, i, l) {
            lastKey = t
            batch.setKey(i, t)
        }
    }
}

/// The stage of a merge of plain lines (`EventMerge.run` with a `LineSink`): sniff like `ScanSink`, decode the
/// timestamp only.
///
/// Once the format cannot be told (or is not decoded), the line that showed it is passed on, so the consumer
/// reaches the same verdict, and nothing after it.
struct TimeKeyStage: MergeStage {
    let input: InputSpec
    let forcedFormat: LogFormat?
    let maxLineLength: Int
    let context: DecoderContext
    var refs = DecoderRefs()
    var decoder: (any LineDecoder)? { refs.decoder }
    var tsv: ZeekTSVDecoder? { refs.tsv }
    var json: ZeekJSONDecoder? { refs.json }
    var record = EventRecord(capacity: 64)
    var fieldCount = 0
    var stopped = false

    init(input: InputSpec, forcedFormat: LogFormat?, maxLineLength: Int, context: DecoderContext) {
        self.input = input
        self.forcedFormat = forcedFormat
        self.maxLineLength = maxLineLength
        self.context = context
    }

    mutating func process(_ batch: LineBatch, _ index: Int, _ l: BatchLine) -> Int64? {
        let bytes = UnsafePointer(batch.arena + l.start)
        let count = l.count
        if decoder == nil && !isBlankLine(bytes, count) {
            let name = input.isStandardInput ? "" : input.path
            if let format = forcedFormat ?? FormatSniffer.sniff(bytes, count, fileName: name),
                let d = makeDecoder(
                    format: format, fileName: name, requestedFields: [], maxLineLength: maxLineLength, context: context)
            {
                refs = DecoderRefs(d)
                adopt(d.schema)
            } else {
                stopped = true
                return nil
            }
        }
        guard let decoder else { return nil }
        var outcome = decode(bytes, count)
        if case .schemaChanged = outcome {
            adopt(decoder.schema)
            outcome = decode(bytes, count)
        }
        if case .event = outcome, let t = record.timestamp { return t.nanoseconds }
        return nil
    }

    @inline(__always) mutating func decode(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> DecodeOutcome {
        refs.decode(bytes, count, fieldCount: fieldCount, into: &record)
    }

    mutating func adopt(_ schema: Schema) {
        record.ensureCapacity(schema.fieldCount)
        fieldCount = schema.fieldCount
        tsv?.decodeOnly(slots: [])
        json?.decodeOnly(slots: [])
    }

    mutating func release() { record.deallocate() }
}

/// A `LineSink` fed from the merge.
struct LineForwarder<S: LineSink>: MergeSink {
    var sink: S

    @inline(__always) mutating func merged(_ batch: LineBatch, _ l: BatchLine) {
        sink.line(UnsafePointer(batch.arena + l.start), l.count, number: l.number, offset: l.offset)
    }
}

@inline(__always) func isBlankLine(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for i in 0..<n where p[i] != 32 && p[i] != 9 { return false }
    return true
}

/// At most `count` holders at a time.
final class CountingSemaphore: @unchecked Sendable {
    private let lock = ConditionLock()
    private var available: Int

    init(_ count: Int) { available = count }

    func acquire() {
        lock.lock()
        while available == 0 { lock.wait() }
        available -= 1
        lock.unlock()
    }

    func release() {
        lock.lock()
        available += 1
        lock.broadcast()
        lock.unlock()
    }
}
