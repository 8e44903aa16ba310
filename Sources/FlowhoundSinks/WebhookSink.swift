import CCurl
import FlowhoundCore

/// POSTs alerts to an HTTP(S) endpoint as JSON batches, through libcurl.
///
/// - Body: a JSON array of the alerts of one batch (each element is exactly the JSON-lines object), with
///   `Content-Type: application/json`. Repeats merged by suppression are not sent.
/// - Success is a 2xx status. Any other status is an error. Transport errors, 408, 429 and 5xx are retried up to
///   `retries` times with exponential backoff (`backoff` seconds, doubling, capped at `backoffMax`); other 4xx
///   fail at once (retrying cannot fix them). A batch that still fails is counted as failed and reported.
/// - TLS: the system's CA store, or `ca` (a PEM file) for a private CA; `insecure` turns verification off
///   (testing only). Redirects are not followed.
package final class WebhookSink: AlertSinkBackend {
    package let name: String
    let url: String
    let caFile: String?
    let insecure: Bool
    let headers: [String]
    let timeout: Double
    let retries: Int
    let backoff: Double
    let backoffMax: Double
    private var handle: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// Requests made, statuses seen (for tests and the summary).
    package private(set) var requests = 0

    /// libcurl's global set-up is not thread-safe: done once, before any worker runs.
    package static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    package init(
        url: String, name: String, caFile: String? = nil, insecure: Bool = false, headers: [String] = [],
        timeout: Double = 10, retries: Int = 4, backoff: Double = 0.5, backoffMax: Double = 30
    ) throws(SinkError) {
        self.url = url
        self.name = name
        self.caFile = caFile
        self.insecure = insecure
        self.headers = headers
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.backoffMax = backoffMax
        guard Self.globalInit, let h = curl_easy_init() else {
            throw SinkError(sink: name, code: "webhook_init", "libcurl could not be initialised")
        }
        handle = h
        if let caFile, access(caFile, R_OK) != 0 {
            throw SinkError(sink: name, code: "webhook_ca", "cannot read the CA file \(caFile)")
        }
        for line in ["Content-Type: application/json", "Expect:"] + headers {
            headerList = curl_slist_append(headerList, line)
        }
    }

    deinit { close() }

    package func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) {
        var body: [UInt8] = [0x5B]
        var n = 0
        for item in batch {
            guard case .alert(let f, _) = item else { continue }
            if n > 0 { body.append(0x2C) }
            var line = AlertFormatter.json(f)
            line.removeLast()
            body += line
            n += 1
        }
        if n == 0 { return }
        body.append(0x5D)
        var attempt = 0
        while true {
            let result = post(body)
            switch result {
            case .success: return
            case .failure(let message, let retryable):
                if !retryable || attempt >= retries || control.abandoned {
                    throw SinkError(
                        sink: name, code: "webhook_failed",
                        "\(message); \(n) alert\(n == 1 ? "" : "s") not delivered after \(attempt + 1) attempt\(attempt == 0 ? "" : "s")")
                }
                let wait = min(backoffMax, backoff * Double(1 << min(attempt, 20)))
                attempt += 1
                if !control.sleep(seconds: wait) {
                    throw SinkError(
                        sink: name, code: "webhook_failed", "\(message); gave up at shutdown, \(n) alerts not delivered")
                }
            }
        }
    }

    enum PostResult {
        case success
        case failure(String, retryable: Bool)
    }

    private func post(_ body: [UInt8]) -> PostResult {
        guard let h = handle else { return .failure("closed", retryable: false) }
        requests += 1
        curl_easy_reset(h)
        _ = flowhound_curl_setopt_string(h, CURLOPT_URL, url)
        _ = flowhound_curl_setopt_long(h, CURLOPT_POST, 1)
        _ = flowhound_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = flowhound_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        _ = flowhound_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        _ = flowhound_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(min(timeout, 5) * 1000))
        _ = flowhound_curl_setopt_string(h, CURLOPT_USERAGENT, "flowhound")
        _ = flowhound_curl_setopt_slist(h, CURLOPT_HTTPHEADER, headerList)
        _ = flowhound_curl_discard_body(h)
        if let caFile { _ = flowhound_curl_setopt_string(h, CURLOPT_CAINFO, caFile) }
        if insecure {
            _ = flowhound_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0)
            _ = flowhound_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0)
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let rc: CURLcode = body.withUnsafeBytes { p in
            errorBuffer.withUnsafeMutableBufferPointer { eb in
                _ = flowhound_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, eb.baseAddress)
                _ = flowhound_curl_setopt_long(h, CURLOPT_POSTFIELDSIZE, p.count)
                _ = flowhound_curl_setopt_pointer(h, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: p.baseAddress))
                let rc = curl_easy_perform(h)
                _ = flowhound_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, nil)
                return rc
            }
        }
        if rc != CURLE_OK {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(rc)) : detail
            return .failure("POST \(redacted): \(text)", retryable: true)
        }
        var code = 0
        _ = flowhound_curl_response_code(h, &code)
        if (200..<300).contains(code) { return .success }
        return .failure("POST \(redacted): HTTP status \(code)", retryable: code >= 500 || code == 408 || code == 429)
    }

    private var redacted: String { name }

    package func close() {
        if let h = handle { curl_easy_cleanup(h) }
        handle = nil
        if let l = headerList { curl_slist_free_all(l) }
        headerList = nil
    }
}
