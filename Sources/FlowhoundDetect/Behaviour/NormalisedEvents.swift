import FlowhoundCore

// MARK: Normalised event kinds (netdetect.md §7.0)

/// What a connection attempt came to, across formats.
///
/// Zeek `conn_state`: S0, RSTOS0, SH → `attemptNoReply`; REJ → `rejected`; S1, SF, S2, S3, RSTO, RSTR →
/// `established`; RSTRH, SHR, OTH → `partial`. Firewalls and VPC flow logs: a block/drop/reject/deny action →
/// `rejected`; ASA `Built`/`Teardown` → `established`; an allow/accept without handshake information → `unknown`.
package enum FlowOutcome: UInt8, Sendable {
    case unknown, attemptNoReply, rejected, established, partial

    package var name: String {
        switch self {
        case .unknown: "unknown"
        case .attemptNoReply: "attempt_no_reply"
        case .rejected: "rejected"
        case .established: "established"
        case .partial: "partial"
        }
    }
}

package enum Transport: UInt8, Sendable { case other, tcp, udp, icmp }

package enum AuthOutcome: UInt8, Sendable { case unknown, success, failure }

/// Remote-execution and admin-share operations seen on the wire or in Windows logs (netdetect.md `RemoteOp`).
package enum RemoteOpKind: UInt8, Sendable, CaseIterable {
    case serviceCreate, taskRegister, dcomActivate, wmi, shareMapAdmin, shareMapIPC, fileWriteAdmin, dcReplication

    package var name: String {
        switch self {
        case .serviceCreate: "service_create"
        case .taskRegister: "task_register"
        case .dcomActivate: "dcom_activate"
        case .wmi: "wmi"
        case .shareMapAdmin: "share_map_admin"
        case .shareMapIPC: "share_map_ipc"
        case .fileWriteAdmin: "file_write_admin"
        case .dcReplication: "dc_replication"
        }
    }

    /// Kinds that are remote code execution or credential theft on their own.
    package var isHighRisk: Bool {
        switch self {
        case .serviceCreate, .taskRegister, .dcomActivate, .wmi, .fileWriteAdmin, .dcReplication: true
        case .shareMapAdmin, .shareMapIPC: false
        }
    }
}

/// Service classes used as part of detector keys: a small code per well-known service, `0x1_0000 | port` for
/// other ports below 49152, and `ephemeral` for unknown ports ≥ 49152 (netdetect.md D2 port-class map).
package enum ServiceCode {
    package static let unknown: UInt32 = 0, smb: UInt32 = 1, rdp: UInt32 = 2, winrm: UInt32 = 3, ssh: UInt32 = 4
    package static let rpc: UInt32 = 5, ldap: UInt32 = 6, kerberos: UInt32 = 7, mssql: UInt32 = 8, http: UInt32 = 9
    package static let tls: UInt32 = 10, dns: UInt32 = 11, vnc: UInt32 = 12, telnet: UInt32 = 13, ftp: UInt32 = 14
    package static let ntp: UInt32 = 15, smtp: UInt32 = 16, ephemeral: UInt32 = 17, icmp: UInt32 = 18
    package static let mysql: UInt32 = 19, postgres: UInt32 = 20, oracle: UInt32 = 21, netbios: UInt32 = 22
    package static let ntlm: UInt32 = 23

    static let names: [UInt32: String] = [
        unknown: "unknown", smb: "smb", rdp: "rdp", winrm: "winrm", ssh: "ssh", rpc: "rpc", ldap: "ldap",
        kerberos: "kerberos", mssql: "mssql", http: "http", tls: "tls", dns: "dns", vnc: "vnc", telnet: "telnet",
        ftp: "ftp", ntp: "ntp", smtp: "smtp", ephemeral: "ephemeral", icmp: "icmp", mysql: "mysql",
        postgres: "postgres", oracle: "oracle", netbios: "netbios", ntlm: "ntlm",
    ]

    package static func name(_ code: UInt32) -> String {
        if code & 0x1_0000 != 0 { return "port/\(code & 0xFFFF)" }
        return names[code] ?? "unknown"
    }

    /// Administrative / remote-execution services (D1, D3 admin set, D4).
    @inline(__always)
    package static func isAdmin(_ code: UInt32) -> Bool {
        code == smb || code == rdp || code == winrm || code == ssh || code == rpc || code == vnc || code == telnet
    }

    /// The class of a destination port.
    @inline(__always)
    package static func fromPort(_ port: Int32, _ transport: Transport) -> UInt32 {
        if transport == .icmp { return icmp }
        switch port {
        case 445: return smb
        case 139, 137, 138: return port == 139 ? smb : netbios
        case 3389: return rdp
        case 5985, 5986: return winrm
        case 22: return ssh
        case 135: return rpc
        case 389, 636, 3268, 3269: return ldap
        case 88: return kerberos
        case 1433: return mssql
        case 80, 8080: return http
        case 443, 8443: return tls
        case 53: return dns
        case 5900...5903: return vnc
        case 23: return telnet
        case 21: return ftp
        case 123: return ntp
        case 25, 587: return smtp
        case 3306: return mysql
        case 5432: return postgres
        case 1521: return oracle
        case ..<0: return unknown
        case 49152...: return ephemeral
        default: return 0x1_0000 | UInt32(port)
        }
    }
}

