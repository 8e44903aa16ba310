/// A parsed and resolved Sigma condition: selectors are expanded to the identifiers they name.
package indirect enum SigmaCondition: Sendable, Equatable, CustomStringConvertible {
    case search(String)
    case and([SigmaCondition])
    case or([SigmaCondition])
    case not(SigmaCondition)
    /// `1 of P` / `any of P` / `1 of them`.
    case oneOf([String])
    /// `all of P` / `all of them`.
    case allOf([String])

    package var description: String {
        switch self {
        case .search(let n): n
        case .and(let xs): "(" + xs.map(\.description).joined(separator: " and ") + ")"
        case .or(let xs): "(" + xs.map(\.description).joined(separator: " or ") + ")"
        case .not(let x): "not " + x.description
        case .oneOf(let ns): "1 of [" + ns.joined(separator: ", ") + "]"
        case .allOf(let ns): "all of [" + ns.joined(separator: ", ") + "]"
        }
    }

    /// Every identifier the condition uses.
    package var identifiers: [String] {
        switch self {
        case .search(let n): [n]
        case .and(let xs), .or(let xs): xs.flatMap(\.identifiers)
        case .not(let x): x.identifiers
        case .oneOf(let ns), .allOf(let ns): ns
        }
    }
}

/// A condition that cannot be parsed: `offset` counts characters from the start of the condition text.
package struct ConditionError: Error, Equatable {
    package var message: String
    package var offset: Int
    /// `bad_condition`, or `undefined_identifier` for a name that is not defined.
    package var code: String = "bad_condition"
}

