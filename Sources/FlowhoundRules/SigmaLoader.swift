import FlowhoundCore
import Foundation
import Yams

/// What loading a set of rule files produced. A bad document never stops the others.
package struct SigmaLoadResult: Sendable {
    package var rules: [SigmaRule] = []
    /// Correlation and filter documents (executed elsewhere).
    package var metaRules: [SigmaMetaRule] = []
    /// Behavioural detector rules (documents with a top-level `detector:` block; see `DetectorRule`).
    package var detectorRules: [DetectorRule] = []
    /// Errors and warnings, in file order.
    package var diagnostics: [Diagnostic] = []
    package var filesRead = 0
    /// Non-empty YAML documents seen.
    package var documentsRead = 0

    package var errors: [Diagnostic] { diagnostics.filter { $0.kind == .error } }
    package var correlations: [SigmaMetaRule] { metaRules.filter { $0.kind == .correlation } }
    package var filters: [SigmaMetaRule] { metaRules.filter { $0.kind == .filter } }
}

/// Reads Sigma YAML (`Yams.compose`, so every node keeps its line and column) into `SigmaRule`s.
///
/// YAML scalars follow the YAML 1.2 core schema, not PyYAML's 1.1: `yes`/`no`/`on`/`off` and `010` stay strings
/// or decimal numbers as written (`010` is the number 10); `true`/`false` are booleans; `null`, `~` and an empty
/// plain scalar are null; plain decimal and `0x` integers and decimal floats are numbers. Dates stay strings.
package enum SigmaLoader {
    /// The YAML tag resolver of every rules-side file: none. Scalars are read by their text and style
    /// (`SigmaScalar`), never by a resolved tag; Yams' default resolver ran its regular expressions again on every
    /// key compared in a mapping lookup (~20 M instructions at every start).
    package static let resolver = Resolver.basic

    /// Loads every `.yml`/`.yaml` file under `paths` (files or directories, recursively, in sorted order).
    package static func load(paths: [String]) -> SigmaLoadResult {
        var result = SigmaLoadResult()
        let (files, listing) = ruleFiles(in: paths)
        result.diagnostics += listing
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                result.diagnostics.append(Diagnostic(code: "cannot_read", "cannot read the rule file", at: FileLocation(path: file)))
                continue
            }
            let text = String(decoding: data, as: UTF8.self)
            load(yaml: text, path: file, into: &result)
        }
        rejectDuplicateIDs(&result)
        applyFilters(&result)
        return result
    }

    /// Loads the documents of one YAML text, named `path` in diagnostics.
    package static func load(yaml: String, path: String) -> SigmaLoadResult {
        var result = SigmaLoadResult()
        load(yaml: yaml, path: path, into: &result)
        rejectDuplicateIDs(&result)
        applyFilters(&result)
        return result
    }

    /// Rule files under `paths`, sorted by path for a deterministic order.
    package static func ruleFiles(in paths: [String]) -> ([String], [Diagnostic]) {
        var files: [String] = []
        var diags: [Diagnostic] = []
        let fm = FileManager.default
        for root in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: root, isDirectory: &isDir) else {
                diags.append(Diagnostic(code: "cannot_read", "no such file or directory", at: FileLocation(path: root)))
                continue
            }
            if !isDir.boolValue {
                files.append(root)
                continue
            }
            var found: [String] = []
            if let e = fm.enumerator(atPath: root) {
                while let rel = e.nextObject() as? String {
                    // Inside a rules directory, `site.yml` is the site description and `tests/` holds rule
                    // tests (`flowhound rules test`); neither is a rule. Hidden entries are skipped too.
                    let parts = rel.split(separator: "/")
                    if parts.contains(where: { $0.hasPrefix(".") }) || parts.dropLast().contains("tests") { continue }
                    if parts.count == 1 && (rel == "site.yml" || rel == "site.yaml") { continue }
                    if rel.hasSuffix(".yml") || rel.hasSuffix(".yaml") {
                        found.append(root.hasSuffix("/") ? root + rel : root + "/" + rel)
                    }
                }
            }
            files += found.sorted()
        }
        return (files, diags)
    }

    static func load(yaml: String, path: String, into result: inout SigmaLoadResult) {
        result.filesRead += 1
        var docs: YamlSequence<Node>
        do {
            docs = try Yams.compose_all(yaml: yaml, Self.resolver)
        } catch {
            result.diagnostics.append(yamlDiagnostic(error, path: path, text: yaml))
            return
        }
        while let node = docs.next() {
            var reader = DocumentReader(path: path)
            reader.read(node, into: &result)
        }
        if let error = docs.error {
            result.diagnostics.append(yamlDiagnostic(error, path: path, text: yaml))
        }
    }

    /// Converts a Yams error to a diagnostic at the line and column Yams reports.
    static func yamlDiagnostic(_ error: any Error, path: String, text: String) -> Diagnostic {
        guard let y = error as? YamlError else {
            return Diagnostic(code: "yaml_syntax", "\(error)", at: FileLocation(path: path))
        }
        switch y {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var msg = problem
            if let context { msg += " (\(context.text) at line \(context.mark.line))" }
            return Diagnostic(
                code: "yaml_syntax", "invalid YAML: \(msg)", at: FileLocation(path: path, line: mark.line, column: mark.column))
        case .reader(let problem, let offset, _, _):
            var loc = FileLocation(path: path)
            if let offset {
                let prefix = text.utf8.prefix(offset)
                loc.line = prefix.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
            }
            return Diagnostic(code: "yaml_syntax", "invalid YAML: \(problem)", at: loc)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = context.mark
            let second = secondOccurrence(of: key, after: first, in: text)
            return Diagnostic(
                code: "duplicate_key",
                "the key '\(key)' appears more than once in the same mapping (first at line \(first.line)); "
                    + "the whole file is rejected",
                at: FileLocation(path: path, line: second?.0 ?? first.line, column: second?.1 ?? first.column))
        default:
            return Diagnostic(code: "yaml_syntax", "invalid YAML: \(y)", at: FileLocation(path: path))
        }
    }

    /// Finds the next line that defines `key` at the same column as its first definition.
    static func secondOccurrence(of key: String, after mark: Mark, in text: String) -> (Int, Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var ln = mark.line  // 1-based line numbers: index `ln` is the line after the first occurrence
        let col = mark.column - 1
        while ln < lines.count {
            let line = Array(lines[ln].unicodeScalars)
            if line.count > col, line[..<col].allSatisfy({ $0 == " " || $0 == "-" }) {
                let rest = String(String.UnicodeScalarView(line[col...]))
                for spelled in [key, "'\(key)'", "\"\(key)\""] where rest.hasPrefix(spelled) {
                    let after = rest.dropFirst(spelled.count).drop { $0 == " " }
                    if after.hasPrefix(":") { return (ln + 1, col + 1) }
                }
            }
            if let first = line.first(where: { $0 != " " }), line.firstIndex(of: first)! < col, first != "#" {
                break  // the mapping ended
            }
            ln += 1
        }
        return nil
    }

    /// ANDs every global filter onto the rules it reaches: the rule's condition becomes `(rule) and (filter)`.
    /// The filter's identifiers are renamed (`filter#<n>.<name>`) so they cannot collide with the rule's.
    /// Correlations are never filtered. A listed rule that was not loaded gets a warning.
    static func applyFilters(_ result: inout SigmaLoadResult) {
        for (n, meta) in result.metaRules.enumerated() {
            guard let f = meta.filter else { continue }
            let prefix = "filter#\(n)."
            func renamed(_ c: SigmaCondition) -> SigmaCondition {
                switch c {
                case .search(let x): .search(prefix + x)
                case .and(let xs): .and(xs.map(renamed))
                case .or(let xs): .or(xs.map(renamed))
                case .not(let x): .not(renamed(x))
                case .oneOf(let xs): .oneOf(xs.map { prefix + $0 })
                case .allOf(let xs): .allOf(xs.map { prefix + $0 })
                }
            }
            let searches = f.detection.searches.map { s in
                SearchIdentifier(name: prefix + s.name, expression: s.expression, location: s.location)
            }
            let filterCondition = f.detection.conditions.map(renamed)
            guard !filterCondition.isEmpty else { continue }
            let fc: SigmaCondition = filterCondition.count == 1 ? filterCondition[0] : .or(filterCondition)
            for i in result.rules.indices where f.applies(to: result.rules[i]) {
                var d = result.rules[i].detection
                let rc: SigmaCondition = d.conditions.count == 1 ? d.conditions[0] : .or(d.conditions)
                d.searches += searches
                d.conditions = [.and([rc, fc])]
                result.rules[i].detection = d
            }
            for target in f.rules ?? [] where !result.rules.contains(where: { $0.id == target || $0.name == target }) {
                result.diagnostics.append(
                    Diagnostic(
                        .warning, code: "unknown_filter_target",
                        "the filter '\(meta.title)' lists '\(target)', which is not a loaded detection rule", at: meta.location))
            }
        }
    }

    /// A later rule reusing an earlier rule's `id` is rejected.
    static func rejectDuplicateIDs(_ result: inout SigmaLoadResult) {
        var seen: [String: FileLocation] = [:]
        var kept: [SigmaRule] = []
        for r in result.rules {
            if let id = r.id {
                if let first = seen[id] {
                    result.diagnostics.append(
                        Diagnostic(code: "duplicate_id", "the rule id '\(id)' is already used by the rule at \(first)", at: r.location))
                    continue
                }
                seen[id] = r.location
            }
            kept.append(r)
        }
        result.rules = kept
    }
}

