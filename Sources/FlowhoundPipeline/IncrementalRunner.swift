import FlowhoundCore
import FlowhoundDetect
import FlowhoundIngest
import FlowhoundParse
import FlowhoundRules
import FlowhoundSinks
import FlowhoundState

/// What `scan --incremental` (and the catch-up of `tail`) does beyond a plain scan.
package struct IncrementalOptions: Sendable {
    package enum Start: String, Sendable, CaseIterable {
        case beginning, end
    }

    /// The state store (SQLite) holding positions, carried lines and the baseline.
    package var statePath: String
    /// Wait for a running holder of the lock instead of exiting 2.
    package var wait = false
    /// Where to start a file that has no saved position on a first run.
    package var from: Start = .beginning
    /// On a first run also read rotated generations already on disk (otherwise they are old archives).
    package var includeArchives = false
    /// More globs of rotated generations (e.g. an `olddir`), per named file.
    package var rotatedGlobs: [String] = []
    /// Print every new line instead of detecting (`--emit-raw`).
    package var emitRaw = false
    /// Start over when the state file cannot be read (it is moved aside).
    package var resetState = false
    /// Forget a file identity not seen on disk for this long (seconds).
    package var forgetAfterSeconds: Int64 = 7 * 86_400
    /// Most saved identities per named file (the least recently seen are forgotten first, counted).
    package var maxIdentitiesPerFile = 64
    /// A truncated `.gz` younger than this is being written (compressed): read its complete lines, no error.
    package var compressGraceSeconds: Int64 = 600
    /// A rotated plain file unchanged for this long can no longer grow: its unterminated last line is emitted.
    package var rotateGraceSeconds: Int64 = 5
    /// Summary and progress on standard error even when nothing was found.
    package var verbose = false
    /// Carried lines kept at most (detector windows across runs).
    package var maxCarriedLines = 50_000
    /// A first run starts files at their first line at or after this log time (`--since`, `tail --from TIME`).
    package var since: Timestamp?
    /// The zone of syslog stamps for `since` (the site's), and the format when it is forced (`--format`).
    package var sinceZone: LogTimeZone = .utc
    package var sinceFormat: LogFormat?
    package var maxLineLength = 1 << 20
    /// Warn when the state was last committed longer ago than this (seconds of wall-clock time; nil: never).
    package var staleAfterSeconds: Int64?

    package init(statePath: String) { self.statePath = statePath }
}

/// One file of a run: where to start reading and which saved identity it continues.
struct ReadItem {
    var primary: String
    var path: String
    var identity: FileIdentity
    var start: Int64
    var firstLine: Int64
    var marker: [UInt8]
    /// Read without emitting (first run with `--from end`).
    var discard: Bool
    /// The start lies inside a line delivered cut by an earlier run.
    var insideCutLine = false
    /// Read nothing when the marker does not fit (a gap copy after copytruncate), instead of reading from 0.
    var requireMarker = false
}

