import FlowhoundCore

extension Escaping {
    /// One CSV field (RFC 4180): text that came from a log is first made terminal-safe (no control characters,
    /// line breaks or escape sequences survive), then quoted when it holds a comma, quote or space, with quotes
    /// doubled. A field that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first, and not a plain
    /// number) gets a leading `'`, so opening the file cannot execute anything a log line planted.
    package static func csvField(_ s: String) -> String {
        var v = terminalSafe(s)
        if let first = v.unicodeScalars.first, "=+-@".unicodeScalars.contains(first), v.count > 1,
            Double(v) == nil
        {
            v = "'" + v
        }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == " " }) {
            return "\"" + v.replacingAll("\"", with: "\"\"") + "\""
        }
        return v
    }

    /// Text for HTML element content or a quoted attribute value: `& < > " '` become entities, and everything
    /// `terminalSafe` rewrites is rewritten too (a control character has no business in a report either).
    package static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for scalar in terminalSafe(s).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// JSON text that is safe inside an HTML `<script>` element: besides JSON's own escaping (done by the
    /// caller), `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`, so no `</script>` or `<!--` can appear.
    package static func scriptSafeJSON(_ json: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(json.count + 16)
        for b in json {
            switch b {
            case 0x3C: out.append(contentsOf: Array("\\u003c".utf8))
            case 0x3E: out.append(contentsOf: Array("\\u003e".utf8))
            case 0x26: out.append(contentsOf: Array("\\u0026".utf8))
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Printable US-ASCII only (RFC 5424 HOSTNAME, APP-NAME, PROCID, MSGID), cut to `limit`; `-` when empty.
    package static func syslogHeaderField(_ s: String, limit: Int) -> String {
        var out = ""
        for scalar in s.unicodeScalars where scalar.value >= 33 && scalar.value <= 126 {
            out.unicodeScalars.append(scalar)
            if out.utf8.count >= limit { break }
        }
        return out.isEmpty ? "-" : out
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation).
    package func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}