/// Reads one YAML document; collects diagnostics and decides whether the document yields a rule.
struct DocumentReader {
    let path: String
    var diagnostics: [Diagnostic] = []
    var failed = false

    init(path: String) { self.path = path }

    func location(_ node: Node?) -> FileLocation {
        guard let m = node?.mark else { return FileLocation(path: path) }
        return FileLocation(path: path, line: m.line, column: m.column)
    }

    mutating func error(_ code: String, _ message: String, at loc: FileLocation) {
        diagnostics.append(Diagnostic(.error, code: code, message, at: loc))
        failed = true
    }

    mutating func warning(_ code: String, _ message: String, at loc: FileLocation) {
        diagnostics.append(Diagnostic(.warning, code: code, message, at: loc))
    }

    static let ruleKeys: Set<String> = [
        "title", "id", "name", "related", "taxonomy", "status", "description", "license", "author", "references",
        "date", "modified", "logsource", "detection", "fields", "falsepositives", "level", "tags", "scope",
    ]
    static let correlationKeys: Set<String> = [
        "title", "id", "name", "status", "description", "author", "references", "date", "modified", "correlation",
        "falsepositives", "level", "tags", "generate", "taxonomy", "license", "related",
    ]
    static let filterKeys: Set<String> = [
        "title", "id", "name", "status", "description", "author", "references", "date", "modified", "logsource",
        "filter", "taxonomy", "license", "related",
    ]
    static let statuses: Set<String> = ["stable", "test", "experimental", "deprecated", "unsupported"]

