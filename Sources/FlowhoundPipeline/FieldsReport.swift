import FlowhoundCore
import FlowhoundParse

/// `flowhound fields`: the field catalog of every format, one tab-separated line per field.
package enum FieldsReport {
    package static func lines(format: LogFormat?) -> [String] {
        let formats = format.map { [$0] } ?? LogFormat.allCases
        var out = ["format\tlog_type\tfield\ttype\taliases\troles"]
        for f in formats {
            for d in FieldCatalog.describe(format: f) {
                out.append(
                    "\(f.rawValue)\t\(d.logType)\t\(d.native)\t\(d.type)\t\(d.aliases.joined(separator: ","))\t"
                        + d.roles.map { "\($0)" }.joined(separator: ","))
            }
        }
        return out
    }
}
