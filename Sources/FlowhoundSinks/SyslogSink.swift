import FlowhoundCore

/// RFC 5424 messages, one per alert.
///
/// `<PRI>1 TIMESTAMP HOSTNAME flowhound PROCID alert - BOM MSG`: PRI is facility × 8 + the severity mapped from
/// the level (critical 2, high 3, medium 4, low 5, informational 6); TIMESTAMP is the alert's `@timestamp` (log
/// time, microseconds, UTC); STRUCTURED-DATA is empty (`-`); MSG is the UTF-8 BOM followed by the JSON line of
/// the alert (or its one-line text summary, `format=text`) without the line break. Everything from a log is
/// escaped by the JSON/text renderers, so MSG holds no control character, line break or NUL.
package enum SyslogMessage {
    package static let facilities: [String: Int] = [
        "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8,
        "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
        "local5": 21, "local6": 22, "local7": 23,
    ]

    package static func severity(_ level: Severity) -> Int {
        switch level {
        case .critical: 2
        case .high: 3
        case .medium: 4
        case .low: 5
        case .informational: 6
        }
    }

    /// One message (no framing). `maxBytes` bounds it: evidence is cut (10 → 1 → 0 lines) until it fits.
    package static func render(
        _ f: Finding, facility: Int, hostname: String, appName: String, procID: String, format: AlertFormat,
        maxBytes: Int = 1 << 20
    ) -> [UInt8] {
        let header =
            "<\(facility * 8 + severity(f.level))>1 \(f.lastSeen.iso8601) "
            + "\(Escaping.syslogHeaderField(hostname, limit: 255)) \(Escaping.syslogHeaderField(appName, limit: 48)) "
            + "\(Escaping.syslogHeaderField(procID, limit: 128)) alert - "
        var out = Array(header.utf8) + [0xEF, 0xBB, 0xBF]
        var g = f
        for keep in [f.evidence.count, 1, 0] {
            g.evidence = Array(f.evidence.prefix(keep))
            var body = format == .text ? AlertFormatter.text(g, colour: false, maxEvidenceLines: 0) : AlertFormatter.json(g)
            if let nl = body.firstIndex(of: 0x0A) { body.removeSubrange(nl...) }
            if out.count + body.count <= maxBytes || keep == 0 {
                out += body.prefix(max(0, maxBytes - out.count))
                return out
            }
        }
        return out
    }
}

/// Where syslog messages go.
package enum SyslogTransport: Sendable, Equatable {
    /// One message per datagram (RFC 5426).
    case udp(host: String, port: Int)
    /// A TCP stream with octet-counting framing, `LEN SP MSG` (RFC 6587 §3.4.1).
    case tcp(host: String, port: Int)
    /// A local unix socket (`/dev/log`): datagrams, or a stream with octet counting if the socket is a stream.
    case unix(path: String)
}

/// Sends alerts to a syslog receiver. Connection problems fail the batch (counted, reported); the next batch
/// connects again, so a receiver that comes back gets the alerts that follow.
package final class SyslogSink: AlertSinkBackend {
    package let name: String
    let transport: SyslogTransport
    let facility: Int
    let format: AlertFormat
    let appName: String
    let hostname: String
    let procID = String(getpid())
    /// Largest message sent; UDP and unix datagrams default to 8 KiB, TCP to 64 KiB.
    let maxMessage: Int
    private var fd: Int32 = -1
    private var stream = false

    package init(
        transport: SyslogTransport, name: String, facility: Int = 16, format: AlertFormat = .json,
        appName: String = "flowhound", maxMessage: Int? = nil
    ) {
        self.transport = transport
        self.name = name
        self.facility = facility
        self.format = format
        self.appName = appName
        var buf = [CChar](repeating: 0, count: 256)
        hostname = gethostname(&buf, 255) == 0 ? String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "-"
        switch transport {
        case .tcp: self.maxMessage = maxMessage ?? 65_536
        default: self.maxMessage = maxMessage ?? 8192
        }
    }

    private func connect() throws(SinkError) {
        if fd >= 0 { return }
        switch transport {
        case .udp(let host, let port), .tcp(let host, let port):
            let isTCP: Bool
            if case .tcp = transport { isTCP = true } else { isTCP = false }
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(isTCP ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
            var res: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &res)
            guard rc == 0, let first = res else {
                throw SinkError(
                    sink: name, code: "syslog_resolve",
                    "cannot resolve \(host): \(String(cString: gai_strerror(rc))); check the host name")
            }
            defer { freeaddrinfo(res) }
            var lastErrno: Int32 = 0
            var ai: UnsafeMutablePointer<addrinfo>? = first
            while let a = ai {
                let s = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
                if s >= 0 {
                    if isTCP { setTimeouts(s) }
                    if Glibc.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                        fd = s
                        stream = isTCP
                        return
                    }
                    lastErrno = errno
                    Glibc.close(s)
                } else {
                    lastErrno = errno
                }
                ai = a.pointee.ai_next
            }
            throw SinkError(
                sink: name, code: "syslog_connect",
                "cannot connect to \(host):\(port): \(String(cString: strerror(lastErrno))); is the receiver running?")
        case .unix(let path):
            for type in [SOCK_DGRAM, SOCK_STREAM] {
                let s = socket(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                if s < 0 { continue }
                var addr = sockaddr_un()
                addr.sun_family = sa_family_t(AF_UNIX)
                let bytes = Array(path.utf8)
                guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                    Glibc.close(s)
                    throw SinkError(sink: name, code: "syslog_connect", "socket path too long: \(path)")
                }
                withUnsafeMutableBytes(of: &addr.sun_path) { p in
                    for (i, b) in bytes.enumerated() { p[i] = b }
                }
                let ok = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                    }
                }
                if ok {
                    if type == SOCK_STREAM { setTimeouts(s) }
                    fd = s
                    stream = type == SOCK_STREAM
                    return
                }
                let e = errno
                Glibc.close(s)
                if e != EPROTOTYPE {
                    throw SinkError(
                        sink: name, code: "syslog_connect",
                        "cannot connect to \(path): \(String(cString: strerror(e))); is a syslog daemon listening there?")
                }
            }
            throw SinkError(sink: name, code: "syslog_connect", "cannot connect to \(path)")
        }
    }

    private func setTimeouts(_ s: Int32) {
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    package func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) {
        try connect()
        var out: [UInt8] = []
        for item in batch {
            guard case .alert(let f, _) = item else { continue }
            let msg = SyslogMessage.render(
                f, facility: facility, hostname: hostname, appName: appName, procID: procID, format: format,
                maxBytes: maxMessage)
            if stream {
                out += Array("\(msg.count) ".utf8)
                out += msg
            } else {
                let n = msg.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n < 0 { throw failure("send") }
            }
        }
        if stream && !out.isEmpty {
            var off = 0
            while off < out.count {
                let n = out.withUnsafeBytes { p in send(fd, p.baseAddress! + off, p.count - off, Int32(MSG_NOSIGNAL)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure("send")
                }
                off += n
            }
        }
    }

    private func failure(_ what: String) -> SinkError {
        let e = SinkError(sink: name, code: "syslog_send", "\(what) failed: \(String(cString: strerror(errno)))")
        Glibc.close(fd)
        fd = -1
        return e
    }

    package func close() {
        if fd >= 0 {
            if stream { shutdown(fd, Int32(SHUT_WR)) }
            Glibc.close(fd)
        }
        fd = -1
    }
}