    mutating func read(_ node: Node, into result: inout SigmaLoadResult) {
        if let s = node.scalar, s.style == .plain, SigmaScalar.isNull(s.string) { return }  // empty document
        result.documentsRead += 1
        guard let map = node.mapping else {
            error("not_a_rule", "a Sigma document must be a mapping", at: location(node))
            result.diagnostics += diagnostics
            return
        }
        checkDuplicateKeys(node)
        let keys = Set(map.keys.compactMap(\.string))
        if keys.contains("action") {
            error(
                "unsupported_collection", "legacy rule collections ('action: global/reset/repeat') are not supported",
                at: location(map["action"]))
        } else if keys.contains("correlation") {
            if let meta = readMeta(map, node, kind: .correlation) { result.metaRules.append(meta) }
        } else if keys.contains("filter") {
            if let meta = readMeta(map, node, kind: .filter) { result.metaRules.append(meta) }
        } else if keys.contains("detector") {  // behavioural detector rules (DetectorRule.swift)
            if let rule = readDetectorRule(map, node), !failed { result.detectorRules.append(rule) }
        } else if keys.contains("detection") || keys.contains("logsource") {
            if let rule = readRule(map, node), !failed { result.rules.append(rule) }
        } else {
            error(
                "not_a_rule",
                "the document is neither a detection rule (needs 'detection' and 'logsource'), a correlation nor a filter",
                at: location(node))
        }
        result.diagnostics += diagnostics
    }

    // MARK: YAML helpers

    /// Duplicate keys anywhere in the document (Yams may accept keys that differ only in tag).
    mutating func checkDuplicateKeys(_ node: Node) {
        if let map = node.mapping {
            var seen: [String: Node] = [:]
            for (k, v) in map {
                if let s = k.string {
                    if let first = seen[s] {
                        error(
                            "duplicate_key",
                            "the key '\(s)' appears more than once in the same mapping (first at line \(first.mark?.line ?? 0))",
                            at: location(k))
                    } else {
                        seen[s] = k
                    }
                }
                checkDuplicateKeys(v)
            }
        } else if let seq = node.sequence {
            for v in seq { checkDuplicateKeys(v) }
        }
    }

