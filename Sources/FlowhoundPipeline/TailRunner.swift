import FlowhoundCore
import FlowhoundDetect
import FlowhoundIngest
import FlowhoundParse
import FlowhoundRules
import FlowhoundSinks
import FlowhoundState
import Synchronization

/// What `flowhound tail` was asked to do.
package struct TailOptions: Sendable {
    /// Files or globs (re-expanded while running: new matching files are followed from their start).
    package var patterns: [String]
    /// The state store; without it nothing survives a restart.
    package var statePath: String?
    /// Where a file without saved position starts when tail starts (files appearing later start at 0).
    package var from: IncrementalOptions.Start = .end
    package var poll = false
    package var pollIntervalMs: Int32 = 250
    /// A renamed or deleted file is read until it has not grown for this long (ingest.md item 8).
    package var rotateGraceSeconds: Double = 5
    package var emitRaw = false
    /// Positions are committed at most this often (after the findings before them were flushed).
    package var commitIntervalMs: Int64 = 1000
    /// Renamed or deleted files held open at most (item 22); the oldest is closed first, with a warning.
    package var maxRotatedOpen = 64
    /// `--from TIME`: a file without saved position starts at its first line at or after this log time.
    package var since: Timestamp?
    /// `--stale-after`: warn when the saved state was committed longer ago than this (seconds).
    package var staleAfterSeconds: Int64?

    package init(patterns: [String]) { self.patterns = patterns }
}

