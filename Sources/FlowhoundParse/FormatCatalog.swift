import FlowhoundCore

/// One field a format provides, with every name that reaches it (for `flowhound fields`).
package struct FieldDescription: Sendable, Equatable, CustomStringConvertible {
    /// The schema family inside the format (`conn`, `sshd`, `netfilter`, `security`…).
    package var logType: String
    package var native: String
    /// ECS, Sigma-taxonomy and spelling variants, sorted.
    package var aliases: [String]
    package var type: FieldType
    package var roles: [FieldRole]

    package var description: String {
        let r = roles.isEmpty ? "" : " roles=" + roles.map { "\($0)" }.joined(separator: ",")
        return "\(logType) \(native) \(type) [\(aliases.joined(separator: " "))]\(r)"
    }
}

/// The field list of every format, for listing (`FieldCatalog.describe(format:)`).
package enum FieldCatalog {
    /// Every field of every log type of `format`, in schema order per log type.
    package static func describe(format: LogFormat) -> [FieldDescription] {
        switch format {
        case .zeekTSV, .zeekJSON:
            var out: [FieldDescription] = []
            for name in ZeekCatalog.logTypes.keys.sorted() {
                let lt = ZeekCatalog.logTypes[name]!
                let schema = ZeekCatalog.schema(
                    format: format, logType: name,
                    fields: lt.fields.map { FieldSpec(name: $0.name, type: ZeekCatalog.fieldType($0.type)) })
                out += describe(schema)
            }
            return out
        case .syslog:
            return SyslogFamily.allCases.flatMap { describe(SyslogSchemas.schema(for: $0, extra: [])) }
        case .vpcFlow:
            return describe(VPCFlowDecoder.schema(columns: VPCFlowDecoder.allFieldNames))
        case .windowsJSON:
            return WindowsFamily.allCases.flatMap { describe(WindowsJSONDecoder.schema(for: $0, extra: [])) }
        case .json:
            return describe(GenericJSONDecoder.build(fieldMap: nil, requested: []).0)
        }
    }

    /// The schemas a format can produce before any input is read (Zeek: one per catalog log type; syslog and
    /// Windows: one per message family; generic JSON: the ECS core set). Used to check rules against formats.
    package static func schemas(format: LogFormat) -> [Schema] {
        switch format {
        case .zeekTSV, .zeekJSON:
            return ZeekCatalog.logTypes.keys.sorted().compactMap { name in
                guard let lt = ZeekCatalog.logTypes[name] else { return nil }
                return ZeekCatalog.schema(
                    format: format, logType: name,
                    fields: lt.fields.map { FieldSpec(name: $0.name, type: ZeekCatalog.fieldType($0.type)) })
            }
        case .syslog: return SyslogFamily.allCases.map { SyslogSchemas.schema(for: $0, extra: []) }
        case .vpcFlow: return [VPCFlowDecoder.schema(columns: VPCFlowDecoder.allFieldNames)]
        case .windowsJSON: return WindowsFamily.allCases.map { WindowsJSONDecoder.schema(for: $0, extra: []) }
        case .json: return [GenericJSONDecoder.build(fieldMap: nil, requested: []).0]
        }
    }

    /// The fields of one schema as descriptions.
    package static func describe(_ schema: Schema) -> [FieldDescription] {
        var aliasesBySlot = [[String]](repeating: [], count: schema.fieldCount)
        for (name, slot) in schema.index where name != schema.fields[slot].name { aliasesBySlot[slot].append(name) }
        var rolesBySlot = [[FieldRole]](repeating: [], count: schema.fieldCount)
        for r in FieldRole.allCases { if let s = schema.slot(r) { rolesBySlot[s].append(r) } }
        return schema.fields.enumerated().map { i, f in
            FieldDescription(logType: schema.logType, native: f.name, aliases: aliasesBySlot[i].sorted(), type: f.type,
                             roles: rolesBySlot[i])
        }
    }
}

/// A field of a non-Zeek catalog: native name, type, aliases, roles.
struct FieldDef {
    var name: String
    var type: FieldType
    var aliases: [String]
    var roles: [FieldRole]
}

/// Parses the catalog spec syntax shared by the non-Zeek formats: one field per line,
/// `native type [alias ...] [!role ...]`, type one of `FieldType`'s case names.
enum FieldSpecText {
    static func parse(_ spec: String) -> [FieldDef] {
        var out: [FieldDef] = []
        for raw in spec.split(separator: "\n") {
            let line = raw.trimmingSpaces()
            if line.isEmpty { continue }
            let parts = line.split(separator: " ").map(String.init)
            var aliases: [String] = []
            var roles: [FieldRole] = []
            for p in parts.dropFirst(2) {
                if p.hasPrefix("!") {
                    if let r = roleByName[String(p.dropFirst())] { roles.append(r) } else { preconditionFailure("role \(p)") }
                } else {
                    aliases.append(p)
                }
            }
            let t = parts.count > 1 ? typeByName[parts[1]] : .string
            precondition(t != nil, "type in \(line)")
            out.append(FieldDef(name: parts[0], type: t!, aliases: aliases, roles: roles))
        }
        return out
    }

