import FlowhoundCore
import Testing

@testable import FlowhoundRules

/// Sigma `re` on PCRE2: flags, search semantics, syntax beyond the old POSIX translation, diagnostics, raw bytes.
@Suite struct RegexTests {
    /// Runs `search` over raw bytes (which need not be valid UTF-8).
    func matches(_ re: SigmaRegex, _ bytes: [UInt8]) -> Bool {
        let storage = bytes.isEmpty ? [0] : bytes
        return storage.withUnsafeBufferPointer { re.search($0.baseAddress!, bytes.count) }
    }

    func matches(_ re: SigmaRegex, _ text: String) -> Bool { matches(re, Array(text.utf8)) }

    @Test func caseSensitiveUnlessI() throws {
        let plain = try SigmaRegex("evil\\.com")
        #expect(matches(plain, "www.evil.com"))
        #expect(!matches(plain, "www.EVIL.com"))
        let caseless = try SigmaRegex("evil\\.com", ignoreCase: true)
        #expect(matches(caseless, "www.EVIL.COM"))
        // caseless folding is not limited to ASCII
        #expect(matches(try SigmaRegex("é", ignoreCase: true), "CAFÉ"))
        // an inline flag still works (deprecated in v2.2, but PCRE2 understands it)
        #expect(matches(try SigmaRegex("(?i)^EVIL"), "evil.com"))
    }

    @Test func unanchoredSearch() throws {
        let re = try SigmaRegex("b+c")
        #expect(matches(re, "abbbcd"))
        #expect(!matches(re, "acb"))
        let anchored = try SigmaRegex("^abc$")
        #expect(matches(anchored, "abc"))
        #expect(!matches(anchored, "xabc"))
        #expect(!matches(anchored, "abcx"))
        // an empty pattern matches every value, including the empty one
        #expect(matches(try SigmaRegex(""), ""))
        #expect(matches(try SigmaRegex("^$"), ""))
    }

    @Test func multilineFlag() throws {
        let text = "first line\nsecond line"
        #expect(!matches(try SigmaRegex("^second"), text))
        #expect(matches(try SigmaRegex("^second", multiline: true), text))
        #expect(!matches(try SigmaRegex("first line$"), text))
        #expect(matches(try SigmaRegex("first line$", multiline: true), text))
    }

    @Test func dotAllFlag() throws {
        let text = "a\nb"
        #expect(!matches(try SigmaRegex("a.b"), text))
        #expect(matches(try SigmaRegex("a.b", dotAll: true), text))
        #expect(matches(try SigmaRegex("a.b"), "a-b"))
    }

    @Test func lookaroundAndBackreference() throws {
        let ahead = try SigmaRegex("foo(?=bar)")
        #expect(matches(ahead, "xfoobar"))
        #expect(!matches(ahead, "foobaz"))
        let notAhead = try SigmaRegex("\\.exe(?!\\.txt)")
        #expect(matches(notAhead, "a.exe"))
        #expect(!matches(notAhead, "a.exe.txt"))
        let behind = try SigmaRegex("(?<=user=)root")
        #expect(matches(behind, "x user=root"))
        #expect(!matches(behind, "x name=root"))
        let backref = try SigmaRegex("^([a-z]+)\\.\\1$")
        #expect(matches(backref, "abc.abc"))
        #expect(!matches(backref, "abc.abd"))
        let named = try SigmaRegex("(?<label>[a-z]{3})-\\k<label>")
        #expect(matches(named, "xx abc-abc"))
    }

    @Test func pcreEscapesAndClasses() throws {
        #expect(matches(try SigmaRegex("\\d{3}-[\\w.]+"), "id 123-a.b"))
        #expect(matches(try SigmaRegex("\\bcmd\\b"), "run cmd now"))
        #expect(!matches(try SigmaRegex("\\bcmd\\b"), "runcmdnow"))
        #expect(matches(try SigmaRegex("\\x41\\x{42}"), "xAB"))
        #expect(matches(try SigmaRegex("[\\]\\-x]"), "a]"))
        #expect(matches(try SigmaRegex("ab.*?c"), "xxabzzc"))
        #expect(matches(try SigmaRegex("a++b"), "aaab"))
        #expect(try SigmaRegex("x").isJITCompiled)
    }