/// `flowhound tail FILE|GLOB…`: follows log files live through every rotation style (ingest.md §2 B).
///
/// - Start: like a `scan --incremental` catch-up (the same `Planner`): saved positions are resumed wherever the
///   identity now lives, generations rotated while tail was down are read, oldest first; files without
///   position start at `--from` (default end) on a first start, at 0 otherwise.
/// - Follow: `FileWatcher` (inotify on each file and its directory, polling fallback) wakes the loop; every
///   wake re-resolves each name (symlinks too) and fstats each open file. A name pointing at another inode is
///   a rotation: the old descriptor keeps being read until it has not grown for `rotateGraceSeconds`, while
///   the new file is read from 0. A deleted file is drained the same way. A file that shrank, or whose bytes
///   before the read position changed, was truncated (copytruncate): the gap is first read from the rotated
///   copy that carries its identity, then the file is read from 0; NUL holes are skipped. Partial last lines
///   are held until their newline, or emitted once after the grace period when the file can no longer grow.
/// - State: at most every `commitIntervalMs`, findings are flushed (an output file fsynced), then positions
///   and carried detector lines are committed in one transaction; a `kill -9` repeats at most that window.
/// - Signals: SIGHUP reloads rules and site (a rule set with errors is refused, the old one kept, the reason
///   printed); SIGTERM and SIGINT read what is pending, write open findings, commit and exit 0.
package final class TailRunner {
    let options: TailOptions
    let scanOptions: ScanOptions
    let diagnostics: (String) -> Void
    private var stack: DetectionStack?
    private var raw: RawLineOutput?
    private let journal: CarryJournal?
    private var store: StateStore?
    /// `<state>.lock`, held while tail runs.
    private var lock: StateLock?
    private var saved = IngestState()
    private var followers: [Follower] = []
    /// Positions of files no longer open (drained generations), kept so a restart does not read them again.
    private var retired: [Checkpoint] = []
    private var primaries: [String] = []
    private let watcher: FileWatcher
    private var started = false
    private var lastCommit: Int64 = 0
    private var dirty = false
    private var errors: [Diagnostic] = []
    private var signalRead: Int32 = -1
    private var signalWrite: Int32 = -1

    package init(_ options: TailOptions, scan: ScanOptions, diagnostics: @escaping (String) -> Void) {
        self.options = options
        scanOptions = scan
        self.diagnostics = diagnostics
        journal = options.emitRaw ? nil : CarryJournal()
        watcher = FileWatcher(forcePoll: options.poll, pollInterval: options.pollIntervalMs)
    }

    /// Runs until SIGTERM/SIGINT (exit status 0) or a start-up error (2).
    package func run() -> Int32 {
        Self.raiseDescriptorLimit()
        if let why = watcher.pollingReason, !options.poll { say("flowhound: polling every \(options.pollIntervalMs) ms: \(why)") }
        guard setUp() else { return 2 }
        installSignals()
        catchUp()
        commit(final: false)
        while true {
            // a commit that is due must not wait for the next event
            var atMost: Int32?
            if dirty && store != nil {
                let left = options.commitIntervalMs - (wallClockNanoseconds() - lastCommit) / 1_000_000
                atMost = Int32(clamping: max(1, left))
            }
            let wake = watcher.wait(extra: signalRead, atMost: atMost)
            if wake == .external {
                var stop = false
                for s in readSignals() {
                    if s == SIGHUP { hangup() } else { stop = true }
                }
                if stop {
                    shutdown()
                    return 0
                }
            }
            step()
        }
    }

    // MARK: set-up

    private func setUp() -> Bool {
        if let statePath = options.statePath {
            // one process per state: a second tail or a cron run would move positions and cut outputs under us
            switch StateLock.acquire(statePath: statePath, wait: false) {
            case .success(let l): lock = l
            case .failure(.busy(let holder, let since)):
                var inc = IncrementalOptions(statePath: statePath)
                inc.staleAfterSeconds = options.staleAfterSeconds
                if let w = IncrementalRunner.staleLockWarning(inc, holder: holder, since: since) { report(w) }
                report(
                    Diagnostic(
                        code: "state_locked",
                        "another flowhound run (pid \(holder)) is using this state; stop it, or give this tail its own --state",
                        at: FileLocation(path: statePath + ".lock")))
                return false
            case .failure(.failed(let d)):
                report(d)
                return false
            }
            var inc = IncrementalOptions(statePath: statePath)
            inc.from = options.from
            do {
                let (s, state, baseline) = try IncrementalRunner.openState(inc, diagnostics: diagnostics)
                store = s
                saved = state
                inc.staleAfterSeconds = options.staleAfterSeconds
                if let w = IncrementalRunner.staleStateWarning(inc, saved: state, now: wallClockNanoseconds()) { report(w) }
                if options.emitRaw == false, let baseline { pendingBaseline = baseline }
            } catch {
                report(error)
                return false
            }
            // an output file loses what was written after the last commit: it is written again from there
            if let d = OutputRecovery.prepare(store!, saved: saved.outputs, paths: OutputRecovery.filePaths(scanOptions), say: say) {
                report(d)
                return false
            }
        }
        if options.emitRaw {
            do { raw = try RawLineOutput(path: scanOptions.outputPath) } catch {
                report(error)
                return false
            }
        } else {
            guard let s = makeStack() else { return false }
            stack = s
            IncrementalRunner.replay(saved.carried, into: s, journal: journal, alreadyWritten: saved.findingsWritten)
            if let b = pendingBaseline { s.behaviour.restore(b) }
        }
        return true
    }

    private var pendingBaseline: BaselineSnapshot?

    /// A detection stack over `reusing` (a reload keeps the outputs, their queues and suppression) or over
    /// fresh outputs, or nil (errors printed) when the rules or site have errors.
    private func makeStack(reusing: (any FindingOutput)? = nil) -> DetectionStack? {
        let output: any FindingOutput
        if let reusing {
            output = reusing
        } else {
            switch AlertWriterOutput.make(scanOptions) {
            case .success(let o): output = o
            case .failure(let d):
                report(d)
                return nil
            }
        }
        let s = DetectionStack(options: scanOptions, output: output)
        for d in s.diagnostics { diagnostics(d.description + "\n") }
        return s.usable ? s : nil
    }

    /// SIGHUP, SIGTERM and SIGINT each write their number to a self-pipe that the main loop polls. A plain
    /// `sigaction` handler (`write` is async-signal-safe): a signal that arrives at any moment after this, on any
    /// thread, is kept. (A dispatch signal source set the signals to SIG_IGN first and registered asynchronously,
    /// so a SIGTERM sent just after start-up could be dropped and the process never stopped.)
    private func installSignals() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        signalRead = fds[0]
        signalWrite = fds[1]
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        TailSignalPipe.install(writeEnd: signalWrite, signals: [SIGHUP, SIGTERM, SIGINT])
    }

    private func readSignals() -> [Int32] {
        var out: [Int32] = []
        var buf = [UInt8](repeating: 0, count: 64)
        while true {
            let n = buf.withUnsafeMutableBytes { read(signalRead, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n].map { Int32($0) }
        }
        return out
    }

    // MARK: catch-up and following

    /// The named files now (globs expanded; rotated names of another match are not files of their own).
    private func currentPrimaries() -> [String] {
        var out: [String] = []
        for p in options.patterns {
            let matches = Glob.expand(p).filter { m in
                !Glob.hasMagic(p) || !RotatedGenerations.isGenerationOfAny(m, in: Glob.expand(p))
            }
            for m in matches where !out.contains(m) { out.append(m) }
        }
        return out
    }

    private func catchUp() {
        let now = wallClockNanoseconds()
        var inc = IncrementalOptions(statePath: options.statePath ?? "")
        inc.from = options.from
        inc.since = options.since
        inc.sinceZone = stack?.timeZone ?? .utc
        inc.sinceFormat = scanOptions.forcedFormat
        inc.maxLineLength = scanOptions.maxLineLength
        primaries = currentPrimaries()
        for p in options.patterns where !Glob.hasMagic(p) && !primaries.contains(p) { primaries.append(p) }
        var plans: [(primary: String, items: [ReadItem])] = []
        for primary in primaries {
            var plan = Planner(primary: primary, saved: saved, options: inc, now: now)
            let items = plan.build()
            for d in plan.problems { report(d) }
            retired += plan.carriedForward
            plans.append((primary, items))
        }
        // Where the catch-up starts is committed before it reads anything. Otherwise a crash before the first
        // commit after it (the catch-up of a large file, or a slow start) left a state without positions: the
        // next start was a first run again, cut the output back to empty, and took a file rotated meanwhile for
        // an archive, so its lines were never written again. `--from end` plans read from 0 to find the end:
        // those positions are not known yet, and such a crash starts over at the end as before.
        if store != nil && !plans.contains(where: { $0.items.contains(where: \.discard) }) {
            planned = plans.flatMap(\.items)
            commit(final: false, findingsWritten: saved.findingsWritten)
            planned = []
        }
        for (primary, items) in plans {
            for item in items {
                if item.path == primary || !item.identity.compressed {
                    open(item, rotated: item.path != primary)
                } else {
                    readOnce(item)
                }
            }
            watchNames(primary)
        }
        started = true
    }

    /// Reads a generation that cannot grow (a `.gz`) to its end, keeping its position.
    private func readOnce(_ item: ReadItem) {
        var inc = IncrementalOptions(statePath: "")
        inc.rotateGraceSeconds = Int64(options.rotateGraceSeconds)
        var superseded: Checkpoint?
        let (ck, _, ds) = IncrementalRunner.read(
            item, stack: stack, raw: raw, journal: journal, inc: inc, now: wallClockNanoseconds(), superseded: &superseded)
        if let superseded { retired.append(superseded) }
        for d in ds { report(d) }
        if let ck { retired.append(ck) }
        dirty = true
    }

    /// The catch-up's plan while it is committed before reading (`catchUp`).
    private var planned: [ReadItem] = []

    /// Planned files not open yet: the descriptor limit was reached (or opening failed for another reason while
    /// the file exists). Retried on every wake-up from their planned position, reported once each.
    private var deferred: [(item: ReadItem, rotated: Bool)] = []
    private var reportedUnopened = Set<String>()
    /// Descriptors kept free for the state store, the outputs and short-lived probes.
    private let descriptorReserve = 8

    /// Whether another file can be held open without starving the state store (RLIMIT_NOFILE).
    private func descriptorRoom() -> (Bool, UInt64) {
        var rl = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return (true, 0) }
        guard let dir = opendir("/proc/self/fd") else { return (true, UInt64(rl.rlim_cur)) }
        var used: UInt64 = 0
        while readdir(dir) != nil { used += 1 }
        closedir(dir)
        // ".", ".." and the directory's own descriptor are not in use afterwards
        used = used > 3 ? used - 3 : 0
        return (used + UInt64(descriptorReserve) < UInt64(rl.rlim_cur), UInt64(rl.rlim_cur))
    }

    /// Raises the soft descriptor limit to the hard one (systemd and shells often start at 1024).
    static func raiseDescriptorLimit() {
        var rl = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &rl) == 0, rl.rlim_cur < rl.rlim_max else { return }
        rl.rlim_cur = rl.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &rl)
    }

    private func deferOpen(_ item: ReadItem, rotated: Bool, why: String) {
        if !deferred.contains(where: { $0.item.path == item.path && $0.item.identity.inode == item.identity.inode }) {
            deferred.append((item, rotated))
        }
        if reportedUnopened.insert(item.path).inserted {
            report(
                Diagnostic(
                    .warning, code: "not_followed", "not followed yet: \(why); retried at every change, from where it was",
                    at: FileLocation(path: item.path, byteOffset: item.start)))
        }
    }

    /// Opens the deferred files that can be opened now (oldest plan first).
    private func retryDeferred() {
        guard !deferred.isEmpty else { return }
        let waiting = deferred
        deferred = []
        for (item, rotated) in waiting {
            if access(item.path, F_OK) != 0 { continue }  // gone: its identity is looked for like any other
            open(item, rotated: rotated)
            if followers.contains(where: { $0.path == item.path }) && reportedUnopened.remove(item.path) != nil {
                say("flowhound: \(item.path): now followed")
            }
        }
    }

    private func open(_ item: ReadItem, rotated: Bool) {
        let (room, limit) = descriptorRoom()
        if !room {
            deferOpen(
                item, rotated: rotated,
                why: "no file descriptor left (RLIMIT_NOFILE \(limit), \(followers.count) files open); raise it with "
                    + "ulimit -n or LimitNOFILE=")
            return
        }
        var item = item
        var rotated = rotated
        guard case .success(var fd) = FileProbe.open(item.path) else {
            if access(item.path, F_OK) == 0 {
                deferOpen(item, rotated: rotated, why: "cannot open it: \(String(cString: strerror(errno)))")
                return
            }
            // gone since it was planned: renamed, or compressed (then its rest is read from the .gz at once)
            guard let (moved, mfd) = IncrementalRunner.relocate(item) else {
                if let c = IncrementalRunner.planned(item, now: wallClockNanoseconds()) { retired.append(c) }
                return
            }
            if moved.identity.compressed {
                close(mfd)
                readOnce(moved)
            } else {
                close(mfd)
                open(moved, rotated: true)
            }
            return
        }
        if !item.identity.compressed, let (dev, ino, _, _, _) = FileProbe.stat(fd: fd),
            dev != item.identity.device || ino != item.identity.inode,
            let moved = renamedAway(item)
        {
            // Renamed away between planning and opening (logrotate ran during the start-up catch-up): follow the
            // planned file where it is now, as a rotated file, and let the next wake-up open the new file at the
            // name from 0. Taking the new file for a truncation of the old one instead would read the old one's
            // rest once, stop following it, and deliver what the writer still appends to it (before its HUP)
            // only at the next restart, after newer lines: the "order breaks" of the rotation matrix.
            close(fd)
            fd = moved.fd
            item.path = moved.path
            rotated = true
        }
        guard case .success(let identity) = FileProbe.identity(fd: fd, path: item.path) else {
            close(fd)
            return
        }
        var start = item.start
        var marker = item.marker
        if start > 0 && (identity.compressed || FileProbe.plainMarker(fd: fd, before: start) != item.marker) {
            // truncated since it was planned (copytruncate racing the start): the rest is in the copy
            readGap(
                primary: item.primary, prefix: item.identity.prefix, from: item.start, marker: item.marker,
                firstLine: item.firstLine, insideCutLine: item.insideCutLine, notInode: (identity.device, identity.inode))
            start = 0
            marker = []
        }
        let f = Follower(
            primary: item.primary, path: item.path, fd: fd, identity: identity, start: start,
            firstLine: start == 0 ? 1 : item.firstLine, marker: marker, maxLine: scanOptions.maxLineLength)
        if start > 0 && item.insideCutLine { f.framer.resumeInsideCutLine() }
        f.sink = makeSink(for: f, startOffset: start)
        f.sink.discard = item.discard
        if rotated { f.rotatedSince = wallClockNanoseconds() }
        followers.append(f)
        pump(f)
        f.sink.discard = false
        watcher.watch(item.path, directory: false)
        dirty = true
    }

    /// The planned file of `item` under another name next to its primary (same device and inode), opened.
    private func renamedAway(_ item: ReadItem) -> (path: String, fd: Int32)? {
        for cand in RotatedGenerations.siblings(of: item.primary) {
            guard case .success(let fd) = FileProbe.open(cand.path) else { continue }
            if let (dev, ino, _, _, _) = FileProbe.stat(fd: fd), dev == item.identity.device, ino == item.identity.inode {
                return (cand.path, fd)
            }
            close(fd)
        }
        return nil
    }

    private func makeSink(for f: Follower, startOffset: Int64) -> TrackedSink {
        var scan = stack?.makeSink(path: f.path)
        var header: [CarriedLine] = []
        if scan != nil && startOffset > 0 && f.identity.prefix.starts(with: Array("#separator".utf8)) {
            var t = TrackedSink(scan: scan, raw: nil, journal: nil, correlations: nil, path: f.path, marker: [])
            t.feedHeader(readHeaderLines(path: f.path))
            scan = t.scan
            header = t.header
        }
        var sink = TrackedSink(
            scan: scan, raw: raw, journal: journal, correlations: stack?.correlations, path: f.path, marker: f.marker)
        if startOffset > 0 {
            sink.capturingHeader = false
            sink.header = header
        }
        journal?.setHeader(header, for: f.path)
        return sink
    }

    private func watchNames(_ primary: String) {
        watcher.watch(primary, directory: false)
        watcher.watch(RotatedGenerations.directory(of: primary), directory: true)
    }

    /// One wake-up: re-resolve names, check open files, read what is new, flush, commit when due.
    private func step() {
        let now = wallClockNanoseconds()
        retryDeferred()
        reconcile(now)
        for f in followers { pump(f) }
        retireDrained(now)
        stack?.flush()
        raw?.flush()
        if now - lastCommit >= options.commitIntervalMs * 1_000_000 && dirty { commit(final: false) }
    }

    private func reconcile(_ now: Int64) {
        var names = currentPrimaries()
        for p in primaries where !names.contains(p) && !Glob.hasMagic(p) { names.append(p) }
        for name in names {
            if !primaries.contains(name) { primaries.append(name) }
            watchNames(name)
            var st = stat()
            let exists = stat(name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            let active = followers.first { $0.primary == name && $0.rotatedSince == nil }
            if let active, !exists || UInt64(st.st_dev) != active.identity.device || UInt64(st.st_ino) != active.identity.inode {
                // what the old file holds now comes before anything of its successors
                pump(active)
                active.rotatedSince = now
                active.lastChange = now
                adoptMissedGenerations(of: name, now: now)
            }
            guard exists else { continue }
            if followers.contains(where: { $0.primary == name && $0.rotatedSince == nil }) { continue }
            // planned but not open yet (descriptor limit): it is opened from its planned position, not from 0
            if deferred.contains(where: { $0.item.path == name && $0.item.identity.inode == UInt64(st.st_ino) }) { continue }
            // the name points at a file we already hold (a symlink switched back, a rename onto the name)
            if let held = followers.first(where: {
                $0.identity.device == UInt64(st.st_dev) && $0.identity.inode == UInt64(st.st_ino)
            }) {
                held.rotatedSince = nil
                held.path = name
                continue
            }
            guard case .success(let id) = FileProbe.identity(path: name) else { continue }
            // older generations first: what they hold was written before the new file's first line
            for f in followers where f.primary == name { pump(f) }
            open(
                ReadItem(primary: name, path: name, identity: id, start: 0, firstLine: 1, marker: [], discard: false),
                rotated: false)
        }
        for f in followers {
            guard let (_, _, size, _, links) = FileProbe.stat(fd: f.fd) else { continue }
            if links == 0 && f.rotatedSince == nil {
                f.rotatedSince = now
                f.lastChange = now
            }
            if f.identity.compressed { continue }
            let pos = f.position
            var truncated = size < pos
            if !truncated && pos > 0 && f.tail.bytes.count == min(Int(pos), FileIdentity.markerLength) {
                truncated = FileProbe.plainMarker(fd: f.fd, before: pos) != f.tail.bytes
            }
            if truncated { recoverTruncation(f) }
        }
    }

    /// Generations created and rotated away between two looks (tail was stopped, busy or down for a moment):
    /// files next to `primary` that no open file, closed position or saved position knows, by inode or by
    /// content, and that changed since tail started. They are read from 0, oldest first, before the new file.
    private func adoptMissedGenerations(of primary: String, now: Int64) {
        for f in followers { f.refreshPrefix() }
        var knownPrefixes = followers.map(\.identity.prefix) + retired.map(\.prefix) + saved.checkpoints.map(\.prefix)
        knownPrefixes = knownPrefixes.filter { !$0.isEmpty }
        for cand in RotatedGenerations.siblings(of: primary) {
            guard case .success(let id) = FileProbe.identity(path: cand.path), id.mtime >= startedAt else { continue }
            let held =
                followers.contains { $0.identity.device == id.device && $0.identity.inode == id.inode }
                || retired.contains { $0.device == id.device && $0.inode == id.inode && !$0.compressed && !id.compressed }
            if held || id.prefix.isEmpty { continue }
            if knownPrefixes.contains(where: { id.extends($0) || (!id.prefix.isEmpty && $0.starts(with: id.prefix)) }) {
                continue
            }
            let item = ReadItem(primary: primary, path: cand.path, identity: id, start: 0, firstLine: 1, marker: [], discard: false)
            if id.compressed { readOnce(item) } else { open(item, rotated: true) }
        }
    }

    private let startedAt = wallClockNanoseconds()

    /// copytruncate: read the rest of the old content from the rotated copy, then the file from 0.
    private func recoverTruncation(_ f: Follower) {
        let resume = f.framer.isInsideCutLine ? f.framer.consumedOffset : f.framer.resumeOffset
        readGap(
            primary: f.primary, prefix: f.identity.prefix, from: resume, marker: f.sink.marker.bytes,
            firstLine: f.framer.nextLineNumber, insideCutLine: f.framer.isInsideCutLine,
            notInode: (f.identity.device, f.identity.inode))
        f.restart()
        f.sink = makeSink(for: f, startOffset: 0)
        pump(f)
        dirty = true
    }

    /// Reads the rest of an identity (`prefix`, position `from`, `marker` before it) from the rotated copy that
    /// carries it (copytruncate): newest first, uncompressed copies before compressed ones (while logrotate
    /// compresses `X.1`, the growing `X.1.gz` is incomplete and `X.1` holds everything). Returns whether one did.
    @discardableResult
    private func readGap(
        primary: String, prefix: [UInt8], from: Int64, marker: [UInt8], firstLine: Int64, insideCutLine: Bool,
        notInode: (UInt64, UInt64)
    ) -> Bool {
        let siblings = RotatedGenerations.siblings(of: primary).reversed()
        let ordered = siblings.filter { !$0.path.hasSuffix(".gz") } + siblings.filter { $0.path.hasSuffix(".gz") }
        for cand in ordered {
            guard case .success(let id) = FileProbe.identity(path: cand.path),
                id.device != notInode.0 || id.inode != notInode.1, id.extends(prefix)
            else { continue }
            var item = ReadItem(
                primary: primary, path: cand.path, identity: id, start: from, firstLine: firstLine, marker: marker,
                discard: false)
            item.requireMarker = true
            item.insideCutLine = insideCutLine
            var inc = IncrementalOptions(statePath: "")
            inc.rotateGraceSeconds = 0
            var superseded: Checkpoint?
            let (ck, _, ds) = IncrementalRunner.read(
                item, stack: stack, raw: raw, journal: journal, inc: inc, now: wallClockNanoseconds(),
                superseded: &superseded)
            guard let ck else { continue }
            for d in ds where d.code != "offset_mismatch" { report(d) }
            retired.append(ck)
            return true
        }
        return false
    }

    /// Reads everything available from one file.
    private func pump(_ f: Follower) {
        if f.failed { return }
        var budget = 64 << 20
        while budget > 0 {
            let dest = f.framer.writePointer
            switch f.reader.read(into: dest, capacity: f.framer.writableCount) {
            case .data(let n):
                f.tail.append(dest, n)
                f.nulSkipped += f.framer.commitSkippingNulHoles(n, into: &f.sink)
                f.lastChange = wallClockNanoseconds()
                budget -= n
                dirty = true
            case .end:
                f.reader.continueAfterEOF()
                return
            case .failed(let e):
                if e.code == .gzipTruncated {
                    f.reader.continueAfterEOF()
                    return
                }
                report(e.diagnostic)
                f.failed = true
                return
            }
        }
    }

    /// Closes renamed or deleted files that stopped growing (their last fragment is final), and enforces the cap.
    private func retireDrained(_ now: Int64) {
        let grace = Int64(options.rotateGraceSeconds * 1e9)
        var keep: [Follower] = []
        var rotatedOpen = 0
        for f in followers.reversed() {
            guard f.rotatedSince != nil else {
                keep.append(f)
                continue
            }
            let size = FileProbe.stat(fd: f.fd)?.2 ?? 0
            let idle = now - f.lastChange >= grace && size <= f.position
            rotatedOpen += 1
            if idle || f.failed || rotatedOpen > options.maxRotatedOpen {
                if !idle && !f.failed && size > f.position {
                    report(
                        Diagnostic(
                            .warning, code: "rotated_closed",
                            "closed with \(size - f.position) bytes unread: more than \(options.maxRotatedOpen) rotated files open",
                            at: FileLocation(path: f.path)))
                }
                f.framer.finish(deliverPartial: true, into: &f.sink)
                retired.append(f.checkpoint(now: now))
                f.sink.finish()
                dirty = true
            } else {
                keep.append(f)
            }
        }
        followers = keep.reversed()
    }

    // MARK: state, reload, shutdown

    /// `findingsWritten`: what the commit records for the carried lines' findings (default: `final`).
    private func commit(final: Bool, findingsWritten: Bool? = nil) {
        // the findings (and raw lines) the positions cover are out and durable first
        stack?.sync()
        raw?.sync()
        let now = wallClockNanoseconds()
        lastCommit = now
        dirty = false
        guard let store else { return }
        var next = IngestState()
        let mine = Set(primaries)
        next.checkpoints = saved.checkpoints.filter { !mine.contains($0.primary) }
        var cks = retired + followers.map { $0.checkpoint(now: now) }
        // files planned but not opened yet keep their planned position
        for item in deferred.map(\.item) + planned {
            var c = Checkpoint(
                primary: item.primary, path: item.path, device: item.identity.device, inode: item.identity.inode,
                prefix: item.identity.prefix, offset: item.start, line: item.firstLine - 1, marker: item.marker,
                compressed: item.identity.compressed, done: false, active: item.path == item.primary, seenAt: now)
            c.insideCutLine = item.insideCutLine
            cks.append(c)
        }
        // a file held open and also retired (a gap copy): keep the newest position per identity
        var seen = Set<String>()
        cks = cks.reversed().filter { seen.insert("\($0.device)/\($0.inode)/\($0.prefix.count)/\($0.path)").inserted }.reversed()
        for p in primaries {
            next.checkpoints += IncrementalRunner.bounded(cks.filter { $0.primary == p }, max: 64)
            next.runStarts[p] = now - 1_000_000_000
        }
        // closed files' positions are bounded like the saved ones (64 per file, most recently seen kept)
        retired = primaries.flatMap { p in IncrementalRunner.bounded(retired.filter { $0.primary == p }, max: 64) }
        if let journal, let s = stack {
            for f in followers where !f.sink.header.isEmpty { journal.setHeader(f.sink.header, for: f.path) }
            let newest = journal.entries.last?.time ?? Int64.min
            next.carried = newest == .min ? [] : journal.carried(from: newest &- s.horizon)
        }
        next.findingsWritten = findingsWritten ?? final
        // the output files as that sync left them, in the same transaction as the positions they go with
        next.outputs = OutputRecovery.positions(stack?.syncedFiles ?? raw?.syncedFile.map { [$0] } ?? [])
        next.committedAt = now
        do {
            try store.commit(next, baseline: final ? stack?.behaviour.snapshot() : nil)
        } catch {
            report(error)
        }
    }

    /// SIGHUP: output files are reopened (logrotate moved them away), rules and site reloaded. A commit before
    /// the reopen records the old files complete; one after it records the new files, so a crash in between
    /// never leaves alerts after the last commit in a file that the next start cannot cut back.
    private func hangup() {
        commit(final: false)
        HangupSignal.reopenRequested()
        if let raw {
            do { try raw.reopen() } catch { report(error) }
        }
        if stack != nil { reload() } else { say("flowhound: SIGHUP: output reopened (no rules to reload in --emit-raw mode)") }
        commit(final: false)
    }

    private func reload() {
        guard let old = stack else { return }
        say("flowhound: SIGHUP: reloading rules and site")
        guard let fresh = makeStack(reusing: old.output) else {
            say("flowhound: SIGHUP: the new rules or site have errors (above); keeping the rules loaded before")
            return
        }
        stack?.finish()
        IncrementalRunner.replay(journal?.carried(from: .min) ?? [], into: fresh, journal: nil, alreadyWritten: true)
        stack = fresh
        for f in followers {
            if let old = f.sink.scan { f.sink.scan = rebind(old, to: fresh) }
            f.sink = TrackedSink(
                scan: f.sink.scan, raw: nil, journal: journal, correlations: fresh.correlations, path: f.path,
                marker: f.sink.marker.bytes)
            f.sink.capturingHeader = false
        }
        say("flowhound: SIGHUP: \(fresh.rules.count) rules, \(fresh.loaded.detectorRules.count) detectors loaded")
    }

    /// A sink for the new rules that keeps the old one's decoder (a Zeek TSV header is not read again).
    private func rebind(_ old: ScanSink, to stack: DetectionStack) -> ScanSink {
        var s = stack.makeSink(path: old.input.path)
        s.refs = old.refs  // the syslog decoder switches schemas in place for a scan sink
        s.syslogRef?._withUnsafeGuaranteedRef { $0.clearHeaderOnly() }  // the new rules may read other fields
        s.formatName = old.formatName
        s.gaveUp = old.gaveUp
        s.unsupportedFormat = old.unsupportedFormat
        s.firstLineNumber = old.firstLineNumber
        if let d = s.decoder { s.adopt(d.schema) }
        old.finish()
        return s
    }

    private func shutdown() {
        reconcile(wallClockNanoseconds())
        for f in followers { pump(f) }
        stack?.finish()
        raw?.flush()
        if let e = stack?.outputFailure ?? raw?.failure { report(e) }
        commit(final: true)
        for f in followers { f.sink.finish() }
        followers.removeAll()
    }

    private func report(_ d: Diagnostic) {
        errors.append(d)
        diagnostics(d.description + "\n")
    }

    private func say(_ s: String) { diagnostics(s + "\n") }
}