    static let roleByName: [String: FieldRole] = {
        var m: [String: FieldRole] = [:]
        for r in FieldRole.allCases { m["\(r)"] = r }
        return m
    }()

    static let typeByName: [String: FieldType] = [
        "string": .string, "count": .count, "integer": .integer, "double": .double, "time": .time,
        "interval": .interval, "address": .address, "port": .port, "bool": .bool, "list": .list,
    ]

    /// Builds a schema from definitions: aliases (first definition wins), roles (first field per role).
    static func schema(format: LogFormat, logType: String, defs: [FieldDef], logSources: [LogSource]) -> Schema {
        let fields = defs.map { FieldSpec(name: $0.name, type: $0.type, listSeparator: $0.type == .list ? rebuiltListSeparator : 0) }
        var aliases: [String: String] = [:]
        var roles: [FieldRole: String] = [:]
        let natives = Set(defs.map(\.name))
        for d in defs {
            for a in d.aliases where aliases[a] == nil && !natives.contains(a) { aliases[a] = d.name }
            for r in d.roles where roles[r] == nil { roles[r] = d.name }
        }
        return Schema(format: format, logType: logType, fields: fields, aliases: aliases, roles: roles,
                      logSources: logSources)
    }
}

/// Normalised words decoders point values at (outcomes, actions, transports). Storage lives for the process.
enum Word: Int, CaseIterable {
    case success, failure, unknown
    case allow, block, audit, deny, drop, reject, accept
    case tcp, udp, icmp, ipv6icmp, gre, esp, ah, sctp, igmp
    // sshd / auth actions
    case accepted, failed, invalidUser, userauthInvalidUser, connectionClosed, disconnected, receivedDisconnect
    case maxAuthExceeded, tooManyAuthFailures, noIdentification, pamAuthFailure, pamCheckPass, sessionOpened
    case sessionClosed, pamIgnoringMaxRetries, pamMoreFailures, reverseMappingFailed, addressMismatch
    case connectionFrom, postponed, negotiationFailed, badProtocol, pamUserUnknown, readError
    case sudoCommand, sudoDenied, suSession, userAdded, groupAdded, passwordChanged, userDeleted
    // asa actions
    case built, teardown, denied, permitted, translationBuilt, translationTeardown, urlAccessed, urlDenied
    case ids, loginPermitted, loginDenied, aaaFailure, aaaSuccess, configChanged, commandExecuted
    // windows actions
    case loggedIn, logonFailed, explicitCredentials, kerberosTGT, kerberosService, credentialValidation
    case shareAccess, shareObjectAccess, serviceInstalled, processCreated, networkConnection
    case noData, skipData
    case `true`, `false`

    var text: String {
        switch self {
        case .ipv6icmp: return "ipv6-icmp"
        case .invalidUser: return "invalid_user"
        case .userauthInvalidUser: return "userauth_invalid_user"
        case .connectionClosed: return "connection_closed"
        case .receivedDisconnect: return "received_disconnect"
        case .maxAuthExceeded: return "max_auth_exceeded"
        case .tooManyAuthFailures: return "too_many_auth_failures"
        case .noIdentification: return "no_identification"
        case .pamAuthFailure: return "pam_auth_failure"
        case .pamCheckPass: return "pam_check_pass"
        case .sessionOpened: return "session_opened"
        case .sessionClosed: return "session_closed"
        case .pamIgnoringMaxRetries: return "pam_ignoring_max_retries"
        case .pamMoreFailures: return "pam_more_failures"
        case .reverseMappingFailed: return "reverse_mapping_failed"
        case .addressMismatch: return "address_mismatch"
        case .connectionFrom: return "connection_from"
        case .negotiationFailed: return "negotiation_failed"
        case .badProtocol: return "bad_protocol"
        case .pamUserUnknown: return "pam_user_unknown"
        case .readError: return "read_error"
        case .sudoCommand: return "sudo_command"
        case .sudoDenied: return "sudo_denied"
        case .suSession: return "su_session"
        case .userAdded: return "user_added"
        case .groupAdded: return "group_added"
        case .passwordChanged: return "password_changed"
        case .userDeleted: return "user_deleted"
        case .translationBuilt: return "translation_built"
        case .translationTeardown: return "translation_teardown"
        case .urlAccessed: return "url_accessed"
        case .urlDenied: return "url_denied"
        case .loginPermitted: return "login_permitted"
        case .loginDenied: return "login_denied"
        case .aaaFailure: return "aaa_failure"
        case .aaaSuccess: return "aaa_success"
        case .configChanged: return "config_changed"
        case .commandExecuted: return "command_executed"
        case .loggedIn: return "logged-in"
        case .logonFailed: return "logon-failed"
        case .explicitCredentials: return "logged-in-explicit"
        case .kerberosTGT: return "kerberos-authentication-ticket-requested"
        case .kerberosService: return "kerberos-service-ticket-requested"
        case .credentialValidation: return "credential-validated"
        case .shareAccess: return "network-share-object-accessed"
        case .shareObjectAccess: return "network-share-object-access-checked"
        case .serviceInstalled: return "service-installed"
        case .processCreated: return "process-created"
        case .networkConnection: return "network-connection"
        case .noData: return "NODATA"
        case .skipData: return "SKIPDATA"
        default: return "\(self)"
        }
    }