/// `flowhound scan --incremental --state DB PATH…`: reads only what is new since the last run, including
/// lines written to files that were rotated, renamed or compressed since (ingest.md §2 A and C).
///
/// Per named file: list it and its rotated generations (`RotatedGenerations`), identify each by (device,
/// inode, decoded 1 KiB prefix), give each saved position to the file that carries its identity (preferring the
/// same inode, then an uncompressed copy), check the marker before the offset, read oldest first from there.
/// A generation without a saved position is read from 0 if it changed since the last run started (it was
/// rotated in between), otherwise it is an old archive. The run takes `<state>.lock` (flock) first; findings
/// are written and flushed (and an output file fsynced) **before** the positions, carried lines, baseline and
/// output files' lengths are committed in one SQLite transaction, so a crash never loses lines; an output file
/// is cut back to its committed length on the next start (`OutputRecovery`), so it gets each alert once. Where the
/// files read for the first time start is committed before reading (`commitFirstPlans`), so that a run killed
/// before its commit is not followed by a first run that takes the file it was reading, rotated since, for an archive.
package enum IncrementalRunner {
    package static func run(_ options: ScanOptions, _ inc: IncrementalOptions, diagnostics: (String) -> Void) -> ScanReport {
        var inc = inc
        inc.sinceFormat = options.forcedFormat
        inc.maxLineLength = options.maxLineLength
        var report = ScanReport()
        func fail(_ d: Diagnostic) -> ScanReport {
            report.errors.append(d)
            diagnostics(d.description + "\n")
            return report
        }
        let runStart = wallClockNanoseconds()

        // 1. lock
        let lock: StateLock
        var attempt = StateLock.acquire(statePath: inc.statePath, wait: false)
        if case .failure(.busy(let holder, let since)) = attempt {
            if let w = staleLockWarning(inc, holder: holder, since: since) {
                report.warnings.append(w)
                diagnostics(w.description + "\n")
            }
            if inc.wait { attempt = StateLock.acquire(statePath: inc.statePath, wait: true) }
        }
        switch attempt {
        case .success(let l): lock = l
        case .failure(.busy(let holder, _)):
            return fail(
                Diagnostic(
                    code: "state_locked",
                    "another flowhound run (pid \(holder)) is using this state; this run read nothing. Run again later, "
                        + "or pass --wait to wait for it",
                    at: FileLocation(path: inc.statePath + ".lock")))
        case .failure(.failed(let d)): return fail(d)
        }
        defer { withExtendedLifetime(lock) {} }

        // 2. state
        let store: StateStore
        var saved: IngestState
        var baseline: BaselineSnapshot?
        do {
            (store, saved, baseline) = try openState(inc, diagnostics: diagnostics)
        } catch {
            return fail(error)
        }
        if let w = staleStateWarning(inc, saved: saved, now: runStart) {
            report.warnings.append(w)
            diagnostics(w.description + "\n")
        }

        // 3. output and detection; an output file first loses what was written after the last commit
        if let d = OutputRecovery.prepare(store, saved: saved.outputs, paths: OutputRecovery.filePaths(options), say: diagnostics) {
            return fail(d)
        }
        var raw: RawLineOutput?
        var stack: DetectionStack?
        let journal: CarryJournal? = inc.emitRaw ? nil : CarryJournal(maxLines: inc.maxCarriedLines)
        if inc.emitRaw {
            do { raw = try RawLineOutput(path: options.outputPath) } catch { return fail(error) }
        } else {
            let output: any FindingOutput
            switch AlertWriterOutput.make(options) {
            case .success(let o): output = o
            case .failure(let d): return fail(d)
            }
            let s = DetectionStack(options: options, output: output)
            inc.sinceZone = s.timeZone
            for d in s.diagnostics {
                if d.kind == .error { report.errors.append(d) } else { report.warnings.append(d) }
                diagnostics(d.description + "\n")
            }
            if !s.usable { return report }
            stack = s
            report.rulesLoaded = s.rules.count
            report.detectorsLoaded = options.detectorsEnabled ? s.loaded.detectorRules.count : 0
            replay(saved.carried, into: s, journal: journal, alreadyWritten: saved.findingsWritten)
            if let baseline {
                s.behaviour.restore(baseline)
                report.baselineRestored = true
            }
        }

        // 4. plan and read
        let (primaries, expandErrors) = expandPrimaries(options.paths)
        for d in expandErrors { _ = fail(d) }
        var next = IngestState()
        let named = Set(primaries)
        // identities of files not named this time are kept as they are
        next.checkpoints = saved.checkpoints.filter { !named.contains($0.primary) }
        next.runStarts = saved.runStarts.filter { !named.contains($0.key) }
        var plans: [Planner] = []
        var plannedItems: [[ReadItem]] = []
        for primary in primaries {
            var plan = Planner(primary: primary, saved: saved, options: inc, now: runStart)
            plannedItems.append(plan.build())
            for d in plan.problems {
                if d.kind == .error { report.errors.append(d) } else { report.warnings.append(d) }
                diagnostics(d.description + "\n")
            }
            plans.append(plan)
        }
        if let e = commitFirstPlans(
            plans, plannedItems, saved: saved, store: store, stack: stack, raw: raw, now: runStart)
        {
            return fail(e)
        }
        for (plan, items) in zip(plans, plannedItems) {
            let primary = plan.primary
            var checkpoints = plan.carriedForward
            for item in items {
                var superseded: Checkpoint?
                let (ck, stats, errors) = read(
                    item, stack: stack, raw: raw, journal: journal, inc: inc, now: runStart, superseded: &superseded)
                if let superseded { checkpoints.append(superseded) }
                for e in errors {
                    if e.kind == .error { report.errors.append(e) } else { report.warnings.append(e) }
                    diagnostics(e.description + "\n")
                }
                if let stack {
                    let cds = stack.drainCompileDiagnostics()
                    report.errors += cds.filter { $0.kind == .error }
                    for d in cds { diagnostics(d.description + "\n") }
                }
                report.inputs.append(stats)
                if let ck { checkpoints.append(ck) }
            }
            next.checkpoints += bounded(checkpoints, max: inc.maxIdentitiesPerFile)
            next.runStarts[primary] = runStart
        }

        // 5. findings out first, then the state that covers them
        var snapshot: BaselineSnapshot?
        if let stack {
            stack.finish()
            report.correlationBindingsEvicted = stack.correlations.schemaBindingsEvicted
            if let e = stack.outputFailure { return fail(e) }
            report.findingsWritten = stack.written
            report.findingsAtFailLevel = stack.atFailLevel
            if let journal {
                let newest = journal.entries.last?.time ?? Int64.min
                next.carried = newest == .min ? [] : journal.carried(from: newest &- stack.horizon)
            }
            snapshot = stack.behaviour.snapshot()
            report.baseline = snapshot ?? BaselineSnapshot()
        }
        if let raw {
            raw.sync()
            if let e = raw.failure { return fail(e) }
        }
        // the output files' lengths after that flush go into the same transaction as the positions
        next.outputs = OutputRecovery.positions(stack?.syncedFiles ?? raw?.syncedFile.map { [$0] } ?? [])
        next.committedAt = wallClockNanoseconds()
        do {
            try store.commit(next, baseline: snapshot)
            report.baselineSaved = snapshot != nil
        } catch {
            return fail(error)
        }
        if inc.verbose && !options.quiet { diagnostics(ScanRunner.summaryText(report, samples: options.malformedSamples)) }
        return report
    }

    /// Commits where the files read for the first time start, before anything is read. Without it a run killed
    /// before its only commit left nothing for them: the next run was a first run again and took a file rotated
    /// in between (the one the killed run was reading) for an old archive, so its lines were never read and the
    /// findings the killed run wrote were cut from the output file with nothing to write them again. With their
    /// planned positions (and run start) saved, the next run reads them from there wherever they went, as if the
    /// killed run had read nothing. Everything else is committed as it was saved (positions of files read before,
    /// carried lines, baseline, commit time); the output files at the lengths `OutputRecovery.prepare` left.
    /// A file planned with `--from end` is read from 0 to find its end: that position is not known yet, so it is
    /// left out (a kill before the run's commit starts it over at its end).
    static func commitFirstPlans(
        _ plans: [Planner], _ items: [[ReadItem]], saved: IngestState, store: StateStore, stack: DetectionStack?,
        raw: RawLineOutput?, now: Int64
    ) -> Diagnostic? {
        var begun = saved
        var any = false
        for (plan, planned) in zip(plans, items) where plan.firstRun && !planned.contains(where: \.discard) {
            begun.checkpoints += planned.compactMap { Self.planned($0, now: now) }
            begun.runStarts[plan.primary] = now
            any = true
        }
        guard any else { return nil }
        stack?.sync()
        raw?.sync()
        begun.outputs = OutputRecovery.positions(stack?.syncedFiles ?? raw?.syncedFile.map { [$0] } ?? [])
        do {
            try store.commit(begun, baseline: nil)
        } catch {
            return error
        }
        return nil
    }

    /// `--stale-after`: the saved state was last committed longer ago than that (wall-clock commit time, not
    /// log time: a quiet log is not a stale state). Runs that should have happened did not, or failed.
    static func staleStateWarning(_ inc: IncrementalOptions, saved: IngestState, now: Int64) -> Diagnostic? {
        guard let limit = inc.staleAfterSeconds, saved.committedAt > 0 else { return nil }
        let age = (now - saved.committedAt) / 1_000_000_000
        guard age > limit else { return nil }
        return Diagnostic(
            .warning, code: "state_stale",
            "the saved positions were last committed \(DurationText.describe(age)) ago, more than --stale-after "
                + "\(DurationText.describe(limit)): runs did not happen or failed in between (is the timer or cron job running?)",
            at: FileLocation(path: inc.statePath))
    }

    /// `--stale-after` when the lock is held: the holder took it longer ago than that and may be stuck.
    static func staleLockWarning(_ inc: IncrementalOptions, holder: String, since: Int64) -> Diagnostic? {
        guard let limit = inc.staleAfterSeconds, since > 0 else { return nil }
        let age = wallClockNanoseconds() / 1_000_000_000 - since
        guard age > limit else { return nil }
        return Diagnostic(
            .warning, code: "state_lock_stale",
            "the run holding this lock (pid \(holder)) took it \(DurationText.describe(age)) ago, more than --stale-after "
                + "\(DurationText.describe(limit)); it may be stuck: check it, and kill it to release the lock",
            at: FileLocation(path: inc.statePath + ".lock"))
    }

    /// Opens the store; with `--reset-state` a damaged file is moved aside and a new one started.
    static func openState(_ inc: IncrementalOptions, diagnostics: (String) -> Void) throws(Diagnostic)
        -> (StateStore, IngestState, BaselineSnapshot?)
    {
        do {
            let store = try StateStore(path: inc.statePath)
            return (store, try store.loadIngestState(), try store.loadBaseline())
        } catch {
            guard inc.resetState else {
                var d = error
                d.message += " (pass --reset-state to move it aside and start from the beginning)"
                throw d
            }
            let aside = inc.statePath + ".damaged-\(wallClockNanoseconds() / 1_000_000_000)"
            rename(inc.statePath, aside)
            unlink(inc.statePath + "-wal")
            unlink(inc.statePath + "-shm")
            diagnostics(
                Diagnostic(
                    .warning, code: "state_reset", "could not read the state (\(error.message)); moved it to \(aside) and started over",
                    at: FileLocation(path: inc.statePath)
                ).description + "\n")
            let store = try StateStore(path: inc.statePath)
            return (store, IngestState(), nil)
        }
    }

    /// Files named on the command line: globs expanded, directories walked (each file is its own stream).
    static func expandPrimaries(_ paths: [String]) -> ([String], [Diagnostic]) {
        var out: [String] = []
        var errors: [Diagnostic] = []
        var seen = Set<String>()
        for p in paths {
            if p == "-" {
                errors.append(
                    Diagnostic(code: "bad_input", "--incremental needs files, not standard input", at: FileLocation(path: "<stdin>")))
                continue
            }
            let matches = Glob.expand(p)
            if matches.isEmpty {
                errors.append(Diagnostic(code: "cannot_open", "no file matches this pattern", at: FileLocation(path: p)))
            }
            var files: [String] = []
            for m in matches {
                var st = stat()
                if stat(m, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                    let (inputs, es) = InputExpander.expand([m])
                    errors += es
                    // rotated generations inside a directory belong to their active file
                    let all = inputs.map(\.path)
                    files += all.filter { f in !all.contains { $0 != f && RotatedGenerations.isGeneration(f, of: $0) } }
                } else {
                    files.append(m)
                }
            }
            for f in files where seen.insert(f).inserted { out.append(f) }
        }
        return (out, errors)
    }

    /// Feeds carried lines through the engines with output muted (they go into `journal` again, so that they
    /// are carried on while still inside the horizon), then drops what that re-opened and was already written.
    static func replay(_ carried: [CarriedLine], into stack: DetectionStack, journal: CarryJournal?, alreadyWritten: Bool) {
        guard !carried.isEmpty else { return }
        stack.muted = true
        defer { stack.muted = false }
        var current: String?
        var sink: TrackedSink?
        for l in carried {
            if l.path != current || sink == nil {
                if let s = sink { journal?.setHeader(s.header, for: s.path) }
                sink?.finish()
                current = l.path
                let format = carried.first { $0.path == l.path && !$0.header && !$0.format.isEmpty }.flatMap {
                    LogFormat(rawValue: $0.format)
                }
                sink = TrackedSink(
                    scan: stack.makeSink(path: l.path, forcedFormat: format), raw: nil, journal: journal,
                    correlations: stack.correlations, path: l.path, marker: [])
            }
            var b = l.bytes
            b.append(contentsOf: [UInt8](repeating: 0, count: 72))
            b.withUnsafeBufferPointer { p in sink!.line(p.baseAddress!, l.bytes.count, number: l.line, offset: l.offset) }
        }
        if let s = sink { journal?.setHeader(s.header, for: s.path) }
        sink?.finish()
        // merge windows re-opened by the replay were written by the run that read those lines
        stack.engine.finish()
        if alreadyWritten { stack.correlations.markOpenFindingsReported() }
    }

    /// Reads one planned file from its start offset to its end. When the saved position turned out not to fit,
    /// `superseded` is the old position, to be kept next to the returned one.
    static func read(
        _ item: ReadItem, stack: DetectionStack?, raw: RawLineOutput?, journal: CarryJournal?, inc: IncrementalOptions,
        now: Int64, superseded: inout Checkpoint?
    ) -> (Checkpoint?, InputStats, [Diagnostic]) {
        var stats = InputStats(path: item.path)
        var problems: [Diagnostic] = []
        var item = item
        var fd: Int32
        switch FileProbe.open(item.path) {
        case .failure(let e):
            // gone since it was listed (logrotate compressed or removed it): read it where it went, or leave its
            // position as it was for the next plan; an error only when it is there and cannot be opened
            if access(item.path, F_OK) == 0 { return (nil, stats, [e.diagnostic]) }
            guard let (moved, f) = relocate(item) else { return (planned(item, now: now), stats, []) }
            item = moved
            fd = f
        case .success(let f): fd = f
        }
        // Another file under this name than the one planned: logrotate renamed it meanwhile. Reading what is there
        // from 0 would read a generation again that other positions already cover (the repeats of the rotation
        // matrix under load); the planned file is read where it is now, or its position kept for the next plan.
        if let (dev, ino, _, _, _) = FileProbe.stat(fd: fd), dev != item.identity.device || ino != item.identity.inode {
            close(fd)
            guard let (moved, f) = relocate(item) else { return (planned(item, now: now), stats, []) }
            item = moved
            fd = f
        }
        let reader = ChunkReader(fd: fd, path: item.path, closeOnDeinit: true)
        var ingest = IngestOptions()
        if let stack { ingest.maxLineLength = stack.options.maxLineLength }
        // the offset must still fit: enough bytes, and the same bytes just before it
        if item.start > 0 {
            var ok: Bool
            if !item.identity.compressed {
                ok = FileProbe.plainMarker(fd: fd, before: item.start) == item.marker
            } else {
                switch gzipMarker(reader, item.start, item.marker) {
                case .matches: ok = true
                case .differs: ok = false
                case .cutBefore(let e):
                    // cut before the saved offset: being written (retry next run) or, when old, damaged
                    let fresh = (now - item.identity.mtime) / 1_000_000_000 < inc.compressGraceSeconds
                    var ck = Checkpoint(
                        primary: item.primary, path: item.path, device: item.identity.device, inode: item.identity.inode,
                        prefix: item.identity.prefix, offset: item.start, line: item.firstLine - 1, marker: item.marker,
                        compressed: true, done: !fresh, active: item.path == item.primary, seenAt: now)
                    ck.insideCutLine = item.insideCutLine
                    return (ck, stats, fresh ? [] : [e.diagnostic])
                case .shorter:
                    // A .gz never shrinks: it holds less than was read from this identity, because the writer kept
                    // appending to the uncompressed original after gzip had read it (and we read those lines from
                    // that inode). Everything in it was read.
                    var ck = Checkpoint(
                        primary: item.primary, path: item.path, device: item.identity.device, inode: item.identity.inode,
                        prefix: item.identity.prefix, offset: item.start, line: item.firstLine - 1, marker: item.marker,
                        compressed: true, done: item.path != item.primary, active: item.path == item.primary, seenAt: now)
                    ck.insideCutLine = item.insideCutLine
                    return (ck, stats, [])
                }
            }
            if !ok && item.requireMarker { return (nil, stats, []) }
            if !ok {
                problems.append(
                    Diagnostic(
                        .warning, code: "offset_mismatch",
                        "the saved position \(item.start) no longer fits this file (truncated or rewritten); reading it from the start",
                        at: FileLocation(path: item.path)))
                // The saved identity is not this content any more (often copytruncate racing this run: the copy
                // that now holds its rest appears next to the file). It stays saved, so that the copy can
                // continue it in a later run; the file's new content is a new identity read from 0.
                var kept = Checkpoint(
                    primary: item.primary, path: item.path, device: item.identity.device, inode: item.identity.inode,
                    prefix: item.identity.prefix, offset: item.start, line: item.firstLine - 1, marker: item.marker,
                    compressed: item.identity.compressed, done: false, active: false, seenAt: now)
                kept.insideCutLine = item.insideCutLine
                var fresh = item.identity
                if case .success(let id) = FileProbe.identity(fd: fd, path: item.path) { fresh = id }
                let again = read(
                    ReadItem(
                        primary: item.primary, path: item.path, identity: fresh, start: 0, firstLine: 1, marker: [],
                        discard: item.discard), stack: stack, raw: raw, journal: journal, inc: inc, now: now,
                    superseded: &superseded)
                superseded = kept
                return (again.0, again.1, problems + again.2)
            }
            if item.identity.compressed == false { _ = lseek(fd, off_t(item.start), SEEK_SET) }
        }
        ingest.startOffset = item.start
        ingest.firstLineNumber = item.firstLine
        let framer = LineFramer(options: ingest)
        if item.insideCutLine && item.start > 0 { framer.resumeInsideCutLine() }
        var scanSink = stack?.makeSink(path: item.path)
        if scanSink != nil && item.start > 0 && item.identity.prefix.starts(with: Array("#separator".utf8)) {
            var t = TrackedSink(
                scan: scanSink, raw: RawLineOutput?.none, journal: CarryJournal?.none, correlations: CorrelationEngine?.none,
                path: item.path, marker: [])
            t.feedHeader(readHeaderLines(path: item.path))
            scanSink = t.scan
            journal?.setHeader(t.header, for: item.path)
        }
        var sink = TrackedSink(
            scan: scanSink, raw: raw, journal: journal, correlations: stack?.correlations, path: item.path,
            marker: item.marker)
        sink.discard = item.discard
        if item.start > 0 { sink.capturingHeader = false }
        // (a gzip reader was decoded up to the offset by the marker check; a plain one starts at the lseek)
        var error: IngestError? = reader.detect()
        var nulSkipped: Int64 = 0
        if error == nil {
            reading: while true {
                switch reader.read(into: framer.writePointer, capacity: framer.writableCount) {
                case .data(let n): nulSkipped += framer.commitSkippingNulHoles(n, into: &sink)
                case .end: break reading
                case .failed(let e):
                    error = e
                    break reading
                }
            }
        }
        let ageSeconds = (now - item.identity.mtime) / 1_000_000_000
        let isPrimary = item.path == item.primary
        var done = false
        var deliverPartial = false
        if let e = error {
            switch e.code {
            case .gzipTruncated where ageSeconds < inc.compressGraceSeconds:
                // still being compressed or copied: keep the complete lines, come back next run
                error = nil
            case .gzipTruncated, .gzipCRC, .gzipLength, .gzipCorrupt:
                done = true
            case .gzipTrailingGarbage:
                done = true
                deliverPartial = true
            default:
                break
            }
        } else {
            // a .gz at its end, or a rotated file that stopped changing, cannot grow: its last fragment is final
            // (a named .gz can still get members appended: item 39)
            done = item.identity.compressed && !isPrimary
            deliverPartial = item.identity.compressed || (!isPrimary && ageSeconds >= inc.rotateGraceSeconds)
        }
        if deliverPartial { framer.finish(deliverPartial: true, into: &sink) }
        if let e = error {
            var located = e
            located.line = framer.nextLineNumber - 1
            problems.append(located.diagnostic)
        }
        // the `#` header of a Zeek TSV file goes with its carried lines (they cannot be decoded without it)
        if item.start == 0 { journal?.setHeader(sink.header, for: item.path) }
        if let s = sink.scan {
            stats.events = s.events
            stats.malformed = s.malformed
            stats.malformedByReason = s.malformedByReason
            stats.malformedSamples = s.samples
            stats.format = s.formatName
            stats.keptSchemasEvicted = s.othersEvicted
            stats.keptSchemasHighWater = s.othersHighWater
            stats.adoptedSchemasEvicted = s.adoptedEvicted
            stats.sharedRuleSetsEvicted = s.sharedEvicted.ruleSets
            stats.sharedSchemasEvicted = s.sharedEvicted.schemas
        }
        sink.finish()
        stats.lines = sink.lines
        stats.compressed = item.identity.compressed
        stats.overlongLines = framer.overlongLines
        stats.bytesDecoded = reader.decodedOffset
        if nulSkipped > 0 {
            problems.append(
                Diagnostic(
                    .warning, code: "nul_hole",
                    "skipped \(nulSkipped) NUL bytes before lines (copytruncate with a writer lacking O_APPEND)",
                    at: FileLocation(path: item.path)))
        }
        // inside a cut line the position is past what was consumed (the cut part was delivered)
        let cut = framer.isInsideCutLine
        let offset = cut ? framer.consumedOffset : framer.resumeOffset
        var marker = sink.marker.bytes
        if !item.identity.compressed, let m = FileProbe.plainMarker(fd: fd, before: offset) { marker = m }
        // the prefix as it is now (it grows while the file is shorter than 1 KiB)
        var identity = item.identity
        if case .success(let fresh) = FileProbe.identity(fd: fd, path: item.path), fresh.extends(identity.prefix) {
            identity.prefix = fresh.prefix
        }
        let ck = Checkpoint(
            primary: item.primary, path: item.path, device: identity.device, inode: identity.inode,
            prefix: identity.prefix, offset: offset, line: framer.nextLineNumber - 1, marker: marker,
            compressed: identity.compressed, done: done, active: isPrimary, seenAt: now)
        var result = ck
        result.insideCutLine = cut
        return (result, stats, problems)
    }

    /// The planned file of `item` after a rotation moved it: the same inode under another name next to its
    /// primary, or (renamed, then compressed) a `.gz` of its name whose decoded start is its content. The position
    /// is kept: a decoded offset is the same in the plain file and its `.gz`. Returns the item and an open fd.
    static func relocate(_ item: ReadItem) -> (ReadItem, Int32)? {
        let names = RotatedGenerations.siblings(of: item.primary).map(\.path) + [item.primary]
        for path in names where path != item.path || !item.identity.compressed {
            guard case .success(let fd) = FileProbe.open(path) else { continue }
            if let (dev, ino, _, _, _) = FileProbe.stat(fd: fd), dev == item.identity.device, ino == item.identity.inode {
                var moved = item
                moved.path = path
                return (moved, fd)
            }
            close(fd)
        }
        guard !item.identity.compressed, case .success(let id) = FileProbe.identity(path: item.path + ".gz"),
            id.compressed, id.extends(item.identity.prefix), case .success(let fd) = FileProbe.open(item.path + ".gz")
        else { return nil }
        var moved = item
        moved.path = item.path + ".gz"
        moved.identity = id
        return (moved, fd)
    }

    /// The position `item` was planned from, unchanged (nothing was read).
    /// (Kept for a file never read too, at 0: the next plan then finds its content wherever it went.)
    static func planned(_ item: ReadItem, now: Int64) -> Checkpoint? {
        var c = Checkpoint(
            primary: item.primary, path: item.path, device: item.identity.device, inode: item.identity.inode,
            prefix: item.identity.prefix, offset: item.start, line: item.firstLine - 1, marker: item.marker,
            compressed: item.identity.compressed, done: false, active: item.path == item.primary, seenAt: now)
        c.insideCutLine = item.insideCutLine
        return c
    }

    enum MarkerCheck { case matches, differs, shorter, cutBefore(IngestError) }

    /// Decodes a gzip stream up to `offset` and compares the bytes just before it with `marker`.
    static func gzipMarker(_ reader: ChunkReader, _ offset: Int64, _ marker: [UInt8]) -> MarkerCheck {
        let m = Int64(marker.count)
        guard m <= offset else { return .differs }
        let scratchSize = 256 << 10
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: scratchSize)
        defer { scratch.deallocate() }
        if let e = reader.skip(offset - m, scratch: scratch, capacity: scratchSize) {
            if e.code == .gzipTruncated { return .cutBefore(e) }
            return e.code == .resumePastEnd ? .shorter : .differs
        }
        var got: [UInt8] = []
        while Int64(got.count) < m {
            switch reader.read(into: scratch, capacity: Int(m) - got.count) {
            case .data(let n): got.append(contentsOf: UnsafeBufferPointer(start: scratch, count: n))
            case .end: return .shorter
            case .failed(let e): return e.code == .gzipTruncated ? .cutBefore(e) : .differs
            }
        }
        return got == marker ? .matches : .differs
    }

    static func bounded(_ cks: [Checkpoint], max n: Int) -> [Checkpoint] {
        if cks.count <= n { return cks }
        // the most recently seen win; among equals the later ones (newer generations, read last)
        let keep = Set(cks.indices.sorted { (cks[$0].seenAt, $0) > (cks[$1].seenAt, $1) }.prefix(n))
        return cks.indices.filter { keep.contains($0) }.map { cks[$0] }
    }
}

func wallClockNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
