import FlowhoundCore

/// Which normalised views one schema yields.
package struct EventKinds: OptionSet, Sendable, Hashable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }
    package static let flow = EventKinds(rawValue: 1)
    package static let auth = EventKinds(rawValue: 2)
    package static let dns = EventKinds(rawValue: 4)
    package static let remoteOp = EventKinds(rawValue: 8)
}

/// The slots of one schema that the normalised views read, found once per schema (`Schema.key`).
///
/// The source is decided from the format and log type (Zeek conn/ssh/rdp/ntlm/kerberos/dns/dce_rpc/
/// smb_mapping/smb_files, syslog sshd/auth/netfilter/asa, VPC flow, Windows security); any other schema with
/// `sourceIP` and `destinationIP` roles is read as a generic flow through its roles, so decoders added later
/// feed the detectors without changes here.
package final class SchemaPlan {
    package enum Source: Sendable {
        case none, zeekConn, zeekSession, zeekDns, zeekDceRpc, zeekSmbMapping, zeekSmbFiles
        case sshd, netfilter, asa, vpc, windowsSecurity, genericFlow
    }

    package let source: Source
    package let kinds: EventKinds
    let ts: Int, src: Int, sport: Int, dst: Int, dport: Int, transport: Int, service: Int
    let connState: Int, history: Int, origIPBytes: Int, respIPBytes: Int, srcBytes: Int, dstBytes: Int
    let duration: Int, action: Int, outcome: Int, user: Int, host: Int
    // session / auth natives
    let authSuccess: Int, authAttempts: Int, rdpResult: Int, logonType: Int, eventID: Int, status: Int, subStatus: Int
    let ipAddress: Int, computer: Int, shareName: Int
    // dns
    let query: Int, qtype: Int, rcode: Int
    // remote ops
    let operation: Int, endpoint: Int, path: Int, name: Int
    /// Service implied by a Zeek protocol log (rdp.log → rdp).
    let sessionService: UInt32

    init(_ schema: Schema) {
        func s(_ n: String) -> Int { schema.slot(n) ?? -1 }
        func r(_ role: FieldRole) -> Int { schema.slot(role) ?? -1 }
        let zeek = schema.format == .zeekTSV || schema.format == .zeekJSON
        let lt = schema.logType
        var src: Source = .none
        var service: UInt32 = 0
        if zeek {
            switch lt {
            case "conn": src = .zeekConn
            case "dns": src = .zeekDns
            case "dce_rpc": src = .zeekDceRpc; service = ServiceCode.rpc
            case "smb_mapping": src = .zeekSmbMapping; service = ServiceCode.smb
            case "smb_files": src = .zeekSmbFiles; service = ServiceCode.smb
            case "ssh": src = .zeekSession; service = ServiceCode.ssh
            case "rdp": src = .zeekSession; service = ServiceCode.rdp
            case "ntlm": src = .zeekSession; service = ServiceCode.ntlm
            case "kerberos": src = .zeekSession; service = ServiceCode.kerberos
            default: src = .none
            }
        } else if schema.format == .vpcFlow {
            src = .vpc
        } else if schema.format == .windowsJSON {
            src = lt == "security" ? .windowsSecurity : .none
        } else if schema.format == .syslog {
            if s("ssh_event") >= 0 || lt == "sshd" { src = .sshd; service = ServiceCode.ssh }
            else if s("tcp_flags") >= 0 && s("SRC") >= 0 { src = .netfilter }
            else if s("asa_event") >= 0 { src = .asa }
        }
        if src == .none, r(.sourceIP) >= 0, r(.destinationIP) >= 0, lt != "dns" { src = .genericFlow }
        self.source = src
        sessionService = service
        switch src {
        case .none: kinds = []
        case .zeekConn, .netfilter, .asa, .vpc, .genericFlow: kinds = .flow
        case .zeekSession: kinds = [.flow, .auth]
        case .zeekDns: kinds = .dns
        case .zeekDceRpc, .zeekSmbMapping, .zeekSmbFiles: kinds = [.flow, .remoteOp]
        case .sshd: kinds = .auth
        case .windowsSecurity: kinds = [.auth, .remoteOp]
        }
        ts = r(.timestamp)
        self.src = r(.sourceIP)
        sport = r(.sourcePort)
        dst = r(.destinationIP)
        dport = r(.destinationPort)
        transport = r(.transport) >= 0 ? r(.transport) : s("proto")
        self.service = zeek ? s("service") : -1
        connState = s("conn_state")
        history = s("history")
        origIPBytes = s("orig_ip_bytes")
        respIPBytes = s("resp_ip_bytes")
        srcBytes = r(.sourceBytes)
        dstBytes = r(.destinationBytes)
        duration = r(.duration)
        action = r(.action)
        outcome = r(.outcome)
        user = r(.user)
        host = r(.host)
        authSuccess = s("auth_success")
        authAttempts = s("auth_attempts")
        rdpResult = lt == "rdp" ? s("result") : -1
        logonType = s("LogonType")
        eventID = s("EventID")
        status = s("Status")
        subStatus = s("SubStatus")
        ipAddress = s("IpAddress")
        computer = s("Computer")
        shareName = s("ShareName")
        query = s("query")
        qtype = s("qtype")
        rcode = s("rcode")
        operation = s("operation")
        endpoint = s("endpoint")
        path = s("path")
        name = s("name")
    }
}