    nonisolated(unsafe) private static let table: (UnsafeMutablePointer<UInt8>, [Int], [Int]) = {
        var offsets: [Int] = []
        var lengths: [Int] = []
        var bytes: [UInt8] = []
        for w in Word.allCases {
            offsets.append(bytes.count)
            let b = Array(w.text.utf8)
            lengths.append(b.count)
            bytes += b
        }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        p.initialize(from: bytes, count: bytes.count)
        return (p, offsets, lengths)
    }()

    nonisolated(unsafe) private static let offsets: UnsafeMutablePointer<Int> = {
        let t = table
        let p = UnsafeMutablePointer<Int>.allocate(capacity: t.1.count * 2)
        for i in 0..<t.1.count {
            p[2 * i] = t.1[i]
            p[2 * i + 1] = t.2[i]
        }
        return p
    }()

    nonisolated(unsafe) private static let base: UnsafePointer<UInt8> = UnsafePointer(table.0)

    var value: FieldValue {
        let o = Word.offsets
        return FieldValue(base: Word.base + o[2 * rawValue], count: o[2 * rawValue + 1])
    }

    /// Transport name for an IANA protocol number.
    static func transport(number: Int64) -> Word? {
        switch number {
        case 6: return .tcp
        case 17: return .udp
        case 1: return .icmp
        case 58: return .ipv6icmp
        case 47: return .gre
        case 50: return .esp
        case 51: return .ah
        case 132: return .sctp
        case 2: return .igmp
        default: return nil
        }
    }

    /// Transport for a protocol name or number in any case (`TCP`, `udp`, `ICMPv6`, `6`).
    static func transport(_ p: UnsafePointer<UInt8>, _ n: Int) -> Word? {
        if n == 0 || n > 9 { return nil }
        if let v = Bytes.parseInt(p, n) { return transport(number: v) }
        var b: (UInt64) = 0
        for i in 0..<n { b = b << 8 | UInt64(Bytes.lower(p[i])) }
        switch b {
        case 0x746370: return .tcp  // tcp
        case 0x756470: return .udp  // udp
        case 0x69636d70: return .icmp  // icmp
        case 0x6963_6d70_7636: return .ipv6icmp  // icmpv6
        case 0x677265: return .gre
        case 0x657370: return .esp
        case 0x6168: return .ah
        case 0x73637470: return .sctp
        case 0x69676d70: return .igmp
        default:
            if n == 9 && Bytes.lower(p[0]) == 105 && Bytes.lower(p[4]) == 45 { return .ipv6icmp }  // ipv6-icmp
            return nil
        }
    }
}

/// Scratch bytes owned by a decoder for values that are not slices of the line (numbers it computes,
/// unescaped text). Reset per line.
struct Scratch {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    func free() { base.deallocate() }

    /// Writes the decimal text of `v`; nil when full.
    mutating func decimal(_ v: Int64) -> FieldValue? {
        if used + 21 > capacity { return nil }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var k = 0
        var x = v.magnitude
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[k] = UInt8(48 + x % 10)
                x /= 10
                k += 1
            } while x > 0
        }
        let start = base + used
        var w = 0
        if v < 0 { start[0] = 45; w = 1 }
        withUnsafeBytes(of: &digits) { d in
            for i in 0..<k { start[w + i] = d[k - 1 - i] }
        }
        w += k
        used += w
        return FieldValue(base: UnsafePointer(start), count: w)
    }

    /// Copies bytes; nil when full.
    mutating func copy(_ p: UnsafePointer<UInt8>, _ n: Int) -> FieldValue? {
        if used + n > capacity { return nil }
        let start = base + used
        memcpy(start, p, n)
        used += n
        return FieldValue(base: UnsafePointer(start), count: n)
    }
}

@inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 }

@inline(__always) func isDigit(_ c: UInt8) -> Bool { c &- 48 <= 9 }

/// Whether `p[0..<n]` starts with the bytes of `s` (compile-time literal strings only on slow paths).
@inline(__always) func startsWith(_ p: UnsafePointer<UInt8>, _ n: Int, _ lit: [UInt8]) -> Bool {
    lit.count <= n && lit.withUnsafeBufferPointer { memcmp(p, $0.baseAddress!, lit.count) == 0 }
}

/// Whether `p[0..<n]` starts with the bytes of a literal (no reference counting, compared inline).
@inline(__always) func startsWith(_ p: UnsafePointer<UInt8>, _ n: Int, _ lit: StaticString) -> Bool {
    let c = lit.utf8CodeUnitCount
    if c > n { return false }
    let l = lit.utf8Start
    var k = 0
    while k < c {
        if p[k] != l[k] { return false }
        k &+= 1
    }
    return true
}
