import FlowhoundCore

/// How the keys of some JSON source map to ECS names and roles (filled by the pipeline from
/// `--field-map FILE`; FlowhoundParse itself reads no YAML).
///
/// A YAML such as
/// ```yaml
/// logtype: acme-fw
/// logsource: {product: acme, category: firewall}
/// fields:
///   src: source.ip
///   dpt: {name: destination.port, type: port}
///   verdict: {name: event.action, role: action}
/// ```
/// becomes `FieldMap(logType: "acme-fw", logSources: [LogSource(product: "acme", category: "firewall")],
/// entries: [.init(key: "src", name: "source.ip"), .init(key: "dpt", name: "destination.port", type: .port),
/// .init(key: "verdict", name: "event.action", role: .action)])`.
package struct FieldMap: Sendable, Equatable {
    package struct Entry: Sendable, Equatable {
        /// The key path in the JSON (nested objects joined with `.`).
        package var key: String
        /// The name rules use (an ECS name, usually). If it is one of the generic JSON fields (`source.ip`…),
        /// the key fills that field and inherits its type and role.
        package var name: String
        package var type: FieldType?
        package var role: FieldRole?

        package init(key: String, name: String, type: FieldType? = nil, role: FieldRole? = nil) {
            self.key = key
            self.name = name
            self.type = type
            self.role = role
        }
    }

    package var logType: String
    /// The logsources the mapped input serves; empty: the generic JSON default (none, so only rules that
    /// name no logsource part… i.e. none apply — give at least a category or product).
    package var logSources: [LogSource]
    package var entries: [Entry]

    package init(logType: String = "", logSources: [LogSource] = [], entries: [Entry] = []) {
        self.logType = logType
        self.logSources = logSources
        self.entries = entries
    }
}

/// Decodes any JSON object per line: nested objects flattened into dotted paths, ECS documents mapped
/// natively (`source.ip`, `destination.port`, `event.outcome`… are the fields and carry the roles), common
/// short spellings (`src_ip`, `dst_port`, `user`, `action`, `ts`…) read into the same fields, plus a `FieldMap`.
///
/// Decisions:
/// - Schema = the ECS core fields below + the field map's names + every requested name not reachable
///   otherwise (as a literal key path). Other keys are not fields (keyword matching still sees the raw line).
/// - Logsources: the field map's, else `product: json` (so only rules written for it apply).
/// - Time: `@timestamp` (or `timestamp`, `ts`, `time`, `event.created`): epoch seconds, epoch milliseconds
///   (12+ digits) or ISO 8601.
package final class GenericJSONDecoder: LineDecoder {
    package private(set) var schema: Schema

    private let flattener: JSONFlattener
    private let table: KeyTable
    private var scratch: Scratch
    private let maxLineLength: Int
    private let timeSlot: Int

    static let core = FieldSpecText.parse("""
        @timestamp time timestamp ts time event.created !timestamp
        source.ip address src_ip src SourceIp client.ip !sourceIP
        source.port port src_port sport SourcePort client.port !sourcePort
        destination.ip address dst_ip dest_ip dst DestinationIp server.ip !destinationIP
        destination.port port dst_port dest_port dport DestinationPort server.port !destinationPort
        network.transport string transport proto network_protocol !transport
        network.protocol string app_proto !service
        source.bytes count bytes_out src_bytes orig_bytes !sourceBytes
        destination.bytes count bytes_in dst_bytes resp_bytes !destinationBytes
        event.duration interval duration !duration
        user.name string user username !user
        event.outcome string outcome !outcome
        event.action string action !action
        host.name string hostname host !host
        event.id string uid !uid
        network.bytes count bytes
        network.direction string direction
        event.category list
        event.type list
        event.kind string
        event.code string
        event.dataset string
        event.module string
        message string msg
        source.address string
        destination.address string
        destination.domain string
        url.original string url
        http.request.method string method
        http.response.status_code count status_code
        dns.question.name string query
        process.name string
        process.executable string
        process.command_line string
        rule.name string
        observer.name string
        log.level string level
        blocked bool
        """)

    package init(fileName: String = "", requestedFields: Set<String> = [], maxLineLength: Int, fieldMap: FieldMap? = nil) {
        self.maxLineLength = max(maxLineLength, 16)
        flattener = JSONFlattener(maxLineLength: self.maxLineLength)
        scratch = Scratch(capacity: self.maxLineLength * 2 + 64)
        let (s, keys) = GenericJSONDecoder.build(fieldMap: fieldMap, requested: requestedFields)
        schema = s
        table = KeyTable(keys)
        timeSlot = s.slot(.timestamp) ?? -1
    }

    deinit { scratch.free() }

    /// The schema and the JSON key → slot list.
    static func build(fieldMap: FieldMap?, requested: Set<String>) -> (Schema, [(String, Int)]) {
        var defs = core
        var mapKeys: [(String, String)] = []  // json key → native
        if let fm = fieldMap {
            for e in fm.entries {
                if let i = defs.firstIndex(where: { $0.name == e.name || $0.aliases.contains(e.name) }) {
                    if let t = e.type { defs[i].type = t }
                    if let r = e.role {
                        for k in defs.indices { defs[k].roles.removeAll { $0 == r } }
                        defs[i].roles.append(r)
                    }
                    mapKeys.append((e.key, defs[i].name))
                } else {
                    if let r = e.role { for k in defs.indices { defs[k].roles.removeAll { $0 == r } } }
                    defs.append(FieldDef(name: e.name, type: e.type ?? .string, aliases: e.key == e.name ? [] : [e.key],
                                         roles: e.role.map { [$0] } ?? []))
                    mapKeys.append((e.key, e.name))
                }
            }
        }
        var reach = Set(defs.map(\.name))
        for d in defs { reach.formUnion(d.aliases) }
        for r in requested.sorted() where !reach.contains(r) && r.utf8.count < 512 {
            defs.append(FieldDef(name: r, type: .string, aliases: [], roles: []))
        }
        let sources = fieldMap.flatMap { $0.logSources.isEmpty ? nil : $0.logSources } ?? [LogSource(product: "json")]
        let logType = fieldMap.flatMap { $0.logType.isEmpty ? nil : $0.logType } ?? "json"
        let schema = FieldSpecText.schema(format: .json, logType: logType, defs: defs, logSources: sources)
        var keys: [(String, Int)] = []
        for (key, native) in mapKeys { keys.append((key, schema.slot(native)!)) }  // the map wins
        for (i, d) in defs.enumerated() {
            keys.append((d.name, i))
            if d.name.contains(".") { keys.append((d.name.replacingDots(), i)) }
        }
        for d in defs { for a in d.aliases { if let s = schema.slot(d.name) { keys.append((a, s)) } } }
        return (schema, keys)
    }

    package func decode(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome {
        let (i, n) = JSONLine.trimmed(line, count)
        if n > maxLineLength { return .malformed(.lineTooLong) }
        if i == n { return .skipped }
        let fc = schema.fieldCount
        JSONLine.prepare(&record, line: line, length: n, fieldCount: fc)
        scratch.used = 0
        guard flattener.scan(table, line + i, n - i, record.values, &scratch) else { return .malformed(.badJSON) }
        if timeSlot >= 0, let b = record.values[timeSlot].base, record.values[timeSlot].count > 0 {
            guard let t = ZeekJSONDecoder.parseTime(b, record.values[timeSlot].count) else { return .malformed(.badTimestamp) }
            record.timestamp = t
        }
        return .event
    }
}