/// One open file being followed.
final class Follower {
    let primary: String
    var path: String
    let fd: Int32
    var identity: FileIdentity
    var reader: ChunkReader
    let framer: LineFramer
    var sink: TrackedSink
    /// Wall-clock time it stopped being the file at `primary` (renamed away or deleted).
    var rotatedSince: Int64?
    var lastChange: Int64
    /// The last raw bytes read (truncation check).
    var tail: MarkerTail
    let marker: [UInt8]
    private var base: Int64
    var failed = false
    var nulSkipped: Int64 = 0

    init(primary: String, path: String, fd: Int32, identity: FileIdentity, start: Int64, firstLine: Int64, marker: [UInt8], maxLine: Int) {
        self.primary = primary
        self.path = path
        self.fd = fd
        self.identity = identity
        self.marker = marker
        base = identity.compressed ? 0 : start
        var o = IngestOptions()
        o.maxLineLength = maxLine
        o.startOffset = start
        o.firstLineNumber = firstLine
        framer = LineFramer(options: o)
        if !identity.compressed { _ = lseek(fd, off_t(start), SEEK_SET) } else { _ = lseek(fd, 0, SEEK_SET) }
        reader = ChunkReader(fd: fd, path: path, closeOnDeinit: false)
        tail = MarkerTail(marker)
        lastChange = wallClockNanoseconds()
        sink = TrackedSink(scan: nil, raw: nil, journal: nil, correlations: nil, path: path, marker: marker)
        if identity.compressed && start > 0 {
            let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 << 10)
            _ = reader.skip(start, scratch: scratch, capacity: 256 << 10)
            scratch.deallocate()
        }
    }

    deinit { close(fd) }

    /// Raw bytes of the file consumed so far (decoded bytes for gzip).
    var position: Int64 { identity.compressed ? reader.decodedOffset : base + reader.rawOffset }

    /// The file was truncated: read it again from 0 with a fresh identity.
    func restart() {
        _ = lseek(fd, 0, SEEK_SET)
        base = 0
        reader = ChunkReader(fd: fd, path: path, closeOnDeinit: false)
        framer.reset(startOffset: 0, firstLineNumber: 1)
        tail = MarkerTail()
        if case .success(let id) = FileProbe.identity(fd: fd, path: path) { identity = id }
    }

    /// A fingerprint taken while the file was shorter than 1 KiB grows with it.
    func refreshPrefix() {
        guard identity.prefix.count < FileIdentity.prefixLength,
            case .success(let id) = FileProbe.identity(fd: fd, path: path), id.extends(identity.prefix)
        else { return }
        identity.prefix = id.prefix
    }

    func checkpoint(now: Int64) -> Checkpoint {
        let cut = framer.isInsideCutLine
        let offset = cut ? framer.consumedOffset : framer.resumeOffset
        var marker = sink.marker.bytes
        if !identity.compressed, let m = FileProbe.plainMarker(fd: fd, before: offset) { marker = m }
        refreshPrefix()
        let prefix = identity.prefix
        var c = Checkpoint(
            primary: primary, path: path, device: identity.device, inode: identity.inode, prefix: prefix, offset: offset,
            line: framer.nextLineNumber - 1, marker: marker, compressed: identity.compressed, done: false,
            active: rotatedSince == nil, seenAt: now)
        c.insideCutLine = cut
        return c
    }
}

/// The write end of `TailRunner`'s self-pipe, for its signal handler (a C function: it cannot capture).
private enum TailSignalPipe {
    static let writeEnd = Atomic<Int32>(-1)

    static func install(writeEnd fd: Int32, signals: [Int32]) {
        writeEnd.store(fd, ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { sig in
            var b = UInt8(truncatingIfNeeded: sig)
            _ = write(TailSignalPipe.writeEnd.load(ordering: .acquiring), &b, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals {
            sigaction(sig, &action, nil)
            sigaddset(&set, sig)
        }
        // a parent may have started us with these blocked (signal masks survive exec)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