    mutating func string(_ node: Node?, key: String) -> String? {
        guard let node else { return nil }
        guard let s = node.scalar else {
            error("bad_value", "'\(key)' must be a string", at: location(node))
            return nil
        }
        return s.string
    }

    /// A string or a list of strings.
    mutating func strings(_ node: Node?, key: String) -> [String] {
        guard let node else { return [] }
        if let s = node.scalar { return s.style == .plain && SigmaScalar.isNull(s.string) ? [] : [s.string] }
        if let seq = node.sequence {
            var out: [String] = []
            for item in seq {
                if let s = item.scalar { out.append(s.string) } else {
                    error("bad_value", "'\(key)' must be a list of strings", at: location(item))
                }
            }
            return out
        }
        error("bad_value", "'\(key)' must be a string or a list of strings", at: location(node))
        return []
    }

    mutating func level(_ node: Node?) -> Severity {
        guard let node else { return .medium }
        guard let s = node.scalar, let lv = Severity(name: s.string) else {
            let text = node.scalar?.string ?? "?"
            var m = "'\(text)' is not a Sigma level (informational, low, medium, high, critical)"
            if let near = Suggest.closest(to: text, in: Severity.allCases.map(\.description)) { m += "; did you mean '\(near)'?" }
            error("bad_level", m, at: location(node))
            return .medium
        }
        return lv
    }

    // MARK: Detection rules

    mutating func readRule(_ map: Node.Mapping, _ node: Node) -> SigmaRule? {
        for k in map.keys {
            if let s = k.string, !DocumentReader.ruleKeys.contains(s) {
                warning("unknown_key", "'\(s)' is not a Sigma rule attribute; it is ignored", at: location(k))
            }
        }
        let title = string(map["title"], key: "title")
        if title == nil {
            error("missing_title", "the rule has no 'title'", at: location(node))
        }
        let status = string(map["status"], key: "status")
        if let status, !DocumentReader.statuses.contains(status) {
            warning("bad_status", "'\(status)' is not a Sigma status (\(DocumentReader.statuses.sorted().joined(separator: ", ")))", at: location(map["status"]))
        }
        let level = level(map["level"])
        var logsource = LogSource()
        var definition: String?
        if let ls = map["logsource"] {
            if let lm = ls.mapping {
                for (k, v) in lm {
                    switch k.string {
                    case "product": logsource.product = string(v, key: "product")?.lowercased()
                    case "service": logsource.service = string(v, key: "service")?.lowercased()
                    case "category": logsource.category = string(v, key: "category")?.lowercased()
                    case "definition": definition = string(v, key: "definition")
                    default:
                        warning("unknown_key", "'\(k.string ?? "?")' is not a logsource attribute; it is ignored", at: location(k))
                    }
                }
            } else {
                error("bad_logsource", "'logsource' must be a mapping", at: location(ls))
            }
        } else {
            error("missing_logsource", "the rule has no 'logsource'", at: location(node))
        }
        var detection: SigmaDetection?
        if let d = map["detection"] {
            detection = readDetection(d)
        } else {
            error("missing_detection", "the rule has no 'detection'", at: location(node))
        }
        guard let title, let detection else { return nil }
        return SigmaRule(
            id: string(map["id"], key: "id"), name: string(map["name"], key: "name"), title: title, status: status,
            level: level, description: string(map["description"], key: "description"),
            author: string(map["author"], key: "author"), tags: strings(map["tags"], key: "tags"),
            falsepositives: strings(map["falsepositives"], key: "falsepositives"),
            references: strings(map["references"], key: "references"), logsource: logsource,
            logsourceDefinition: definition, detection: detection, fields: strings(map["fields"], key: "fields"),
            location: location(node))
    }

