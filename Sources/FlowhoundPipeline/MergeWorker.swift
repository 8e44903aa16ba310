import FlowhoundCore
import FlowhoundIngest
import FlowhoundParse

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
}

/// Lines of one input copied into one arena, so they outlive the framer buffer they were read from.
///
/// Each line is followed by a `\n` and the arena by 64 zero bytes, so a consumer may read up to 64 bytes past a
/// line, as `LineSink` promises (bytes after the last line are readable but not cleared: only what is written
/// is touched, so a small input's batch costs no more than its lines).
final class LineBatch: @unchecked Sendable {
    private(set) var arena: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var used = 0
    private(set) var lines: [BatchLine] = []
    static let padding = 64

    init(bytes: Int) {
        capacity = max(bytes, 64)
        arena = .allocate(capacity: capacity + LineBatch.padding)
        (arena + capacity).initialize(repeating: 0, count: LineBatch.padding)
    }

    deinit { arena.deallocate() }

    var isEmpty: Bool { lines.isEmpty }

    /// Whether a line of `count` bytes still fits (an empty batch takes any line: it grows).
    @inline(__always) func fits(_ count: Int) -> Bool { used + count + 1 <= capacity }

    func append(_ p: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64, key: Int64, timed: Bool) {
        if !fits(count) {
            precondition(lines.isEmpty, "append to a full batch")
            arena.deallocate()
            capacity = count + 1
            arena = .allocate(capacity: capacity + LineBatch.padding)
            (arena + capacity).initialize(repeating: 0, count: LineBatch.padding)
        }
        (arena + used).update(from: p, count: count)
        arena[used + count] = 10
        lines.append(BatchLine(start: used, count: count, number: number, offset: offset, key: key, timed: timed))
        used += count + 1
    }

    /// Empties the batch for reuse. Bytes after the last line of the next use may be stale lines of this one:
    /// readable, as promised; the 64 bytes after `capacity` are never written and stay zero.
    func reset() {
        used = 0
        lines.removeAll(keepingCapacity: true)
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

/// Reads one input on its own thread: frames it, decodes each line's timestamp (with the decoder the scan
/// uses, told to decode no other field) and queues the lines with their merge keys.
final class MergeWorker: @unchecked Sendable {
    let input: InputSpec
    let feed: InputFeed
    let permits: CountingSemaphore
    let ingest: IngestOptions
    let forcedFormat: LogFormat?
    let context: DecoderContext
    let firstKey: Int64
    let batchLines: Int

    init(
        input: InputSpec, feed: InputFeed, permits: CountingSemaphore, ingest: IngestOptions, forcedFormat: LogFormat?,
        context: DecoderContext, firstKey: Int64, batchLines: Int
    ) {
        self.input = input
        self.feed = feed
        self.permits = permits
        self.ingest = ingest
        self.forcedFormat = forcedFormat
        self.context = context
        self.firstKey = firstKey
        self.batchLines = batchLines
    }

    func run() {
        permits.acquire()
        var sink = KeyingSink(worker: self, batch: feed.emptyBatch(), lastKey: firstKey)
        let (summary, error) = ingestLines(path: input.path, options: ingest, into: &sink)
        let last = sink.finish()
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

/// The worker's line consumer: sniff like `ScanSink`, decode the timestamp, copy the line with its key.
///
/// Once the format cannot be told (or is not decoded), the line that showed it is passed on, so the scan's own
/// sink reaches the same verdict, and nothing after it.
struct KeyingSink: LineSink {
    let worker: MergeWorker
    var batch: LineBatch
    var lastKey: Int64
    var decoder: (any LineDecoder)?
    var tsv: ZeekTSVDecoder?
    var json: ZeekJSONDecoder?
    var record = EventRecord(capacity: 64)
    var fieldCount = 0
    var stopped = false

    init(worker: MergeWorker, batch: LineBatch, lastKey: Int64) {
        self.worker = worker
        self.batch = batch
        self.lastKey = lastKey
    }

    mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
        if stopped { return }
        var timed = false
        if decoder == nil && !isBlank(bytes, count) {
            let name = worker.input.isStandardInput ? "" : worker.input.path
            if let format = worker.forcedFormat ?? FormatSniffer.sniff(bytes, count, fileName: name),
                let d = makeDecoder(
                    format: format, fileName: name, requestedFields: [], maxLineLength: worker.ingest.maxLineLength,
                    context: worker.context)
            {
                decoder = d
                tsv = d as? ZeekTSVDecoder
                json = d as? ZeekJSONDecoder
                adopt(d.schema)
            } else {
                stopped = true
            }
        }
        if let decoder, !stopped {
            var outcome = decode(bytes, count)
            if case .schemaChanged = outcome {
                adopt(decoder.schema)
                outcome = decode(bytes, count)
            }
            if case .event = outcome, let t = record.timestamp {
                lastKey = t.nanoseconds
                timed = true
            }
        }
        if !batch.isEmpty && (!batch.fits(count) || batch.lines.count >= worker.batchLines) {
            batch = worker.hand(batch)
        }
        batch.append(bytes, count, number: number, offset: offset, key: lastKey, timed: timed)
    }

    @inline(__always) mutating func decode(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> DecodeOutcome {
        if let tsv { return tsv.decode(bytes, count, into: &record) }
        if let json { return json.decode(bytes, count, into: &record) }
        guard let decoder else { return .skipped }
        record.reset(fieldCount: fieldCount)
        return decoder.decode(bytes, count, into: &record)
    }

    mutating func adopt(_ schema: Schema) {
        record.ensureCapacity(schema.fieldCount)
        fieldCount = schema.fieldCount
        tsv?.decodeOnly(slots: [])
        json?.decodeOnly(slots: [])
    }

    /// Frees the decoding state; returns the last, partly filled batch (nil when empty) for the worker to queue.
    mutating func finish() -> LineBatch? {
        record.deallocate()
        return batch.isEmpty ? nil : batch
    }

    @inline(__always) func isBlank(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for i in 0..<n where p[i] != 32 && p[i] != 9 { return false }
        return true
    }
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
