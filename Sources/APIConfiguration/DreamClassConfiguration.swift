import Foundation
import Models

/// How to reach one school's DreamClass REST API.
///
/// The REST reference could not be read when this was written: the paths of GetPeriodStudents and
/// GetStudent, the header names and paging are assumptions (see the README), and every one of them
/// is a setting here so that a user can correct it without a new build.
public struct DreamClassConfiguration: Sendable {
    /// Fairly sure: `https://api.dreamclass.io/dreamclassapi/v1`.
    public var baseURL: String
    public var apiKey: String
    public var schoolCode: String
    public var tenant: String

    /// Path templates below `baseURL`; `{periodId}` and `{studentId}` are replaced.
    public var paths: Paths
    /// The names of the three auth headers.
    public var headers: HeaderNames

    /// Asked for with `page`/`size` on list calls; 0 sends no paging parameters.
    public var pageSize: Int
    /// The number of the first page: 0 in Spring's convention.
    public var firstPage: Int
    /// The longest a page may be followed before the response is called malformed.
    public var maxPages: Int

    /// Per request, from the first byte sent to the last byte of the body.
    public var timeout: Duration
    /// Tries per call, the first included.
    public var maxAttempts: Int
    /// Backoff before try n+1 is a random wait in [0, min(backoffCap, backoffBase × 2^n)] (full
    /// jitter), or the server's `Retry-After` when that is longer.
    public var backoffBase: Duration
    public var backoffCap: Duration
    /// Requests in flight at once, across all calls of a run.
    public var concurrency: Int
    /// An optional cap on requests started per second.
    public var requestsPerSecond: Double?
    /// A PEM file of CA certificates to trust instead of the system's. Verification is always on.
    public var caBundlePath: String?
    /// Where the API key and school code came from, in the user's words, for the message of a 401.
    public var credentialSource = "DREAMCLASS_API_KEY (or DREAMCLASS_API_KEY_FILE) and DREAMCLASS_SCHOOL_CODE"
    /// The largest response body accepted.
    public var maxBodyBytes: Int
    /// Reads of one list, the first included, while its pages disagree (``PagedRead``).
    public var readAttempts: Int
    /// The longest `Retry-After` honoured; a 429 asking for more fails the call at once.
    public var maxRetryAfter: Duration

    /// The API's paths, relative to the base URL; assumed (see `dreamclass-api.md`), so settable.
    public struct Paths: Sendable, Equatable {
        /// GetSchoolPeriods, fairly sure.
        public var periods = "/curriculum/schoolperiods/list"
        /// GetPeriodStudents, assumed.
        public var periodStudents = "/students/schoolperiod/{periodId}/list"
        /// GetStudent, assumed.
        public var student = "/students/records/{studentId}"

        public init() {}
    }

    /// The names of the headers that carry the credentials; assumed, so settable.
    public struct HeaderNames: Sendable, Equatable {
        public var apiKey = "dreamclass-secret-key"
        public var schoolCode = "schoolCode"
        public var tenant = "tenant"

        public init() {}
    }

    public static let defaultBaseURL = "https://api.dreamclass.io/dreamclassapi/v1"

    public init(
        baseURL: String = DreamClassConfiguration.defaultBaseURL, apiKey: String, schoolCode: String, tenant: String,
        paths: Paths = Paths(), headers: HeaderNames = HeaderNames(), pageSize: Int = 500, firstPage: Int = 0,
        maxPages: Int = 10_000, timeout: Duration = .seconds(30), maxAttempts: Int = 5,
        backoffBase: Duration = .milliseconds(500), backoffCap: Duration = .seconds(30), concurrency: Int = 8,
        requestsPerSecond: Double? = nil, caBundlePath: String? = nil, maxBodyBytes: Int = 64 << 20,
        readAttempts: Int = 3, maxRetryAfter: Duration = .seconds(300)
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.schoolCode = schoolCode
        self.tenant = tenant
        self.paths = paths
        self.headers = headers
        self.pageSize = pageSize
        self.firstPage = firstPage
        self.maxPages = maxPages
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.concurrency = max(1, concurrency)
        self.requestsPerSecond = requestsPerSecond
        self.caBundlePath = caBundlePath
        self.maxBodyBytes = maxBodyBytes
        self.readAttempts = max(1, readAttempts)
        self.maxRetryAfter = maxRetryAfter
    }

