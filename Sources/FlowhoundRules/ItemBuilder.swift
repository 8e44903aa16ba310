import FlowhoundCore
import Yams

/// Applies an item's modifiers (left to right) to its YAML values and checks that they combine.
struct ItemBuilder {
    struct Failure: Error {
        var code: String
        var message: String
        var at: FileLocation?
    }

    private enum Step {
        case mode(PatternMode)
        case utf16(bigEndian: Bool, bom: Bool)
        case base64, base64offset, windash
    }

    private enum Kind: Equatable {
        case strings, regex, cidr, compare(NumericComparison), exists, fieldref, expand

        var name: String {
            switch self {
            case .strings: "string matching"
            case .regex: "re"
            case .cidr: "cidr"
            case .compare(let c): c.rawValue
            case .exists: "exists"
            case .fieldref: "fieldref"
            case .expand: "expand"
            }
        }
    }

    let field: String?
    let mods: [SigmaModifier]
    let path: String
    private(set) var negated = false

    init(field: String?, mods: [SigmaModifier], path: String) {
        self.field = field
        self.mods = mods
        self.path = path
    }

    private func loc(_ node: Node) -> FileLocation? {
        node.mark.map { FileLocation(path: path, line: $0.line, column: $0.column) }
    }

    mutating func build(values input: [(Node, SigmaScalar)]) throws(Failure) -> ItemTest {
        var kind = Kind.strings
        var steps: [Step] = []
        var mode: PatternMode?
        var cased = false, all = false
        var icase = false, multiline = false, dotall = false
        var others: [SigmaModifier] = []  // modifiers that must be allowed by the kind
        func fail(_ code: String, _ m: String) -> Failure { Failure(code: code, message: m, at: nil) }
        func setKind(_ k: Kind, _ m: SigmaModifier) throws(Failure) {
            if kind != .strings {
                throw fail("bad_modifier", "'\(m.rawValue)' cannot be combined with '\(kind.name)'")
            }
            kind = k
        }
        for (idx, m) in mods.enumerated() {
            switch m {
            case .contains, .startswith, .endswith:
                if mode != nil { throw fail("bad_modifier", "use only one of 'contains', 'startswith' and 'endswith'") }
                let pm: PatternMode = m == .contains ? .contains : (m == .startswith ? .prefix : .suffix)
                mode = pm
                steps.append(.mode(pm))
                others.append(m)
            case .all: all = true
            case .cased:
                cased = true
                others.append(m)
            case .neq: negated = true
            case .exists:
                if mods.count != 1 { throw fail("bad_modifier", "'exists' cannot be combined with other modifiers") }
                kind = .exists
            case .re:
                if idx != 0 { throw fail("bad_modifier", "'re' must be the first modifier") }
                kind = .regex
            case .i, .ignorecase, .m, .multiline, .s, .dotall:
                if kind != .regex { throw fail("bad_modifier", "'\(m.rawValue)' is a flag of 're' and must follow it") }
                switch m {
                case .i, .ignorecase: icase = true
                case .m, .multiline: multiline = true
                default: dotall = true
                }
            case .cidr: try setKind(.cidr, m)
            case .gt: try setKind(.compare(.gt), m)
            case .gte: try setKind(.compare(.gte), m)
            case .lt: try setKind(.compare(.lt), m)
            case .lte: try setKind(.compare(.lte), m)
            case .fieldref: try setKind(.fieldref, m)
            case .expand: try setKind(.expand, m)
            case .base64:
                steps.append(.base64)
                others.append(m)
            case .base64offset:
                steps.append(.base64offset)
                others.append(m)
            case .wide, .utf16le:
                steps.append(.utf16(bigEndian: false, bom: false))
                others.append(m)
            case .utf16be:
                steps.append(.utf16(bigEndian: true, bom: false))
                others.append(m)
            case .utf16:
                steps.append(.utf16(bigEndian: false, bom: true))
                others.append(m)
            case .windash:
                steps.append(.windash)
                others.append(m)
            }
        }
        // which value modifiers each kind accepts
        let allowed: Set<SigmaModifier>
        switch kind {
        case .strings: allowed = Set(others)
        case .regex: allowed = [.cased]
        case .cidr, .compare, .exists: allowed = []
        case .fieldref, .expand: allowed = [.contains, .startswith, .endswith, .cased]
        }
        if let bad = others.first(where: { !allowed.contains($0) }) {
            throw fail("bad_modifier", "'\(bad.rawValue)' cannot be combined with '\(kind.name)'")
        }
        if field == nil && kind != .strings {
            throw fail("bad_modifier", "'\(kind.name)' needs a field; keywords only take string values")
        }
        if kind == .exists && negated { throw fail("bad_modifier", "'neq' cannot be combined with 'exists'") }

        let values = input.isEmpty ? [] : input
        switch kind {
        case .strings:
            var out: [[SigmaValue]] = []
            if values.isEmpty {
                if !steps.isEmpty || field == nil { throw fail("bad_value", "an empty list needs a field and no modifiers") }
                return .values([[.null]], all: false, cased: cased)
            }
            for (node, scalar) in values {
                out.append(try stringVariants(node, scalar, steps: steps))
            }
            return .values(out, all: all, cased: cased)
        case .regex:
            var res: [SigmaRegex] = []
            for (node, scalar) in values {
                guard let text = scalar.text else { throw Failure(code: "bad_value", message: "'re' needs a pattern, not null", at: loc(node)) }
                do throws(SigmaRegex.Failure) {
                    res.append(try SigmaRegex(text, ignoreCase: icase, multiline: multiline, dotAll: dotall))
                } catch {
                    throw Failure(code: "bad_regex", message: error.message, at: loc(node))
                }
            }
            if res.isEmpty { throw fail("bad_value", "'re' needs at least one pattern") }
            return .regex(res, all: all)
        case .cidr:
            var blocks: [CIDR] = []
            for (node, scalar) in values {
                guard let text = scalar.text, let c = CIDR(text.trimmingSpaces) else {
                    throw Failure(
                        code: "bad_cidr", message: "'\(scalar.text ?? "null")' is not an IPv4 or IPv6 network", at: loc(node))
                }
                blocks.append(c)
            }
            if blocks.isEmpty { throw fail("bad_value", "'cidr' needs at least one network") }
            return .cidr(blocks)
        case .compare(let op):
            var nums: [Double] = []
            for (node, scalar) in values {
                guard case .number(let d, _) = scalar.value else {
                    throw Failure(
                        code: "bad_value",
                        message: "'\(op.rawValue)' needs a number, not \(scalar.text.map { "'\($0)'" } ?? "null")"
                            + (scalar.text.map { Double($0) != nil ? " (a quoted string)" : "" } ?? ""),
                        at: loc(node))
                }
                nums.append(d)
            }
            if nums.isEmpty { throw fail("bad_value", "'\(op.rawValue)' needs a number") }
            return .compare(op, nums, all: all)
        case .exists:
            guard values.count == 1, case .bool(let b) = values[0].1.value else {
                throw Failure(code: "bad_value", message: "'exists' needs true or false", at: values.first.flatMap { loc($0.0) })
            }
            return .exists(b)
        case .fieldref, .expand:
            var texts: [String] = []
            for (node, scalar) in values {
                guard case .string(let s) = scalar.value else {
                    throw Failure(code: "bad_value", message: "'\(kind.name)' needs string values", at: loc(node))
                }
                if kind == .expand && !s.contains("%") {
                    throw Failure(code: "bad_value", message: "'expand' needs a %placeholder% in '\(s)'", at: loc(node))
                }
                texts.append(s)
            }
            if texts.isEmpty { throw fail("bad_value", "'\(kind.name)' needs a value") }
            return kind == .fieldref
                ? .fieldRef(texts, mode: mode ?? .whole, all: all, cased: cased)
                : .expand(texts, mode: mode ?? .whole, all: all, cased: cased)
        }
    }

