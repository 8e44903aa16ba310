import FlowhoundCore
import FlowhoundIngest
import FlowhoundState

/// Decides, for one named file, which of its generations on disk to read and from where.
///
/// - Candidates: the file and its rotated generations (`RotatedGenerations`), each identified by `FileIdentity`.
///   When `X.1` and `X.1.gz` carry the same content (logrotate is compressing), only `X.1` is read.
/// - Saved positions go to the candidate that carries their identity: its prefix extends the saved one, and —
///   checked when reading — the marker before the offset matches. The same (device, inode) uncompressed wins,
///   then any uncompressed copy (copytruncate), then a compressed one. Two files existing at once are two
///   identities even when their first bytes are equal (each position is used once, same inode first).
/// - A candidate without a position: the named file is new (read from 0; on a first run from `--from`);
///   another generation is read from 0 when it changed after the last run started (written, then rotated in
///   between), else it is an old archive (read only with `--include-archives` on a first run).
/// - Positions whose identity is no longer on disk are kept until `forgetAfterSeconds`; if the lost one was
///   the named file itself with unread data possible, that is reported (lines may be lost).
struct Planner {
    let primary: String
    let saved: IngestState
    let options: IncrementalOptions
    let now: Int64
    private(set) var problems: [Diagnostic] = []
    /// Saved positions kept without reading (done, or not found but not yet forgotten).
    private(set) var carriedForward: [Checkpoint] = []
    /// Nothing was saved for this file (no position, no run start): `build` planned a first run.
    private(set) var firstRun = false

    init(primary: String, saved: IngestState, options: IncrementalOptions, now: Int64) {
        self.primary = primary
        self.saved = saved
        self.options = options
        self.now = now
    }

    struct Candidate {
        var path: String
        var identity: FileIdentity
    }

    /// A first run with `--since` (`tail --from TIME`): start at the first line at or after the time; a file
    /// in which no time can be read is read from the start, with a warning.
    private mutating func seek(_ c: Candidate, _ since: Timestamp) -> ReadItem {
        switch TimeSeek.find(
            path: c.path, identity: c.identity, since: since, zone: options.sinceZone, forcedFormat: options.sinceFormat,
            maxLineLength: options.maxLineLength)
        {
        case .success(let s):
            return ReadItem(
                primary: primary, path: c.path, identity: c.identity, start: s.offset, firstLine: s.linesBefore + 1,
                marker: s.marker, discard: false)
        case .failure(let d):
            problems.append(d)
            return ReadItem(primary: primary, path: c.path, identity: c.identity, start: 0, firstLine: 1, marker: [], discard: false)
        }
    }