/// Builds the typed views of one event from (EventRecord, Schema). Plans are cached per `Schema.key`, with a
/// fast path for the schema of the previous event. Nothing here makes a String.
package final class EventNormaliser {
    private var plans: [String: SchemaPlan] = [:]
    /// Held, not only its address: a freed schema's address is soon another schema's.
    private var lastSchema: Schema?
    private var lastPlan: SchemaPlan?

    package init() {}

    package func plan(for schema: Schema) -> SchemaPlan {
        if lastSchema === schema, let p = lastPlan { return p }
        let p: SchemaPlan
        if let cached = plans[schema.key] {
            p = cached
        } else {
            p = SchemaPlan(schema)
            if plans.count > 4096 { plans.removeAll() }  // bounded: schemas are few in practice
            plans[schema.key] = p
        }
        lastSchema = schema
        lastPlan = p
        return p
    }

    // MARK: field helpers

    @inline(__always) static func value(_ r: EventRecord, _ slot: Int) -> FieldValue? {
        guard slot >= 0 else { return nil }
        let v = r[slot]
        return v.base == nil ? nil : v
    }

    @inline(__always) static func ip(_ r: EventRecord, _ slot: Int) -> IPAddress? {
        guard let v = value(r, slot), let b = v.base, v.count > 0 else { return nil }
        return IPAddress.parse(b, v.count)
    }

    @inline(__always) static func int(_ r: EventRecord, _ slot: Int) -> Int64? {
        guard let v = value(r, slot), let b = v.base else { return nil }
        if let i = Bytes.parseInt(b, v.count) { return i }
        return Bytes.parseDouble(b, v.count).map { Int64($0) }
    }

    @inline(__always) static func double(_ r: EventRecord, _ slot: Int) -> Double? {
        guard let v = value(r, slot), let b = v.base else { return nil }
        return Bytes.parseDouble(b, v.count)
    }

    /// Case-insensitive equality with an ASCII literal.
    @inline(__always) static func equals(_ v: FieldValue, _ lit: StaticString) -> Bool {
        guard let b = v.base, v.count == lit.utf8CodeUnitCount else { return false }
        return caseInsensitiveEqual(b, lit)
    }

    @inline(__always) static func caseInsensitiveEqual(_ b: UnsafePointer<UInt8>, _ lit: StaticString) -> Bool {
        let l = lit.utf8Start
        for i in 0..<lit.utf8CodeUnitCount where Bytes.lower(b[i]) != Bytes.lower(l[i]) { return false }
        return true
    }

    @inline(__always) static func contains(_ v: FieldValue, _ lowerLit: StaticString) -> Bool {
        guard let b = v.base else { return false }
        return Bytes.findFolded(b, v.count, lowerLit.utf8Start, lowerLit.utf8CodeUnitCount) != nil
    }

    @inline(__always) static func hasSuffixFolded(_ v: FieldValue, _ lowerLit: StaticString) -> Bool {
        guard let b = v.base, v.count >= lit(lowerLit) else { return false }
        return Bytes.equalFolded(b + v.count - lit(lowerLit), lowerLit.utf8Start, lit(lowerLit))
    }

    @inline(__always) static func lit(_ s: StaticString) -> Int { s.utf8CodeUnitCount }

    @inline(__always) static func bool(_ v: FieldValue) -> Bool? {
        guard let b = v.base, v.count > 0 else { return nil }
        switch Bytes.lower(b[0]) {
        case 116, 49: return true  // t, 1
        case 102, 48: return false  // f, 0
        default: return nil
        }
    }

    static func timestamp(_ r: EventRecord, _ plan: SchemaPlan) -> Int64? {
        if let t = r.timestamp { return t.nanoseconds }
        guard let v = value(r, plan.ts), let b = v.base else { return nil }
        return Bytes.parseEpoch(b, v.count)?.nanoseconds
    }

    static func transport(_ r: EventRecord, _ plan: SchemaPlan) -> Transport {
        guard let v = value(r, plan.transport), let b = v.base, v.count > 0 else { return .other }
        if v.count == 3 {
            if equals(v, "tcp") { return .tcp }
            if equals(v, "udp") { return .udp }
        }
        if equals(v, "icmp") || equals(v, "ipv6-icmp") || equals(v, "icmp6") { return .icmp }
        if let n = Bytes.parseInt(b, v.count) { return n == 6 ? .tcp : n == 17 ? .udp : (n == 1 || n == 58) ? .icmp : .other }
        return .other
    }

    /// Zeek `service` text (first recognised element of a comma list) → service code.
    static func zeekService(_ v: FieldValue, port: Int32, transport: Transport) -> UInt32? {
        guard let b = v.base, v.count > 0 else { return nil }
        _ = b
        if contains(v, "smb") || contains(v, "ntlm") && port == 445 { return ServiceCode.smb }
        if contains(v, "rdp") { return ServiceCode.rdp }
        if contains(v, "ssh") { return ServiceCode.ssh }
        if contains(v, "dce_rpc") { return ServiceCode.rpc }
        if contains(v, "krb") || contains(v, "kerberos") { return ServiceCode.kerberos }
        if contains(v, "ldap") { return ServiceCode.ldap }
        if contains(v, "dns") { return ServiceCode.dns }
        if port == 5985 || port == 5986 { return ServiceCode.winrm }
        if contains(v, "ssl") || contains(v, "tls") { return ServiceCode.tls }
        if contains(v, "http") { return ServiceCode.http }
        if contains(v, "ftp") { return ServiceCode.ftp }
        if contains(v, "ntp") { return ServiceCode.ntp }
        if contains(v, "smtp") { return ServiceCode.smtp }
        if contains(v, "mysql") { return ServiceCode.mysql }
        if contains(v, "postgres") { return ServiceCode.postgres }
        return nil
    }

    static func connOutcome(_ v: FieldValue) -> FlowOutcome {
        guard let b = v.base, v.count > 0 else { return .unknown }
        switch v.count {
        case 2:
            if b[0] == 83 && b[1] == 48 { return .attemptNoReply }  // S0
            if b[0] == 83 && (b[1] == 70 || b[1] == 49 || b[1] == 50 || b[1] == 51) { return .established }  // SF S1 S2 S3
            if b[0] == 83 && b[1] == 72 { return .attemptNoReply }  // SH
        case 3:
            if equals(v, "REJ") { return .rejected }
            if equals(v, "OTH") || equals(v, "SHR") { return .partial }
        case 4:
            if equals(v, "RSTO") || equals(v, "RSTR") { return .established }
        case 5:
            if equals(v, "RSTRH") { return .partial }
        case 6:
            if equals(v, "RSTOS0") { return .attemptNoReply }
        default: break
        }
        return .unknown
    }

    /// Firewall / flow-log action text → outcome.
    static func actionOutcome(_ v: FieldValue) -> FlowOutcome {
        if equals(v, "reject") || equals(v, "rejected") || equals(v, "block") || equals(v, "blocked")
            || equals(v, "drop") || equals(v, "dropped") || equals(v, "deny") || equals(v, "denied")
        {
            return .rejected
        }
        if equals(v, "built") || equals(v, "teardown") { return .established }
        return .unknown
    }

    // MARK: views

    /// The flow view of the event, if the schema yields flows and the event has both addresses.
    package static func flow(_ r: EventRecord, _ p: SchemaPlan) -> FlowView? {
        guard p.kinds.contains(.flow), let src = ip(r, p.src), let dst = ip(r, p.dst), let ts = timestamp(r, p) else {
            return nil
        }
        let tr = p.source == .zeekSession || p.source == .zeekSmbMapping || p.source == .zeekSmbFiles
            || p.source == .zeekDceRpc ? Transport.tcp : transport(r, p)
        let dport = int(r, p.dport).map { Int32(truncatingIfNeeded: $0) } ?? -1
        let sport = int(r, p.sport).map { Int32(truncatingIfNeeded: $0) } ?? -1
        var f = FlowView(ts: ts, src: src, dst: dst, sport: sport, dport: dport, transport: tr)
        switch p.source {
        case .zeekConn:
            if let v = value(r, p.service), let code = zeekService(v, port: dport, transport: tr) { f.service = code }
            f.outcome = value(r, p.connState).map(connOutcome) ?? .unknown
            if let h = value(r, p.history), let b = h.base {
                // S, SW = no reply; Sr, SWr = rejected (bro-simple-scan)
                let n = h.count
                f.failedAttempt = tr == .tcp && n >= 1 && n <= 3 && b[0] == 83
                    && (n == 1 || (n == 2 && (b[1] == 87 || b[1] == 114)) || (n == 3 && b[1] == 87 && b[2] == 114))
            } else {
                f.failedAttempt = tr == .tcp && (f.outcome == .attemptNoReply || f.outcome == .rejected)
            }
            f.bytesOut = int(r, p.origIPBytes) ?? int(r, p.srcBytes) ?? -1
            f.bytesIn = int(r, p.respIPBytes) ?? int(r, p.dstBytes) ?? -1
            f.duration = double(r, p.duration) ?? -1
            if let ob = int(r, p.srcBytes), let rb = int(r, p.dstBytes) {
                f.hasPayload = ob > 0 && rb > 0
            } else {
                f.hasPayload = f.outcome == .established && f.bytesIn > 0
            }
        case .zeekSession, .zeekSmbMapping, .zeekSmbFiles, .zeekDceRpc:
            f.service = p.sessionService == ServiceCode.ntlm ? (dport == 445 || dport == 139 ? ServiceCode.smb : ServiceCode.fromPort(dport, .tcp)) : p.sessionService
            if p.sessionService == ServiceCode.kerberos { f.service = ServiceCode.kerberos }
            f.outcome = .established
            f.failedAttempt = false
            f.fromSessionLog = true
            f.hasPayload = true
        case .vpc, .netfilter, .asa, .genericFlow:
            if let a = value(r, p.action) { f.outcome = actionOutcome(a) }
            if f.outcome == .unknown, let v = value(r, p.connState) { f.outcome = connOutcome(v) }
            f.failedAttempt = f.outcome == .rejected || (f.outcome == .attemptNoReply && tr == .tcp)
            f.bytesOut = int(r, p.srcBytes) ?? -1
            f.bytesIn = int(r, p.dstBytes) ?? -1
            f.duration = double(r, p.duration) ?? -1
            f.hasPayload = f.outcome == .established || f.bytesIn > 0 || (f.outcome == .unknown && f.bytesOut > 0 && !f.failedAttempt)
        default:
            return nil
        }
        return f
    }

    /// The authentication view, if the event is a logon attempt with a known outcome.
    package static func auth(_ r: EventRecord, _ p: SchemaPlan) -> AuthView? {
        guard p.kinds.contains(.auth), let ts = timestamp(r, p) else { return nil }
        var a = AuthView(ts: ts, src: nil, dst: nil, user: 0, outcome: .unknown, service: p.sessionService)
        func setUser(_ slot: Int) {
            guard let v = value(r, slot), let b = v.base, v.count > 0 else { return }
            if v.count == 1 && b[0] == 45 { return }  // "-"
            a.user = fnv1aFolded(b, v.count)
            a.userIsNoise = b[v.count - 1] == 36 || contains(v, "anonymous logon") || contains(v, "nt authority")
                || equals(v, "system") || equals(v, "local service") || equals(v, "network service")
        }
        switch p.source {
        case .zeekSession:
            a.src = ip(r, p.src)
            a.dst = ip(r, p.dst)
            setUser(p.user)
            if p.rdpResult >= 0 {
                guard let v = value(r, p.rdpResult) else { return nil }
                a.outcome = equals(v, "Success") ? .success : .unknown
            } else if p.authSuccess >= 0 {
                guard let v = value(r, p.authSuccess), let ok = bool(v) else { return nil }
                a.outcome = ok ? .success : .failure
                if !ok, let n = int(r, p.authAttempts), n > 1 { a.attempts = Int(min(n, 1000)) }
            } else if let v = value(r, p.outcome), let ok = bool(v) {
                a.outcome = ok ? .success : .failure
            }
        case .sshd:
            a.src = ip(r, p.src)
            if let v = value(r, p.host), let b = v.base, v.count > 0 { a.dst = HostID.named(fnv1aFolded(b, v.count)) }
            setUser(p.user)
            if let v = value(r, p.outcome) {
                a.outcome = equals(v, "success") ? .success : equals(v, "failure") ? .failure : .unknown
            }
        case .windowsSecurity:
            guard let eid = int(r, p.eventID), eid == 4624 || eid == 4625 || eid == 4771 || eid == 4776 else { return nil }
            a.src = ip(r, p.ipAddress >= 0 ? p.ipAddress : p.src)
            if let v = value(r, p.computer), let b = v.base, v.count > 0 { a.dst = HostID.named(fnv1aFolded(b, v.count)) }
            setUser(p.user)
            if let v = value(r, p.outcome) {
                a.outcome = equals(v, "success") ? .success : equals(v, "failure") ? .failure : .unknown
            }
            a.logonType = int(r, p.logonType).map { Int32(truncatingIfNeeded: $0) } ?? -1
            a.service = a.logonType == 10 ? ServiceCode.rdp : ServiceCode.smb
            for slot in [p.status, p.subStatus] {
                if let v = value(r, slot) {
                    // 0xC000015B logon type not granted, 0xC000005E no logon servers, 0xC0000133 clock skew,
                    // 0xC0000192 netlogon not started, 0xC00000DC server state (Elastic's noisy set)
                    if contains(v, "c000015b") || contains(v, "c000005e") || contains(v, "c0000133")
                        || contains(v, "c0000192") || contains(v, "c00000dc")
                    {
                        a.noisyStatus = true
                    }
                }
            }
        default:
            return nil
        }
        return a.outcome == .unknown ? nil : a
    }

    package static func dns(_ r: EventRecord, _ p: SchemaPlan) -> DnsView? {
        guard p.kinds.contains(.dns), let client = ip(r, p.src), let ts = timestamp(r, p),
            let q = value(r, p.query), let qb = q.base, q.count > 0
        else { return nil }
        return DnsView(
            ts: ts, client: client, server: ip(r, p.dst), query: qb, queryLength: q.count,
            qtype: int(r, p.qtype).map { Int32(truncatingIfNeeded: $0) } ?? -1,
            rcode: int(r, p.rcode).map { Int32(truncatingIfNeeded: $0) } ?? -1)
    }

    package static func remoteOp(_ r: EventRecord, _ p: SchemaPlan) -> RemoteOpView? {
        guard p.kinds.contains(.remoteOp), let ts = timestamp(r, p) else { return nil }
        var kind: RemoteOpKind?
        switch p.source {
        case .zeekDceRpc:
            guard let op = value(r, p.operation) else { return nil }
            if contains(op, "createservice") || contains(op, "startservice") { kind = .serviceCreate }
            else if contains(op, "schrpcregistertask") || contains(op, "netrjobadd") || contains(op, "schrpcrun") { kind = .taskRegister }
            else if contains(op, "remotecreateinstance") || contains(op, "remoteactivation") { kind = .dcomActivate }
            else if contains(op, "drsgetncchanges") { kind = .dcReplication }
            else if contains(op, "execmethod") || contains(op, "execquery"), let e = value(r, p.endpoint), contains(e, "wbem") { kind = .wmi }
        case .zeekSmbMapping:
            guard let path = value(r, p.path) else { return nil }
            if hasSuffixFolded(path, "\\admin$") || isDriveShare(path) { kind = .shareMapAdmin }
            else if hasSuffixFolded(path, "\\ipc$") { kind = .shareMapIPC }
        case .zeekSmbFiles:
            guard let path = value(r, p.path), let name = value(r, p.name),
                let action = value(r, p.action), contains(action, "write")
            else { return nil }
            if (contains(path, "admin$") || contains(path, "c$"))
                && (hasSuffixFolded(name, ".exe") || hasSuffixFolded(name, ".dll") || hasSuffixFolded(name, ".ps1")
                    || hasSuffixFolded(name, ".bat") || hasSuffixFolded(name, ".vbs"))
            {
                kind = .fileWriteAdmin
            }
        case .windowsSecurity:
            guard let eid = int(r, p.eventID), eid == 5140 || eid == 5145, let share = value(r, p.shareName) else { return nil }
            if hasSuffixFolded(share, "\\admin$") || isDriveShare(share) { kind = .shareMapAdmin }
            guard kind != nil, let src = ip(r, p.ipAddress), let c = value(r, p.computer), let cb = c.base else { return nil }
            return RemoteOpView(ts: ts, src: src, dst: HostID.named(fnv1aFolded(cb, c.count)), kind: kind!)
        default: return nil
        }
        guard let kind, let src = ip(r, p.src), let dst = ip(r, p.dst) else { return nil }
        return RemoteOpView(ts: ts, src: src, dst: dst, kind: kind)
    }

    /// `\\host\C$` (any single drive letter).
    static func isDriveShare(_ v: FieldValue) -> Bool {
        guard let b = v.base, v.count >= 3 else { return false }
        let n = v.count
        let letter = Bytes.lower(b[n - 2])
        return b[n - 1] == 36 && b[n - 3] == 92 && letter >= 97 && letter <= 122
    }
}