    /// Reads `DREAMCLASS_BASE_URL`, `DREAMCLASS_API_KEY` (or the file named by
    /// `DREAMCLASS_API_KEY_FILE`), `DREAMCLASS_SCHOOL_CODE`, `DREAMCLASS_TENANT`, and the optional
    /// settings ``apply(environment:)`` reads.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> DreamClassConfiguration {
        var configuration = DreamClassConfiguration(apiKey: "", schoolCode: "", tenant: "")
        try configuration.apply(environment: environment)
        try configuration.requireCredentials()
        return configuration
    }

    /// Throws, naming the variable, when the API key, school code or tenant is missing.
    public func requireCredentials() throws(ConfigurationError) {
        if apiKey.isEmpty { throw .missing("DREAMCLASS_API_KEY") }
        if schoolCode.isEmpty { throw .missing("DREAMCLASS_SCHOOL_CODE") }
        if tenant.isEmpty { throw .missing("DREAMCLASS_TENANT") }
    }

    /// Overrides what the environment sets (empty counts as unset): `DREAMCLASS_BASE_URL`,
    /// `DREAMCLASS_API_KEY` or `DREAMCLASS_API_KEY_FILE`, `DREAMCLASS_SCHOOL_CODE`,
    /// `DREAMCLASS_TENANT`, `DREAMCLASS_PATH_PERIODS`, `DREAMCLASS_PATH_PERIOD_STUDENTS`,
    /// `DREAMCLASS_PATH_STUDENT`, `DREAMCLASS_HEADER_API_KEY`, `DREAMCLASS_HEADER_SCHOOL_CODE`,
    /// `DREAMCLASS_HEADER_TENANT`, `DREAMCLASS_PAGE_SIZE`, `DREAMCLASS_CONCURRENCY`,
    /// `DREAMCLASS_MAX_RPS`, `DREAMCLASS_TIMEOUT` (seconds), `DREAMCLASS_MAX_ATTEMPTS`,
    /// `DREAMCLASS_READ_ATTEMPTS`, `DREAMCLASS_MAX_RETRY_AFTER` (seconds), `DREAMCLASS_CA_BUNDLE`.
    /// A number out of its range is an error naming the variable.
    public mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        func value(_ name: String) -> String? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            return text
        }
        func number<T: LosslessStringConvertible & Comparable>(_ name: String, _ range: ClosedRange<T>) throws(ConfigurationError) -> T? {
            guard let text = value(name) else { return nil }
            guard let number = T(text), range.contains(number) else { throw .invalid(name, text, expected: "\(range.lowerBound) to \(range.upperBound)") }
            return number
        }
        if let url = value("DREAMCLASS_BASE_URL") {
            if let problem = EndpointURL.problem(url) { throw .badURL("DREAMCLASS_BASE_URL", problem: problem) }
            baseURL = url
        }
        if let key = try Self.secret("DREAMCLASS_API_KEY", environment: environment) { apiKey = key }
        if let code = value("DREAMCLASS_SCHOOL_CODE") { schoolCode = code }
        if let name = value("DREAMCLASS_TENANT") { tenant = name }
        if let path = value("DREAMCLASS_PATH_PERIODS") { paths.periods = path }
        if let path = value("DREAMCLASS_PATH_PERIOD_STUDENTS") { paths.periodStudents = path }
        if let path = value("DREAMCLASS_PATH_STUDENT") { paths.student = path }
        if let name = value("DREAMCLASS_HEADER_API_KEY") { headers.apiKey = name }
        if let name = value("DREAMCLASS_HEADER_SCHOOL_CODE") { headers.schoolCode = name }
        if let name = value("DREAMCLASS_HEADER_TENANT") { headers.tenant = name }
        if let size = try number("DREAMCLASS_PAGE_SIZE", Limits.pageSize) { pageSize = size }
        if let count = try number("DREAMCLASS_CONCURRENCY", Limits.concurrency) { concurrency = count }
        if let rate = try number("DREAMCLASS_MAX_RPS", Limits.requestsPerSecond) { requestsPerSecond = rate }
        if let seconds = try number("DREAMCLASS_TIMEOUT", Limits.timeoutSeconds) { timeout = .seconds(seconds) }
        if let count = try number("DREAMCLASS_MAX_ATTEMPTS", Limits.attempts) { maxAttempts = count }
        if let count = try number("DREAMCLASS_READ_ATTEMPTS", Limits.attempts) { readAttempts = count }
        if let seconds = try number("DREAMCLASS_MAX_RETRY_AFTER", Limits.retryAfterSeconds) { maxRetryAfter = .seconds(seconds) }
        if let path = value("DREAMCLASS_CA_BUNDLE") { caBundlePath = path }
    }

    /// A secret from the variable `name`, or else from the file named by `name_FILE`: the one way
    /// the product reads a secret (API key, webhook secret, passwords). Empty counts as unset.
    public static func secret(_ name: String, environment: [String: String]) throws(ConfigurationError) -> String? {
        if let value = environment[name], !value.isEmpty {
            guard isOneLine(value) else { throw .notOneLine(name, file: nil) }
            return value
        }
        guard let path = environment[name + "_FILE"], !path.isEmpty else { return nil }
        return try readSecret(file: path, setting: name + "_FILE")
    }

    /// A secret from a file: its content, trimmed, which must be one line of printable text.
    public static func readSecret(file path: String, setting: String) throws(ConfigurationError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .unreadable(setting, path) }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard isOneLine(secret) else { throw .notOneLine(setting, file: path) }
        return secret
    }

    /// Whether a secret can travel as an HTTP header value: no line break, no control byte. A
    /// key file with a second line would otherwise reach the HTTP client, whose error prints the
    /// header whole.
    public static func isOneLine(_ secret: String) -> Bool {
        !secret.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}

