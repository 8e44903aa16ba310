import FlowhoundCore

/// A progress bar on standard error while `scan` reads its inputs: bytes done of the total, MB/s, ETA.
///
/// Bytes are the input files' own (compressed) sizes: finished inputs count whole, and the position in each
/// open one (several at once under `--jobs`) is read from `/proc/self/fdinfo` of the descriptor open on it, so the bar needs nothing from the reader and costs the
/// scan nothing: a separate thread redraws it four times a second. Standard input shows bytes read and the
/// rate when it is a file, else only the elapsed time. Create one only when standard error is a terminal; the
/// bar appears after half a second (short scans stay silent) and is erased by `finish()`.
final class ProgressMeter: @unchecked Sendable {  // mutable state is guarded by `lock`
    private let paths: [String]
    private let resolved: [String?]
    private let sizes: [Int64?]
    private let total: Int64
    private let lock = NSLockLike()
    /// Open inputs → the descriptor found for them (-1: not yet).
    private var open: [Int: Int32] = [:]
    private var finished = Set<Int>()
    private var lastOpened = -1
    private let index: [String: Int]
    private var running = true
    private var drawn = false
    private var thread: pthread_t?
    private let started: Double
    private let output: Int32

    init(paths: [String], output: Int32 = 2) {
        self.paths = paths
        self.output = output
        resolved = paths.map { p in
            if p == "-" { return nil }
            guard let r = realpath(p, nil) else { return nil }
            defer { free(r) }
            return String(cString: r)
        }
        sizes = paths.map { p in
            var st = stat()
            if p == "-" { return fstat(0, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil }
            return stat(p, &st) == 0 ? Int64(st.st_size) : nil
        }
        total = sizes.reduce(0) { $0 + ($1 ?? 0) }
        var index: [String: Int] = [:]
        for (i, p) in paths.enumerated() where index[p] == nil { index[p] = i }
        self.index = index
        started = ProgressMeter.now()
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        if pthread_create(&tid, nil, { raw in
            let m = Unmanaged<ProgressMeter>.fromOpaque(raw!).takeRetainedValue()
            m.loop()
            return nil
        }, box) == 0 {
            thread = tid
        } else {
            Unmanaged<ProgressMeter>.fromOpaque(box).release()
        }
    }

    /// The scan started reading `path` (one of the paths given at creation).
    func begin(_ path: String) {
        guard let i = index[path] else { return }
        lock.with {
            open[i] = -1
            lastOpened = i
        }
    }

    /// The scan finished reading `path`.
    func end(_ path: String) {
        guard let i = index[path] else { return }
        lock.with {
            open[i] = nil
            finished.insert(i)
        }
    }

    /// Stops the thread and erases the bar.
    func finish() {
        lock.with { running = false }
        if let thread { pthread_join(thread, nil) }
        thread = nil
        if lock.with({ drawn }) { put("\r\u{1B}[K") }
    }

    private func loop() {
        while lock.with({ running }) {
            var ts = timespec(tv_sec: 0, tv_nsec: 250_000_000)
            nanosleep(&ts, nil)
            guard lock.with({ running }) else { break }
            if ProgressMeter.now() - started < 0.5 { continue }
            draw()
        }
    }

    private func draw() {
        let (opened, done0, last) = lock.with { (open, finished, lastOpened) }
        guard last >= 0 else { return }
        var done = done0.reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
        var found: [Int: Int32] = [:]
        for (i, fd) in opened {
            var position: Int64 = 0
            var foundFD = fd
            if paths[i] == "-" {
                position = ProgressMeter.position(of: 0) ?? 0
            } else if let target = resolved[i] {
                if fd < 0 || ProgressMeter.link(of: fd) != target { foundFD = ProgressMeter.findDescriptor(target) ?? -1 }
                if foundFD >= 0 { position = ProgressMeter.position(of: foundFD) ?? 0 }
            }
            found[i] = foundFD
            done += min(position, sizes[i] ?? position)
        }
        lock.with {
            for (i, fd) in found where open[i] != nil { open[i] = fd }
        }
        let elapsed = max(0.001, ProgressMeter.now() - started)
        let rate = Double(done) / elapsed
        let shownIndex = opened.keys.min() ?? last
        let name = paths[shownIndex] == "-" ? "<stdin>" : (paths[shownIndex].split(separator: "/").last.map(String.init) ?? paths[shownIndex])
        var line = "\r"
        let fileNote = paths.count > 1 ? " [\(done0.count + 1)/\(paths.count)]" : ""
        if total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            line += "\(Int(fraction * 100))% \(ProgressMeter.mb(done))/\(ProgressMeter.mb(total)) MB "
            line += "\(ProgressMeter.mb(Int64(rate))) MB/s"
            if rate > 0 && done < total {
                line += " ETA " + ProgressMeter.clock(Double(total - done) / rate)
            }
        } else {
            line += "\(ProgressMeter.mb(done)) MB, \(ProgressMeter.clock(elapsed)) elapsed"
        }
        line += fileNote + " " + Escaping_safe(name)
        let columns = ProgressMeter.columns(output)
        if line.count > columns { line = String(line.prefix(columns)) }
        put(line + "\u{1B}[K")
        lock.with { drawn = true }
    }

    private func put(_ s: String) {
        let bytes = Array(s.utf8)
        _ = bytes.withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
    }

    static func mb(_ b: Int64) -> String {
        let v = Double(b) / 1_000_000
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        let two = { (v: Int) in v < 10 ? "0\(v)" : "\(v)" }
        return s >= 3600 ? "\(s / 3600):\(two(s % 3600 / 60)):\(two(s % 60))" : "\(s / 60):\(two(s % 60))"
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func columns(_ fd: Int32) -> Int {
        var ws = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 10 { return Int(ws.ws_col) + 1 }
        return 81
    }

    static func link(of fd: Int32) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/fd/\(fd)", &buf, 4095)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func findDescriptor(_ target: String) -> Int32? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var best: Int32?
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard let fd = Int32(name), fd > 2 else { continue }
            if link(of: fd) == target { best = max(best ?? fd, fd) }
        }
        return best
    }

    /// The file position of `fd`, from /proc/self/fdinfo.
    static func position(of fd: Int32) -> Int64? {
        let f = Glibc.open("/proc/self/fdinfo/\(fd)", O_RDONLY | O_CLOEXEC)
        if f < 0 { return nil }
        defer { close(f) }
        var buf = [UInt8](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBytes { read(f, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("pos:") {
            return Int64(line.dropFirst(4).filter { !$0.isWhitespace })
        }
        return nil
    }
}

/// A file name made safe for the terminal (no control characters).
private func Escaping_safe(_ s: String) -> String {
    String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
}
