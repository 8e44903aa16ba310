import FlowhoundCore

/// Wakes the live follower when a followed file or its directory changes (ingest.md §4, items 9, 16–18).
///
/// inotify watches each followed file (`IN_MODIFY`, `IN_ATTRIB`, `IN_MOVE_SELF`, `IN_DELETE_SELF`) and its
/// parent directory (`IN_CREATE`, `IN_MOVED_TO`, `IN_MOVED_FROM`, `IN_DELETE`, `IN_ATTRIB`, `IN_DELETE_SELF`).
/// Events are only hints: the follower re-checks every file (fstat, re-resolve names) on every wake-up, and
/// also after `safetyInterval` without any event, so a missed or coalesced event costs at most that long.
///
/// Polling is used instead when asked (`--poll`), when `inotify_init1` fails, and for paths on network or FUSE
/// file systems (found from `/proc/self/mountinfo`), where inotify does not see other hosts' writes. A path
/// whose watch cannot be added (`ENOSPC`/`ENOMEM`: the `max_user_watches` limit, or a missing directory) is
/// polled too: the wait then never exceeds `pollInterval`. `IN_Q_OVERFLOW` is reported so the follower
/// reconciles everything.
package final class FileWatcher {
    package enum Wake: Equatable, Sendable {
        /// Something changed (or may have): re-check.
        case changed
        /// The kernel dropped events: re-check everything.
        case overflow
        /// Nothing happened within the timeout.
        case timeout
        /// The extra descriptor (e.g. a signal pipe) is readable.
        case external
    }

    package let pollInterval: Int32
    package let safetyInterval: Int32
    /// nil when polling only.
    package private(set) var inotifyFD: Int32?
    /// Why inotify is not used (nil when it is).
    package private(set) var pollingReason: String?
    private var watches: [String: Int32] = [:]
    private var remoteCache: [String: Bool] = [:]
    /// Paths that could not be watched (polled).
    package private(set) var unwatched: Set<String> = []
    package private(set) var overflows = 0
    /// Test seam: adds a watch (returns the watch descriptor or -1 with errno set).
    private let addWatch: (Int32, String, UInt32) -> Int32

    package static let fileMask = UInt32(IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
    package static let directoryMask = UInt32(
        IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

    /// - Parameters:
    ///   - forcePoll: never use inotify.
    ///   - pollInterval: milliseconds between checks when polling (default 250, like Fluent Bit's stat watcher).
    ///   - safetyInterval: milliseconds between checks with inotify and no events.
    package init(
        forcePoll: Bool, pollInterval: Int32 = 250, safetyInterval: Int32 = 1000,
        inotifyInit: () -> Int32 = { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) },
        addWatch: @escaping (Int32, String, UInt32) -> Int32 = { inotify_add_watch($0, $1, $2) }
    ) {
        self.pollInterval = max(1, pollInterval)
        self.safetyInterval = max(1, safetyInterval)
        self.addWatch = addWatch
        if forcePoll {
            pollingReason = "--poll"
            return
        }
        let fd = inotifyInit()
        if fd < 0 {
            pollingReason = "inotify unavailable (\(String(cString: strerror(errno))))"
        } else {
            inotifyFD = fd
        }
    }

    deinit { if let fd = inotifyFD { close(fd) } }

    package var isPolling: Bool { inotifyFD == nil }

    /// Watches what `path` names now (a file, or with `directory` a directory). Call again after a rotation: a
    /// watch follows an inode, and the name may point at a new one (the kernel returns the same watch for the
    /// same inode). A failure makes the path polled.
    package func watch(_ path: String, directory: Bool) {
        guard let fd = inotifyFD else { return }
        let remote: Bool
        if let r = remoteCache[path] {
            remote = r
        } else {
            remote = MountTable.isRemote(path)
            remoteCache[path] = remote
        }
        if remote {
            unwatched.insert(path)
            return
        }
        let wd = addWatch(fd, path, directory ? Self.directoryMask : Self.fileMask)
        if wd < 0 {
            unwatched.insert(path)
        } else {
            watches[path] = wd
            unwatched.remove(path)
        }
    }

    /// Drops every watch (before re-adding those still needed, e.g. after a directory was replaced).
    package func reset() {
        guard let fd = inotifyFD else { return }
        for (_, wd) in watches { inotify_rm_watch(fd, wd) }
        watches.removeAll()
        unwatched.removeAll()
    }

    /// Waits for a change, at most the poll or safety interval, also returning early when `extra` is readable.
    /// `atMost` (milliseconds) shortens the wait, e.g. when the caller has a commit due.
    package func wait(extra: Int32? = nil, atMost: Int32? = nil) -> Wake {
        var fds: [pollfd] = []
        if let fd = inotifyFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        if let e = extra { fds.append(pollfd(fd: e, events: Int16(POLLIN), revents: 0)) }
        var timeout = (isPolling || !unwatched.isEmpty) ? pollInterval : safetyInterval
        if let m = atMost { timeout = max(0, min(timeout, m)) }
        let r = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
        if r <= 0 { return r < 0 && errno == EINTR ? .changed : .timeout }
        if let e = extra, let last = fds.last, last.fd == e, last.revents & Int16(POLLIN) != 0 { return .external }
        guard let fd = inotifyFD else { return .timeout }
        return drain(fd)
    }

    /// Reads every pending event; `.overflow` if the queue overflowed.
    private func drain(_ fd: Int32) -> Wake {
        var overflowed = false
        var any = false
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            any = true
            if Self.containsOverflow(buf, count: n) { overflowed = true }
        }
        if overflowed {
            overflows += 1
            return .overflow
        }
        return any ? .changed : .timeout
    }

    /// Whether a buffer of inotify events holds `IN_Q_OVERFLOW`.
    package static func containsOverflow(_ buf: [UInt8], count: Int) -> Bool {
        let header = MemoryLayout<inotify_event>.size
        var off = 0
        while off + header <= count {
            let mask = buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self) }
            let len = buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self) }
            if mask & UInt32(IN_Q_OVERFLOW) != 0 { return true }
            off += header + Int(len)
        }
        return false
    }
}

/// File system types from `/proc/self/mountinfo`: inotify is not trusted on network and FUSE file systems.
package enum MountTable {
    static let remoteTypes: Set<String> = [
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs", "sshfs", "lustre", "gpfs", "ncpfs",
        "coda", "davfs",
    ]

    /// The file system type holding `path` (nil if unknown).
    package static func type(of path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        let full = String(cString: resolved)
        free(resolved)
        guard let text = readSmallFile("/proc/self/mountinfo") else { return nil }
        var best: (Int, String)?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count > 8, let dash = parts.firstIndex(of: "-"), dash + 1 < parts.count else { continue }
            let mount = String(parts[4]).replacingOctalEscapes()
            let matches = mount == "/" || full == mount || full.hasPrefix(mount + "/")
            if matches && mount.count >= (best?.0 ?? -1) { best = (mount.count, String(parts[dash + 1])) }
        }
        return best?.1
    }

    package static func isRemote(_ path: String) -> Bool {
        guard let t = type(of: path) else { return false }
        return remoteTypes.contains(t) || t.hasPrefix("fuse")
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16 << 10)
        while out.count < 4 << 20 {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// mountinfo writes space, tab, newline and backslash in paths as `\040` etc.
    fileprivate func replacingOctalEscapes() -> String {
        guard contains("\\") else { return self }
        var out: [UInt8] = []
        let b = Array(utf8)
        var i = 0
        while i < b.count {
            if b[i] == 92, i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
