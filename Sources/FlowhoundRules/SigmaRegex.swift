import FlowhoundCore

/// A Sigma `re` value compiled once at load with POSIX `regcomp` (glibc, extended syntax).
///
/// Sigma regexes are written in a PCRE subset. They are translated to POSIX ERE first: `\d \D \s \S \w \W`, escapes
/// inside brackets, `(?:…)`, lazy quantifiers (which cannot change whether a match exists) and a leading `(?i)`.
/// Lookarounds, back-references and named groups are rejected, as pySigma's RE2 validation rejects them.
/// Matching is an unanchored search over the field bytes only (`REG_STARTEND`, so no copy and no NUL is needed).
///
/// Flags: `i` → `REG_ICASE` (ASCII), `m` → `REG_NEWLINE` (`^`/`$` at line breaks; also stops `.` at a newline).
/// Without `m`, POSIX lets `.` match a newline, so `s` is the default; this differs from PCRE only for values
/// containing line breaks. PCRE2 is planned to replace this engine.
package final class SigmaRegex: @unchecked Sendable, CustomStringConvertible {
    // Safe to share: `regex` is written only in init and freed in deinit; glibc's regexec locks internally.
    private let regex: UnsafeMutablePointer<regex_t>
    package let pattern: String
    package let ignoreCase: Bool
    package let multiline: Bool
    package let dotAll: Bool

    package struct Failure: Error {
        package var message: String
    }

    package init(_ pattern: String, ignoreCase: Bool = false, multiline: Bool = false, dotAll: Bool = false)
        throws(Failure)
    {
        let (ere, inlineICase) = try SigmaRegex.translate(pattern)
        self.pattern = pattern
        self.ignoreCase = ignoreCase || inlineICase
        self.multiline = multiline
        self.dotAll = dotAll
        var flags = REG_EXTENDED | REG_NOSUB
        if self.ignoreCase { flags |= REG_ICASE }
        if multiline { flags |= REG_NEWLINE }
        regex = .allocate(capacity: 1)
        let rc = regcomp(regex, ere, flags)
        if rc != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            regerror(rc, regex, &buf, buf.count)
            regex.deallocate()
            let text = buf.withUnsafeBufferPointer { b in
                String(decoding: UnsafeRawBufferPointer(b).prefix { $0 != 0 }, as: UTF8.self)
            }
            throw Failure(message: "invalid regular expression '\(pattern)': \(text)")
        }
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    package var description: String { pattern }

    /// Unanchored search in `n` bytes at `p`.
    @inline(__always)
    package func search(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var m = regmatch_t(rm_so: 0, rm_eo: regoff_t(n))
        return p.withMemoryRebound(to: CChar.self, capacity: max(n, 1)) { cp in
            regexec(regex, cp, 1, &m, REG_STARTEND) == 0
        }
    }

    /// Translates the PCRE subset Sigma allows to POSIX ERE. Returns the ERE and whether it began with `(?i)`.
    static func translate(_ pattern: String) throws(Failure) -> (String, Bool) {
        var s = Array(pattern.unicodeScalars)
        var icase = false
        if s.starts(with: Array("(?i)".unicodeScalars)) {
            icase = true
            s.removeFirst(4)
        }
        var out = ""
        var i = 0
        func fail(_ why: String) -> Failure { Failure(message: "unsupported regular expression '\(pattern)': \(why)") }
        let special = Set(".[]()*+?{}|^$\\".unicodeScalars)
        while i < s.count {
            let c = s[i]
            switch c {
            case "\\":
                guard i + 1 < s.count else { throw fail("trailing backslash") }
                let e = s[i + 1]
                i += 2
                switch e {
                case "d": out += "[0-9]"
                case "D": out += "[^0-9]"
                case "s": out += "[[:space:]]"
                case "S": out += "[^[:space:]]"
                case "w": out += "[[:alnum:]_]"
                case "W": out += "[^[:alnum:]_]"
                case "b", "B": out += "\\" + String(e)
                case "A": out += "^"
                case "z", "Z": out += "$"
                case "t": out += "\t"
                case "n": out += "\n"
                case "r": out += "\r"
                case "x":
                    guard let (v, used) = SigmaRegex.hexEscape(s, i) else { throw fail("bad \\x escape") }
                    i += used
                    out += SigmaRegex.literal(v, special: special)
                default:
                    if e.properties.isAlphabetic || ("0"..."9").contains(e) {
                        throw fail("'\\\(e)' is not supported (back-references and letter escapes other than \\d \\s \\w \\b)")
                    }
                    out += special.contains(e) ? "\\" + String(e) : String(e)
                }
            case "[":
                let (bracket, next) = try SigmaRegex.translateBracket(s, i, fail)
                out += bracket
                i = next
            case "(":
                if i + 1 < s.count && s[i + 1] == "?" {
                    if i + 2 < s.count && s[i + 2] == ":" {
                        out += "("
                        i += 3
                    } else {
                        throw fail("'(?' groups other than '(?:' (lookarounds, named groups, inline flags) are not supported")
                    }
                } else {
                    out += "("
                    i += 1
                }
            case "*", "+", "?", "}":
                out.unicodeScalars.append(c)
                i += 1
                if i < s.count && s[i] == "?" { i += 1 }  // lazy: same match/no-match answer
                else if i < s.count && s[i] == "+" { throw fail("possessive quantifiers are not supported") }
            default:
                out.unicodeScalars.append(c)
                i += 1
            }
        }
        return (out, icase)
    }

    private static func hexEscape(_ s: [Unicode.Scalar], _ i: Int) -> (Unicode.Scalar, Int)? {
        var j = i
        var digits = ""
        if j < s.count && s[j] == "{" {
            j += 1
            while j < s.count && s[j] != "}" { digits.unicodeScalars.append(s[j]); j += 1 }
            guard j < s.count else { return nil }
            j += 1
        } else {
            while j < s.count && digits.count < 2 && s[j].properties.isASCIIHexDigit {
                digits.unicodeScalars.append(s[j])
                j += 1
            }
        }
        guard let v = UInt32(digits, radix: 16), let u = Unicode.Scalar(v) else { return nil }
        return (u, j - i)
    }

    private static func literal(_ u: Unicode.Scalar, special: Set<Unicode.Scalar>) -> String {
        special.contains(u) ? "[" + (u == "^" ? "\\^" : String(u)) + "]" : String(u)
    }

    /// `[...]` from PCRE to POSIX: backslash escapes become literal members; `]` first and `-` last.
    private static func translateBracket(
        _ s: [Unicode.Scalar], _ start: Int, _ fail: (String) -> Failure
    ) throws(Failure) -> (String, Int) {
        var i = start + 1
        var negate = false
        if i < s.count && s[i] == "^" {
            negate = true
            i += 1
        }
        var items: [String] = []
        var hasClose = false, hasDash = false, hasCaret = false
        var first = true
        func member(_ u: Unicode.Scalar) -> String? {
            switch u {
            case "]": hasClose = true; return nil
            case "-": hasDash = true; return nil
            case "^": hasCaret = true; return nil
            default: return String(u)
            }
        }
        while true {
            guard i < s.count else { throw fail("unterminated '['") }
            var c = s[i]
            if c == "]" && !first { i += 1; break }
            first = false
            if c == "[" && i + 1 < s.count && s[i + 1] == ":" {
                var j = i + 2
                while j + 1 < s.count && !(s[j] == ":" && s[j + 1] == "]") { j += 1 }
                guard j + 1 < s.count else { throw fail("unterminated POSIX class") }
                items.append(String(String.UnicodeScalarView(s[i...(j + 1)])))
                i = j + 2
                continue
            }
            if c == "\\" {
                guard i + 1 < s.count else { throw fail("trailing backslash") }
                let e = s[i + 1]
                i += 2
                switch e {
                case "d": items.append("0-9"); continue
                case "s": items.append("[:space:]"); continue
                case "w": items.append("[:alnum:]_"); continue
                case "D", "S", "W": throw fail("'\\\(e)' inside brackets is not supported")
                case "t": c = "\t"
                case "n": c = "\n"
                case "r": c = "\r"
                case "x":
                    guard let (v, used) = hexEscape(s, i) else { throw fail("bad \\x escape") }
                    i += used
                    c = v
                default:
                    if e.properties.isAlphabetic { throw fail("'\\\(e)' inside brackets is not supported") }
                    c = e
                }
            } else {
                i += 1
            }
            // a range `c-d`
            if i + 1 < s.count && s[i] == "-" && s[i + 1] != "]" {
                var d = s[i + 1]
                var used = 2
                if d == "\\" && i + 2 < s.count {
                    d = s[i + 2]
                    used = 3
                    if d == "x", let (v, u2) = hexEscape(s, i + 3) {
                        d = v
                        used += u2
                    }
                }
                if c == "]" || d == "]" || c == "-" || d == "-" || c == "^" {
                    throw fail("ranges starting or ending with ']', '-' or '^' are not supported")
                }
                items.append(String(c) + "-" + String(d))
                i += used
                continue
            }
            if let m = member(c) { items.append(m) }
        }
        if !negate && items.isEmpty && !hasClose && !hasDash && hasCaret { return ("\\^", i) }
        var out = "[" + (negate ? "^" : "")
        if hasClose { out += "]" }
        out += items.joined()
        if hasCaret { out += "^" }
        if hasDash { out += "-" }
        out += "]"
        if out == "[]" || out == "[^]" { throw fail("empty bracket expression") }
        return (out, i)
    }
}
