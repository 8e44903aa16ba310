internal import CPCRE2
import FlowhoundCore
import Synchronization

/// A Sigma `re` value, compiled once at rule load with PCRE2 (8-bit code units) and JIT-compiled when the platform
/// supports it.
///
/// Semantics (Sigma v2.2 wording, see the README's rule notes):
/// * matching is an unanchored search anywhere in the field value; `^`/`$` anchor explicitly;
/// * case-sensitive unless the `i` flag (or an inline `(?i)`) asks otherwise;
/// * `i` → `PCRE2_CASELESS`, `m` → `PCRE2_MULTILINE` (`^`/`$` at line breaks), `s` → `PCRE2_DOTALL` (`.` also
///   matches a newline). Without `s`, `.` does not match `\n`, as in PCRE and Python.
/// * Patterns are compiled in UTF mode with `PCRE2_MATCH_INVALID_UTF`: `.` takes one code point and caseless
///   matching folds non-ASCII letters, while field bytes that are not valid UTF-8 are still searched (an invalid
///   sequence never matches a pattern character but does not make the whole value fail). `\d \w \s` and `\b` are
///   ASCII classes (no `PCRE2_UCP`).
/// * The full PCRE2 syntax is available, lookarounds and back-references included (pySigma's RE2 validation would
///   reject those; flowhound accepts them).
///
/// Threading: the compiled code is read-only after `init` and may be shared. Matching needs a scratch match-data
/// block; each regex owns one, taken with an uncontended atomic flag. CompiledRuleSet is evaluated by one scan
/// thread today, so the owned block is always the one used; a second thread that finds it busy allocates a
/// temporary block for that call instead of racing, so sharing a rule set across threads stays correct.
package final class SigmaRegex: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: `code` is immutable after init; `matchData` is only touched by whoever holds `matchDataBusy`.
    private let code: OpaquePointer
    private let matchData: OpaquePointer
    private let matchDataBusy = Atomic<Bool>(false)
    private let jit: Bool
    package let pattern: String
    package let ignoreCase: Bool
    package let multiline: Bool
    package let dotAll: Bool

    package struct Failure: Error {
        package var message: String
        /// Byte offset in the pattern where PCRE2 detected the error.
        package var offset: Int = 0
    }

    package init(_ pattern: String, ignoreCase: Bool = false, multiline: Bool = false, dotAll: Bool = false)
        throws(Failure)
    {
        self.pattern = pattern
        self.ignoreCase = ignoreCase
        self.multiline = multiline
        self.dotAll = dotAll
        var options: UInt32 = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF
        if ignoreCase { options |= PCRE2_CASELESS }
        if multiline { options |= PCRE2_MULTILINE }
        if dotAll { options |= PCRE2_DOTALL }
        var errorCode: Int32 = 0
        var errorOffset = 0
        // NUL-terminated so that even an empty pattern has a valid address; the length excludes the NUL, so a NUL
        // inside the pattern is an ordinary character.
        let bytes = Array(pattern.utf8) + [0]
        let compiled = bytes.withUnsafeBufferPointer { b in
            pcre2_compile_8(b.baseAddress, b.count - 1, options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            throw Failure(
                message: "invalid regular expression '\(pattern)': \(SigmaRegex.errorText(errorCode)) at offset \(errorOffset)",
                offset: errorOffset)
        }
        guard let md = pcre2_match_data_create_8(1, nil) else {
            pcre2_code_free_8(compiled)
            throw Failure(message: "invalid regular expression '\(pattern)': out of memory")
        }
        code = compiled
        matchData = md
        // JIT is unavailable on some platforms; the interpreter gives the same answers, only slower.
        jit = pcre2_jit_compile_8(compiled, PCRE2_JIT_COMPLETE) == 0
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        pcre2_code_free_8(code)
    }

    package var description: String { pattern }

    /// Whether PCRE2's JIT compiled this pattern (false means the interpreter is used).
    package var isJITCompiled: Bool { jit }

    /// Unanchored search in the `n` bytes at `p` (read in place; no copy, no terminator needed).
    @inline(__always)
    package func search(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if matchDataBusy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            defer { matchDataBusy.store(false, ordering: .releasing) }
            return run(p, n, matchData)
        }
        guard let md = pcre2_match_data_create_8(1, nil) else { return false }
        defer { pcre2_match_data_free_8(md) }
        return run(p, n, md)
    }

    @inline(__always)
    private func run(_ p: UnsafePointer<UInt8>, _ n: Int, _ md: OpaquePointer) -> Bool {
        if jit {
            let rc = pcre2_jit_match_8(code, p, n, 0, 0, md, nil)
            if rc >= 0 { return true }  // 0 = matched, the 1-pair vector is just too small for the groups
            if rc == PCRE2_ERROR_NOMATCH { return false }
            // e.g. the JIT stack limit on a pathological pattern: let the heap-backed interpreter decide
        }
        return pcre2_match_8(code, p, n, 0, 0, md, nil) >= 0
    }

    private static func errorText(_ code: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(code, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buf.prefix(Int(n)), as: UTF8.self) : "error \(code)"
    }
}
