import FlowhoundCore

/// Decodes an input on a second thread while the caller frames and consumes it: the "one thread inflates,
/// another decodes and matches" pipeline for compressed input.
///
/// The producer thread owns the `ChunkReader` from `start` until it posts its last chunk (`.end` or
/// `.failed`); decoded bytes travel in a ring of `slots` buffers of `slotSize` bytes, so at most
/// `slots × slotSize` bytes are in flight. The consumer sees exactly the chunk sequence a direct
/// `read(into:capacity:)` loop would (same bytes, same final error after every byte before it), only cut
/// at other sizes; line framing does not depend on where chunks are cut.
final class ReadAhead: @unchecked Sendable {
    private let reader: ChunkReader
    private let lock = ConditionLock()
    private let slotSize: Int
    private let slots: Int
    private let buffers: UnsafeMutablePointer<UInt8>
    /// Filled slots as results, in order: `results[(head + i) % slots]` for i < ready.
    private var results: [ChunkReader.Chunk]
    private var head = 0
    private var ready = 0
    private var producerDone = false

    init(reader: ChunkReader, slots: Int = 4, slotSize: Int) {
        self.reader = reader
        self.slots = max(slots, 2)
        self.slotSize = max(slotSize, 4096)
        buffers = .allocate(capacity: self.slots * self.slotSize)
        results = Array(repeating: .end, count: self.slots)
    }

    deinit { buffers.deallocate() }

    /// Starts the producer; false when no thread could be created (then nothing was read).
    func start() -> Bool {
        startThread { [self] in produce() }
    }

    private func produce() {
        var slot = 0
        while true {
            lock.lock()
            while ready == slots { lock.wait() }
            lock.unlock()
            let chunk = reader.read(into: buffers + slot * slotSize, capacity: slotSize)
            lock.lock()
            results[slot] = chunk
            ready += 1
            let last: Bool
            if case .data = chunk { last = false } else { last = true }
            if last { producerDone = true }
            lock.broadcast()
            lock.unlock()
            if last { return }
            slot = (slot + 1) % slots
        }
    }

    /// Waits for the next chunk; for `.data(n)` the bytes are at the returned pointer until `release()`.
    func next() -> (ChunkReader.Chunk, UnsafePointer<UInt8>) {
        lock.lock()
        while ready == 0 { lock.wait() }
        let r = results[head]
        let p = UnsafePointer(buffers + head * slotSize)
        lock.unlock()
        return (r, p)
    }

    /// Gives the slot of the chunk `next()` returned back to the producer.
    func release() {
        lock.lock()
        head = (head + 1) % slots
        ready -= 1
        lock.broadcast()
        lock.unlock()
    }

    /// Whether the producer has posted its last chunk (then it no longer touches the reader).
    var finished: Bool {
        lock.lock()
        defer { lock.unlock() }
        return producerDone
    }
}

/// `ingestLines(from:options:into:)` with the decoding on a second thread (see `ReadAhead`); same lines,
/// summary and error. Falls back to the one-thread loop when no thread can be started.
@usableFromInline
package func ingestLinesReadingAhead<S: LineSink>(
    from reader: ChunkReader, options: IngestOptions = IngestOptions(), into sink: inout S
) -> (IngestSummary, IngestError?) {
    let framer = LineFramer(options: options)
    var error = reader.detect()
    if error == nil && options.startOffset > 0 {
        error = reader.skip(options.startOffset, scratch: framer.writePointer, capacity: framer.writableCount)
    }
    if error == nil {
        let ahead = ReadAhead(reader: reader, slotSize: options.outputChunkSize)
        if ahead.start() {
            reading: while true {
                let (chunk, bytes) = ahead.next()
                switch chunk {
                case .data(let n):
                    var done = 0
                    while done < n {
                        let w = min(framer.writableCount, n - done)
                        framer.writePointer.update(from: bytes + done, count: w)
                        framer.commit(w, into: &sink)
                        done += w
                    }
                    ahead.release()
                case .end:
                    break reading
                case .failed(let e):
                    error = e
                    break reading
                }
            }
            precondition(ahead.finished, "read-ahead producer still running after its last chunk")
        } else {
            error = readDirect(reader, framer, into: &sink)
        }
    }
    return finishIngest(reader: reader, framer: framer, error: error, into: &sink)
}