    mutating func build() -> [ReadItem] {
        var candidates: [Candidate] = []
        let siblings = RotatedGenerations.siblings(of: primary, extraGlobs: options.rotatedGlobs).map(\.path)
        for path in siblings + [primary] {
            switch FileProbe.identity(path: path) {
            case .success(let id): candidates.append(Candidate(path: path, identity: id))
            case .failure(let e):
                // a generation can vanish while we look (logrotate removing X.1 after compressing it)
                if path == primary || access(path, F_OK) == 0 { problems.append(e.diagnostic) }
            }
        }
        // the same inode twice (a symlink and its target, hard links): keep the first
        var inodes = Set<[UInt64]>()
        candidates = candidates.filter { inodes.insert([$0.identity.device, $0.identity.inode]).inserted }
        // X.1 and X.1.gz during compression: one identity, read the plain one
        let plainPaths = Dictionary(candidates.filter { !$0.identity.compressed }.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        candidates = candidates.filter { c in
            guard c.identity.compressed, c.path.hasSuffix(".gz"), let plain = plainPaths[String(c.path.dropLast(3))] else {
                return true
            }
            return !(plain.identity.extends(c.identity.prefix) || c.identity.extends(plain.identity.prefix))
        }

        let mine = saved.checkpoints.filter { $0.primary == primary }
        firstRun = mine.isEmpty && saved.runStarts[primary] == nil
        let lastStart = saved.runStarts[primary]
        var used = [Bool](repeating: false, count: mine.count)
        var assignment = [Int?](repeating: nil, count: candidates.count)

        // strongest matches first: same inode and uncompressed, then uncompressed, then compressed
        for pass in 0..<3 {
            for (ci, c) in candidates.enumerated() where assignment[ci] == nil {
                var best: Int?
                for (ki, k) in mine.enumerated() where !used[ki] && c.identity.extends(k.prefix) {
                    let sameInode = k.device == c.identity.device && k.inode == c.identity.inode
                    let fits: Bool
                    switch pass {
                    case 0: fits = sameInode && !c.identity.compressed
                    case 1: fits = !c.identity.compressed
                    default: fits = c.identity.compressed
                    }
                    guard fits else { continue }
                    // an uncompressed file can be checked now: long enough, same bytes before the offset
                    if !c.identity.compressed {
                        if c.identity.size < k.offset { continue }
                        if !markerMatches(c.path, k) { continue }
                    }
                    if best == nil || mine[best!].offset < k.offset { best = ki }
                }
                if let b = best {
                    assignment[ci] = b
                    used[b] = true
                }
            }
        }

        var items: [ReadItem] = []
        for (ci, c) in candidates.enumerated() {
            if let ki = assignment[ci] {
                let k = mine[ki]
                if k.done {
                    var kept = k
                    kept.path = c.path
                    kept.seenAt = now
                    kept.active = c.path == primary
                    carriedForward.append(kept)
                    continue
                }
                items.append(
                    ReadItem(
                        primary: primary, path: c.path, identity: c.identity, start: k.offset, firstLine: k.line + 1,
                        marker: k.marker, discard: false, insideCutLine: k.insideCutLine))
                continue
            }
            if c.path == primary {
                if firstRun, let since = options.since {
                    items.append(seek(c, since))
                } else {
                    items.append(
                        ReadItem(
                            primary: primary, path: c.path, identity: c.identity, start: 0, firstLine: 1, marker: [],
                            discard: firstRun && options.from == .end))
                }
            } else if let lastStart, c.identity.mtime >= lastStart {
                items.append(
                    ReadItem(primary: primary, path: c.path, identity: c.identity, start: 0, firstLine: 1, marker: [], discard: false))
            } else if firstRun && options.includeArchives {
                if let since = options.since {
                    items.append(seek(c, since))
                } else {
                    items.append(
                        ReadItem(primary: primary, path: c.path, identity: c.identity, start: 0, firstLine: 1, marker: [], discard: false))
                }
            }
        }
        for (ki, k) in mine.enumerated() where !used[ki] {
            if candidates.contains(where: { $0.identity.device == k.device && $0.identity.inode == k.inode }) {
                // the same inode with other content, and no copy of the old content anywhere: truncated or
                // rewritten in place, or removed and its inode reused (ext4 does at once). Lines between the saved
                // offset and the truncation may be lost; the file is read again from 0.
                if !k.done {
                    problems.append(
                        Diagnostic(
                            code: "lost_track",
                            "the file was truncated, rewritten or replaced since the last run (saved offset \(k.offset), "
                                + "no rotated copy found); reading it from the start, lines written after the last run "
                                + "to the old content are lost",
                            at: FileLocation(path: k.path)))
                }
                continue
            }
            if k.active && !k.done {
                problems.append(
                    Diagnostic(
                        code: "lost_track",
                        "lost track of this file (inode \(k.inode)) at offset \(k.offset): it was rotated away and removed, "
                            + "or rewritten, before this run; lines written to it after the last run are lost",
                        at: FileLocation(path: k.path)))
                continue
            }
            if now - k.seenAt <= options.forgetAfterSeconds * 1_000_000_000 { carriedForward.append(k) }
        }
        return items
    }

    private func markerMatches(_ path: String, _ k: Checkpoint) -> Bool {
        guard k.offset > 0 else { return true }
        guard case .success(let fd) = FileProbe.open(path) else { return false }
        defer { close(fd) }
        return FileProbe.plainMarker(fd: fd, before: k.offset) == k.marker
    }
}
