import FlowhoundCore

/// One Sigma detection rule as read from YAML, with the location of every part that can be wrong.
///
/// Values are already normalised: modifiers are applied, wildcards parsed, CIDRs and regexes compiled. The rule is
/// independent of any input format; `CompiledRuleSet` binds it to a `Schema`.
package struct SigmaRule: Sendable {
    package var id: String?
    /// The optional unique `name` correlations may reference the rule by.
    package var name: String?
    package var title: String
    package var status: String?
    /// `medium` when the rule states no level.
    package var level: Severity
    package var description: String?
    package var author: String?
    package var tags: [String]
    package var falsepositives: [String]
    package var references: [String]
    package var logsource: LogSource
    /// The free-text `logsource.definition`, if any.
    package var logsourceDefinition: String?
    package var detection: SigmaDetection
    /// The `fields:` list (fields worth showing with a finding).
    package var fields: [String]
    /// Where the document starts (file, line, column).
    package var location: FileLocation

    /// The id if the rule has one, else the title (for messages and findings).
    package var displayID: String { id ?? title }
}

/// The `detection:` block: named searches plus the condition(s), already parsed and resolved.
package struct SigmaDetection: Sendable {
    /// Search identifiers in document order.
    package var searches: [SearchIdentifier]
    /// One entry per condition; a list of conditions means any of them.
    package var conditions: [SigmaCondition]
    package var location: FileLocation

    package func search(named name: String) -> SearchIdentifier? { searches.first { $0.name == name } }
}

/// A named search identifier (`selection`, `filter_main`, `keywords`…).
package struct SearchIdentifier: Sendable {
    package var name: String
    package var expression: SearchExpression
    package var location: FileLocation
}

/// The tree a search identifier stands for.
package indirect enum SearchExpression: Sendable {
    /// A map: every entry must hold.
    case allOf([SearchExpression])
    /// A list of maps or keywords: any entry may hold.
    case anyOf([SearchExpression])
    /// One `field|modifiers: values` entry, or a keyword entry when `field` is nil.
    case item(DetectionItem)
}

/// One `field|mod…: value(s)` entry after its modifiers were applied.
package struct DetectionItem: Sendable {
    /// nil for keywords (searched in the whole raw line).
    package var field: String?
    /// Modifiers as written, for messages.
    package var modifiers: [String]
    package var test: ItemTest
    /// `neq`: the item holds when no value does (true on an absent field).
    package var negated: Bool
    package var location: FileLocation
}

/// How an item compares a field with its values.
package enum ItemTest: Sendable {
    /// String-like values. Each entry of `values` is one rule value; its variants (from `base64offset`, `windash`)
    /// are OR-ed. Values are OR-ed, or AND-ed with `all`.
    case values([[SigmaValue]], all: Bool, cased: Bool)
    /// `re`: unanchored search; OR over the list unless `all`.
    case regex([SigmaRegex], all: Bool)
    /// `cidr`: the field is an address inside any of the blocks.
    case cidr([CIDR])
    /// `gt`/`gte`/`lt`/`lte`: OR over the values unless `all`.
    case compare(NumericComparison, [Double], all: Bool)
    /// `exists: true|false`.
    case exists(Bool)
    /// `fieldref`: compare with the value of other fields of the same event.
    case fieldRef([String], mode: PatternMode, all: Bool, cased: Bool)
    /// `expand`: templates with `%placeholder%`s resolved when compiling.
    case expand([String], mode: PatternMode, all: Bool, cased: Bool)
}

package enum NumericComparison: String, Sendable {
    case gt, gte, lt, lte

    @inline(__always)
    package func holds(_ field: Double, _ value: Double) -> Bool {
        switch self {
        case .gt: field > value
        case .gte: field >= value
        case .lt: field < value
        case .lte: field <= value
        }
    }
}

/// Where a literal must sit in the field (the effect of `startswith`, `endswith`, `contains`).
package enum PatternMode: String, Sendable {
    case whole, prefix, suffix, contains
}

/// One scalar value of a rule after modifiers.
package enum SigmaValue: Sendable, Equatable {
    /// A string with wildcards.
    case pattern(SigmaPattern)
    /// A YAML number: equals fields whose text parses to the same number, or that spell it the same way.
    case number(Double, spelling: String)
    /// A YAML boolean: equals the field text `true`/`false` (and `T`/`F` in boolean fields).
    case bool(Bool)
    /// YAML null: the field is absent or unset.
    case null
}

