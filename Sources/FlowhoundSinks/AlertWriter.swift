import FlowhoundCore

/// Writes rendered findings to a file descriptor (stdout or a file opened for append), whole lines only.
///
/// Buffers up to 64 KiB and flushes on `flush()`; a write error is kept and reported once, it never traps.
package final class AlertWriter {
    package let format: AlertFormat
    package let colour: Bool
    private let fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    package private(set) var written = 0
    package private(set) var error: Diagnostic?
    package let destination: String

    /// Writes to standard output.
    package init(stdoutFormat format: AlertFormat, colour: Bool) {
        self.format = format
        self.colour = colour
        fd = 1
        ownsDescriptor = false
        destination = "<stdout>"
    }

    /// Opens `path` for appending (created with mode 0640 when missing).
    package init(path: String, format: AlertFormat) throws(Diagnostic) {
        self.format = format
        colour = false
        destination = path
        let d = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if d < 0 {
            throw Diagnostic(
                code: "cannot_open_output", "cannot open alert output: \(String(cString: strerror(errno))); check the directory exists and is writable",
                at: FileLocation(path: path))
        }
        fd = d
        ownsDescriptor = true
    }

    deinit {
        flush()
        if ownsDescriptor { close(fd) }
    }

    package func write(_ f: Finding) {
        switch format {
        case .json: buffer.append(contentsOf: AlertFormatter.json(f))
        case .text: buffer.append(contentsOf: AlertFormatter.text(f, colour: colour))
        case .csv:
            if written == 0 { buffer.append(contentsOf: AlertFormatter.csvHeader) }
            buffer.append(contentsOf: AlertFormatter.csv(f))
        }
        written += 1
        if buffer.count >= 64 << 10 { flush() }
    }

    package func flush() {
        var off = 0
        while off < buffer.count && error == nil {
            let n = buffer.withUnsafeBytes { p in Glibc.write(fd, p.baseAddress! + off, p.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                error = Diagnostic(code: "write_failed", "cannot write alerts: \(String(cString: strerror(errno)))",
                    at: FileLocation(path: destination))
            } else {
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