    /// `skipping`: keys that are not search identifiers (a filter's `rules`).
    mutating func readDetection(_ node: Node, skipping: Set<String> = []) -> SigmaDetection? {
        guard let map = node.mapping else {
            error("bad_detection", "'detection' must be a mapping of search identifiers and a 'condition'", at: location(node))
            return nil
        }
        var searches: [SearchIdentifier] = []
        var conditionNode: Node?
        for (k, v) in map {
            guard let name = k.string, !skipping.contains(name) else { continue }
            if name == "condition" {
                conditionNode = v
                continue
            }
            if name == "timeframe" {
                error(
                    "unsupported_timeframe", "'timeframe' belongs to legacy aggregations; use a Sigma correlation rule",
                    at: location(k))
                continue
            }
            if let expr = readSearch(v, name: name) {
                searches.append(SearchIdentifier(name: name, expression: expr, location: location(k)))
            }
        }
        guard let conditionNode else {
            error("missing_condition", "the detection has no 'condition'", at: location(node))
            return nil
        }
        var texts: [(String, Node)] = []
        if let s = conditionNode.scalar {
            texts = [(s.string, conditionNode)]
        } else if let seq = conditionNode.sequence {
            for item in seq {
                if let s = item.scalar { texts.append((s.string, item)) } else {
                    error("bad_condition", "each condition must be a string", at: location(item))
                }
            }
            if seq.count == 0 { error("bad_condition", "the condition list is empty", at: location(conditionNode)) }
        } else {
            error("bad_condition", "'condition' must be a string or a list of strings", at: location(conditionNode))
        }
        let names: [String] = Array(
            map.keys.compactMap(\.string).filter { $0 != "condition" && $0 != "timeframe" && !skipping.contains($0) })
        var conditions: [SigmaCondition] = []
        for (text, n) in texts {
            do throws(ConditionError) {
                conditions.append(try ConditionParser.parse(text, identifiers: names))
            } catch {
                self.error(error.code, error.message, at: conditionLocation(n, offset: error.offset))
            }
        }
        if !conditions.isEmpty {
            let used = Set(conditions.flatMap(\.identifiers))
            for s in searches where !used.contains(s.name) {
                warning("unused_identifier", "the search identifier '\(s.name)' is not used by the condition", at: s.location)
            }
        }
        return SigmaDetection(searches: searches, conditions: conditions, location: location(node))
    }

    /// A global filter's block: `rules` (ids or names, or `any`), search identifiers and a condition.
    mutating func readFilter(_ node: Node, logsource: Node?) -> SigmaFilter? {
        var ls = LogSource()
        if let l = logsource {
            if let lm = l.mapping {
                for (k, v) in lm {
                    switch k.string {
                    case "product": ls.product = string(v, key: "product")?.lowercased()
                    case "service": ls.service = string(v, key: "service")?.lowercased()
                    case "category": ls.category = string(v, key: "category")?.lowercased()
                    case "definition": break
                    default:
                        warning("unknown_key", "'\(k.string ?? "?")' is not a logsource attribute; it is ignored", at: location(k))
                    }
                }
            } else {
                error("bad_logsource", "'logsource' must be a mapping", at: location(l))
            }
        }
        guard let map = node.mapping else {
            error("bad_filter", "'filter' must be a mapping of 'rules', search identifiers and a 'condition'", at: location(node))
            return nil
        }
        var targets: [String]?
        if let r = map["rules"] {
            let list = strings(r, key: "rules")
            if list.isEmpty { error("bad_filter", "the filter's 'rules' list is empty", at: location(r)) }
            targets = list == ["any"] ? nil : list
        } else {
            error("bad_filter", "the filter has no 'rules' (rule ids or names, or 'any')", at: location(node))
        }
        guard let detection = readDetection(node, skipping: ["rules"]) else { return nil }
        return SigmaFilter(rules: targets, logsource: ls, detection: detection)
    }

    /// The column of a character inside a condition scalar (exact for one-line plain and quoted scalars).
    func conditionLocation(_ node: Node, offset: Int) -> FileLocation {
        var loc = location(node)
        guard let s = node.scalar, let col = loc.column, !s.string.contains("\n") else { return loc }
        switch s.style {
        case .plain: loc.column = col + offset
        case .singleQuoted, .doubleQuoted: loc.column = col + 1 + offset
        default: break
        }
        return loc
    }

    mutating func readSearch(_ node: Node, name: String) -> SearchExpression? {
        if let map = node.mapping {
            return readMap(map, node)
        }
        if let seq = node.sequence {
            var parts: [SearchExpression] = []
            var keywordNodes: [Node] = []
            func flushKeywords(_ r: inout DocumentReader) {
                if keywordNodes.isEmpty { return }
                if let item = r.readItem(field: nil, modifiers: [], values: keywordNodes, keyNode: keywordNodes[0]) {
                    parts.append(.item(item))
                }
                keywordNodes = []
            }
            for el in seq {
                if let m = el.mapping {
                    flushKeywords(&self)
                    if let e = readMap(m, el) { parts.append(e) }
                } else if el.scalar != nil {
                    keywordNodes.append(el)
                } else {
                    error("bad_search", "a search list may hold maps and keyword strings only", at: location(el))
                }
            }
            flushKeywords(&self)
            if seq.count == 0 { error("bad_search", "the search identifier '\(name)' is empty", at: location(node)) }
            return parts.count == 1 ? parts[0] : .anyOf(parts)
        }
        if let s = node.scalar {
            if s.style == .plain && SigmaScalar.isNull(s.string) {
                error("bad_search", "the search identifier '\(name)' is empty", at: location(node))
                return nil
            }
            return readItem(field: nil, modifiers: [], values: [node], keyNode: node).map { .item($0) }
        }
        error("bad_search", "unsupported YAML node in '\(name)'", at: location(node))
        return nil
    }