/// A Sigma string: literal byte runs separated by wildcards.
package struct SigmaPattern: Sendable, Hashable {
    package enum Piece: Sendable, Hashable {
        case literal([UInt8])
        /// `*`: any run of characters, possibly empty.
        case anyRun
        /// `?`: exactly one character.
        case anyChar
    }

    package var pieces: [Piece]

    package init(pieces: [Piece]) { self.pieces = SigmaPattern.normalised(pieces) }

    package init(literal bytes: [UInt8]) { self.init(pieces: bytes.isEmpty ? [] : [.literal(bytes)]) }

    /// Parses Sigma wildcard syntax: `*`, `?`, and a backslash escaping only `*`, `?` and `\`.
    package init(sigma text: String) {
        var pieces: [Piece] = []
        var lit: [UInt8] = []
        let b = Array(text.utf8)
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\\"), i + 1 < b.count,
                b[i + 1] == UInt8(ascii: "*") || b[i + 1] == UInt8(ascii: "?") || b[i + 1] == UInt8(ascii: "\\")
            {
                lit.append(b[i + 1])
                i += 2
                continue
            }
            if c == UInt8(ascii: "*") || c == UInt8(ascii: "?") {
                if !lit.isEmpty { pieces.append(.literal(lit)) }
                lit = []
                pieces.append(c == UInt8(ascii: "*") ? .anyRun : .anyChar)
            } else {
                lit.append(c)
            }
            i += 1
        }
        if !lit.isEmpty { pieces.append(.literal(lit)) }
        self.init(pieces: pieces)
    }

    /// Merges adjacent literals and collapses runs of `*`.
    private static func normalised(_ input: [Piece]) -> [Piece] {
        var out: [Piece] = []
        for p in input {
            switch (out.last, p) {
            case (.literal(let a)?, .literal(let b)):
                out[out.count - 1] = .literal(a + b)
            case (.anyRun?, .anyRun):
                continue
            case (_, .literal(let b)) where b.isEmpty:
                continue
            default:
                out.append(p)
            }
        }
        return out
    }

    package var hasWildcards: Bool { pieces.contains { if case .literal = $0 { false } else { true } } }

    package var startsWithAnyRun: Bool { pieces.first == .anyRun }
    package var endsWithAnyRun: Bool { pieces.last == .anyRun }

    /// The pattern applied in a mode: adds the `*`s that `contains`/`startswith`/`endswith` imply (only if missing).
    package func applying(_ mode: PatternMode) -> SigmaPattern {
        var p = pieces
        switch mode {
        case .whole: break
        case .prefix: if !endsWithAnyRun { p.append(.anyRun) }
        case .suffix: if !startsWithAnyRun { p.insert(.anyRun, at: 0) }
        case .contains:
            if !startsWithAnyRun { p.insert(.anyRun, at: 0) }
            if p.last != .anyRun { p.append(.anyRun) }
        }
        return SigmaPattern(pieces: p)
    }

    /// Sigma text of the pattern (wildcards and escapes restored), for messages.
    package var sigmaText: String {
        var s = ""
        for p in pieces {
            switch p {
            case .anyRun: s += "*"
            case .anyChar: s += "?"
            case .literal(let b):
                for ch in String(decoding: b, as: UTF8.self) {
                    if ch == "*" || ch == "?" || ch == "\\" { s.append("\\") }
                    s.append(ch)
                }
            }
        }
        return s
    }
}

/// A correlation or filter document: recognised and kept for the engine that executes them.
package struct SigmaMetaRule: Sendable {
    package enum Kind: String, Sendable { case correlation, filter }
    package var kind: Kind
    package var id: String?
    package var name: String?
    package var title: String
    package var level: Severity
    package var tags: [String]
    package var location: FileLocation
    /// Set for correlation documents that parsed completely.
    package var correlation: SigmaCorrelation?
    /// Set for filter documents that parsed completely (the loader has already applied it to its rules).
    package var filter: SigmaFilter? = nil
}

/// A Sigma global filter (`filter:` block): its condition is ANDed onto the detection of the rules it lists.
package struct SigmaFilter: Sendable {
    /// Rule ids or names; nil for `rules: any` (every rule under the filter's logsource).
    package var rules: [String]?
    /// The filter applies to rules whose logsource sets every part this one sets, to the same value.
    package var logsource: LogSource
    /// The filter's search identifiers and condition(s), parsed like a rule's detection.
    package var detection: SigmaDetection

    package init(rules: [String]?, logsource: LogSource, detection: SigmaDetection) {
        self.rules = rules
        self.logsource = logsource
        self.detection = detection
    }

    /// Whether the filter reaches `rule`.
    package func applies(to rule: SigmaRule) -> Bool {
        if let rules {
            guard rules.contains(where: { $0 == rule.id || $0 == rule.name }) else { return false }
        }
        if let p = logsource.product, p != rule.logsource.product { return false }
        if let s = logsource.service, s != rule.logsource.service { return false }
        if let c = logsource.category, c != rule.logsource.category { return false }
        return true
    }
}

