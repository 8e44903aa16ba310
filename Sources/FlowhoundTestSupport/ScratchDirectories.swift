import Foundation

/// Directories the tests create under the system temporary directory, all removed when the test process exits
/// normally (`FLOWHOUND_KEEP_TEST_DIRS=1` keeps them, to look at the files of a failed test). A test that runs the
/// real binary cannot remove its directory itself while a child may still hold it, so the process does at exit.
package enum ScratchDirectories {
    private static let registry = Registry()

    /// A new empty directory `<temporary directory>/<prefix><UUID>`, removed at exit.
    package static func make(prefix: String) throws -> String {
        let dir = NSTemporaryDirectory() + prefix + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        registry.add(dir)
        return dir
    }

    fileprivate static func removeAll() {
        if ProcessInfo.processInfo.environment["FLOWHOUND_KEEP_TEST_DIRS"] == "1" { return }
        for dir in registry.drain() { try? FileManager.default.removeItem(atPath: dir) }
    }
}

private final class Registry: @unchecked Sendable {
    private let lock = NSLock()
    private var paths: [String] = []
    private var hooked = false

    func add(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        paths.append(path)
        if !hooked {
            hooked = true
            atexit { ScratchDirectories.removeAll() }
        }
    }

    func drain() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        let out = paths
        paths = []
        return out
    }
}
