import FlowhoundCore
import FlowhoundParse

/// A decoder held for the per-line call: the strong reference, the Zeek TSV / JSON decoder by concrete type (decoded
/// sparsely, decoded in full for a match), and unretained views of the concrete decoders that are called directly.
/// Shared by the scan sinks (`ScanSink`, `ScanStage`, the merge workers' timestamp stage).
struct DecoderRefs {
    private(set) var decoder: (any LineDecoder)?
    private(set) var tsv: ZeekTSVDecoder?
    private(set) var json: ZeekJSONDecoder?
    /// Unretained views (no reference counting per line; `decoder` keeps the object alive).
    private var tsvRef: Unmanaged<ZeekTSVDecoder>?
    private var jsonRef: Unmanaged<ZeekJSONDecoder>?
    /// The decoder when it is the syslog one (called directly; it clears the record itself).
    private(set) var syslogRef: Unmanaged<SyslogDecoder>?

    init() {}

    init(_ d: any LineDecoder) {
        decoder = d
        tsv = d as? ZeekTSVDecoder
        json = d as? ZeekJSONDecoder
        tsvRef = tsv.map { Unmanaged.passUnretained($0) }
        jsonRef = json.map { Unmanaged.passUnretained($0) }
        syslogRef = (d as? SyslogDecoder).map { Unmanaged.passUnretained($0) }
    }

    /// Decodes one line into `record`; any other decoder than the direct ones gets `record` reset to `fieldCount`
    /// slots first. `.skipped` when there is no decoder yet.
    @inline(__always)
    func decode(
        _ bytes: UnsafePointer<UInt8>, _ count: Int, fieldCount: Int, into record: inout EventRecord
    ) -> DecodeOutcome {
        if let tsvRef { return tsvRef._withUnsafeGuaranteedRef { $0.decode(bytes, count, into: &record) } }
        if let jsonRef { return jsonRef._withUnsafeGuaranteedRef { $0.decode(bytes, count, into: &record) } }
        if let syslogRef { return syslogRef._withUnsafeGuaranteedRef { $0.decode(bytes, count, into: &record) } }
        guard let decoder else { return .skipped }
        record.reset(fieldCount: fieldCount)
        return decoder.decode(bytes, count, into: &record)
    }
}
