/// A call to DreamClass that did not give an answer. Every case names the URL, which carries no
/// secret: the API key travels in a header.
public enum DreamClassError: Error, Sendable, CustomStringConvertible {
    /// The server answered with a status that is not retried (400, 404 of a list ...).
    case status(Int, url: String, excerpt: String)
    /// 401 or 403: the credentials are wrong; `credentials` says where they came from.
    case denied(Int, url: String, credentials: String)
    /// Every try failed with something retryable; `last` says what the last one was.
    case retriesExhausted(operation: APIOperation, url: String, attempts: Int, last: String)
    /// The body was not what the operation returns.
    case malformedResponse(url: String, reason: String, excerpt: String)
    /// The pages of a list disagreed on every read: DreamClass changed it faster than it could
    /// be read, or pages inconsistently.
    case inconsistentRead(url: String, attempts: Int, reason: String)
    /// A 429 asked to wait longer than the client is set to (`maxRetryAfter`).
    case throttled(url: String, retryAfter: Duration, cap: Duration)
    /// The run's deadline passed before the call could be answered.
    case deadlinePassed(url: String)

    public var description: String {
        switch self {
        case .status(let status, let url, let excerpt):
            "DreamClass answered HTTP \(status) for GET \(url)" + (excerpt.isEmpty ? "" : ": \(excerpt)") + Self.nextStep(status: status)
        case .denied(let status, let url, let credentials):
            "DreamClass answered HTTP \(status) for GET \(url): it refuses the credentials. Check \(credentials) "
                + "(`dreamclass-reconcile config check` tries them)"
        case .retriesExhausted(let operation, let url, let attempts, let last):
            "\(operation) failed after \(attempts) tries (GET \(url)); last: \(last). "
                + "What it covers stays unverified; the next run tries again (DREAMCLASS_MAX_ATTEMPTS sets the tries)"
        case .malformedResponse(let url, let reason, let excerpt):
            "unexpected response from GET \(url): \(reason)" + (excerpt.isEmpty ? "" : "; body starts: \(excerpt)")
                + ". `dreamclass-reconcile config check` shows what the API answers and which settings fit it"
        case .inconsistentRead(let url, let attempts, let reason):
            "GET \(url) read \(attempts) times, and its pages never agreed; last: \(reason). "
                + "The period stays unverified; run again when DreamClass is quieter, or raise DREAMCLASS_READ_ATTEMPTS"
        case .throttled(let url, let retryAfter, let cap):
            "DreamClass answered HTTP 429 for GET \(url) with Retry-After \(Int(retryAfter.seconds)) s, more than the \(Int(cap.seconds)) s this job waits (DREAMCLASS_MAX_RETRY_AFTER)"
        case .deadlinePassed(let url):
            "the run's deadline passed before GET \(url) was answered (a longer --deadline, or the file's `deadline`, gives it more time)"
        }
    }

    /// What to look at for a status that is not retried.
    private static func nextStep(status: Int) -> String {
        switch status {
        case 401, 403: ". Check DREAMCLASS_API_KEY and DREAMCLASS_SCHOOL_CODE (`dreamclass-reconcile config check` tries them)"
        case 404: ". Check DREAMCLASS_BASE_URL and the DREAMCLASS_PATH_* settings (`dreamclass-reconcile config check` tries them)"
        default: ""
        }
    }

    /// The first characters of a body, on one line, for an error message.
    static func excerpt(_ body: some Collection<UInt8>, limit: Int = 200) -> String {
        let text = String(decoding: body.prefix(limit), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        return body.count > limit ? text + "…" : text
    }
}
