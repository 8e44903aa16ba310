import FlowhoundCore
import Foundation
import Yams

/// One rule test: sample lines that must and must not match a rule.
///
/// File format (`Rules/tests/<name>.yml`, one or more YAML documents):
/// ```yaml
/// rule: 2e171588-cbd2-4940-a8bc-e1faf37bc2fa   # id (or title) of the rule under test
/// format: zeek-tsv                              # input format of the lines
/// header: |                                     # optional: lines fed first (a Zeek TSV header block)
///   #separator \x09
///   ...
/// match:                                        # each line alone must produce a match
///   - "1772443450.412998\tC4d...\t10.20.10.40\t..."
/// no_match:                                     # each line alone must not
///   - "..."
/// ```
/// For `zeek-tsv` without a `header`, the standard Zeek conn header (the 21 columns of Zeek 6's conn.log)
/// is used, so cases can be single data lines. Escapes inside double-quoted YAML strings (`\t`) make tabs.
package struct RuleTestCase: Sendable {
    package var rule: String
    package var format: LogFormat
    /// File name given to the decoder (it decides the Zeek log type), e.g. `conn.log`.
    package var fileName: String
    package var header: [String]
    package var match: [String]
    package var noMatch: [String]
    package var location: FileLocation
}

package enum RuleTestFile {
    /// The header used for `zeek-tsv` cases that give none.
    package static let zeekConnHeader: [String] = [
        "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents",
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]",
    ]

    /// Every `.yml`/`.yaml` test file under `directory`, sorted; errors carry file:line:col.
    package static func load(directory: String) -> ([RuleTestCase], [Diagnostic]) {
        var cases: [RuleTestCase] = []
        var diags: [Diagnostic] = []
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else {
            return ([], [Diagnostic(code: "cannot_read", "no rule tests directory", at: FileLocation(path: directory))])
        }
        for name in names.sorted() where name.hasSuffix(".yml") || name.hasSuffix(".yaml") {
            let path = directory + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                diags.append(Diagnostic(code: "cannot_read", "cannot read the file", at: FileLocation(path: path)))
                continue
            }
            let (c, d) = parse(yaml: text, path: path)
            cases += c
            diags += d
        }
        return (cases, diags)
    }

    package static func parse(yaml: String, path: String) -> ([RuleTestCase], [Diagnostic]) {
        var cases: [RuleTestCase] = []
        var diags: [Diagnostic] = []
        func loc(_ n: Node?) -> FileLocation {
            FileLocation(path: path, line: n?.mark.map { $0.line }, column: n?.mark.map { $0.column })
        }
        do {
            for doc in try Yams.compose_all(yaml: yaml, SigmaLoader.resolver) {
                guard let map = doc.mapping else {
                    diags.append(Diagnostic(code: "bad_test", "a rule test document must be a mapping", at: loc(doc)))
                    continue
                }
                for (k, _) in map where !["rule", "format", "file_name", "header", "match", "no_match", "description"].contains(k.string ?? "") {
                    diags.append(Diagnostic(code: "unknown_key", "unknown key '\(k.string ?? "?")' in a rule test", at: loc(k)))
                }
                guard let rule = map["rule"]?.string, !rule.isEmpty else {
                    diags.append(Diagnostic(code: "bad_test", "missing 'rule' (the id or title of the rule under test)", at: loc(doc)))
                    continue
                }
                let formatName = map["format"]?.string ?? LogFormat.zeekTSV.rawValue
                guard let format = LogFormat(rawValue: formatName) else {
                    diags.append(Diagnostic(code: "bad_test", "unknown format '\(formatName)'", at: loc(map["format"])))
                    continue
                }
                func lines(_ key: String) -> [String] {
                    guard let n = map[key] else { return [] }
                    if let s = n.string { return [s] }
                    return n.sequence?.compactMap(\.string) ?? []
                }
                var header = map["header"]?.string.map { $0.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) } ?? []
                if header.isEmpty && format == .zeekTSV { header = zeekConnHeader }
                let c = RuleTestCase(
                    rule: rule, format: format, fileName: map["file_name"]?.string ?? (format == .zeekTSV || format == .zeekJSON ? "conn.log" : "test.log"),
                    header: header, match: lines("match"), noMatch: lines("no_match"), location: loc(doc))
                if c.match.isEmpty && c.noMatch.isEmpty {
                    diags.append(Diagnostic(code: "bad_test", "a rule test needs 'match' or 'no_match' lines", at: loc(doc)))
                    continue
                }
                cases.append(c)
            }
        } catch {
            diags.append(SigmaLoader.yamlDiagnostic(error, path: path, text: yaml))
        }
        return (cases, diags)
    }
}
