import FlowhoundCore
import Synchronization

/// Standard output or a file opened for appending (created with mode 0640), in JSON lines, text or CSV.
///
/// Each batch is rendered into one buffer and written with `write(2)` on the descriptor, so whole lines reach
/// the file together. A file sink reopens its path when SIGHUP arrived since the last batch (logrotate moved the
/// file away; the next alert goes to a new file at the same path). CSV writes its header when the file is new
/// or empty, and at the top of standard output.
package final class StreamSink: AlertSinkBackend {
    package let name: String
    let format: AlertFormat
    let colour: Bool
    private let path: String?
    private var fd: Int32
    private var headerPending: Bool
    private var buffer: [UInt8] = []
    private let synced = Mutex<SyncedFile?>(nil)

    /// Writes to standard output; `colour` only for text on a terminal.
    package init(stdoutFormat format: AlertFormat, colour: Bool) {
        name = "stdout"
        self.format = format
        self.colour = colour && format == .text
        path = nil
        fd = 1
        headerPending = format == .csv
    }

    /// Opens `path` for appending.
    package init(path: String, format: AlertFormat) throws(SinkError) {
        name = "file:" + path
        self.format = format
        colour = false
        self.path = path
        fd = -1
        headerPending = false
        try open()
    }

    private func open() throws(SinkError) {
        guard let path else { return }
        let d = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if d < 0 {
            throw SinkError(
                sink: name, code: "cannot_open_output",
                "cannot open \(path): \(String(cString: strerror(errno))); check the directory exists and is writable")
        }
        fd = d
        var st = stat()
        headerPending = format == .csv && fstat(d, &st) == 0 && st.st_size == 0
    }

    package func reopen() throws(SinkError) {
        guard path != nil else { return }
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        try open()
    }

    package func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) {
        if fd < 0 { try open() }
        buffer.removeAll(keepingCapacity: true)
        for item in batch {
            guard case .alert(let f, _) = item else { continue }
            switch format {
            case .json: buffer.append(contentsOf: AlertFormatter.json(f))
            case .text: buffer.append(contentsOf: AlertFormatter.text(f, colour: colour))
            case .csv:
                if headerPending {
                    buffer.append(contentsOf: AlertFormatter.csvHeader)
                    headerPending = false
                }
                buffer.append(contentsOf: AlertFormatter.csv(f))
            }
        }
        try writeAll()
    }

    private func writeAll() throws(SinkError) {
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { p in Glibc.write(fd, p.baseAddress! + off, p.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SinkError(
                    sink: name, code: "write_failed", "cannot write alerts: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    package func sync() {
        guard let path, fd >= 0 else { return }
        fsync(fd)
        let now = SyncedFile.of(fd: fd, path: path)
        synced.withLock { $0 = now }
    }

    package var syncedFile: SyncedFile? { synced.withLock { $0 } }

    package func close() {
        if path != nil && fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
