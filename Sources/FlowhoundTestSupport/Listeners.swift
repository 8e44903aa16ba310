import Foundation

/// Real syslog receivers on this machine, for the sink tests: UDP and TCP on 127.0.0.1 (port chosen by the
/// kernel) and a unix datagram socket in a temporary directory. Each collects what it receives on a thread.
package final class SyslogListener: @unchecked Sendable {  // `received` is guarded by `lock`
    package enum Kind { case udp, tcp, unixDatagram(String) }

    package let fd: Int32
    package let port: Int
    private let lock = NSLock()
    private var received: [UInt8] = []
    private var datagrams: [[UInt8]] = []
    private var stopped = false

    package init(_ kind: Kind) throws {
        var isStream = false
        switch kind {
        case .udp, .tcp:
            let isTCP: Bool = if case .tcp = kind { true } else { false }
            isStream = isTCP
            let s = socket(AF_INET, Int32(isTCP ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
            }
            if isTCP { listen(s, 8) }
            fd = s
            port = Int(UInt16(bigEndian: addr.sin_port))
        case .unixDatagram(let path):
            let s = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { p in
                for (i, b) in path.utf8.enumerated() { p[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { throw POSIXError(.EACCES) }
            fd = s
            port = 0
        }
        if isStream {
            Thread.detachNewThread { [self] in acceptLoop() }
        } else {
            Thread.detachNewThread { [self] in datagramLoop() }
        }
    }

    private func datagramLoop() {
        var buf = [UInt8](repeating: 0, count: 70_000)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            lock.withLock { datagrams.append(Array(buf[0..<n])) }
        }
    }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            Thread.detachNewThread { [self] in
                var buf = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    lock.withLock { received += buf[0..<n] }
                }
                close(c)
            }
        }
    }

    /// Messages received so far: datagrams as they came, or the TCP stream split by its octet counts.
    /// A stream that does not parse as octet-counted frames is returned whole as one "message" prefixed `!`.
    package var messages: [[UInt8]] {
        lock.withLock {
            if !datagrams.isEmpty { return datagrams }
            var out: [[UInt8]] = []
            var i = 0
            while i < received.count {
                var j = i
                var n = 0
                while j < received.count, received[j] >= 0x30, received[j] <= 0x39 {
                    n = n * 10 + Int(received[j] - 0x30)
                    j += 1
                }
                guard j < received.count, received[j] == 0x20, j > i, j + 1 + n <= received.count else {
                    return out + [Array("!".utf8) + Array(received[i...])]
                }
                out.append(Array(received[(j + 1)..<(j + 1 + n)]))
                i = j + 1 + n
            }
            return out
        }
    }

    /// Waits until at least `count` messages arrived (or `seconds` passed).
    package func wait(for count: Int, seconds: Double = 10) -> [[UInt8]] {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let m = messages
            if m.count >= count { return m }
            usleep(20_000)
        }
        return messages
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

/// The Python HTTP(S) receiver of `Helpers/http_server.py`, started for one test.
package final class HTTPReceiver {
    let process = Process()
    package let port: Int
    package let log: String

    package init(directory: String, tls: (cert: String, key: String)? = nil, statuses: [Int] = [200], delay: Double = 0) throws {
        log = directory + "/requests.jsonl"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Helpers/http_server.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var args = ["python3", script, log, "--statuses", statuses.map(String.init).joined(separator: ",")]
        if let tls { args += ["--tls", tls.cert, tls.key] }
        if delay > 0 { args += ["--delay", String(delay)] }
        process.arguments = args
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line: [UInt8] = []
        while true {
            let b = try out.fileHandleForReading.read(upToCount: 1) ?? Data()
            if b.isEmpty || b.first == 0x0A { break }
            line += b
        }
        guard let p = Int(String(decoding: line, as: UTF8.self)) else { throw POSIXError(.ECONNREFUSED) }
        port = p
    }

    /// The requests received so far, as decoded JSON objects.
    package var requests: [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: log) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    package func wait(for count: Int, seconds: Double = 15) -> [[String: Any]] {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let r = requests
            if r.count >= count { return r }
            usleep(20_000)
        }
        return requests
    }

    deinit {
        // SIGKILL: the child inherits the test thread's signal mask, in which SIGTERM may be blocked
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A new empty directory under the system temporary directory, removed when the test process exits.
package func temporaryDirectory() throws -> String {
    try ScratchDirectories.make(prefix: "flowhound-sinks-")
}

/// Runs a shell command; returns its exit status.
@discardableResult
package func sh(_ command: String) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}
