import FlowhoundCore

/// One alert output, as written after `--output` or on a line of an outputs file.
///
/// Forms: `-` or `stdout`; `file:PATH` or a bare `PATH`; `syslog+udp://HOST[:PORT]` (also `syslog://`),
/// `syslog+tcp://HOST[:PORT]` (port 514 by default; IPv6 as `[::1]`), `syslog+unix:///dev/log`;
/// `http://…` / `https://…` (webhook); `sqlite:PATH` (the alert store); `postgresql://…` / `postgres://…` (a
/// shared PostgreSQL alert store, any libpq URI; option `table=NAME`). Options follow as whitespace-separated
/// `key=value` words: `format=json|text|csv` (stdout, file; syslog json|text), `queue=N` (capacity),
/// `batch=N`, `when_full=drop|block`, `facility=local0` and `app=NAME` (syslog), `max_message=BYTES` (syslog),
/// `ca=PEM`, `insecure=1`, `header=Name:Value` (`%20` for a space), `timeout=SECONDS`, `retries=N`, `backoff=SECONDS`,
/// `backoff_max=SECONDS` (webhook), `flush_timeout=SECONDS` (how long shutdown waits for this output).
/// A word that is not `key=value` with a known key belongs to the spec, so a path may contain spaces.
package struct OutputSpec: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case stdout
        case file(String)
        case syslog(SyslogTransport)
        case webhook(String)
        case sqlite(String)
        case postgresql(String)
    }

    package var kind: Kind
    package var options: [String: String]
    /// Repeatable option `header`.
    package var headers: [String]
    /// The spec as written, with any password in a URL replaced by `***` (for messages).
    package var display: String

    package init(kind: Kind, options: [String: String] = [:], headers: [String] = [], display: String) {
        self.kind = kind
        self.options = options
        self.headers = headers
        self.display = display
    }

    package static let knownOptions: Set<String> = [
        "format", "queue", "batch", "when_full", "facility", "app", "max_message", "ca", "insecure", "header",
        "timeout", "retries", "backoff", "backoff_max", "flush_timeout", "table",
    ]

    /// Parses one spec; `location` names the outputs-file line it came from, for errors.
    package static func parse(_ text: String, location: FileLocation? = nil) throws(Diagnostic) -> OutputSpec {
        func bad(_ message: String) -> Diagnostic {
            Diagnostic(code: "bad_output", "\(message) (in output '\(text)')", at: location)
        }
        var words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var options: [String: String] = [:]
        var headers: [String] = []
        while words.count > 1, let last = words.last, let eq = last.firstIndex(of: "="),
            knownOptions.contains(String(last[..<eq]))
        {
            let k = String(last[..<eq]), v = String(last[last.index(after: eq)...])
            if k == "header" {
                // a header value cannot hold a space here (words are split on spaces): write %20, and %25 for %
                headers.insert(v.replacingPercentEscapes(), at: 0)
            } else {
                if options[k] != nil { throw bad("option \(k) given twice") }
                options[k] = v
            }
            words.removeLast()
        }
        let spec = words.joined(separator: " ")
        if spec.isEmpty { throw bad("empty output") }
        let kind: Kind
        if spec == "-" || spec == "stdout" {
            kind = .stdout
        } else if spec.hasPrefix("file:") {
            let p = String(spec.dropFirst(5))
            if p.isEmpty { throw bad("file: needs a path") }
            kind = .file(p)
        } else if spec.hasPrefix("sqlite:") {
            let p = String(spec.dropFirst(7))
            if p.isEmpty { throw bad("sqlite: needs a path") }
            kind = .sqlite(p)
        } else if spec.hasPrefix("syslog+unix://") {
            let p = String(spec.dropFirst("syslog+unix://".count))
            if !p.hasPrefix("/") { throw bad("syslog+unix:// needs an absolute socket path, e.g. syslog+unix:///dev/log") }
            kind = .syslog(.unix(path: p))
        } else if spec.hasPrefix("syslog+udp://") || spec.hasPrefix("syslog+tcp://") || spec.hasPrefix("syslog://") {
            let rest = String(spec[spec.firstRange(of: "://")!.upperBound...])
            guard let (host, port) = hostPort(rest, defaultPort: 514) else {
                throw bad("expected syslog+udp://HOST[:PORT] or syslog+tcp://HOST[:PORT]")
            }
            kind = .syslog(spec.hasPrefix("syslog+tcp://") ? .tcp(host: host, port: port) : .udp(host: host, port: port))
        } else if spec.hasPrefix("http://") || spec.hasPrefix("https://") {
            let rest = spec[spec.firstRange(of: "://")!.upperBound...]
            if rest.isEmpty || rest.hasPrefix("/") { throw bad("the webhook URL has no host") }
            kind = .webhook(spec)
        } else if spec.hasPrefix("postgresql://") || spec.hasPrefix("postgres://") {
            kind = .postgresql(spec)
        } else if let r = spec.firstRange(of: "://"), !spec[..<r.lowerBound].contains("/") {
            throw bad("unknown output scheme '\(spec[..<r.lowerBound])'; use -, file:, syslog+udp://, syslog+tcp://, syslog+unix://, https://, http://, sqlite: or postgresql://")
        } else {
            kind = .file(spec)
        }
        let display = kind.hasURLCredentials ? Self.redactingPassword(spec) : spec
        let out = OutputSpec(kind: kind, options: options, headers: headers, display: display)
        try out.validate(bad)
        return out
    }

    /// `url` with the password of a `scheme://user:password@…` URL, and the value of a `password=` query
    /// parameter, replaced by `***`: the form of a URL that messages may show.
    package static func redactingPassword(_ url: String) -> String {
        var out = url
        if let r = out.firstRange(of: "://"), let at = out[r.upperBound...].firstIndex(of: "@"),
            !out[r.upperBound..<at].contains("/"), let colon = out[r.upperBound..<at].firstIndex(of: ":")
        {
            out = String(out[..<out.index(after: colon)]) + "***" + String(out[at...])
        }
        if let q = out.firstIndex(of: "?") {
            let params = out[out.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { p in
                p.hasPrefix("password=") ? "password=***" : String(p)
            }
            out = String(out[...q]) + params.joined(separator: "&")
        }
        return out
    }

    private func validate(_ bad: (String) -> Diagnostic) throws(Diagnostic) {
        let allowed: Set<String>
        switch kind {
        case .stdout, .file: allowed = ["format", "queue", "batch", "when_full", "flush_timeout"]
        case .syslog: allowed = ["format", "queue", "batch", "when_full", "facility", "app", "max_message", "flush_timeout"]
        case .webhook:
            allowed = ["queue", "batch", "when_full", "ca", "insecure", "header", "timeout", "retries", "backoff", "backoff_max", "flush_timeout"]
        case .sqlite: allowed = ["queue", "batch", "when_full", "flush_timeout"]
        case .postgresql: allowed = ["queue", "batch", "when_full", "flush_timeout", "table"]
        }
        for k in options.keys.sorted() where !allowed.contains(k) { throw bad("option \(k) does not apply to this output") }
        if !headers.isEmpty && !allowed.contains("header") { throw bad("option header does not apply to this output") }
        if let f = options["format"] {
            guard let format = AlertFormat(rawValue: f) else { throw bad("format must be json, text or csv") }
            if case .syslog = kind, format == .csv { throw bad("syslog takes format=json or format=text") }
        }
        for k in ["queue", "batch", "retries", "max_message"] {
            if let v = options[k], Int(v) == nil || Int(v)! < (k == "retries" ? 0 : 1) { throw bad("\(k) must be a positive whole number") }
        }
        for k in ["timeout", "backoff", "backoff_max", "flush_timeout"] {
            if let v = options[k], Double(v) == nil || Double(v)! < 0 { throw bad("\(k) must be a number of seconds") }
        }
        if let w = options["when_full"], QueueFullPolicy(rawValue: w) == nil { throw bad("when_full must be drop or block") }
        if let f = options["facility"], SyslogMessage.facilities[f] == nil && Int(f).map({ (0...23).contains($0) }) != true {
            throw bad("unknown syslog facility \(f)")
        }
        if let i = options["insecure"], !["0", "1", "true", "false"].contains(i) { throw bad("insecure must be 0 or 1") }
        for h in headers where !h.contains(":") { throw bad("header must be Name:Value") }
        if let t = options["table"], !PostgreSQLSink.isPlainIdentifier(t) {
            throw bad("table must be a plain lower-case SQL name (letters, digits, _)")
        }
    }

    /// `host`, `host:port`, `[v6]`, `[v6]:port`.
    static func hostPort(_ s: String, defaultPort: Int) -> (String, Int)? {
        var rest = s
        if rest.hasSuffix("/") { rest.removeLast() }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return host.isEmpty ? nil : (host, defaultPort) }
            guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
            return (host, p)
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 1, !rest.isEmpty, !rest.contains("/") { return (rest, defaultPort) }
        guard parts.count == 2, !parts[0].isEmpty, let p = Int(parts[1]), (1...65535).contains(p) else { return nil }
        return (String(parts[0]), p)
    }

    /// Reads an outputs file: one spec per line, `#` starts a comment, blank lines are skipped.
    package static func load(file path: String) throws(Diagnostic) -> [OutputSpec] {
        guard let data = readWholeFile(path) else {
            throw Diagnostic(
                code: "cannot_read_outputs", "cannot read the outputs file: \(String(cString: strerror(errno)))",
                at: FileLocation(path: path))
        }
        var out: [OutputSpec] = []
        for (i, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#"), hash == line.startIndex || line[line.index(before: hash)] == " " {
                line = line[..<hash]
            }
            let trimmed = line.trimmingCharacters(in: " \t\r")
            if trimmed.isEmpty { continue }
            out.append(try parse(trimmed, location: FileLocation(path: path, line: i + 1)))
        }
        return out
    }

    private static func readWholeFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return out }
            out += buf[0..<n]
            if out.count > 1 << 20 { return out }
        }
    }

    package var format: AlertFormat? { options["format"].flatMap(AlertFormat.init(rawValue:)) }
    package func int(_ k: String) -> Int? { options[k].flatMap { Int($0) } }
    package func double(_ k: String) -> Double? { options[k].flatMap { Double($0) } }
}

extension OutputSpec.Kind {
    /// URL outputs whose `user:password@` must not appear in messages.
    var hasURLCredentials: Bool {
        switch self {
        case .webhook, .postgresql: true
        default: false
        }
    }
}

extension String {
    /// `%20` → space and `%25` → `%`; nothing else is decoded.
    func replacingPercentEscapes() -> String {
        var out = ""
        var i = startIndex
        while i < endIndex {
            if self[i] == "%", let j = index(i, offsetBy: 3, limitedBy: endIndex) {
                let code = self[index(after: i)..<j]
                if code == "20" || code == "25" {
                    out.append(code == "20" ? " " : "%")
                    i = j
                    continue
                }
            }
            out.append(self[i])
            i = index(after: i)
        }
        return out
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