/// A Sigma correlation rule (`correlation:` block).
package struct SigmaCorrelation: Sendable {
    package enum CorrelationType: String, Sendable, CaseIterable {
        case eventCount = "event_count"
        case valueCount = "value_count"
        case temporal
        case temporalOrdered = "temporal_ordered"
        case valueSum = "value_sum"
        case valueAvg = "value_avg"
        case valuePercentile = "value_percentile"
        /// pySigma's extension: the 50th percentile.
        case valueMedian = "value_median"

        /// Types whose condition reads `condition.field`.
        package var needsField: Bool {
            switch self {
            case .valueCount, .valueSum, .valueAvg, .valuePercentile, .valueMedian: true
            case .eventCount, .temporal, .temporalOrdered: false
            }
        }

        package var isTemporal: Bool { self == .temporal || self == .temporalOrdered }
    }

    package enum Operator: String, Sendable, CaseIterable {
        case gt, gte, lt, lte, eq, neq

        @inline(__always)
        package func holds(_ metric: Double, _ value: Double) -> Bool {
            switch self {
            case .gt: metric > value
            case .gte: metric >= value
            case .lt: metric < value
            case .lte: metric <= value
            case .eq: metric == value
            case .neq: metric != value
            }
        }
    }

    package var type: CorrelationType
    /// Referenced rules or correlations, by id or name, in order. When `rules:` is omitted and `expression` is
    /// set, the names the expression uses, in first-use order.
    package var rules: [String]
    package var groupBy: [String]
    /// Window length in seconds.
    package var timespanSeconds: Int64
    /// Comparisons joined by AND (`gte: 10`, or the spec's range `gt: 1, lte: 5`); empty for temporal types
    /// without a condition (then every referenced rule must appear) and when `expression` is set.
    package var condition: [(op: Operator, value: Double)]
    /// The field counted/summed/ranked (`value_*` types).
    package var field: String?
    /// `condition.percentile` (0…100) for `value_percentile`; 50 for `value_median`.
    package var percentile: Double?
    /// An extended temporal condition (`condition: fw_block and not fw_allow`), `temporal` only.
    package var expression: CorrelationExpression?
    /// `aliases`: alias → (rule id/name → field of that rule).
    package var aliases: [String: [String: String]]
    package var generate: Bool
    package var location: FileLocation

    package init(
        type: CorrelationType, rules: [String], groupBy: [String] = [], timespanSeconds: Int64,
        condition: [(op: Operator, value: Double)] = [], field: String? = nil, percentile: Double? = nil,
        expression: CorrelationExpression? = nil, aliases: [String: [String: String]] = [:], generate: Bool = false,
        location: FileLocation
    ) {
        self.type = type
        self.rules = rules
        self.groupBy = groupBy
        self.timespanSeconds = timespanSeconds
        self.condition = condition
        self.field = field
        self.percentile = percentile
        self.expression = expression
        self.aliases = aliases
        self.generate = generate
        self.location = location
    }
}

/// A boolean condition over referenced rule names (pySigma's extended temporal condition, also in the
/// `update-correlation-cond` draft of the spec): `a and b and not c`, with `or` and parentheses.
package indirect enum CorrelationExpression: Sendable, Equatable {
    /// The rule (by the reference as written) has at least one event in the window.
    case rule(String)
    case not(CorrelationExpression)
    case and([CorrelationExpression])
    case or([CorrelationExpression])

    /// Rule references in first-use order, without duplicates.
    package var references: [String] {
        var out: [String] = []
        func walk(_ e: CorrelationExpression) {
            switch e {
            case .rule(let r): if !out.contains(r) { out.append(r) }
            case .not(let x): walk(x)
            case .and(let xs), .or(let xs): xs.forEach(walk)
            }
        }
        walk(self)
        return out
    }

    /// True when some rule appears under a `not` (its absence is then decided looking forward).
    package var hasNegation: Bool {
        switch self {
        case .rule: false
        case .not: true
        case .and(let xs), .or(let xs): xs.contains { $0.hasNegation }
        }
    }

    /// Evaluates with `present(reference)` telling whether that rule has an event in the window.
    package func evaluate(_ present: (String) -> Bool) -> Bool {
        switch self {
        case .rule(let r): present(r)
        case .not(let x): !x.evaluate(present)
        case .and(let xs): xs.allSatisfy { $0.evaluate(present) }
        case .or(let xs): xs.contains { $0.evaluate(present) }
        }
    }
}