    private func stringVariants(_ node: Node, _ scalar: SigmaScalar, steps: [Step]) throws(Failure) -> [SigmaValue] {
        if steps.isEmpty && field != nil {
            switch scalar.value {
            case .null: return [.null]
            case .bool(let b): return [.bool(b)]
            case .number(let d, let sp): return [.number(d, spelling: sp)]
            case .string: break
            }
        }
        guard let text = scalar.text else {
            throw Failure(
                code: "bad_value",
                message: field == nil ? "a keyword cannot be null" : "null cannot be combined with modifiers",
                at: loc(node))
        }
        var variants = [SigmaPattern(sigma: text)]
        for step in steps {
            switch step {
            case .mode(let m):
                variants = variants.map { $0.applying(m) }
            case .utf16(let be, let bom):
                variants = variants.map { ValueTransform.utf16($0, bigEndian: be, bom: bom) }
            case .base64, .base64offset:
                var next: [SigmaPattern] = []
                for v in variants {
                    guard !v.hasWildcards, case let bytes = v.pieces.reduce(into: [UInt8](), { acc, p in
                        if case .literal(let b) = p { acc += b }
                    }) else {
                        throw Failure(
                            code: "bad_value",
                            message: "base64 cannot encode wildcards; put 'contains'/'startswith'/'endswith' after it",
                            at: loc(node))
                    }
                    if case .base64 = step {
                        next.append(SigmaPattern(literal: ValueTransform.base64(bytes)))
                    } else {
                        next += ValueTransform.base64Offsets(bytes).map { SigmaPattern(literal: $0) }
                    }
                }
                variants = next
            case .windash:
                var next: [SigmaPattern] = []
                for v in variants {
                    guard let w = ValueTransform.windash(v) else {
                        throw Failure(
                            code: "bad_value", message: "'windash' supports at most 3 dashes per value", at: loc(node))
                    }
                    next += w
                }
                variants = next
            }
        }
        return variants.map { .pattern($0) }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
