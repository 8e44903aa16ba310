import FlowhoundCore
import FlowhoundPipeline

/// Exit statuses shared by every subcommand.
enum ExitStatus {
    static let clean: Int32 = 0
    static let findings: Int32 = 1
    static let error: Int32 = 2
}

enum FlowhoundVersion {
    static let string = "0.1.0"
}

func Foundation_exit(_ code: Int32) -> Never { exit(code) }

enum FileOutput {
    static func stderr(_ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { p in write(2, p.baseAddress! + off, p.count - off) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            off += n
        }
        _ = bytes.count
        bytes.removeAll()
    }
}

/// Processors online now (at least 1, at most 16): the default of `scan --jobs`.
func onlineProcessors() -> Int {
    let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    return n < 1 ? 1 : min(Int(n), 16)
}
