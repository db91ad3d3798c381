import Foundation

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
    /// The largest response body accepted.
    public var maxBodyBytes: Int

    public struct Paths: Sendable, Equatable {
        /// GetSchoolPeriods, fairly sure.
        public var periods = "/curriculum/schoolperiods/list"
        /// GetPeriodStudents, assumed.
        public var periodStudents = "/students/schoolperiod/{periodId}/list"
        /// GetStudent, assumed.
        public var student = "/students/records/{studentId}"

        public init() {}
    }

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
        requestsPerSecond: Double? = nil, caBundlePath: String? = nil, maxBodyBytes: Int = 64 << 20
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
    }

    /// Reads `DREAMCLASS_BASE_URL`, `DREAMCLASS_API_KEY` (or the file named by
    /// `DREAMCLASS_API_KEY_FILE`), `DREAMCLASS_SCHOOL_CODE`, `DREAMCLASS_TENANT`, and the optional
    /// `DREAMCLASS_PATH_PERIODS`, `DREAMCLASS_PATH_PERIOD_STUDENTS`, `DREAMCLASS_PATH_STUDENT`,
    /// `DREAMCLASS_HEADER_API_KEY`, `DREAMCLASS_HEADER_SCHOOL_CODE`, `DREAMCLASS_HEADER_TENANT`,
    /// `DREAMCLASS_PAGE_SIZE`, `DREAMCLASS_CONCURRENCY`, `DREAMCLASS_MAX_RPS`, `DREAMCLASS_TIMEOUT`
    /// (seconds), `DREAMCLASS_MAX_ATTEMPTS`, `DREAMCLASS_CA_BUNDLE`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> DreamClassConfiguration {
        func required(_ name: String) throws(ConfigurationError) -> String {
            guard let value = environment[name], !value.isEmpty else { throw .missing(name) }
            return value
        }
        func number<T: LosslessStringConvertible>(_ name: String, _ type: T.Type) throws(ConfigurationError) -> T? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = T(text) else { throw .invalid(name, text) }
            return value
        }
        let apiKey: String
        if let key = environment["DREAMCLASS_API_KEY"], !key.isEmpty {
            apiKey = key
        } else if let path = environment["DREAMCLASS_API_KEY_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .unreadable("DREAMCLASS_API_KEY_FILE", path) }
            apiKey = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw .missing("DREAMCLASS_API_KEY")
        }
        var configuration = DreamClassConfiguration(
            baseURL: environment["DREAMCLASS_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultBaseURL,
            apiKey: apiKey, schoolCode: try required("DREAMCLASS_SCHOOL_CODE"), tenant: try required("DREAMCLASS_TENANT")
        )
        if let path = environment["DREAMCLASS_PATH_PERIODS"] { configuration.paths.periods = path }
        if let path = environment["DREAMCLASS_PATH_PERIOD_STUDENTS"] { configuration.paths.periodStudents = path }
        if let path = environment["DREAMCLASS_PATH_STUDENT"] { configuration.paths.student = path }
        if let name = environment["DREAMCLASS_HEADER_API_KEY"] { configuration.headers.apiKey = name }
        if let name = environment["DREAMCLASS_HEADER_SCHOOL_CODE"] { configuration.headers.schoolCode = name }
        if let name = environment["DREAMCLASS_HEADER_TENANT"] { configuration.headers.tenant = name }
        if let size = try number("DREAMCLASS_PAGE_SIZE", Int.self) { configuration.pageSize = size }
        if let value = try number("DREAMCLASS_CONCURRENCY", Int.self) { configuration.concurrency = max(1, value) }
        if let value = try number("DREAMCLASS_MAX_RPS", Double.self) { configuration.requestsPerSecond = value }
        if let value = try number("DREAMCLASS_TIMEOUT", Double.self) { configuration.timeout = .milliseconds(Int(value * 1000)) }
        if let value = try number("DREAMCLASS_MAX_ATTEMPTS", Int.self) { configuration.maxAttempts = max(1, value) }
        if let path = environment["DREAMCLASS_CA_BUNDLE"], !path.isEmpty { configuration.caBundlePath = path }
        return configuration
    }
}

/// A setting that is missing or malformed. Names the setting, never a secret's value.
public enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(String)
    case invalid(String, String)
    case unreadable(String, String)

    public var description: String {
        switch self {
        case .missing(let name): "\(name) is not set"
        case .invalid(let name, let value): "\(name) has an invalid value \"\(value)\""
        case .unreadable(let name, let path): "\(name) names \(path), which cannot be read"
        }
    }
}
