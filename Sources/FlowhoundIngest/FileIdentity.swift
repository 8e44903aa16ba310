import FlowhoundCore

/// What identifies one log file across renames, compression and restarts (ingest.md §1.1–1.2).
///
/// Identity is the pair (device, inode) **and** a prefix fingerprint: the first `min(size, 1 KiB)` bytes of the
/// *decoded* content (so `app.log.1` and the `app.log.1.gz` made from it have the same fingerprint). The
/// fingerprint grows while the file is shorter than 1 KiB: a saved prefix matches a file whose prefix starts
/// with it. The path is never the identity. A saved offset is used only when the file still holds at least
/// that many decoded bytes and the `markerLength` bytes just before the offset are unchanged.
package struct FileIdentity: Sendable, Equatable {
    package static let prefixLength = 1024
    package static let markerLength = 32

    package var device: UInt64
    package var inode: UInt64
    /// The first decoded bytes (at most `prefixLength`).
    package var prefix: [UInt8]
    /// gzip by magic bytes.
    package var compressed: Bool
    /// Size on disk (compressed bytes for gzip).
    package var size: Int64
    /// Modification time, nanoseconds since the epoch (ordering and grace checks only, never change detection).
    package var mtime: Int64
    /// Hard links (0 once the file was deleted while open).
    package var links: UInt64

    package init(device: UInt64, inode: UInt64, prefix: [UInt8], compressed: Bool, size: Int64, mtime: Int64, links: UInt64 = 1) {
        self.device = device
        self.inode = inode
        self.prefix = prefix
        self.compressed = compressed
        self.size = size
        self.mtime = mtime
        self.links = links
    }

    /// True when a file whose saved fingerprint is `saved` may be this file: this prefix starts with it
    /// (a file shorter than 1 KiB at the time grows its fingerprint).
    package func extends(_ saved: [UInt8]) -> Bool {
        saved.count <= prefix.count && prefix.starts(with: saved)
    }

    /// A short stable hash of the prefix, for messages and tests (FNV-1a 64).
    package var fingerprintHex: String { Self.fnv1a(prefix) }

    package static func fnv1a(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// Computing identities and checking saved offsets.
package enum FileProbe {
    /// (device, inode, size, mtime, links) of an open descriptor.
    package static func stat(fd: Int32) -> (UInt64, UInt64, Int64, Int64, UInt64)? {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return (
            UInt64(st.st_dev), UInt64(st.st_ino), Int64(st.st_size),
            Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec), UInt64(st.st_nlink)
        )
    }

    /// Opens `path` read-only (following symlinks); the caller owns the descriptor.
    package static func open(_ path: String) -> Result<Int32, IngestError> {
        var fd: Int32
        repeat { fd = Glibc.open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 {
            let e = errno
            return .failure(
                IngestError(
                    code: .cannotOpen, path: path,
                    message: "cannot open: \(String(cString: strerror(e)))"
                        + (e == ENOENT ? "; check the path (a rotated file may have been removed)" : "; check its permissions")))
        }
        return .success(fd)
    }

    /// The identity of the file at `path` (decodes at most the first 1 KiB of a gzip file).
    package static func identity(path: String) -> Result<FileIdentity, IngestError> {
        switch open(path) {
        case .failure(let e): return .failure(e)
        case .success(let fd):
            defer { close(fd) }
            return identity(fd: fd, path: path)
        }
    }

    /// The identity of an open file, read through a duplicate descriptor (the caller's offset is not moved).
    package static func identity(fd: Int32, path: String) -> Result<FileIdentity, IngestError> {
        guard let (dev, ino, size, mtime, links) = stat(fd: fd) else {
            return .failure(IngestError(code: .readFailed, path: path, message: "cannot stat: \(String(cString: strerror(errno)))"))
        }
        var magic: (UInt8, UInt8) = (0, 0)
        let m = withUnsafeMutableBytes(of: &magic) { pread(fd, $0.baseAddress, 2, 0) }
        let compressed = m == 2 && magic.0 == 0x1f && magic.1 == 0x8b
        var prefix: [UInt8] = []
        if compressed {
            prefix = decodedPrefix(fd: fd, path: path, count: FileIdentity.prefixLength)
        } else {
            prefix = [UInt8](repeating: 0, count: FileIdentity.prefixLength)
            let n = prefix.withUnsafeMutableBytes { pread(fd, $0.baseAddress, FileIdentity.prefixLength, 0) }
            prefix.removeLast(FileIdentity.prefixLength - max(0, n))
        }
        return .success(
            FileIdentity(
                device: dev, inode: ino, prefix: prefix, compressed: compressed, size: size, mtime: mtime, links: links))
    }

    /// Up to `count` decoded bytes from the start of a gzip file (fewer if it is shorter, cut or damaged).
    static func decodedPrefix(fd: Int32, path: String, count: Int) -> [UInt8] {
        let copy = dup(fd)
        guard copy >= 0 else { return [] }
        _ = lseek(copy, 0, SEEK_SET)
        // A duplicate shares the file offset; pread-based access elsewhere keeps this harmless.
        let reader = ChunkReader(fd: copy, path: path, closeOnDeinit: true, chunkSize: 16 << 10)
        var out = [UInt8](repeating: 0, count: count)
        var have = 0
        out.withUnsafeMutableBufferPointer { buf in
            while have < count {
                guard case .data(let n) = reader.read(into: buf.baseAddress! + have, capacity: count - have) else { break }
                have += n
            }
        }
        out.removeLast(count - have)
        return out
    }

    /// The `markerLength` decoded bytes before `offset` of a plain file (nil if the file is shorter).
    package static func plainMarker(fd: Int32, before offset: Int64) -> [UInt8]? {
        let n = Int(min(Int64(FileIdentity.markerLength), offset))
        if n == 0 { return [] }
        var out = [UInt8](repeating: 0, count: n)
        let r = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(offset - Int64(n))) }
        return r == n ? out : nil
    }
}

/// Keeps the last `FileIdentity.markerLength` bytes of a decoded stream (the offset marker of a checkpoint).
package struct MarkerTail: Sendable, Equatable {
    package private(set) var bytes: [UInt8] = []

    package init(_ initial: [UInt8] = []) { bytes = Array(initial.suffix(FileIdentity.markerLength)) }

    /// Adds `count` bytes that follow the ones seen so far.
    package mutating func append(_ p: UnsafePointer<UInt8>, _ count: Int) {
        let cap = FileIdentity.markerLength
        if count >= cap {
            bytes = Array(UnsafeBufferPointer(start: p + count - cap, count: cap))
            return
        }
        bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: count))
        if bytes.count > cap { bytes.removeFirst(bytes.count - cap) }
    }
}