    mutating func readMap(_ map: Node.Mapping, _ node: Node) -> SearchExpression? {
        var items: [SearchExpression] = []
        if map.count == 0 { error("bad_search", "an empty map matches nothing useful", at: location(node)) }
        for (k, v) in map {
            guard let key = k.string else { continue }
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            let field = parts[0].isEmpty ? nil : parts[0]
            var mods: [(String, Int)] = []
            var offset = parts[0].count + 1
            for p in parts.dropFirst() {
                mods.append((p, offset))
                offset += p.count + 1
            }
            var values: [Node] = []
            if let seq = v.sequence {
                for el in seq {
                    if el.scalar != nil { values.append(el) } else {
                        error("bad_value", "values of '\(key)' must be scalars", at: location(el))
                    }
                }
            } else if v.scalar != nil {
                values = [v]
            } else {
                error("bad_value", "the value of '\(key)' must be a scalar or a list of scalars", at: location(v))
                continue
            }
            if let item = readItem(field: field, modifiers: mods, values: values, keyNode: k) { items.append(.item(item)) }
        }
        return items.count == 1 ? items[0] : .allOf(items)
    }

    /// Location of a modifier inside a key (the key's column plus its offset, for plain keys).
    func keyLocation(_ keyNode: Node, offset: Int) -> FileLocation {
        var loc = location(keyNode)
        if let s = keyNode.scalar, let c = loc.column {
            switch s.style {
            case .plain: loc.column = c + offset
            case .singleQuoted, .doubleQuoted: loc.column = c + 1 + offset
            default: break
            }
        }
        return loc
    }

    mutating func readItem(field: String?, modifiers: [(String, Int)], values: [Node], keyNode: Node) -> DetectionItem? {
        let itemLoc = location(keyNode)
        var mods: [SigmaModifier] = []
        for (name, off) in modifiers {
            guard let m = SigmaModifier(rawValue: name) else {
                let (code, message) = SigmaModifier.unknownMessage(name)
                error(code, message, at: keyLocation(keyNode, offset: off))
                return nil
            }
            mods.append(m)
        }
        var b = ItemBuilder(field: field, mods: mods, path: path)
        do throws(ItemBuilder.Failure) {
            let test = try b.build(values: values.map { ($0, SigmaScalar($0)) })
            return DetectionItem(
                field: field, modifiers: modifiers.map(\.0), test: test, negated: b.negated, location: itemLoc)
        } catch {
            self.error(error.code, error.message, at: error.at ?? itemLoc)
            return nil
        }
    }

    // MARK: Correlations and filters

    mutating func readMeta(_ map: Node.Mapping, _ node: Node, kind: SigmaMetaRule.Kind) -> SigmaMetaRule? {
        let allowed = kind == .correlation ? DocumentReader.correlationKeys : DocumentReader.filterKeys
        for k in map.keys {
            if let s = k.string, !allowed.contains(s) {
                warning("unknown_key", "'\(s)' is not a Sigma \(kind.rawValue) attribute; it is ignored", at: location(k))
            }
        }
        guard let title = string(map["title"], key: "title") else {
            error("missing_title", "the \(kind.rawValue) has no 'title'", at: location(node))
            return nil
        }
        var meta = SigmaMetaRule(
            kind: kind, id: string(map["id"], key: "id"), name: string(map["name"], key: "name"), title: title,
            level: level(map["level"]), tags: strings(map["tags"], key: "tags"), location: location(node),
            correlation: nil)
        if kind == .correlation, let c = map["correlation"] {
            meta.correlation = readCorrelation(c, generate: map["generate"])
        }
        if kind == .filter, let f = map["filter"] {
            meta.filter = readFilter(f, logsource: map["logsource"])
        }
        return failed ? nil : meta
    }

