import FlowhoundCore

/// An exclusive `flock(2)` on `<state>.lock`, so two runs never read and commit the same state at once
/// (ingest.md item 28). The kernel releases it when the process dies, even by `kill -9`; there is no PID file
/// to go stale. The holder's PID is written into the file for the message a second run prints.
final class StateLock {
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    enum Failure: Error {
        /// `since`: wall-clock seconds when the holder took the lock (the lock file's mtime, written then).
        case busy(holder: String, since: Int64)
        case failed(Diagnostic)
    }

    /// Takes the lock; with `wait`, blocks until the holder finishes.
    static func acquire(statePath: String, wait: Bool) -> Result<StateLock, Failure> {
        let path = statePath + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            return .failure(
                .failed(
                    Diagnostic(
                        code: "state_lock", "cannot create the lock file: \(String(cString: strerror(errno))); check --state",
                        at: FileLocation(path: path))))
        }
        while flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK {
                var buf = [UInt8](repeating: 0, count: 32)
                let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 32, 0) }
                var st = stat()
                let since = fstat(fd, &st) == 0 ? Int64(st.st_mtim.tv_sec) : 0
                close(fd)
                let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingNewlines() : "?"
                return .failure(.busy(holder: holder, since: since))
            }
            let e = errno
            close(fd)
            return .failure(
                .failed(
                    Diagnostic(code: "state_lock", "cannot lock: \(String(cString: strerror(e)))", at: FileLocation(path: path))))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return .success(StateLock(path: path, fd: fd))
    }
}

extension String {
    fileprivate func trimmingNewlines() -> String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == "\r" || l == " " { s = s.dropLast() }
        return String(s)
    }
}

/// Where the state store lives when `--state` is not given (ingest.md item 42): `$STATE_DIRECTORY` (systemd
/// `StateDirectory=`), else `/var/lib/flowhound` for root, else `${XDG_STATE_HOME:-$HOME/.local/state}/flowhound`.
/// The directory is created with mode 0700; the store is `state.sqlite` in it, the lock `state.sqlite.lock`.
package enum StateLocation {
    package static func directory(environment: [String: String], isRoot: Bool) -> String? {
        if let d = environment["STATE_DIRECTORY"], !d.isEmpty {
            // systemd may pass several, separated by ':'
            return String(d.split(separator: ":").first ?? Substring(d))
        }
        if isRoot { return "/var/lib/flowhound" }
        if let x = environment["XDG_STATE_HOME"], x.hasPrefix("/") { return x + "/flowhound" }
        if let h = environment["HOME"], !h.isEmpty { return h + "/.local/state/flowhound" }
        return nil
    }

    /// The default store path, creating its directory (0700) when missing.
    package static func defaultStore(environment: [String: String], isRoot: Bool) -> Result<String, Diagnostic> {
        guard let dir = directory(environment: environment, isRoot: isRoot) else {
            return .failure(Diagnostic(code: "no_state_dir", "no state directory: pass --state FILE (HOME is not set)"))
        }
        var path = ""
        for part in dir.split(separator: "/") {
            path += "/" + part
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                return .failure(
                    Diagnostic(
                        code: "no_state_dir", "cannot create the state directory: \(String(cString: strerror(errno))); pass --state FILE",
                        at: FileLocation(path: path)))
            }
        }
        return .success(dir + "/state.sqlite")
    }
}
