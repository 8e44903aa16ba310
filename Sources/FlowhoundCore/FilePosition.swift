/// An output file's identity (device and inode) and length at one moment: what a file sink reports after an
/// fsync (`SyncedFile` in FlowhoundSinks) and what a state commit records for it (`OutputPosition` in
/// FlowhoundState), so that a restart can cut back what was written after the commit.
package struct FilePosition: Sendable, Equatable {
    /// The path as the output was named (`--output FILE`, `file:FILE`).
    package var path: String
    package var device: UInt64
    package var inode: UInt64
    package var length: Int64

    package init(path: String, device: UInt64, inode: UInt64, length: Int64) {
        self.path = path
        self.device = device
        self.inode = inode
        self.length = length
    }

    /// The identity and length of the open file `fd` (nil when fstat fails).
    package static func of(fd: Int32, path: String) -> FilePosition? {
        var st = stat()
        guard fd >= 0, fstat(fd, &st) == 0 else { return nil }
        return FilePosition(path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), length: Int64(st.st_size))
    }
}