    mutating func readCorrelation(_ node: Node, generate: Node?) -> SigmaCorrelation? {
        guard let map = node.mapping else {
            error("bad_correlation", "'correlation' must be a mapping", at: location(node))
            return nil
        }
        for k in map.keys {
            if let s = k.string, !DocumentReader.correlationBlockKeys.contains(s) {
                warning("unknown_key", "'\(s)' is not a correlation attribute; it is ignored", at: location(k))
            }
        }
        let typeText = string(map["type"], key: "type")
        guard let typeText, let type = SigmaCorrelation.CorrelationType(rawValue: typeText) else {
            let names = SigmaCorrelation.CorrelationType.allCases.map(\.rawValue)
            var m = "'\(typeText ?? "")' is not a correlation type (\(names.joined(separator: ", ")))"
            if let t = typeText, let near = Suggest.closest(to: t, in: names) { m += "; did you mean '\(near)'?" }
            error("bad_correlation", m, at: location(map["type"] ?? node))
            return nil
        }
        var rules = strings(map["rules"], key: "rules")
        let groupBy = strings(map["group-by"], key: "group-by")
        var span: Int64 = 0
        if let t = map["timespan"] ?? map["timeframe"] {
            if let text = t.scalar?.string, let s = SigmaCorrelation.parseTimespan(text) {
                span = s
            } else {
                error(
                    "bad_timespan", "'\(t.scalar?.string ?? "?")' is not a timespan (a number above 0 and one of s m h d w M y)",
                    at: location(t))
            }
        } else {
            error("bad_correlation", "the correlation has no 'timespan'", at: location(node))
        }
        var cond: [(op: SigmaCorrelation.Operator, value: Double)] = []
        var field: String?
        var percentile: Double?
        var expression: CorrelationExpression?
        let ops = SigmaCorrelation.Operator.allCases.map(\.rawValue).joined(separator: ", ")
        if let c = map["condition"] {
            if let cm = c.mapping {
                for (k, v) in cm {
                    guard let ks = k.string else { continue }
                    if ks == "field" {
                        if let f = v.scalar?.string {
                            field = f
                        } else {
                            error("bad_correlation", "'condition.field' must name one field", at: location(v))
                        }
                        continue
                    }
                    if ks == "percentile" {
                        guard case .number(let d, _) = SigmaScalar(v).value, d >= 0, d <= 100 else {
                            error("bad_correlation", "'percentile' needs a number from 0 to 100", at: location(v))
                            continue
                        }
                        percentile = d
                        continue
                    }
                    guard let op = SigmaCorrelation.Operator(rawValue: ks) else {
                        error("bad_correlation", "'\(ks)' is not a correlation condition operator (\(ops))", at: location(k))
                        continue
                    }
                    guard case .number(let d, _) = SigmaScalar(v).value else {
                        error("bad_correlation", "'\(ks)' needs a number, not '\(v.scalar?.string ?? "?")'", at: location(v))
                        continue
                    }
                    cond.append((op, d))
                }
                if cond.isEmpty && !type.isTemporal {
                    error("bad_correlation", "the correlation 'condition' needs an operator (\(ops))", at: location(c))
                }
                if cond.count > 2 {
                    error("bad_correlation", "a correlation condition takes one operator, or two for a range", at: location(c))
                }
            } else if let text = c.scalar?.string, type.isTemporal {
                if type == .temporalOrdered {
                    error(
                        "unsupported_correlation",
                        "a boolean condition is supported for 'temporal' correlations only, not 'temporal_ordered'",
                        at: location(c))
                } else {
                    do {
                        expression = try CorrelationExpressionParser.parse(text)
                    } catch {
                        self.error("bad_correlation", "bad correlation condition: \(error.message)", at: location(c))
                    }
                }
            } else {
                error(
                    "bad_correlation",
                    type.isTemporal
                        ? "the correlation 'condition' must be a mapping such as {gte: 2} or a boolean expression over rule names"
                        : "the correlation 'condition' must be a mapping such as {gte: 10}",
                    at: location(c))
            }
        } else if !type.isTemporal {
            error("bad_correlation", "a \(type.rawValue) correlation needs a 'condition'", at: location(node))
        }
        if let expression {
            let refs = expression.references
            if rules.isEmpty {
                rules = refs
            } else if let stray = refs.first(where: { !rules.contains($0) }) {
                error("bad_correlation", "the condition names '\(stray)', which is not in 'rules'", at: location(map["condition"] ?? node))
            }
        }
        if rules.isEmpty { error("bad_correlation", "the correlation references no 'rules'", at: location(map["rules"] ?? node)) }
        if type.needsField && field == nil && map["condition"]?.mapping != nil {
            error("bad_correlation", "a \(type.rawValue) correlation needs 'condition.field'", at: location(map["condition"] ?? node))
        }
        switch type {
        case .valuePercentile:
            if percentile == nil {
                error("bad_correlation", "a value_percentile correlation needs 'condition.percentile'", at: location(map["condition"] ?? node))
            }
        case .valueMedian:
            if percentile != nil && percentile != 50 {
                error("bad_correlation", "value_median is the 50th percentile; drop 'percentile'", at: location(map["condition"] ?? node))
            }
            percentile = 50
        default:
            if percentile != nil {
                warning("unknown_key", "'percentile' applies to value_percentile only; it is ignored", at: location(map["condition"] ?? node))
                percentile = nil
            }
        }
        var aliases: [String: [String: String]] = [:]
        if let a = map["aliases"] {
            if let am = a.mapping {
                for (k, v) in am {
                    guard let name = k.string, let vm = v.mapping else {
                        error("bad_correlation", "each alias maps rule names to field names", at: location(v))
                        continue
                    }
                    var m: [String: String] = [:]
                    for (rk, rv) in vm { if let r = rk.string, let f = rv.scalar?.string { m[r] = f } }
                    aliases[name] = m
                }
            } else {
                error("bad_correlation", "'aliases' must be a mapping", at: location(a))
            }
        }
        var gen = false
        if let g = map["generate"] ?? generate {
            if case .bool(let b) = SigmaScalar(g).value { gen = b } else {
                error("bad_correlation", "'generate' must be true or false", at: location(g))
            }
        }
        return SigmaCorrelation(
            type: type, rules: rules, groupBy: groupBy, timespanSeconds: span, condition: cond, field: field,
            percentile: percentile, expression: expression, aliases: aliases, generate: gen, location: location(node))
    }

