import FlowhoundCore
import FlowhoundIngest
import FlowhoundParse

/// Several inputs as one stream in log-time order (DESIGN.md §6): inputs are read, inflated, framed, decoded and
/// matched against the rules on worker threads (each input's `MergeStage`: what depends on the line alone), and
/// their lines are merged by event time on the calling thread, which alone feeds the order-dependent state —
/// correlations, behavioural detectors, finding merging and output (`MergeSink`). For `scan` the stages are
/// `ScanStage` and `ScanMergeSink`; with a plain `LineSink` the stage only decodes timestamps.
///
/// - Order. Each line carries a key: the log time of its event, or for a line that is not an event with a time
///   (a Zeek header, a malformed line, an event without a timestamp) the key of the line before it in the same
///   input (the input's first event time for leading lines). The merge is a k-way merge of the inputs' line
///   sequences by (key, input position): lines of one input keep their file order; between inputs the smaller
///   key goes first and equal keys go in input order (the order `plan` gives: first event time, then the order
///   the inputs were named). The order depends only on the inputs' content and names, never on `jobs` or on
///   thread timing, so output is byte-identical for every `jobs`.
/// - Admission. An input is opened (joins the merge) when its first event time is not after the smallest key
///   of the open inputs, so 480 hourly files are never all open at once. At most `maxOpenInputs` inputs are
///   open; when more overlap, the next one waits until an open one ends, and its events then arrive behind the
///   merged time (counted in `delayedAdmissions`; the engines' late tolerance decides what they still count).
///   Inputs whose first event time is unknown (no timestamp in the probed start, unknown format) go last;
///   standard input goes first.
/// - Lateness: an event whose time is more than `lateTolerance` behind the newest key merged so far is still
///   processed and counted in `lateLines` (Zeek writes long connections when they end, so some are normal).
/// - Bounds. A worker copies lines into batches of at most `batchBytes` (or one line, if longer) and
///   `batchLines`; the records, notes and matches its stage keeps count against those bytes. Each open input
///   holds at most `queueDepth` ready batches plus the one being filled and the one being merged, so memory is
///   about `maxOpenInputs × (queueDepth + 2) × (batchBytes + 48 × batchLines)` plus each open reader's framer
///   (`IngestOptions.outputChunkSize + maxLineLength`). `jobs` workers decode at a time (a counting semaphore;
///   a worker waiting for room in its queue does not hold one); threads exist only for open inputs and the next
///   `jobs` ones being read ahead.
package enum EventMerge {
    package struct Options: Sendable {
        /// Inputs decoded at the same time.
        package var jobs = 1
        /// Inputs in the merge at once (each holds a reader, a framer and a few batches).
        package var maxOpenInputs = 32
        package var batchBytes = 256 << 10
        package var batchLines = 4096
        package var queueDepth = 2
        package var lateTolerance: Int64 = 300 * 1_000_000_000
        package init() {}
    }

    package struct Stats: Sendable, Equatable {
        /// Events merged more than `lateTolerance` behind the newest key already merged.
        package var lateLines: Int64 = 0
        /// Inputs that had to wait for a free place because `maxOpenInputs` were open.
        package var delayedAdmissions = 0
        /// Most inputs open at once.
        package var openHighWater = 0
        /// `Options.lateTolerance` in seconds, for the report.
        package var toleranceSeconds: Int64 = 300
        package init() {}
    }

    /// One input to merge and the log time of its first event (nil: unknown).
    package struct Planned: Sendable {
        package var input: InputSpec
        package var firstTime: Timestamp?
    }

    /// The merge order of `inputs`: by first event time (probed with the scan's own decoder, as `InputOrdering`
    /// does), ties and unknown times in the given order; standard input first, inputs without a known first
    /// event time last.
    package static func plan(
        _ inputs: [InputSpec], forcedFormat: LogFormat?, context: (InputSpec) -> DecoderContext
    ) -> [Planned] {
        let probed = inputs.enumerated().map { (i, input) -> (Int, Planned, Int64) in
            if input.isStandardInput { return (i, Planned(input: input, firstTime: nil), .min) }
            let t = InputOrdering.firstEventTime(path: input.path, forcedFormat: forcedFormat, context: context(input))
            return (i, Planned(input: input, firstTime: t), t?.nanoseconds ?? .max)
        }
        return probed.sorted { $0.2 != $1.2 ? $0.2 < $1.2 : $0.0 < $1.0 }.map(\.1)
    }

    /// The key an input enters the merge with.
    static func admissionKey(_ p: Planned) -> Int64 {
        p.input.isStandardInput ? .min : (p.firstTime?.nanoseconds ?? .max)
    }

    /// Merges `planned` (in `plan` order) into `S` sinks: `openSink(i)` makes the sink of input `i` when it joins the
    /// merge, every line goes to that sink's `line` in merged order, and `closeSink(i, &sink, summary, error)` is
    /// called when input `i` has been read to its end (in the order inputs end in the merge).
    package static func run<S: LineSink>(
        _ planned: [Planned], options: Options, forcedFormat: LogFormat?,
        ingestOptions: (InputSpec) -> IngestOptions, context: (InputSpec) -> DecoderContext,
        openSink: (Int) -> S, closeSink: (Int, inout S, IngestSummary, IngestError?) -> Void
    ) -> Stats {
        run(
            planned, options: options, ingestOptions: ingestOptions,
            makeStage: { i in
                TimeKeyStage(
                    input: planned[i].input, forcedFormat: forcedFormat,
                    maxLineLength: ingestOptions(planned[i].input).maxLineLength, context: context(planned[i].input))
            },
            openSink: { LineForwarder(sink: openSink($0)) },
            closeSink: { i, forwarder, _, summary, error in closeSink(i, &forwarder.sink, summary, error) })
    }

    /// The merge itself: `makeStage(i)` makes the per-line work of input `i`, run on its worker thread (decode,
    /// match: `MergeStage`); `openSink(i)` the consumer of its lines on this thread, which gets them in merged
    /// order with what the stage left in the batch; `closeSink(i, &sink, stage, summary, error)` is called when
    /// input `i` has been read to its end (in the order inputs end in the merge), with the stage as the worker
    /// left it.
    static func run<Stage: MergeStage, S: MergeSink>(
        _ planned: [Planned], options: Options, ingestOptions: (InputSpec) -> IngestOptions,
        makeStage: (Int) -> Stage, openSink: (Int) -> S,
        closeSink: (Int, inout S, Stage, IngestSummary, IngestError?) -> Void
    ) -> Stats {
        var stats = Stats()
        stats.toleranceSeconds = options.lateTolerance / 1_000_000_000
        let n = planned.count
        if n == 0 { return stats }
        let permits = CountingSemaphore(max(1, options.jobs))
        let maxOpen = max(1, options.maxOpenInputs)
        var feeds = [InputFeed?](repeating: nil, count: n)
        var workers = [MergeWorker<Stage>?](repeating: nil, count: n)
        var started = 0  // inputs [0, started) have a worker

        func start(upTo limit: Int) {
            while started < min(limit, n) {
                let p = planned[started]
                let feed = InputFeed(depth: max(1, options.queueDepth), batchBytes: options.batchBytes)
                // the framer's decode window need not exceed a batch: less memory per open input
                var ingest = ingestOptions(p.input)
                ingest.outputChunkSize = min(ingest.outputChunkSize, max(64 << 10, options.batchBytes))
                let job = MergeWorker(
                    input: p.input, feed: feed, permits: permits, ingest: ingest, stage: makeStage(started),
                    firstKey: admissionKey(p), batchLines: max(1, options.batchLines))
                feeds[started] = feed
                workers[started] = job
                if !startThread({ job.run() }) {
                    feed.unbounded = true  // no thread: read it here, whole (rare: thread creation failed)
                    job.run()
                }
                started += 1
            }
        }

        var active: [MergeCursor<S>] = []
        var next = 0  // the next input to admit
        var newest = Int64.min
        let tolerance = options.lateTolerance

        /// Input `position` has ended: hand its sink and stage to `closeSink`, drop its worker.
        func close(_ position: Int, _ sink: inout S, _ feed: InputFeed) {
            if let worker = workers[position] { closeSink(position, &sink, worker.stage, feed.summary, feed.error) }
            feeds[position] = nil
            workers[position] = nil
        }

        /// Takes the next non-empty batch of `c`'s input; false when the input has ended (then closed).
        func advanceBatch(_ c: MergeCursor<S>) -> Bool {
            guard let feed = feeds[c.position] else { return false }
            feed.recycle(c.batch)
            if let b = feed.next() {
                c.batch = b
                c.index = 0
                return true
            }
            close(c.position, &c.sink, feed)
            return false
        }

        func admit() {
            let position = next
            next += 1
            start(upTo: next + max(1, options.jobs))
            guard let feed = feeds[position] else { return }
            var sink = openSink(position)
            guard let first = feed.next() else {
                close(position, &sink, feed)
                return
            }
            active.append(MergeCursor(position: position, sink: sink, batch: first))
            stats.openHighWater = max(stats.openHighWater, active.count)
        }

        @inline(__always) func before(_ k1: Int64, _ p1: Int, _ k2: Int64, _ p2: Int) -> Bool {
            k1 < k2 || (k1 == k2 && p1 < p2)
        }

        var lastDelayed = -1  // the waiting input already counted
        start(upTo: max(1, options.jobs))
        while true {
            // the open input with the smallest head, and the bound its run may go up to
            var best = -1
            var boundKey = Int64.max
            var boundPosition = Int.max
            for (j, c) in active.enumerated() {
                if best < 0 || before(c.key, c.position, active[best].key, active[best].position) {
                    if best >= 0 { (boundKey, boundPosition) = (active[best].key, active[best].position) }
                    best = j
                } else if before(c.key, c.position, boundKey, boundPosition) {
                    (boundKey, boundPosition) = (c.key, c.position)
                }
            }
            if next < n {
                let k = admissionKey(planned[next])
                if active.count < maxOpen {
                    if best < 0 || !before(active[best].key, active[best].position, k, next) {
                        admit()
                        continue
                    }
                    if before(k, next, boundKey, boundPosition) { (boundKey, boundPosition) = (k, next) }
                } else if before(k, next, boundKey, boundPosition) && lastDelayed != next {
                    // the merge passes the next input's first event while it waits for a free place
                    stats.delayedAdmissions += 1
                    lastDelayed = next
                }
            }
            if best < 0 { break }
            // merge a run of the best input: its lines up to the bound
            let c = active[best]
            let position = c.position
            var ended = false
            run: while true {
                let batch = c.batch
                let lines = batch.lines
                var i = c.index
                while i < lines.count {
                    let l = lines[i]
                    if !(l.key < boundKey || (l.key == boundKey && position < boundPosition)) {
                        c.index = i
                        break run
                    }
                    if l.key > newest {
                        newest = l.key
                    } else if l.timed && newest &- l.key > tolerance {
                        stats.lateLines += 1
                    }
                    c.sink.merged(batch, l)
                    i += 1
                }
                c.index = i
                if !advanceBatch(c) {
                    ended = true
                    break run
                }
            }
            if ended { active.remove(at: best) }
        }
        return stats
    }
}

/// An input in the merge: its sink, the batch being merged and the position in it.
final class MergeCursor<S: MergeSink> {
    let position: Int
    var sink: S
    var batch: LineBatch
    var index = 0

    init(position: Int, sink: S, batch: LineBatch) {
        self.position = position
        self.sink = sink
        self.batch = batch
    }

    var key: Int64 { batch.lines[index].key }
}
