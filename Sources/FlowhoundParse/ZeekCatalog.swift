import FlowhoundCore

/// Data-driven catalog of Zeek logs: native fields with their Zeek types, the ECS and Sigma-taxonomy names
/// that reach them, the roles they play, and the Sigma logsources each log serves.
///
/// Spec syntax, one field per line: `native type [alias ...] [!role ...]`. The type uses Zeek's own spelling
/// (`time`, `addr`, `set[string]`…). Lines starting with `@ids` expand to the usual `ts uid id.*` block.
/// Every dotted native name is also reachable with `_` instead of `.` (`id_orig_h`), and every field of log
/// `L` as `zeek.<dataset>.<native>` (the Filebeat/Elastic naming; conn's dataset is `connection`).
package enum ZeekCatalog {
    package struct Entry: Sendable {
        package var name: String
        package var type: String
        package var aliases: [String]
        package var roles: [FieldRole]
    }

    package struct LogType: Sendable {
        package var name: String
        package var fields: [Entry]
        package var categories: [String]
        /// alias → native, for this log.
        package var aliasMap: [String: String]
        package var fieldNames: Set<String>
    }

    /// Log types with a different file/`_path` name but the same layout (RITA writes still-open connections).
    package static let sameLayout: [String: String] = ["open_conn": "conn", "open_http": "http", "open_ssl": "ssl"]

    /// Zeek's type spelling → our field type.
    package static func fieldType(_ zeekType: String) -> FieldType {
        if zeekType.hasPrefix("set[") || zeekType.hasPrefix("vector[") || zeekType.hasPrefix("table[") { return .list }
        switch zeekType {
        case "time": return .time
        case "interval": return .interval
        case "count": return .count
        case "int": return .integer
        case "double": return .double
        case "addr": return .address
        case "port": return .port
        case "bool": return .bool
        default: return .string
        }
    }

    private static let idBlock = """
        ts time @timestamp event.created !timestamp
        uid string zeek.session_id event.id !uid
        id.orig_h addr source.ip source.address client.ip src_ip SourceIp c-ip clientip !sourceIP
        id.orig_p port source.port client.port src_port SourcePort !sourcePort
        id.resp_h addr destination.ip destination.address server.ip dst_ip dest_ip DestinationIp !destinationIP
        id.resp_p port destination.port server.port dst_port dest_port DestinationPort !destinationPort
        """

    /// name, Sigma categories served besides `product: zeek, service: <name>`, field spec.
    private static let specs: [(String, [String], String)] = [
        ("conn", ["firewall", "network_connection"], """
            @ids
            proto enum network.transport network_protocol !transport
            service string network.protocol network.application !service
            duration interval event.duration !duration
            orig_bytes count source.bytes src_bytes !sourceBytes
            resp_bytes count destination.bytes dst_bytes !destinationBytes
            conn_state string zeek.connection.state network.connection.state !connState
            local_orig bool
            local_resp bool
            missed_bytes count
            history string
            orig_pkts count source.packets
            orig_ip_bytes count
            resp_pkts count destination.packets
            resp_ip_bytes count
            tunnel_parents set[string]
            ip_proto count network.iana_number
            community_id string network.community_id
            orig_l2_addr string source.mac
            resp_l2_addr string destination.mac
            vlan int network.vlan.id
            inner_vlan int network.inner.vlan.id
            _node_name string observer.name
            """),
        ("dns", ["dns"], """
            @ids
            proto enum network.transport network_protocol !transport
            trans_id count dns.id
            rtt interval
            query string dns.question.name query_name DestinationHostname dest_domain QueryName !host
            qclass count
            qclass_name string dns.question.class
            qtype count
            qtype_name string dns.question.type record_type QueryType
            rcode count
            rcode_name string dns.response_code response_code
            AA bool
            TC bool
            RD bool
            RA bool
            Z count
            answers vector[string] dns.answers.data dns.resolved_ip answer QueryResults
            TTLs vector[interval] dns.answers.ttl
            rejected bool
            community_id string network.community_id
            _node_name string observer.name
            """),
        ("http", ["proxy", "webserver"], """
            @ids
            trans_depth count
            method string http.request.method cs-method !action
            host string url.domain destination.domain cs-host r-dns DestinationHostname dest_domain !host
            uri string url.original c-uri cs-uri c-uri-query c-uri-stem c-uri-extension url
            referrer string http.request.referrer cs-referer cs-referrer
            version string http.version cs-version
            user_agent string user_agent.original c-useragent useragent
            origin string
            request_body_len count http.request.body.bytes cs-bytes
            response_body_len count http.response.body.bytes sc-bytes
            status_code count http.response.status_code sc-status !outcome
            status_msg string
            info_code count
            info_msg string
            tags set[enum] tags
            username string url.username user.name !user
            password string url.password
            proxied set[string]
            orig_fuids vector[string]
            orig_filenames vector[string]
            orig_mime_types vector[string]
            resp_fuids vector[string]
            resp_filenames vector[string]
            resp_mime_types vector[string] http.response.mime_type
            cookie string cs-cookie
            _node_name string observer.name
            """),
        ("ssl", ["tls"], """
            @ids
            version string tls.version tls_version
            cipher string tls.cipher
            curve string tls.curve
            server_name string tls.client.server_name destination.domain DestinationHostname dest_domain !host
            resumed bool tls.resumed
            last_alert string
            next_protocol string tls.next_protocol
            established bool tls.established !outcome
            ssl_history string
            cert_chain_fps vector[string]
            client_cert_chain_fps vector[string]
            cert_chain_fuids vector[string]
            client_cert_chain_fuids vector[string]
            subject string tls.server.subject
            issuer string tls.server.issuer
            client_subject string tls.client.subject
            client_issuer string tls.client.issuer
            sni_matches_cert bool
            validation_status string
            ja3 string tls.client.ja3
            ja3s string tls.server.ja3s
            _node_name string observer.name
            """),
        ("ssh", [], """
            @ids
            version count
            auth_success bool event.outcome !outcome
            auth_attempts count
            direction enum network.direction
            client string ssh.client
            server string ssh.server
            cipher_alg string
            mac_alg string
            compression_alg string
            kex_alg string
            host_key_alg string
            host_key string
            hassh string
            hasshServer string
            remote_location.country_code string
            remote_location.region string
            remote_location.city string
            remote_location.latitude double
            remote_location.longitude double
            _node_name string observer.name
            """),
        ("smb_mapping", [], """
            @ids
            path string file.path share_name ShareName
            service string network.protocol !service
            native_file_system string
            share_type string
            _node_name string observer.name
            """),
        ("smb_files", [], """
            @ids
            fuid string file.id
            action enum event.action !action
            path string file.directory share_name ShareName
            name string file.name RelativeTargetName
            size count file.size
            prev_name string
            times.modified time file.mtime
            times.accessed time file.accessed
            times.created time file.created
            times.changed time file.ctime
            data_offset_req count
            data_len_req count
            data_len_rsp count
            _node_name string observer.name
            """),
        ("rdp", [], """
            @ids
            cookie string user.name !user
            result string event.outcome !outcome
            security_protocol string
            client_channels vector[string]
            keyboard_layout string
            client_build string
            client_name string source.domain
            client_dig_product_id string
            desktop_width count
            desktop_height count
            requested_color_depth string
            cert_type string
            cert_count count
            cert_permanent bool
            encryption_level string
            encryption_method string
            ssl bool
            _node_name string observer.name
            """),
        ("kerberos", [], """
            @ids
            request_type string event.action !action
            client string user.name !user
            service string destination.service
            success bool event.outcome !outcome
            error_code count
            error_msg string
            from time
            till time
            cipher string
            forwardable bool
            renewable bool
            client_cert_subject string
            client_cert_fuid string
            server_cert_subject string
            server_cert_fuid string
            auth_ticket string
            new_ticket string
            _node_name string observer.name
            """),
        ("ntlm", [], """
            @ids
            username string user.name !user
            hostname string source.domain
            domainname string user.domain
            server_nb_computer_name string
            server_dns_computer_name string destination.domain
            server_tree_name string
            success bool event.outcome !outcome
            status string
            _node_name string observer.name
            """),
        ("dce_rpc", [], """
            @ids
            rtt interval
            named_pipe string PipeName
            endpoint string
            operation string event.action !action
            _node_name string observer.name
            """),
        ("files", [], """
            ts time @timestamp !timestamp
            fuid string file.id !uid
            uid string zeek.session_id
            id.orig_h addr source.ip src_ip !sourceIP
            id.orig_p port source.port src_port !sourcePort
            id.resp_h addr destination.ip dst_ip !destinationIP
            id.resp_p port destination.port dst_port !destinationPort
            tx_hosts set[addr] server.ip
            rx_hosts set[addr] client.ip
            conn_uids set[string]
            source string network.protocol !service
            depth count
            analyzers set[string]
            mime_type string file.mime_type
            filename string file.name
            duration interval event.duration !duration
            local_orig bool
            is_orig bool
            seen_bytes count
            total_bytes count file.size
            missing_bytes count
            overflow_bytes count
            timedout bool
            parent_fuid string
            md5 string file.hash.md5
            sha1 string file.hash.sha1
            sha256 string file.hash.sha256
            extracted string
            extracted_cutoff bool
            extracted_size count
            _node_name string observer.name
            """),
        ("notice", [], """
            @ids
            fuid string file.id
            file_mime_type string file.mime_type
            file_desc string
            proto enum network.transport !transport
            note enum rule.name event.action !action
            msg string message rule.description
            sub string
            src addr
            dst addr
            p port
            n count
            peer_name string
            peer_descr string
            actions set[enum]
            email_dest set[string]
            suppress_for interval
            remote_location.country_code string
            remote_location.region string
            remote_location.city string
            remote_location.latitude double
            remote_location.longitude double
            _node_name string observer.name
            """),
        ("weird", [], """
            @ids
            name string rule.name event.action !action
            addl string
            notice bool
            peer string
            source string
            _node_name string observer.name
            """),
        ("x509", [], """
            ts time @timestamp !timestamp
            id string file.id !uid
            fingerprint string x509.fingerprint
            certificate.version count x509.version_number
            certificate.serial string x509.serial_number
            certificate.subject string x509.subject.distinguished_name
            certificate.issuer string x509.issuer.distinguished_name
            certificate.cn string x509.subject.common_name
            certificate.not_valid_before time x509.not_before
            certificate.not_valid_after time x509.not_after
            certificate.key_alg string
            certificate.sig_alg string x509.signature_algorithm
            certificate.key_type string x509.public_key_algorithm
            certificate.key_length count x509.public_key_size
            certificate.exponent string x509.public_key_exponent
            certificate.curve string x509.public_key_curve
            san.dns vector[string] x509.alternative_names
            san.uri vector[string]
            san.email vector[string]
            san.ip vector[addr]
            basic_constraints.ca bool
            basic_constraints.path_len count
            host_cert bool
            client_cert bool
            _node_name string observer.name
            """),
        ("dhcp", [], """
            ts time @timestamp !timestamp
            uids set[string] zeek.session_id !uid
            client_addr addr client.address source.ip src_ip !sourceIP
            server_addr addr server.address destination.ip dst_ip !destinationIP
            mac string source.mac client.mac
            host_name string host.hostname !host
            client_fqdn string
            domain string
            requested_addr addr
            assigned_addr addr client.ip
            lease_time interval
            client_message string
            server_message string
            msg_types vector[string]
            duration interval event.duration !duration
            uid string
            id.orig_h addr
            id.orig_p port source.port src_port !sourcePort
            id.resp_h addr
            id.resp_p port destination.port dst_port !destinationPort
            assigned_ip addr
            trans_id count
            _node_name string observer.name
            """),
        ("software", [], """
            ts time @timestamp !timestamp
            host addr host.ip source.ip !host
            host_p port source.port
            software_type enum
            name string package.name
            version.major count
            version.minor count
            version.minor2 count
            version.minor3 count
            version.addl string
            unparsed_version string package.version user_agent.original
            url string
            _node_name string observer.name
            """),
        ("dpd", [], """
            @ids
            proto enum network.transport !transport
            analyzer string
            failure_reason string
            _node_name string observer.name
            """),
        ("ftp", [], """
            @ids
            user string user.name !user
            password string
            command string event.action !action
            arg string
            mime_type string file.mime_type
            file_size count file.size
            reply_code count
            reply_msg string
            data_channel.passive bool
            data_channel.orig_h addr
            data_channel.resp_h addr
            data_channel.resp_p port
            fuid string
            _node_name string observer.name
            """),
        ("tunnel", [], """
            @ids
            tunnel_type enum
            action enum event.action !action
            _node_name string observer.name
            """),
        ("known_hosts", [], """
            ts time @timestamp !timestamp
            host addr host.ip !host
            _node_name string observer.name
            """),
        ("known_services", [], """
            ts time @timestamp !timestamp
            host addr host.ip destination.ip !host
            port_num port destination.port
            port_proto enum network.transport !transport
            service set[string] network.protocol !service
            _node_name string observer.name
            """),
    ]

    /// All log types of the catalog, by name.
    package static let logTypes: [String: LogType] = {
        var out: [String: LogType] = [:]
        for (name, categories, spec) in specs {
            let dataset = name == "conn" ? "connection" : name
            var entries: [Entry] = []
            // by bytes: Character-wise splitting of the specs cost ~20 M instructions at every start
            for raw in spec.utf8.split(separator: 10) {
                let line = Substring(raw).trimmingSpaces()
                if line.isEmpty { continue }
                if line == "@ids" {
                    for l in idBlock.utf8.split(separator: 10) { entries.append(parseEntry(Substring(l).trimmingSpaces())) }
                } else {
                    entries.append(parseEntry(line))
                }
            }
            var aliasMap: [String: String] = [:]
            let natives = Set(entries.map(\.name))
            for e in entries {
                for a in e.aliases where aliasMap[a] == nil && !natives.contains(a) { aliasMap[a] = e.name }
                let underscored = e.name.replacingDots()
                if underscored != e.name && aliasMap[underscored] == nil && !natives.contains(underscored) {
                    aliasMap[underscored] = e.name
                }
                let ds = "zeek.\(dataset).\(e.name)"
                if aliasMap[ds] == nil { aliasMap[ds] = e.name }
            }
            out[name] = LogType(name: name, fields: entries, categories: categories, aliasMap: aliasMap,
                                fieldNames: natives)
        }
        return out
    }()

    private static func parseEntry(_ line: String) -> Entry {
        let parts = line.utf8.split(separator: 32).map { String(Substring($0)) }
        var aliases: [String] = []
        var roles: [FieldRole] = []
        for p in parts.dropFirst(2) {
            if p.hasPrefix("!") {
                if let r = roleNames[String(p.dropFirst())] { roles.append(r) }
            } else {
                aliases.append(p)
            }
        }
        return Entry(name: parts[0], type: parts.count > 1 ? parts[1] : "string", aliases: aliases, roles: roles)
    }

    private static let roleNames: [String: FieldRole] = {
        var m: [String: FieldRole] = [:]
        for r in FieldRole.allCases { m["\(r)"] = r }
        return m
    }()

    /// The catalog entry for a log type name (following `sameLayout`).
    package static func entry(_ name: String) -> LogType? {
        logTypes[name] ?? sameLayout[name].flatMap { logTypes[$0] }
    }

    /// Every log type name the file-name rule recognises.
    package static let knownNames: [String] = {
        var s = Set(logTypes.keys).union(sameLayout.keys)
        s.formUnion(["capture_loss", "stats", "smtp", "sip", "snmp", "ntp", "radius", "irc", "modbus", "mysql",
                     "pe", "dnp3", "socks", "syslog", "tunnel", "reporter", "loaded_scripts", "packet_filter",
                     "conn-summary", "analyzer", "analyzer_debug", "ocsp", "quic", "websocket", "ldap",
                     "ldap_search", "mqtt_connect", "postgresql", "redis", "netcontrol", "intel", "signatures",
                     "traceroute", "unknown_protocols", "known_certs", "known_modbus", "openflow", "telemetry",
                     "broker", "cluster", "print", "config", "notice_alarm", "weird_stats", "dpd"])
        return s.sorted { $0.count > $1.count }
    }()

    /// The logsources a Zeek log serves.
    package static func logSources(for logType: String) -> [LogSource] {
        guard !logType.isEmpty else { return [LogSource(product: "zeek")] }
        let canonical = sameLayout[logType] ?? logType
        var out = [LogSource(product: "zeek", service: canonical)]
        if canonical != logType { out.append(LogSource(product: "zeek", service: logType)) }
        for c in logTypes[canonical]?.categories ?? [] { out.append(LogSource(category: c)) }
        return out
    }

    /// Builds the schema for the given native fields of a log, with every alias and role the catalog knows.
    package static func schema(format: LogFormat, logType: String, fields: [FieldSpec]) -> Schema {
        let lt = entry(logType)
        var aliases: [String: String] = lt?.aliasMap ?? [:]
        let dataset = (lt?.name ?? logType) == "conn" ? "connection" : (lt?.name ?? logType)
        var roles: [FieldRole: String] = [:]
        if let lt {
            for e in lt.fields { for r in e.roles where roles[r] == nil { roles[r] = e.name } }
        }
        let present = Set(fields.map(\.name))
        for f in fields {
            let u = f.name.replacingDots()
            if u != f.name && aliases[u] == nil && !present.contains(u) { aliases[u] = f.name }
            if !dataset.isEmpty {
                let ds = "zeek.\(dataset).\(f.name)"
                if aliases[ds] == nil { aliases[ds] = f.name }
            }
        }
        // Generic fallbacks for logs the catalog does not describe (or columns it does not know).
        let generic: [(String, [String], FieldRole?)] = [
            ("ts", ["@timestamp"], .timestamp), ("uid", ["zeek.session_id", "event.id"], .uid),
            ("id.orig_h", ["source.ip", "src_ip"], .sourceIP), ("id.orig_p", ["source.port", "src_port"], .sourcePort),
            ("id.resp_h", ["destination.ip", "dst_ip", "dest_ip"], .destinationIP),
            ("id.resp_p", ["destination.port", "dst_port", "dest_port"], .destinationPort),
            ("proto", ["network.transport"], .transport), ("_node_name", ["observer.name"], nil),
        ]
        for (native, names, role) in generic where present.contains(native) {
            for n in names where aliases[n] == nil && !present.contains(n) { aliases[n] = native }
            if let role, roles[role] == nil { roles[role] = native }
        }
        if roles[.timestamp] == nil || !present.contains(roles[.timestamp]!) {
            if let t = fields.first(where: { $0.type == .time }) { roles[.timestamp] = t.name }
        }
        return Schema(format: format, logType: logType, fields: fields, aliases: aliases, roles: roles,
                      logSources: logSources(for: logType))
    }
}

extension StringProtocol {
    /// Without leading spaces and tabs and trailing spaces, tabs and carriage returns (byte-wise).
    func trimmingSpaces() -> String {
        let whole = Substring(self)
        let u = whole.utf8
        var a = u.startIndex
        var b = u.endIndex
        while a < b, u[a] == 32 || u[a] == 9 { a = u.index(after: a) }
        while a < b {
            let p = u.index(before: b)
            guard u[p] == 32 || u[p] == 9 || u[p] == 13 else { break }
            b = p
        }
        return String(whole[a..<b])
    }

    /// Every `.` replaced by `_` (byte-wise).
    func replacingDots() -> String {
        String(decoding: utf8.map { $0 == 46 ? 95 : $0 }, as: UTF8.self)
    }
}