/// One connection (or packet, or flow-log record), typed. Built per event; valid only during the call.
package struct FlowView {
    /// Log time, nanoseconds.
    package var ts: Int64
    package var src: IPAddress
    package var dst: IPAddress
    /// -1 when unknown.
    package var sport: Int32
    package var dport: Int32
    package var transport: Transport
    package var service: UInt32
    package var outcome: FlowOutcome
    /// bro-simple-scan's failed attempt: Zeek history `S`, `SW` (no reply) or `Sr`, `SWr` (rejected); without a
    /// history, outcome `attemptNoReply`/`rejected` on TCP (or any transport for firewall/VPC rejects).
    package var failedAttempt: Bool
    /// Bytes sent by the originator (Zeek `orig_ip_bytes`, else `orig_bytes`; VPC `bytes`); -1 unknown.
    package var bytesOut: Int64
    /// Bytes sent by the responder (Zeek `resp_ip_bytes`, else `resp_bytes`); -1 unknown.
    package var bytesIn: Int64
    /// Seconds; -1 unknown.
    package var duration: Double
    /// True when the record is a protocol log (Zeek ssh/rdp/smb/dce_rpc/ntlm/kerberos) rather than a
    /// connection record: it proves a session but carries no volume or timing, so volume/timing detectors skip it.
    package var fromSessionLog: Bool
    /// Both sides sent application data (Zeek `orig_bytes` and `resp_bytes` > 0); for sources without payload
    /// counts, an established outcome or bytes back. A handshake that carried nothing is not a session.
    package var hasPayload: Bool

    package init(
        ts: Int64, src: IPAddress, dst: IPAddress, sport: Int32 = -1, dport: Int32, transport: Transport = .tcp,
        service: UInt32? = nil, outcome: FlowOutcome = .established, failedAttempt: Bool? = nil,
        bytesOut: Int64 = -1, bytesIn: Int64 = -1, duration: Double = -1, fromSessionLog: Bool = false,
        hasPayload: Bool? = nil
    ) {
        self.ts = ts
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.transport = transport
        self.service = service ?? ServiceCode.fromPort(dport, transport)
        self.outcome = outcome
        self.failedAttempt = failedAttempt ?? (outcome == .attemptNoReply || outcome == .rejected)
        self.bytesOut = bytesOut
        self.bytesIn = bytesIn
        self.duration = duration
        self.fromSessionLog = fromSessionLog
        self.hasPayload = hasPayload ?? (fromSessionLog || outcome == .established || bytesIn > 0)
    }
}

/// One authentication attempt, typed.
package struct AuthView {
    package var ts: Int64
    package var src: IPAddress?
    /// The host logged on to: its address when known, else `HostID.named(hash)` of its name.
    package var dst: IPAddress?
    /// FNV-1a of the lower-cased user name; 0 when there is none.
    package var user: UInt64
    /// `*$` machine accounts, ANONYMOUS LOGON, NT AUTHORITY: excluded from credential detectors.
    package var userIsNoise: Bool
    package var outcome: AuthOutcome
    /// Failed attempts this record stands for (Zeek ssh `auth_attempts`), ≥ 1.
    package var attempts: Int
    /// Windows logon type; -1 unknown.
    package var logonType: Int32
    package var service: UInt32
    /// Windows failure status codes that Elastic treats as noise (expired/locked/logon-type restrictions).
    package var noisyStatus: Bool

    package init(
        ts: Int64, src: IPAddress?, dst: IPAddress?, user: UInt64, userIsNoise: Bool = false, outcome: AuthOutcome,
        attempts: Int = 1, logonType: Int32 = -1, service: UInt32 = ServiceCode.ssh, noisyStatus: Bool = false
    ) {
        self.ts = ts
        self.src = src
        self.dst = dst
        self.user = user
        self.userIsNoise = userIsNoise
        self.outcome = outcome
        self.attempts = attempts
        self.logonType = logonType
        self.service = service
        self.noisyStatus = noisyStatus
    }
}

/// One DNS query, typed; `query` points into the current line.
package struct DnsView {
    package var ts: Int64
    package var client: IPAddress
    package var server: IPAddress?
    package var query: UnsafePointer<UInt8>?
    package var queryLength: Int
    /// -1 unknown; 16 TXT, 10 NULL…
    package var qtype: Int32
    /// -1 unknown; 3 NXDOMAIN.
    package var rcode: Int32
}

/// One remote operation (service creation, admin-share mapping…), typed.
package struct RemoteOpView {
    package var ts: Int64
    package var src: IPAddress
    package var dst: IPAddress
    package var kind: RemoteOpKind
}

/// Opaque host identities for hosts known only by name (Windows `Computer`, syslog host): the name's hash in
/// the RFC 6666 discard prefix `100::/64`, so they share one key type with addresses and never collide with
/// a real unicast address.
package enum HostID {
    @inline(__always)
    package static func named(_ hash: UInt64) -> IPAddress { IPAddress(high: 0x0100_0000_0000_0000, low: hash) }

    package static func isNamed(_ ip: IPAddress) -> Bool { ip.high == 0x0100_0000_0000_0000 }
}

/// FNV-1a over ASCII-lower-cased bytes.
@inline(__always)
package func fnv1aFolded(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    var i = 0
    while i < n {
        h = (h ^ UInt64(Bytes.lower(p[i]))) &* 0x0000_0100_0000_01B3
        i &+= 1
    }
    return h == 0 ? 1 : h
}

package func fnv1aFolded(_ s: String) -> UInt64 {
    var s = s
    return s.withUTF8 { b in b.baseAddress.map { fnv1aFolded($0, b.count) } ?? 1 }
}
