import FlowhoundCore

/// Where the event being looked at came from; resolved to strings only when a finding is built.
package struct EventOrigin: Sendable {
    package var path: String
    package var line: Int64
    package var byteOffset: Int64

    package init(path: String, line: Int64, byteOffset: Int64) {
        self.path = path
        self.line = line
        self.byteOffset = byteOffset
    }
}

/// The entities of one event (who talked to whom), read through the schema's roles.
///
/// Built only for events that produced a match: it makes Strings.
package struct EventEntities: Hashable, Sendable {
    package var sourceIP: String?
    package var sourcePort: Int?
    package var destinationIP: String?
    package var destinationPort: Int?
    package var userName: String?

    package init(sourceIP: String?, sourcePort: Int?, destinationIP: String?, destinationPort: Int?, userName: String?) {
        self.sourceIP = sourceIP
        self.sourcePort = sourcePort
        self.destinationIP = destinationIP
        self.destinationPort = destinationPort
        self.userName = userName
    }

    package init(record: EventRecord, schema: Schema) {
        func text(_ role: FieldRole) -> String? {
            guard let slot = schema.slot(role) else { return nil }
            let v = record[slot]
            guard let base = v.base, v.count > 0 else { return nil }
            return String(decoding: UnsafeBufferPointer(start: base, count: v.count), as: UTF8.self)
        }
        func address(_ role: FieldRole) -> String? {
            guard let slot = schema.slot(role) else { return nil }
            let v = record[slot]
            guard let base = v.base, v.count > 0 else { return nil }
            if let ip = IPAddress.parse(base, v.count) { return ip.description }
            return String(decoding: UnsafeBufferPointer(start: base, count: v.count), as: UTF8.self)
        }
        func port(_ role: FieldRole) -> Int? {
            guard let slot = schema.slot(role) else { return nil }
            let v = record[slot]
            guard let base = v.base, let n = Bytes.parseInt(base, v.count), n >= 0, n <= 65_535 else { return nil }
            return Int(n)
        }
        sourceIP = address(.sourceIP)
        sourcePort = port(.sourcePort)
        destinationIP = address(.destinationIP)
        destinationPort = port(.destinationPort)
        userName = text(.user)
    }
}
