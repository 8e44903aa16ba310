import FlowhoundCore

/// Decodes AWS VPC Flow Logs records (space-separated).
///
/// Decisions:
/// - Columns: a header line of field names (`version account-id …`, also `${field}` or `field_name` spellings)
///   sets the order until the next header; without one, 14 columns are the default v2 format and 29 columns the
///   v5 "all fields" default order. Other counts are `field_count`.
/// - `-` is absent. `protocol` numbers become `network.transport` names (6 → tcp, 17 → udp, 1 → icmp,
///   58 → ipv6-icmp…). `action` stays `ACCEPT`/`REJECT` (Sigma matches case-insensitively) and sets
///   `blocked` (true for REJECT). `start` is the event time; `event.duration` = end − start.
/// - `NODATA` / `SKIPDATA` records are events without addresses (`log-status` tells which), so counts of
///   skipped capture windows stay visible to rules.
/// - One record is one direction: `bytes`/`packets` are what `srcaddr` sent (`source.bytes` role).
/// - Unknown header names become string fields of their own (the schema changes).
package final class VPCFlowDecoder: LineDecoder {
    package private(set) var schema: Schema

    private let maxLineLength: Int
    private var columnSlots: [Int] = []  // slot per column of the current header, -1 = none
    private var haveHeader = false
    private var scratch: Scratch
    private var unknown: [String] = []
    private let slots: (version: Int, proto: Int, start: Int, end: Int, action: Int, transport: Int, blocked: Int, duration: Int)

    static let spec = FieldSpecText.parse("""
        version count aws.vpcflow.version
        account-id string cloud.account.id aws.vpcflow.account_id
        interface-id string aws.vpcflow.interface_id network.interface.name
        srcaddr address source.ip src_ip !sourceIP
        dstaddr address destination.ip dst_ip dest_ip !destinationIP
        srcport port source.port src_port !sourcePort
        dstport port destination.port dst_port dest_port !destinationPort
        protocol count network.iana_number
        packets count source.packets network.packets
        bytes count source.bytes network.bytes !sourceBytes
        start time event.start @timestamp !timestamp
        end time event.end
        action string event.action !action
        log-status string aws.vpcflow.log_status
        vpc-id string aws.vpcflow.vpc_id network.vpc.id
        subnet-id string aws.vpcflow.subnet_id
        instance-id string aws.vpcflow.instance_id cloud.instance.id
        tcp-flags count aws.vpcflow.tcp_flags
        type string aws.vpcflow.type network.type
        pkt-srcaddr address aws.vpcflow.pkt_srcaddr
        pkt-dstaddr address aws.vpcflow.pkt_dstaddr
        region string cloud.region
        az-id string cloud.availability_zone
        sublocation-type string aws.vpcflow.sublocation_type
        sublocation-id string aws.vpcflow.sublocation_id
        pkt-src-aws-service string aws.vpcflow.pkt_src_aws_service
        pkt-dst-aws-service string aws.vpcflow.pkt_dst_aws_service
        flow-direction string network.direction aws.vpcflow.flow_direction
        traffic-path count aws.vpcflow.traffic_path
        ecs-cluster-arn string
        ecs-cluster-name string
        ecs-container-instance-arn string
        ecs-container-instance-id string
        ecs-container-id string
        ecs-second-container-id string
        ecs-service-name string
        ecs-task-definition-arn string
        ecs-task-arn string
        ecs-task-id string
        reject-reason string aws.vpcflow.reject_reason
        network.transport string transport !transport
        blocked bool
        event.duration interval duration !duration
        """)

    static let defaultV2 = ["version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
                            "packets", "bytes", "start", "end", "action", "log-status"]
    static let defaultV5 = defaultV2 + ["vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr",
                                       "pkt-dstaddr", "region", "az-id", "sublocation-type", "sublocation-id",
                                       "pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path"]
    /// The record fields AWS defines (header names).
    package static let allFieldNames: [String] = spec.prefix { !$0.name.contains(".") && $0.name != "blocked" }.map(\.name)

    package static func schema(columns: [String]) -> Schema {
        var defs = spec
        for d in defs.indices where defs[d].name.contains("-") {
            defs[d].aliases.append(defs[d].name.replacingOccurrencesOfDash())
        }
        let known = Set(defs.map(\.name))
        for c in columns where !known.contains(c) { defs.append(FieldDef(name: c, type: .string, aliases: [], roles: [])) }
        return FieldSpecText.schema(format: .vpcFlow, logType: "vpcflow", defs: defs, logSources: [
            LogSource(product: "aws", service: "vpcflowlogs"), LogSource(category: "firewall"),
        ])
    }

    package init(fileName: String = "", maxLineLength: Int) {
        self.maxLineLength = max(maxLineLength, 16)
        scratch = Scratch(capacity: 256)
        schema = VPCFlowDecoder.schema(columns: [])
        let s = schema
        slots = (s.slot("version")!, s.slot("protocol")!, s.slot("start")!, s.slot("end")!, s.slot("action")!,
                 s.slot("network.transport")!, s.slot("blocked")!, s.slot("event.duration")!)
    }

    deinit { scratch.free() }

    /// Normalises a header token: `${srcaddr}` → `srcaddr`, `account_id` → `account-id`.
    static func headerName(_ raw: Substring) -> String {
        var s = raw
        if s.hasPrefix("${") && s.hasSuffix("}") { s = s.dropFirst(2).dropLast() }
        return String(s.map { $0 == "_" ? "-" : $0 }).lowercased()
    }

    private func isHeader(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        // a header has no digit-leading token and starts with a letter or `$`
        if n == 0 { return false }
        let c = p[0]
        if !((c | 0x20) >= 97 && (c | 0x20) <= 122) && c != 36 { return false }
        var atStart = true
        for i in 0..<n {
            if isSpace(p[i]) { atStart = true; continue }
            if atStart && isDigit(p[i]) { return false }
            atStart = false
        }
        return true
    }

    package func decode(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome {
        var n = count
        while n > 0 && (line[n - 1] == 13 || isSpace(line[n - 1])) { n -= 1 }
        if n > maxLineLength { return .malformed(.lineTooLong) }
        var i0 = 0
        while i0 < n && isSpace(line[i0]) { i0 += 1 }
        if i0 == n { return .skipped }
        if line[i0] == 35 { return .skipped }  // comment
        let p = line + i0
        let m = n - i0
        if isHeader(p, m) {
            let text = String(decoding: UnsafeBufferPointer(start: p, count: m), as: UTF8.self)
            let names = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(VPCFlowDecoder.headerName)
            let known = Set(VPCFlowDecoder.spec.map(\.name))
            let newUnknown = names.filter { !known.contains($0) }
            if newUnknown.count > 64 { return .malformed(.fieldCount) }
            if !newUnknown.allSatisfy(unknown.contains) {
                unknown += newUnknown.filter { !unknown.contains($0) }
                schema = VPCFlowDecoder.schema(columns: unknown)
                return .schemaChanged
            }
            columnSlots = names.map { schema.slot($0) ?? -1 }
            haveHeader = true
            return .skipped
        }
        let fc = schema.fieldCount
        record.ensureCapacity(fc)
        record.line = line
        record.lineLength = n
        record.reset(fieldCount: fc)
        scratch.used = 0
        let v = record.values
        // split
        var col = 0
        var i = 0
        var starts = InlineArray<64, Int32>(repeating: 0)
        var lens = InlineArray<64, Int32>(repeating: 0)
        while i < m {
            while i < m && isSpace(p[i]) { i += 1 }
            if i >= m { break }
            let s = i
            while i < m && !isSpace(p[i]) { i += 1 }
            if col >= 64 { return .malformed(.fieldCount) }
            starts[col] = Int32(s)
            lens[col] = Int32(i - s)
            col += 1
        }
        if !haveHeader {
            if col == 14 {
                columnSlots = VPCFlowDecoder.defaultV2.map { schema.slot($0)! }
            } else if col == 29 {
                columnSlots = VPCFlowDecoder.defaultV5.map { schema.slot($0)! }
            } else {
                return .malformed(.fieldCount)
            }
        }
        if col != columnSlots.count { return .malformed(.fieldCount) }
        for c in 0..<col {
            let slot = columnSlots[c]
            let l = Int(lens[c])
            let b = p + Int(starts[c])
            if slot < 0 || (l == 1 && b[0] == 45) { continue }
            v[slot] = FieldValue(base: b, count: l)
        }
        if let b = v[slots.proto].base, let num = Bytes.parseInt(b, v[slots.proto].count) {
            v[slots.transport] = Word.transport(number: num)?.value ?? v[slots.proto]
        }
        if let b = v[slots.action].base {
            let l = v[slots.action].count
            if l == 6 && Bytes.equalFolded(b, "reject", 6) { v[slots.blocked] = Word.true.value }
            else if l == 6 && Bytes.equalFolded(b, "accept", 6) { v[slots.blocked] = Word.false.value }
        }
        var startSecs: Int64?
        if let b = v[slots.start].base {
            guard let s = Bytes.parseInt(b, v[slots.start].count), s >= 0, s < 1 << 40 else { return .malformed(.badTimestamp) }
            startSecs = s
            record.timestamp = Timestamp(seconds: s)
        }
        if let s = startSecs, let b = v[slots.end].base, let e = Bytes.parseInt(b, v[slots.end].count), e >= s {
            if let d = scratch.decimal(e - s) { v[slots.duration] = d }
        }
        return .event
    }
}

extension String {
    func replacingOccurrencesOfDash() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}