/// The ranges the numeric settings take, wherever they are set (environment, file, flag).
public enum Limits {
    public static let pageSize = 0...100_000
    public static let concurrency = 1...256
    public static let requestsPerSecond = 0.001...100_000.0
    public static let timeoutSeconds = 0.001...86_400.0
    public static let attempts = 1...100
    public static let retryAfterSeconds = 0.0...86_400.0
}

/// A setting that is missing or malformed. Names the setting, never a secret's value.
public enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(String)
    /// A secret a flag needs (the flag is the second value).
    case required(String, by: String)
    case invalid(String, String, expected: String)
    case unreadable(String, String)
    /// A URL setting that is not a usable http(s) URL; the URL itself is not repeated.
    case badURL(String, problem: String)
    /// A secret of more than one line, or with a control byte; its content is not repeated.
    case notOneLine(String, file: String?)

    public var description: String {
        switch self {
        case .missing(let name): "\(name) is not set: set it (or \(name)_FILE) in the environment, or use --config"
        case .required(let name, let flag): "\(flag) needs \(name): set it (or \(name)_FILE) in the environment"
        case .invalid(let name, let value, let expected): "\(name) has an invalid value \"\(value)\" (expected \(expected))"
        case .unreadable(let name, let path): "\(name) names \(path), which cannot be read: check the path, and that this user may read it"
        case .badURL(let name, let problem): "\(name) \(problem)"
        case .notOneLine(let name, let file):
            (file.map { "\(name) names \($0), whose content" } ?? "\(name)")
                + " is not one line of printable text (a second line, or a control byte): a secret must be a single line; the content is not shown"
        }
    }
}