    @Test func invalidUTF8BytesAreSearched() throws {
        // 0xFF and a lone continuation byte are not UTF-8; the valid text around them still matches
        let bytes: [UInt8] = Array("GET /".utf8) + [0xFF, 0x80] + Array("evil.exe".utf8)
        #expect(matches(try SigmaRegex("evil\\.exe$"), bytes))
        #expect(matches(try SigmaRegex("^GET /"), bytes))
        #expect(!matches(try SigmaRegex("benign"), bytes))
        // an invalid sequence is no character, so '.' cannot bridge it
        #expect(!matches(try SigmaRegex("/.evil"), bytes))
        #expect(!matches(try SigmaRegex("/..evil"), bytes))
        // a NUL byte in the value is an ordinary byte, and the length bounds the search
        let withNUL: [UInt8] = Array("ab".utf8) + [0] + Array("cd".utf8)
        #expect(matches(try SigmaRegex("b\\x00c"), withNUL))
        #expect(!matches(try SigmaRegex("cd"), Array(withNUL.prefix(3))))
    }

    @Test func invalidPatternDiagnostic() throws {
        #expect(throws: SigmaRegex.Failure.self) { try SigmaRegex("(abc") }
        do {
            _ = try SigmaRegex("ab[c")
            Issue.record("expected a failure")
        } catch {
            #expect(error.offset == 4)
            #expect(error.message.contains("missing terminating ] for character class"))
            #expect(error.message.contains("at offset 4"))
        }
        // through the loader: a bad_regex diagnostic at the pattern's file:line:column
        let yaml = ruleYAML("    sel:\n        query|re: 'a(b'\n    condition: sel")
        let errs = diagnostics(yaml).filter { $0.kind == .error }
        #expect(errs.count == 1)
        let d = try #require(errs.first)
        #expect(d.code == "bad_regex")
        #expect(d.location == FileLocation(path: "t.yml", line: 10, column: 19))
        #expect(d.message.contains("missing closing parenthesis"))
        #expect(d.message.contains("at offset 3"))
        #expect(d.description.contains("t.yml:10:19"))
    }

    @Test func ruleLevelFlagsAndLists() {
        #expect(check(#"query|re: '^abc\.'"#, [["query": "abc.x"], ["query": "AbC.x"], ["query": "xabc.x"]]) == [true, false, false])
        #expect(check(#"query|re|i: '^abc\.'"#, [["query": "AbC.x"]]) == [true])
        #expect(check(#"query|re|ignorecase|dotall: 'a.b'"#, [["query": "A\nB"], ["query": "ab"]]) == [true, false])
        #expect(check(#"query|re|m: '^b'"#, [["query": "a\nb"], ["query": "ab"]]) == [true, false])
        #expect(check(#"query|re: ['^a', 'z$']"#, [["query": "abc"], ["query": "xyz"], ["query": "m"]]) == [true, true, false])
        #expect(check(#"query|re|all: ['^a', 'z$']"#, [["query": "abz"], ["query": "abc"]]) == [true, false])
        #expect(check(#"query|re: '(?<=\.)evil\.com$'"#, [["query": "www.evil.com"], ["query": "evil.com"]]) == [true, false])
    }

    @Test func listFieldMatchesAnyElement() {
        // `answers` is a list field in the test schema (elements separated by ','): `^`/`$` bind per element
        #expect(check(#"answers|re: '^10\.0\.0\.\d+$'"#,
                      [["answers": "1.2.3.4,10.0.0.7"], ["answers": "1.2.3.4,10.0.0.7x"], ["answers": "10.0.0.7"]])
            == [true, false, true])
        let yaml = ruleYAML("    sel:\n        query: x\n    filter:\n        answers|re: '^127\\.'\n    condition: sel and not filter")
        #expect(evaluate(yaml, [TestEvent(["query": "x", "answers": "1.2.3.4,127.0.0.1"]),
                                TestEvent(["query": "x", "answers": "1.2.3.4"])]) == [false, true])
    }

    @Test func sharedAcrossThreads() async throws {
        let re = try SigmaRegex("^([a-z]+)-\\1$")
        let hits = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var n = 0
                    for i in 0..<2000 { if self.matches(re, i % 2 == 0 ? "abc-abc" : "abc-abd") { n += 1 } }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        #expect(hits == 4000)
    }
}