/// Recursive-descent parser for Sigma conditions.
///
/// Precedence from loosest to tightest: `or`, `and`, `not`, `1 of`/`all of`, parentheses. Operators are lower-case
/// only (as in pySigma); upper-case spellings get a message saying so.
package struct ConditionParser {
    private enum TokenKind: Equatable {
        case word(String)
        case open, close, pipe
    }

    private struct Token {
        var kind: TokenKind
        var offset: Int
        var length: Int
    }

    private let tokens: [Token]
    private let endOffset: Int
    private let identifiers: [String]
    private var pos = 0

    /// Parses `text` against the defined search identifiers (in document order).
    package static func parse(_ text: String, identifiers: [String]) throws(ConditionError) -> SigmaCondition {
        var p = ConditionParser(text: text, identifiers: identifiers)
        try p.lexCheck(text)
        if p.tokens.isEmpty { throw ConditionError(message: "the condition is empty", offset: 0) }
        let e = try p.parseOr()
        if p.pos < p.tokens.count {
            let t = p.tokens[p.pos]
            throw ConditionError(message: "unexpected \(p.describe(t)) after a complete condition", offset: t.offset)
        }
        return e
    }

    private init(text: String, identifiers: [String]) {
        var toks: [Token] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                i += 1
            } else if c == "(" {
                toks.append(Token(kind: .open, offset: i, length: 1))
                i += 1
            } else if c == ")" {
                toks.append(Token(kind: .close, offset: i, length: 1))
                i += 1
            } else if c == "|" {
                toks.append(Token(kind: .pipe, offset: i, length: 1))
                i += 1
            } else {
                let start = i
                var s = String.UnicodeScalarView()
                while i < chars.count, !" \t\n\r()|".unicodeScalars.contains(chars[i]) {
                    s.append(chars[i])
                    i += 1
                }
                toks.append(Token(kind: .word(String(s)), offset: start, length: i - start))
            }
        }
        tokens = toks
        endOffset = chars.count
        self.identifiers = identifiers
    }

    /// Rejects legacy aggregation syntax up front with a pointer to correlations.
    private func lexCheck(_ text: String) throws(ConditionError) {
        if let t = tokens.first(where: { $0.kind == .pipe }) {
            throw ConditionError(
                message: "'|' aggregations (count(), near) are not supported; use a Sigma correlation rule",
                offset: t.offset)
        }
    }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .word(let w): "'\(w)'"
        case .open: "'('"
        case .close: "')'"
        case .pipe: "'|'"
        }
    }

    private func word(at i: Int) -> String? {
        guard i < tokens.count, case .word(let w) = tokens[i].kind else { return nil }
        return w
    }

    private mutating func parseOr() throws(ConditionError) -> SigmaCondition {
        var items = [try parseAnd()]
        while word(at: pos) == "or" {
            pos += 1
            items.append(try parseAnd())
        }
        return items.count == 1 ? items[0] : .or(items)
    }

    private mutating func parseAnd() throws(ConditionError) -> SigmaCondition {
        var items = [try parseNot()]
        while word(at: pos) == "and" {
            pos += 1
            items.append(try parseNot())
        }
        return items.count == 1 ? items[0] : .and(items)
    }

    private mutating func parseNot() throws(ConditionError) -> SigmaCondition {
        if word(at: pos) == "not" {
            pos += 1
            return .not(try parseNot())
        }
        return try parsePrimary()
    }

    private static let operatorWords: Set<String> = ["and", "or", "not", "of", "them"]

    private mutating func parsePrimary() throws(ConditionError) -> SigmaCondition {
        guard pos < tokens.count else {
            throw ConditionError(message: "the condition ends where an identifier or '(' was expected", offset: endOffset)
        }
        let t = tokens[pos]
        switch t.kind {
        case .open:
            pos += 1
            let e = try parseOr()
            guard pos < tokens.count, tokens[pos].kind == .close else {
                let at = pos < tokens.count ? tokens[pos].offset : endOffset
                throw ConditionError(message: "missing ')' for the '(' at column offset \(t.offset + 1)", offset: at)
            }
            pos += 1
            return e
        case .close:
            throw ConditionError(message: "unexpected ')'", offset: t.offset)
        case .pipe:
            throw ConditionError(message: "unexpected '|'", offset: t.offset)
        case .word(let w):
            if word(at: pos + 1) == "of" {
                return try parseSelector(quantifier: w, at: t)
            }
            if ConditionParser.operatorWords.contains(w) {
                throw ConditionError(message: "'\(w)' where an identifier was expected", offset: t.offset)
            }
            if ConditionParser.operatorWords.contains(w.lowercased()) || w == "OF" {
                throw ConditionError(
                    message: "condition operators are lower-case: write '\(w.lowercased())' instead of '\(w)'",
                    offset: t.offset)
            }
            if w.contains("*") {
                throw ConditionError(
                    message: "the pattern '\(w)' needs a selector: write '1 of \(w)' or 'all of \(w)'", offset: t.offset)
            }
            guard identifiers.contains(w) else {
                throw ConditionError(message: undefinedMessage(w), offset: t.offset, code: "undefined_identifier")
            }
            pos += 1
            if let next = word(at: pos), !ConditionParser.operatorWords.contains(next) {
                if ConditionParser.operatorWords.contains(next.lowercased()) {
                    throw ConditionError(
                        message: "condition operators are lower-case: write '\(next.lowercased())' instead of '\(next)'",
                        offset: tokens[pos].offset)
                }
                throw ConditionError(message: "expected 'and', 'or' or ')' before '\(next)'", offset: tokens[pos].offset)
            }
            return .search(w)
        }
    }

    private mutating func parseSelector(quantifier: String, at t: Token) throws(ConditionError) -> SigmaCondition {
        let all: Bool
        switch quantifier {
        case "1", "any": all = false
        case "all": all = true
        default:
            if Int(quantifier) != nil {
                throw ConditionError(
                    message: "only '1 of' and 'all of' are supported, not '\(quantifier) of'", offset: t.offset)
            }
            throw ConditionError(message: "'\(quantifier) of' is not a selector; use '1 of' or 'all of'", offset: t.offset)
        }
        pos += 2
        guard pos < tokens.count, case .word(let target) = tokens[pos].kind else {
            throw ConditionError(
                message: "'\(quantifier) of' needs an identifier pattern or 'them'",
                offset: pos < tokens.count ? tokens[pos].offset : endOffset)
        }
        let targetToken = tokens[pos]
        pos += 1
        let names: [String]
        if target == "them" {
            names = identifiers.filter { !$0.hasPrefix("_") }
            if names.isEmpty {
                throw ConditionError(message: "'them' names no search identifier", offset: targetToken.offset)
            }
        } else {
            if ConditionParser.operatorWords.contains(target) {
                throw ConditionError(message: "'\(target)' where an identifier pattern was expected", offset: targetToken.offset)
            }
            let pattern = SigmaPattern(sigma: target)
            let underscore = target.hasPrefix("_")
            names = identifiers.filter { id in
                (underscore || !id.hasPrefix("_")) && GlobMatcher.matchesWhole(pattern: pattern, Array(id.utf8), cased: true)
            }
            if names.isEmpty {
                throw ConditionError(
                    message: target.contains("*")
                        ? "the pattern '\(target)' matches no search identifier"
                        : undefinedMessage(target),
                    offset: targetToken.offset, code: "undefined_identifier")
            }
        }
        return all ? .allOf(names) : .oneOf(names)
    }

    private func undefinedMessage(_ w: String) -> String {
        var m = "'\(w)' is not a search identifier of this rule"
        if let near = Suggest.closest(to: w, in: identifiers) { m += "; did you mean '\(near)'?" }
        return m
    }
}

/// "Did you mean" suggestions by edit distance.
package enum Suggest {
    package static func closest(to word: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        let limit = max(2, word.count / 3)
        for c in candidates {
            let d = distance(word, c)
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    package static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased().unicodeScalars), y = Array(b.lowercased().unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev = Array(0...y.count)
        var cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[y.count]
    }
}
