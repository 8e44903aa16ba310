import FlowhoundCore

/// Schema families of Windows event JSON; same slot layout, different names, roles and logsources.
package enum WindowsFamily: String, CaseIterable, Sendable {
    case security, system, sysmonProcess = "sysmon_process_creation", sysmonNetwork = "sysmon_network_connection"
    case sysmon, other = "windows"
}

/// Decodes Windows events written as JSON lines by winlogbeat / Elastic Agent (`winlog.event_id`,
/// `winlog.event_data.*`, `event.code`), NXLog (`EventID`, event data fields at the top level) or XML-to-JSON
/// converters (`Event.System.EventID`, `Event.EventData.*`).
///
/// Decisions:
/// - Every event data field is reachable by its Windows name (`TargetUserName`, `IpAddress`, `Image`…), whatever
///   container it came in; the value `-` (Windows' "none") is absent.
/// - Family by channel (`Security`, `System`, `…Sysmon/Operational`), else provider, else event id range;
///   Sysmon 1 and 3 get their own families for `category: process_creation` / `network_connection`.
///   A line of another family than the previous one yields `.schemaChanged` first.
/// - ECS names and roles per family: security `source.ip` = `IpAddress`, `user.name` = `TargetUserName`;
///   Sysmon 3 `source.ip` = `SourceIp`, `destination.ip` = `DestinationIp`; Sysmon 1 `process.command_line`.
/// - Derived: `event.outcome` (4624/4648 success, 4625/4771 failure, 4768/4769/4776 from `Status`) and
///   `event.action` per event id (`logged-in`, `logon-failed`, …).
/// - Time: `@timestamp`, `TimeCreated[.SystemTime]`, `EventTime`, `winlog.time_created`, Sysmon `UtcTime`
///   (ISO 8601 or epoch); a zone-less value is UTC (NXLog's local `EventTime` needs its zone in the value).
package final class WindowsJSONDecoder: LineDecoder {
    package private(set) var schema: Schema

    private let flattener: JSONFlattener
    private let table: KeyTable
    private var scratch: Scratch
    private let maxLineLength: Int
    private var schemas: [WindowsFamily: Schema] = [:]
    private let fieldCount: Int
    private let extra: [String]

    static let base = FieldSpecText.parse("""
        EventID count
        Channel string winlog.channel
        Provider string winlog.provider_name
        Computer string winlog.computer_name host.name !host
        TimeCreated time @timestamp !timestamp
        RecordNumber count winlog.record_id
        Message string message
        event.outcome string
        event.action string
        LogonType count winlog.event_data.LogonType winlog.logon.type
        TargetUserName string
        TargetDomainName string
        TargetUserSid string
        TargetLogonId string
        SubjectUserName string
        SubjectDomainName string
        SubjectUserSid string
        SubjectLogonId string
        IpAddress address
        IpPort port
        WorkstationName string
        Workstation string
        LogonProcessName string
        AuthenticationPackageName string
        LmPackageName string
        Status string
        SubStatus string
        FailureReason string
        ProcessName string
        TargetServerName string
        TargetInfo string
        ServiceName string
        ServiceSid string
        TicketEncryptionType string
        TicketOptions string
        PreAuthType string
        PackageName string
        ShareName string
        ShareLocalPath string
        RelativeTargetName string
        AccessMask string
        AccessList string
        ObjectType string
        ImagePath string
        ServiceType string
        StartType string
        AccountName string
        ServiceFileName string
        UtcTime string
        ProcessGuid string
        ProcessId count
        Image string
        CommandLine string
        CurrentDirectory string
        User string
        LogonGuid string
        LogonId string
        IntegrityLevel string
        Hashes string
        ParentProcessGuid string
        ParentProcessId count
        ParentImage string
        ParentCommandLine string
        ParentUser string
        OriginalFileName string
        Product string
        Company string
        Description string
        FileVersion string
        RuleName string
        Protocol string
        Initiated bool
        SourceIsIpv6 bool
        SourceIp address
        SourceHostname string
        SourcePort port
        SourcePortName string
        DestinationIsIpv6 bool
        DestinationIp address
        DestinationHostname string
        DestinationPort port
        DestinationPortName string
        """)

    /// Slots of the fields the decoder reads itself.
    private enum S {
        static func at(_ name: String) -> Int { WindowsJSONDecoder.base.firstIndex { $0.name == name }! }
        static let eventID = at("EventID"), channel = at("Channel"), provider = at("Provider"), time = at("TimeCreated")
        static let outcome = at("event.outcome"), action = at("event.action"), status = at("Status"), utcTime = at("UtcTime")
    }

    /// JSON key spellings that reach a system field.
    static let systemKeys: [String: [String]] = [
        "EventID": ["EventID", "EventId", "event_id", "winlog.event_id", "event.code", "Event.System.EventID",
                    "System.EventID", "EventCode"],
        "Channel": ["Channel", "winlog.channel", "Event.System.Channel", "System.Channel", "log_name", "LogName"],
        "Provider": ["SourceName", "ProviderName", "Provider", "winlog.provider_name", "Event.System.Provider.Name",
                     "System.Provider.Name", "Event.System.Provider.#attributes.Name", "source_name"],
        "Computer": ["Computer", "Hostname", "computer_name", "winlog.computer_name", "Event.System.Computer",
                     "System.Computer", "ComputerName"],
        "TimeCreated": ["@timestamp", "TimeCreated", "TimeCreated.SystemTime", "EventTime", "winlog.time_created",
                        "Event.System.TimeCreated.SystemTime", "Event.System.TimeCreated.#attributes.SystemTime",
                        "System.TimeCreated.SystemTime", "timestamp"],
        "RecordNumber": ["RecordNumber", "record_id", "winlog.record_id", "EventRecordID", "Event.System.EventRecordID"],
        "Message": ["Message", "message"],
    ]

    static let dataContainers = ["", "EventData.", "event_data.", "winlog.event_data.", "Event.EventData.",
                                 "UserData.", "Event.UserData."]

    package init(fileName: String = "", requestedFields: Set<String> = [], maxLineLength: Int) {
        self.maxLineLength = max(maxLineLength, 16)
        flattener = JSONFlattener(maxLineLength: self.maxLineLength)
        scratch = Scratch(capacity: self.maxLineLength + 64)
        var known = Set<String>()
        for f in WindowsFamily.allCases { known.formUnion(WindowsJSONDecoder.schema(for: f, extra: []).index.keys) }
        extra = requestedFields.filter { !known.contains($0) && $0.utf8.count < 512 }.sorted()
        for f in WindowsFamily.allCases { schemas[f] = WindowsJSONDecoder.schema(for: f, extra: extra) }
        schema = schemas[.security]!
        fieldCount = schema.fieldCount
        var keys: [(String, Int)] = []
        let natives = WindowsJSONDecoder.base.map(\.name)
        for (i, name) in natives.enumerated() {
            if let sys = WindowsJSONDecoder.systemKeys[name] {
                for k in sys { keys.append((k, i)) }
            } else if !name.hasPrefix("event.") {
                for c in WindowsJSONDecoder.dataContainers { keys.append((c + name, i)) }
            }
        }
        for (k, e) in extra.enumerated() { keys.append((e, natives.count + k)) }
        table = KeyTable(keys)
    }

    deinit { scratch.free() }

    package static func schema(for f: WindowsFamily, extra: [String]) -> Schema {
        var defs = base
        // every event-data field also under the winlogbeat path
        for i in defs.indices where !(systemKeys[defs[i].name] != nil || defs[i].name.hasPrefix("event.")) {
            defs[i].aliases.append("winlog.event_data." + defs[i].name)
        }
        func alias(_ native: String, _ names: [String], _ roles: [FieldRole] = []) {
            guard let i = defs.firstIndex(where: { $0.name == native }) else { return }
            defs[i].aliases += names
            defs[i].roles += roles
        }
        alias("EventID", ["event.code", "winlog.event_id", "EventCode"])
        alias("event.outcome", ["outcome"], [.outcome])
        alias("event.action", [], [.action])
        let sources: [LogSource]
        switch f {
        case .security:
            alias("IpAddress", ["source.ip", "src_ip"], [.sourceIP])
            alias("IpPort", ["source.port", "src_port"], [.sourcePort])
            alias("TargetUserName", ["user.name", "winlog.event_data.TargetUserName"], [.user])
            alias("TargetDomainName", ["user.domain"])
            alias("WorkstationName", ["source.domain"])
            alias("ProcessName", ["process.executable"])
            alias("ServiceName", ["service.name"], [.service])
            alias("ShareName", ["file.share_name"])
            sources = [LogSource(product: "windows", service: "security")]
        case .system:
            alias("ServiceName", ["service.name"], [.service])
            alias("ImagePath", ["file.path", "process.executable"])
            alias("AccountName", ["user.name"], [.user])
            sources = [LogSource(product: "windows", service: "system")]
        case .sysmonProcess, .sysmon:
            alias("Image", ["process.executable"])
            alias("CommandLine", ["process.command_line"])
            alias("ParentImage", ["process.parent.executable"])
            alias("ParentCommandLine", ["process.parent.command_line"])
            alias("ProcessId", ["process.pid"])
            alias("User", ["user.name"], [.user])
            sources = f == .sysmon ? [LogSource(product: "windows", service: "sysmon")]
                : [LogSource(product: "windows", service: "sysmon"), LogSource(product: "windows", category: "process_creation")]
        case .sysmonNetwork:
            alias("Image", ["process.executable"])
            alias("ProcessId", ["process.pid"])
            alias("User", ["user.name"], [.user])
            alias("SourceIp", ["source.ip", "src_ip"], [.sourceIP])
            alias("SourcePort", ["source.port", "src_port"], [.sourcePort])
            alias("DestinationIp", ["destination.ip", "dst_ip", "dest_ip"], [.destinationIP])
            alias("DestinationPort", ["destination.port", "dst_port", "dest_port"], [.destinationPort])
            alias("Protocol", ["network.transport"], [.transport])
            alias("DestinationHostname", ["destination.domain"])
            sources = [LogSource(product: "windows", service: "sysmon"), LogSource(product: "windows", category: "network_connection")]
        case .other:
            sources = [LogSource(product: "windows")]
        }
        for e in extra { defs.append(FieldDef(name: e, type: .string, aliases: [], roles: [])) }
        return FieldSpecText.schema(format: .windowsJSON, logType: f.rawValue, defs: defs, logSources: sources)
    }

    package func decode(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome {
        let (i, n) = JSONLine.trimmed(line, count)
        if n > maxLineLength { return .malformed(.lineTooLong) }
        if i == n { return .skipped }
        let fc = schema.fieldCount
        JSONLine.prepare(&record, line: line, length: n, fieldCount: fc)
        scratch.used = 0
        let v = record.values
        guard flattener.scan(table, line + i, n - i, v, &scratch) else { return .malformed(.badJSON) }
        for k in 0..<fc where v[k].count == 1 && v[k].base![0] == 45 { v[k] = .absent }  // "-"
        var eid: Int64 = -1
        if let b = v[S.eventID].base { eid = Bytes.parseInt(b, v[S.eventID].count) ?? -1 }
        let fam = family(v, eid)
        let target = schemas[fam]!
        if target !== schema {
            schema = target
            return .schemaChanged
        }
        derive(v, eid)
        if let b = v[S.time].base {
            guard let t = ZeekJSONDecoder.parseTime(b, v[S.time].count) else { return .malformed(.badTimestamp) }
            record.timestamp = t
        } else if let b = v[S.utcTime].base, let t = parseISO8601(b, v[S.utcTime].count) {
            record.timestamp = t
        }
        return .event
    }

    private func family(_ v: UnsafeMutablePointer<FieldValue>, _ eid: Int64) -> WindowsFamily {
        func has(_ slot: Int, _ s: StaticString) -> Bool {
            guard let b = v[slot].base else { return false }
            return Bytes.findFolded(b, v[slot].count, s.utf8Start, s.utf8CodeUnitCount) != nil
        }
        let sysmon = has(S.channel, "sysmon") || has(S.provider, "sysmon")
        if sysmon { return eid == 1 ? .sysmonProcess : eid == 3 ? .sysmonNetwork : .sysmon }
        if let c = v[S.channel].base {
            let cn = v[S.channel].count
            if cn == 8 && Bytes.equalFolded(c, "security", 8) { return .security }
            if cn == 6 && Bytes.equalFolded(c, "system", 6) { return .system }
            return .other
        }
        if has(S.provider, "security-auditing") { return .security }
        if has(S.provider, "service control manager") { return .system }
        if (4608...6424).contains(eid) || (1100...1108).contains(eid) { return .security }
        if (7000...7060).contains(eid) { return .system }
        return .other
    }

    private func derive(_ v: UnsafeMutablePointer<FieldValue>, _ eid: Int64) {
        var action: Word?
        var outcome: Word?
        var statusOK: Bool? = nil
        if let b = v[S.status].base {
            let n = v[S.status].count
            statusOK = (n == 3 && b[0] == 48 && b[2] == 48) || (n == 1 && b[0] == 48) || (n == 10 && b[9] == 48 && b[2] == 48 && b[8] == 48)
        }
        switch schema.logType {
        case WindowsFamily.security.rawValue:
            switch eid {
            case 4624: action = .loggedIn; outcome = .success
            case 4625: action = .logonFailed; outcome = .failure
            case 4648: action = .explicitCredentials; outcome = .success
            case 4768: action = .kerberosTGT; outcome = statusOK.map { $0 ? .success : .failure }
            case 4769: action = .kerberosService; outcome = statusOK.map { $0 ? .success : .failure }
            case 4771: action = .kerberosTGT; outcome = .failure
            case 4776: action = .credentialValidation; outcome = statusOK.map { $0 ? .success : .failure }
            case 5140: action = .shareAccess; outcome = .success
            case 5145: action = .shareObjectAccess
            default: break
            }
        case WindowsFamily.system.rawValue:
            if eid == 7045 { action = .serviceInstalled }
        case WindowsFamily.sysmonProcess.rawValue: action = .processCreated
        case WindowsFamily.sysmonNetwork.rawValue: action = .networkConnection
        default: break
        }
        if let action { v[S.action] = action.value }
        if let outcome { v[S.outcome] = outcome.value }
    }
}

extension Bytes {
    /// Case-folded equality with a literal (lower-case) `StaticString`.
    @inline(__always)
    static func equalFolded(_ p: UnsafePointer<UInt8>, _ s: StaticString, _ n: Int) -> Bool {
        equalFolded(p, s.utf8Start, n)
    }
}
