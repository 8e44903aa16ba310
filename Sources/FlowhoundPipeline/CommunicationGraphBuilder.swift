import FlowhoundCore
import FlowhoundDetect
import FlowhoundIngest
import FlowhoundParse
import FlowhoundReport
import FlowhoundRules

/// Reads inputs once more for the report's communication graph: every flow view (Zeek conn and protocol logs,
/// firewall, VPC flow…) between two internal hosts, or from an internal host out, summed per
/// (source, destination, service).
///
/// Bounded: at most `capacity` distinct edges; flows of further edges are counted in `edgesDropped`.
final class CommunicationGraphBuilder {
    struct Key: Hashable {
        var src: IPAddress
        var dst: IPAddress
        var port: Int32
        var transport: Transport
    }

    struct Value {
        var connections = 0
        var bytes: Int64 = 0
        var first = Int64.max
        var last = Int64.min
    }

    let site: SiteConfiguration
    let capacity: Int
    let normaliser = EventNormaliser()
    var edges: [Key: Value] = [:]
    var edgesDropped = 0
    var flowsDropped = 0
    var lines: Int64 = 0
    var events: Int64 = 0

    init(site: SiteConfiguration, capacity: Int = 200_000) {
        self.site = site
        self.capacity = capacity
    }

    func observe(_ f: FlowView) {
        guard site.isInternal(f.src) else { return }
        let key = Key(src: f.src, dst: f.dst, port: f.dport, transport: f.transport)
        if edges[key] == nil && edges.count >= capacity {
            flowsDropped += 1
            if flowsDropped == 1 || flowsDropped % 1000 == 0 { edgesDropped += 1 }
            return
        }
        var v = edges[key] ?? Value()
        v.connections += 1
        if f.bytesOut > 0 { v.bytes += f.bytesOut }
        if f.bytesIn > 0 { v.bytes += f.bytesIn }
        v.first = min(v.first, f.ts)
        v.last = max(v.last, f.ts)
        edges[key] = v
    }

    /// Reads one input (errors are the scan's to report; here they only end the input).
    func read(_ input: InputSpec, forcedFormat: LogFormat?, maxLineLength: Int, context: DecoderContext) {
        var sink = GraphLineSink(builder: self, fileName: input.isStandardInput ? "" : input.path, forcedFormat: forcedFormat, maxLineLength: maxLineLength, context: context)
        var options = IngestOptions()
        options.maxLineLength = maxLineLength
        let (summary, _) = ingestLines(path: input.path, options: options, into: &sink)
        sink.finish()
        lines += summary.lines
    }

    var graphEdges: [GraphEdge] {
        edges.map { k, v in
            let service: String
            switch k.transport {
            case .icmp: service = "icmp"
            case .tcp: service = "\(k.port)/tcp"
            case .udp: service = "\(k.port)/udp"
            case .other: service = k.port >= 0 ? "\(k.port)" : "other"
            }
            return GraphEdge(
                source: k.src.description, destination: k.dst.description, service: service, connections: v.connections,
                bytes: v.bytes, first: Timestamp(nanoseconds: v.first), last: Timestamp(nanoseconds: v.last))
        }
    }
}

struct GraphLineSink: LineSink {
    let builder: CommunicationGraphBuilder
    let fileName: String
    let forcedFormat: LogFormat?
    let maxLineLength: Int
    let context: DecoderContext
    var decoder: (any LineDecoder)?
    var plan: SchemaPlan?
    var record = EventRecord(capacity: 64)
    var gaveUp = false

    init(builder: CommunicationGraphBuilder, fileName: String, forcedFormat: LogFormat?, maxLineLength: Int, context: DecoderContext) {
        self.builder = builder
        self.fileName = fileName
        self.forcedFormat = forcedFormat
        self.maxLineLength = maxLineLength
        self.context = context
    }

    mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
        if decoder == nil {
            if gaveUp || count == 0 { return }
            guard let format = forcedFormat ?? FormatSniffer.sniff(bytes, count, fileName: fileName),
                let d = makeDecoder(format: format, fileName: fileName, requestedFields: [], maxLineLength: maxLineLength, context: context)
            else {
                gaveUp = true
                return
            }
            decoder = d
            adopt(d.schema)
        }
        guard let decoder else { return }
        record.reset(fieldCount: decoder.schema.fieldCount)
        var outcome = decoder.decode(bytes, count, into: &record)
        if outcome == .schemaChanged {
            adopt(decoder.schema)
            record.reset(fieldCount: decoder.schema.fieldCount)
            outcome = decoder.decode(bytes, count, into: &record)
        }
        guard outcome == .event, let plan, plan.kinds.contains(.flow) else { return }
        builder.events += 1
        if let f = EventNormaliser.flow(record, plan) { builder.observe(f) }
    }

    mutating func adopt(_ schema: Schema) {
        record.ensureCapacity(schema.fieldCount)
        plan = builder.normaliser.plan(for: schema)
    }

    func finish() { record.deallocate() }
}
