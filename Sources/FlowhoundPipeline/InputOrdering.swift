import FlowhoundCore
import FlowhoundIngest
import FlowhoundParse

/// Puts inputs in log-time order before they are scanned, so that stateful rules (correlations, merge windows,
/// behavioural detectors) see one stream in time order even when the inputs are given newest first
/// (`auth.log auth.log.1 auth.log.2.gz`, which is also how they sort by name).
///
/// The key of an input is the time of its first event: up to 256 KiB of (decompressed) data are read and decoded
/// with the decoder the scan itself will use. Inputs whose first event time cannot be found (unknown format, no
/// timestamp in the first lines, unreadable) keep their place relative to each other and go after the timed
/// ones; standard input is never read ahead and stays where it was given. Ties keep the given order.
///
/// Inputs are still read one after another, not merged line by line: two inputs that cover the same hours
/// (a conn log and an auth log of the same day) are scanned back to back, and the engines' late-event tolerance
/// (`CorrelationPolicy.lateToleranceSeconds`) decides what the second one may still contribute.
package enum InputOrdering {
    package static func ordered(
        _ inputs: [InputSpec], forcedFormat: LogFormat?, context: (InputSpec) -> DecoderContext
    ) -> [InputSpec] {
        if inputs.count < 2 { return inputs }
        if inputs.contains(where: \.isStandardInput) { return inputs }
        let keyed = inputs.enumerated().map { (i, input) in
            (i, input, firstEventTime(path: input.path, forcedFormat: forcedFormat, context: context(input)))
        }
        return keyed.sorted { a, b in
            switch (a.2, b.2) {
            case let (x?, y?): return x != y ? x < y : a.0 < b.0
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.0 < b.0
            }
        }.map(\.1)
    }

    /// The timestamp of the first event in the first 256 KiB of `path`, or nil.
    package static func firstEventTime(path: String, forcedFormat: LogFormat?, context: DecoderContext) -> Timestamp? {
        guard case .success(let reader) = ChunkReader.open(path: path) else { return nil }
        let capacity = 256 << 10
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + 64)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0, count: capacity + 64)
        var filled = 0
        reading: while filled < capacity {
            switch reader.read(into: buf + filled, capacity: capacity - filled) {
            case .data(let n): filled += n
            case .end, .failed: break reading
            }
        }
        var record = EventRecord(capacity: 64)
        defer { record.deallocate() }
        var decoder: (any LineDecoder)?
        var start = 0
        var lines = 0
        while start < filled && lines < 2000 {
            var end = start
            while end < filled && buf[end] != 10 { end += 1 }
            if end == filled { break }  // partial last line: not decodable yet
            var n = end - start
            if n > 0 && buf[start + n - 1] == 13 { n -= 1 }
            lines += 1
            let p = UnsafePointer(buf + start)
            start = end + 1
            if n == 0 { continue }
            if decoder == nil {
                guard let format = forcedFormat ?? FormatSniffer.sniff(p, n, fileName: path),
                    let d = makeDecoder(format: format, fileName: path, requestedFields: [], maxLineLength: 1 << 20, context: context)
                else { return nil }
                decoder = d
            }
            guard let d = decoder else { return nil }
            record.ensureCapacity(d.schema.fieldCount)
            record.reset(fieldCount: d.schema.fieldCount)
            var outcome = d.decode(p, n, into: &record)
            if outcome == .schemaChanged {
                record.ensureCapacity(d.schema.fieldCount)
                record.reset(fieldCount: d.schema.fieldCount)
                outcome = d.decode(p, n, into: &record)
            }
            if outcome == .event, let t = record.timestamp { return t }
        }
        return nil
    }
}
