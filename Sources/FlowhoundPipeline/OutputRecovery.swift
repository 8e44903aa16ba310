import FlowhoundCore
import FlowhoundSinks
import FlowhoundState

/// Exactly-once delivery to output files (`scan --incremental`, `tail`).
///
/// Each state commit records, for every file output, its identity (device, inode) and its length after the
/// flush and fsync that the commit covers (`OutputPosition`, in the same transaction as the checkpoints). On
/// the next start, before any input is read, `rewind` cuts a file that is still that inode and has grown back
/// to the recorded length: what was written after the last commit (before a `kill -9`, a crash, a power loss)
/// is removed, and reading resumes from the checkpoints of that same commit, so those alerts or lines are
/// written again exactly once. A file that was rotated or replaced (another inode) or is shorter than recorded
/// is left alone, with a one-line notice: its alerts after the commit may then appear twice. Standard output,
/// pipes, syslog, webhooks and the alert store cannot be taken back: they stay at-least-once.
enum OutputRecovery {
    /// The file outputs a run writes to (`--output FILE`, `file:` specs), each once.
    static func filePaths(_ options: ScanOptions) -> [String] {
        var out: [String] = []
        if let p = options.outputPath { out.append(p) }
        for spec in options.alerts.specs {
            if case .file(let p) = spec.kind, !out.contains(p) { out.append(p) }
        }
        return out
    }

    /// `rewind`, then records every output file as it is now (created when missing) in the store, so that a
    /// crash before this run's first commit (a first run, or one after the file was rotated) is cut back to
    /// here too. Returns an error when a file cannot be cut back, created or recorded.
    static func prepare(
        _ store: StateStore, saved: [OutputPosition], paths: [String], say: (String) -> Void
    ) -> Diagnostic? {
        if let d = rewind(saved, paths: paths, say: say) { return d }
        var now: [OutputPosition] = []
        for path in paths {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd < 0 {
                return Diagnostic(
                    code: "cannot_open_output",
                    "cannot open output: \(String(cString: strerror(errno))); check the directory exists and is writable",
                    at: FileLocation(path: path))
            }
            defer { close(fd) }
            // the cut (or the creation) must be durable before the state says so
            fsync(fd)
            if let f = SyncedFile.of(fd: fd, path: path) { now += positions([f]) }
        }
        if now.isEmpty { return nil }
        do { try store.saveOutputPositions(now) } catch { return error }
        return nil
    }

    /// Cuts each output file back to its length at the last commit (see the type). Returns an error when a file
    /// that must be cut cannot be (the run must not start: it would write those alerts twice).
    static func rewind(_ saved: [OutputPosition], paths: [String], say: (String) -> Void) -> Diagnostic? {
        for path in paths {
            guard let rec = saved.first(where: { $0.path == path }) else { continue }
            var st = stat()
            guard stat(path, &st) == 0 else {
                say("flowhound: \(path): the output file of the last commit is gone; starting a new one")
                continue
            }
            let size = Int64(st.st_size)
            if UInt64(st.st_dev) != rec.device || UInt64(st.st_ino) != rec.inode {
                say(
                    "flowhound: \(path): not the output file of the last commit (rotated or replaced); left as it is, "
                        + "so alerts written after that commit may appear twice")
            } else if size < rec.length {
                say(
                    "flowhound: \(path): shorter (\(size) bytes) than at the last commit (\(rec.length) bytes), "
                        + "truncated by someone else; left as it is")
            } else if size > rec.length {
                if truncate(path, off_t(rec.length)) != 0 {
                    return Diagnostic(
                        code: "cannot_rewind_output",
                        "cannot cut the output back to \(rec.length) bytes, its length at the last commit: "
                            + "\(String(cString: strerror(errno))); it holds \(size - rec.length) bytes written after "
                            + "that commit. Make it writable, or move it away to keep them and start a new file",
                        at: FileLocation(path: path, byteOffset: rec.length))
                }
                say(
                    "flowhound: \(path): removed \(size - rec.length) bytes written after the last commit "
                        + "(from byte \(rec.length)); they are written again")
            }
        }
        return nil
    }

    /// What a commit records for the outputs as they were synced.
    static func positions(_ files: [SyncedFile]) -> [OutputPosition] {
        var out: [OutputPosition] = []
        for f in files where !out.contains(where: { $0.path == f.path }) { out.append(f) }
        return out
    }
}
