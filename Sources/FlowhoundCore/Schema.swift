/// The typed meaning of a field's bytes, as far as matchers and detectors need it.
package enum FieldType: UInt8, Sendable {
    case string, count, integer, double, time, interval, address, port, bool, list
}

/// Fields with a fixed meaning across formats; detectors and alert writers read them through `Schema.roles`.
package enum FieldRole: Int, Sendable, CaseIterable {
    case timestamp, sourceIP, sourcePort, destinationIP, destinationPort, transport, service, sourceBytes,
        destinationBytes, duration, user, outcome, action, connState, uid, host
}

/// One field of a schema: its native name and type.
package struct FieldSpec: Hashable, Sendable {
    package var name: String
    package var type: FieldType
    /// For list fields (Zeek `set`/`vector`): the separator the decoder leaves between elements.
    package var listSeparator: UInt8

    package init(name: String, type: FieldType = .string, listSeparator: UInt8 = 0) {
        self.name = name
        self.type = type
        self.listSeparator = listSeparator
    }
}

/// The set of fields one input provides at one moment, and every name by which each field can be reached.
///
/// A schema is immutable; a Zeek header block that changes the columns produces a new schema. Rules are
/// compiled once per schema (`key` identifies equal schemas) and read values by slot index.
package final class Schema: Sendable, CustomStringConvertible {
    package let format: LogFormat
    /// Zeek log path (`conn`, `dns`…), syslog program family, or "" when not known.
    package let logType: String
    package let fields: [FieldSpec]
    /// Native, ECS and Sigma-taxonomy names (and spelling variants such as `id_orig_h`) → slot.
    package let index: [String: Int]
    /// Slot per `FieldRole.rawValue`, or -1.
    package let roles: [Int]
    /// The Sigma logsources this input serves.
    package let logSources: [LogSource]
    /// Identity for caching compiled rules: equal keys mean equal slot layouts and names.
    package let key: String

    package init(
        format: LogFormat, logType: String, fields: [FieldSpec], aliases: [String: String] = [:],
        roles: [FieldRole: String] = [:], logSources: [LogSource]
    ) {
        self.format = format
        self.logType = logType
        self.fields = fields
        var idx: [String: Int] = [:]
        for (i, f) in fields.enumerated() where idx[f.name] == nil { idx[f.name] = i }
        for (alias, target) in aliases.sorted(by: { $0.key < $1.key }) where idx[alias] == nil {
            if let slot = idx[target] { idx[alias] = slot }
        }
        self.index = idx
        var r = [Int](repeating: -1, count: FieldRole.allCases.count)
        for (role, name) in roles { r[role.rawValue] = idx[name] ?? -1 }
        self.roles = r
        self.logSources = logSources
        self.key = format.rawValue + "|" + logType + "|" + fields.map { "\($0.name):\($0.type.rawValue)" }.joined(separator: ",")
    }

    package var fieldCount: Int { fields.count }

    /// The slot a name reaches, if any (case-sensitive, as Sigma field names are).
    package func slot(_ name: String) -> Int? { index[name] }

    package func slot(_ role: FieldRole) -> Int? {
        let s = roles[role.rawValue]
        return s >= 0 ? s : nil
    }

    /// Every name that reaches `slot`, native first.
    package func names(of slot: Int) -> [String] {
        [fields[slot].name] + index.filter { $0.value == slot && $0.key != fields[slot].name }.map(\.key).sorted()
    }

    package var description: String { "\(format.rawValue)\(logType.isEmpty ? "" : "/\(logType)")" }
}
