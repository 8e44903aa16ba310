import FlowhoundCore

/// Escaping for text that came from logs: nothing it contains may forge output structure or drive a terminal.
package enum Escaping {
    /// Appends `s` as a JSON string literal (quotes included) to `out`.
    ///
    /// Control characters (C0, DEL, C1), quotes and backslashes are escaped; U+2028/U+2029 too, so the output is
    /// also safe to embed in JavaScript, and the bidirectional controls (U+200E/F, U+202A–E, U+2066–9), so a
    /// line shown in a terminal or an editor cannot be visually reordered. Invalid UTF-8 was already replaced by U+FFFD when the String was made.
    package static func appendJSONString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for scalar in s.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
                appendUnicodeEscape(v, to: &out)
            default:
                out.append(contentsOf: Array(String(scalar).utf8))
            }
        }
        out.append(0x22)
    }

    private static func appendUnicodeEscape(_ v: UInt32, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(contentsOf: [0x5C, 0x75])
        for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int((v >> UInt32(shift)) & 0xF)]) }
    }

    /// Makes untrusted text safe for a terminal or a plain-text line: control characters, escape sequences and
    /// line breaks become visible `\xNN` / `\u{NNNN}` spellings; backslashes are doubled so the result is unambiguous.
    /// With `tabsAsSpaces`, a tab becomes two spaces (readable Zeek TSV excerpts); it cannot move the cursor
    /// anywhere a space cannot.
    package static func terminalSafe(_ s: String, tabsAsSpaces: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x5C: out += "\\\\"
            case 0x09 where tabsAsSpaces: out += "  "
            case 0..<0x20, 0x7F:
                out += "\\x" + hex2(v)
            case 0x80..<0xA0, 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
                out += "\\u{" + String(v, radix: 16) + "}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func hex2(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