    static let correlationBlockKeys: Set<String> = [
        "type", "rules", "group-by", "timespan", "timeframe", "condition", "aliases", "generate",
    ]
}

extension SigmaCorrelation {
    /// `30s`, `5m`, `1h`, `2d`, `1w`, `1M` (30 days), `1y` (365 days) → seconds.
    package static func parseTimespan(_ text: String) -> Int64? {
        guard let unit = text.last, let n = Int64(text.dropLast()), n > 0 else { return nil }
        let mult: Int64
        switch unit {
        case "s": mult = 1
        case "m": mult = 60
        case "h": mult = 3600
        case "d": mult = 86_400
        case "w": mult = 7 * 86_400
        case "M": mult = 30 * 86_400
        case "y": mult = 365 * 86_400
        default: return nil
        }
        return n * mult
    }
}

/// A YAML scalar classified under the YAML 1.2 core schema (see `SigmaLoader`).
struct SigmaScalar {
    enum Value {
        case string(String)
        case number(Double, String)
        case bool(Bool)
        case null
    }

    var value: Value

    init(_ node: Node) {
        guard let s = node.scalar else {
            value = .null
            return
        }
        guard s.style == .plain else {
            value = .string(s.string)
            return
        }
        value = SigmaScalar.classify(s.string)
    }

    static func isNull(_ s: String) -> Bool { s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" }

    static func classify(_ s: String) -> Value {
        if isNull(s) { return .null }
        switch s {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        let b = Array(s.utf8)
        var i = 0
        if i < b.count && (b[i] == 45 || b[i] == 43) { i += 1 }
        if b.count > i + 2 && b[i] == 48 && (b[i + 1] == 120 || b[i + 1] == 88) {
            if let v = Int64(String(decoding: b[(i + 2)...], as: UTF8.self), radix: 16) {
                return .number(Double(b.first == 45 ? -v : v), s)
            }
            return .string(s)
        }
        var digits = 0, dot = false, exp = false
        while i < b.count {
            let c = b[i]
            if c >= 48 && c <= 57 {
                digits += 1
            } else if c == 46 && !dot && !exp {
                dot = true
            } else if (c == 101 || c == 69) && digits > 0 && !exp {
                exp = true
                if i + 1 < b.count && (b[i + 1] == 45 || b[i + 1] == 43) { i += 1 }
                if i + 1 >= b.count { return .string(s) }
            } else {
                return .string(s)
            }
            i += 1
        }
        if digits == 0 { return .string(s) }
        guard let d = Double(s) else { return .string(s) }
        return .number(d, s)
    }

    /// The text a non-string scalar stands for when it is used as a string.
    var text: String? {
        switch value {
        case .string(let s): s
        case .number(_, let spelling): spelling
        case .bool(let b): b ? "true" : "false"
        case .null: nil
        }
    }
}
