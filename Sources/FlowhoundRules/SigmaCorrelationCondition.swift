/// Parses an extended temporal correlation condition such as `fw_block and not fw_allow`.
///
/// Grammar (lowest precedence first): `or` over `and` over `not` over a rule reference or a parenthesised
/// expression. The operator words are accepted in lower or upper case (pySigma writes them lowercase, the
/// spec draft uppercase). A reference is any run of characters other than blanks and parentheses.
package enum CorrelationExpressionParser {
    package struct Failure: Error, Equatable {
        package var message: String
        /// 0-based character offset in the condition text.
        package var offset: Int
    }

    package static func parse(_ text: String) throws(Failure) -> CorrelationExpression {
        var p = State(tokens: tokenize(text), end: text.count)
        if p.tokens.isEmpty { throw Failure(message: "the condition is empty", offset: 0) }
        let e = try p.parseOr()
        if p.pos < p.tokens.count {
            throw Failure(message: "unexpected '\(p.tokens[p.pos].text)'", offset: p.tokens[p.pos].offset)
        }
        return e
    }

    private struct Token {
        var text: String
        var offset: Int
    }

    private static func tokenize(_ text: String) -> [Token] {
        var out: [Token] = []
        var cur = ""
        var start = 0
        for (i, ch) in text.enumerated() {
            if ch == "(" || ch == ")" || ch.isWhitespace {
                if !cur.isEmpty { out.append(Token(text: cur, offset: start)) }
                cur = ""
                if !ch.isWhitespace { out.append(Token(text: String(ch), offset: i)) }
            } else {
                if cur.isEmpty { start = i }
                cur.append(ch)
            }
        }
        if !cur.isEmpty { out.append(Token(text: cur, offset: start)) }
        return out
    }

    private struct State {
        var tokens: [Token]
        var end: Int
        var pos = 0

        func keyword(_ w: String) -> Bool {
            pos < tokens.count && (tokens[pos].text == w || tokens[pos].text == w.uppercased())
        }

        mutating func parseOr() throws(Failure) -> CorrelationExpression {
            var items = [try parseAnd()]
            while keyword("or") {
                pos += 1
                items.append(try parseAnd())
            }
            return items.count == 1 ? items[0] : .or(items)
        }

        mutating func parseAnd() throws(Failure) -> CorrelationExpression {
            var items = [try parseNot()]
            while keyword("and") {
                pos += 1
                items.append(try parseNot())
            }
            return items.count == 1 ? items[0] : .and(items)
        }

        mutating func parseNot() throws(Failure) -> CorrelationExpression {
            if keyword("not") {
                pos += 1
                return .not(try parseNot())
            }
            return try parsePrimary()
        }

        mutating func parsePrimary() throws(Failure) -> CorrelationExpression {
            guard pos < tokens.count else { throw Failure(message: "the condition ends too early", offset: end) }
            let t = tokens[pos]
            if t.text == "(" {
                pos += 1
                let e = try parseOr()
                guard pos < tokens.count, tokens[pos].text == ")" else {
                    throw Failure(message: "'(' is not closed", offset: t.offset)
                }
                pos += 1
                return e
            }
            if t.text == ")" || ["and", "or", "not"].contains(t.text.lowercased()) {
                throw Failure(message: "expected a rule name, found '\(t.text)'", offset: t.offset)
            }
            pos += 1
            return .rule(t.text)
        }
    }
}
