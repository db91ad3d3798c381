import AsyncHTTPClient
import Foundation
import Logging
import Models
import NIOCore
import NIOHTTP1
import NIOSSL

/// The DreamClass REST API: list periods, GetPeriodStudents, GetStudent.
///
/// One shared `HTTPClient` for all calls of a run (call ``shutdown()`` when done), a bound on the
/// requests in flight across all of them, retries with backoff on what says "later" (429, 5xx,
/// timeouts, dropped connections, a truncated body), and a count of every call in ``statistics``.
/// TLS certificates are always verified.
public final class DreamClassClient: Sendable {
    public let configuration: DreamClassConfiguration
    public let statistics = CallStatistics()
    private let http: HTTPClient
    private let limiter: RequestLimiter
    private let retry: RetryPolicy
    private let logger: Logger
    /// No call goes on past this: a retry that would wait beyond it fails at once, and a request
    /// in flight is cut off at it. `nil`: calls end only by their own timeouts and tries.
    public let deadline: ContinuousClock.Instant?

    public init(
        configuration: DreamClassConfiguration, deadline: ContinuousClock.Instant? = nil, logger: Logger = Logger(label: "dreamclass")
    ) throws {
        // Every way in checks the URL first; this is the last guard before NIO, which traps on a bad port.
        if let problem = EndpointURL.problem(configuration.baseURL) {
            throw ConfigurationError.badURL("the base URL", problem: problem)
        }
        self.configuration = configuration
        self.deadline = deadline
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if let path = configuration.caBundlePath { tls.trustRoots = .file(path) }
        var http = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        http.timeout = .init(connect: .seconds(10), read: TimeAmount(configuration.timeout))
        // The limiter bounds requests; let the pool keep that many connections open.
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.concurrency)
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        limiter = RequestLimiter(concurrency: configuration.concurrency, requestsPerSecond: configuration.requestsPerSecond)
        retry = RetryPolicy(maxAttempts: configuration.maxAttempts, base: configuration.backoffBase, cap: configuration.backoffCap)
    }

    /// Runs `body` with a new client and shuts it down afterwards, whether `body` returns or throws
    /// (a client dropped without `shutdown()` is a crash in AsyncHTTPClient's debug builds).
    public static func withClient<T: Sendable>(
        configuration: DreamClassConfiguration, deadline: ContinuousClock.Instant? = nil, logger: Logger = Logger(label: "dreamclass"),
        _ body: (DreamClassClient) async throws -> T
    ) async throws -> T {
        let client = try DreamClassClient(configuration: configuration, deadline: deadline, logger: logger)
        do {
            let value = try await body(client)
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Closes the connections. Call once, after the last request.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// GetSchoolPeriods: every period of the school.
    public func periods() async throws -> [Period] {
        try await list(.listPeriods, path: configuration.paths.periods, id: \.id)
    }

    /// GetPeriodStudents: every enrollment of a period, all pages, read again until the pages
    /// agree (see ``PagedRead``).
    public func periodStudents(periodId: Int) async throws -> [Enrollment] {
        try await list(.periodStudents, path: configuration.paths.periodStudents.replacingOccurrences(of: "{periodId}", with: String(periodId)),
                       id: \.id, fast: RosterJSON.page)
    }

    /// GetStudent; a 404 is ``StudentLookup/notFound(id:)``.
    public func student(id: Int) async throws -> StudentLookup {
        let path = configuration.paths.student.replacingOccurrences(of: "{studentId}", with: String(id))
        let student = try await fetch(.student, url: url(path), notFoundIsValue: true) { body, url in
            try Self.decode(Student.self, from: body, url: url)
        }
        return student.map { .found($0) } ?? .notFound(id: id)
    }

    /// Probes the API for ``APIProbe``: the period list, one roster's first page at each of
    /// ``APIProbe/pageSizes``, and GetStudent on one of its students. For `config check` only;
    /// `run` makes none of these calls.
    public func probe() async throws -> APIProbe {
        let periods = try await self.periods()
        var probe = APIProbe(periods: periods.count)
        for period in periods {
            let path = configuration.paths.periodStudents.replacingOccurrences(of: "{periodId}", with: String(period.id))
            var rows: [Int: Int] = [:]
            var firstRow: Enrollment?
            for size in APIProbe.pageSizes {
                let pageURL = url(path, query: [("page", String(configuration.firstPage)), ("size", String(size))])
                let page = try await fetch(.periodStudents, url: pageURL, notFoundIsValue: false) { body, url in
                    try Self.decode(ListPage<Enrollment>.self, from: body, url: url)
                }
                switch page {
                case .array(let all)?:
                    probe.rosterSize = all.count
                    firstRow = all.first
                case .page(let content, _, _, let total)?:
                    rows[size] = content.count
                    probe.rosterSize = total
                    firstRow = firstRow ?? content.first
                case nil:
                    break
                }
                if case .array? = page { break }
            }
            guard let row = firstRow else { continue }
            probe.period = period.id
            probe.pageRows = rows.isEmpty ? nil : rows
            do {
                switch try await student(id: row.studentId) {
                case .found: probe.student = "found (student \(row.studentId))"
                case .notFound: probe.student = "not found (student \(row.studentId))"
                }
            } catch {
                probe.student = "failed: \(error)"
            }
            break
        }
        return probe
    }

    // MARK: - Lists and pages

    /// A whole list, read again (up to `readAttempts` times, with the retry policy's backoff)
    /// while its pages disagree: rows that moved between pages during the read are never taken
    /// for rows that are gone.
    ///
    /// `fast` reads a page when it can (`nil` when it cannot); `JSONDecoder` reads the rest.
    private func list<Row: Decodable & Sendable>(
        _ operation: APIOperation, path: String, id: (Row) -> Int, fast: (([UInt8]) -> ListPage<Row>?)? = nil
    ) async throws -> [Row] {
        var random = SystemRandomNumberGenerator()
        let attempts = max(1, configuration.readAttempts)
        for read in 1...attempts {
            let (rows, pages) = try await readPages(operation, path: path, id: id, fast: fast)
            guard let problem = PagedRead(pages: pages).inconsistency else { return rows }
            guard read < attempts else {
                throw DreamClassError.inconsistentRead(url: url(path), attempts: read, reason: problem)
            }
            statistics.recordReread()
            logger.info("the pages of a list disagreed; reading it again", metadata: ["url": "\(url(path))", "reason": "\(problem)"])
            try await pause(retry.delay(afterAttempt: read, retryAfter: nil, using: &random), before: url(path))
        }
        preconditionFailure("the last read returns or throws")
    }

    /// One read of a list: a bare array, or a page envelope followed to its last page.
    private func readPages<Row: Decodable & Sendable>(
        _ operation: APIOperation, path: String, id: (Row) -> Int, fast: (([UInt8]) -> ListPage<Row>?)?
    ) async throws -> ([Row], [PagedRead.Page]) {
        var rows: [Row] = []
        var pages: [PagedRead.Page] = []
        var page = configuration.firstPage
        for _ in 0..<configuration.maxPages {
            // Paging is asked for when configured, and followed whenever the server pages anyway.
            let paged = configuration.pageSize > 0 || page != configuration.firstPage
            let pageURL = url(path, query: paged ? [("page", String(page)), ("size", String(max(configuration.pageSize, 1)))] : [])
            let result = try await fetch(operation, url: pageURL, notFoundIsValue: false) { body, url in
                try fast?(body) ?? Self.decode(ListPage<Row>.self, from: body, url: url)
            }
            guard let result else { throw DreamClassError.status(404, url: pageURL, excerpt: "") }
            switch result {
            case .array(let all):
                return (all, [PagedRead.Page(totalElements: nil, totalPages: nil, ids: all.map(id))])
            case .page(let content, let last, let totalPages, let totalElements):
                rows += content
                pages.append(PagedRead.Page(totalElements: totalElements, totalPages: totalPages, ids: content.map(id)))
                let done = last ?? (page + 1 - configuration.firstPage >= totalPages ?? 0)
                if done || content.isEmpty { return (rows, pages) }
                page += 1
            }
        }
        throw DreamClassError.malformedResponse(
            url: url(path), reason: "more than \(configuration.maxPages) pages; the page envelope never said it was the last", excerpt: ""
        )
    }

    static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], url: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            throw DreamClassError.malformedResponse(url: url, reason: error.summary, excerpt: DreamClassError.excerpt(body))
        }
    }

    // MARK: - One call, with retries

    /// GETs `url` and decodes the body, trying again on what is retryable. `nil` is a 404 when
    /// `notFoundIsValue`.
    private func fetch<T: Sendable>(
        _ operation: APIOperation, url: String, notFoundIsValue: Bool, decode: ([UInt8], String) throws -> T
    ) async throws -> T? {
        var random = SystemRandomNumberGenerator()
        var last = ""
        var lastMalformed: DreamClassError?
        for attempt in 1...retry.maxAttempts {
            try Task.checkCancellation()
            if deadline.passes() { throw DreamClassError.deadlinePassed(url: url) }
            var retryAfter: Duration?
            do {
                let (status, headers, body) = try await send(operation, url: url)
                switch status {
                case 200..<300:
                    do {
                        return try decode(body, url)
                    } catch let error as DreamClassError {
                        // A truncated or garbled body is as likely a broken connection as a
                        // broken server: worth another try, and an error of its own at the end.
                        lastMalformed = error
                        last = error.description
                    }
                case 404 where notFoundIsValue:
                    return nil
                case let status where RetryPolicy.retryableStatuses.contains(status):
                    retryAfter = RetryPolicy.parseRetryAfter(headers.first(name: "Retry-After"))
                    if let retryAfter, retryAfter > configuration.maxRetryAfter {
                        // Waiting a day helps nobody: the night's window is shorter.
                        throw DreamClassError.throttled(url: url, retryAfter: retryAfter, cap: configuration.maxRetryAfter)
                    }
                    last = "HTTP \(status)"
                    lastMalformed = nil
                case 401, 403:
                    // The body is not quoted: a server may echo the request's headers, the key among them.
                    throw DreamClassError.denied(status, url: url, credentials: configuration.credentialSource)
                default:
                    throw DreamClassError.status(status, url: url, excerpt: redacted(DreamClassError.excerpt(body)))
                }
            } catch let error as TransportFailure {
                last = error.description
                lastMalformed = nil
            }
            guard attempt < retry.maxAttempts else { break }
            let wait = retry.delay(afterAttempt: attempt, retryAfter: retryAfter, using: &random)
            statistics.recordRetry()
            logger.debug("retrying", metadata: ["operation": "\(operation)", "url": "\(url)", "after": "\(last)", "wait": "\(wait)"])
            try await pause(wait, before: url)
        }
        if let lastMalformed { throw lastMalformed }
        throw DreamClassError.retriesExhausted(operation: operation, url: url, attempts: retry.maxAttempts, last: last)
    }

    /// Sleeps before another try of `url`, unless that would pass the deadline.
    private func pause(_ wait: Duration, before url: String) async throws {
        if deadline.passes(within: wait) { throw DreamClassError.deadlinePassed(url: url) }
        try await Task.sleep(for: wait)
    }

    /// One HTTP request, inside the concurrency bound.
    private func send(_ operation: APIOperation, url: String) async throws -> (Int, HTTPHeaders, [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: configuration.headers.apiKey, value: configuration.apiKey)
        request.headers.add(name: configuration.headers.schoolCode, value: configuration.schoolCode)
        request.headers.add(name: configuration.headers.tenant, value: configuration.tenant)
        request.headers.add(name: "Accept", value: "application/json")
        await limiter.acquire()
        do {
            let deadline = NIODeadline.now() + TimeAmount(self.deadline.bound(configuration.timeout))
            let response = try await http.execute(request, deadline: deadline, logger: logger)
            let body = try await response.body.collect(upTo: configuration.maxBodyBytes)
            await limiter.release()
            statistics.record(operation, outcome: String(response.status.code))
            return (Int(response.status.code), response.headers, Array(buffer: body))
        } catch {
            await limiter.release()
            let failure = TransportFailure(error)
            statistics.record(operation, outcome: failure.outcome)
            if failure.isPermanent {
                throw DreamClassError.status(0, url: url, excerpt: failure.description)
            }
            throw failure
        }
    }

    /// A server's words without the API key: a server may echo the request's headers.
    private func redacted(_ text: String) -> String {
        configuration.apiKey.count < 4 ? text : text.replacingOccurrences(of: configuration.apiKey, with: "[redacted]")
    }

    private func url(_ path: String, query: [(String, String)] = []) -> String {
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let joined = base + (path.hasPrefix("/") ? path : "/" + path)
        guard !query.isEmpty else { return joined }
        let allowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))
        return joined + (joined.contains("?") ? "&" : "?") + query.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)"
        }.joined(separator: "&")
    }
}

/// A request that got no HTTP answer: a timeout or a connection failure.
struct TransportFailure: Error, CustomStringConvertible {
    var outcome: String
    var description: String
    /// A certificate that does not verify will not verify on the next try either.
    var isPermanent: Bool

    init(_ error: any Error) {
        switch error {
        case let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(error):
            outcome = "timeout"
            description = "timed out (\(error))"
            isPermanent = false
        case let error as NIOSSLError:
            outcome = "tls"
            description = "TLS failed: \(error)"
            isPermanent = true
        case let error as BoringSSLError:
            outcome = "tls"
            description = "TLS failed: \(error)"
            isPermanent = true
        case let error as IOError:
            // NIO's own text reads "connection reset (error set): Connection refused) (errno: 111)".
            outcome = "connection"
            description = "connection failed: \(String(cString: strerror(error.errnoCode)))"
            isPermanent = false
        default:
            outcome = "connection"
            description = "connection failed: \(error)"
            isPermanent = false
        }
    }
}

/// A list response: a bare JSON array, or a Spring-style page envelope.
enum ListPage<Row: Decodable & Sendable>: Decodable, Sendable {
    case array([Row])
    case page(content: [Row], last: Bool?, totalPages: Int?, totalElements: Int?)

    private enum Keys: String, CodingKey { case content, last, totalPages, totalElements }

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var rows: [Row] = []
            while !array.isAtEnd { rows.append(try array.decode(Row.self)) }
            self = .array(rows)
            return
        }
        guard let object = try? decoder.container(keyedBy: Keys.self), object.contains(.content) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "expected a JSON array, or a page envelope with \"content\""))
        }
        let last = try object.decodeIfPresent(Bool.self, forKey: .last)
        let totalPages = try object.decodeIfPresent(Int.self, forKey: .totalPages)
        guard last != nil || totalPages != nil else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a page envelope without \"last\" or \"totalPages\""))
        }
        self = .page(
            content: try object.decode([Row].self, forKey: .content), last: last, totalPages: totalPages,
            totalElements: try object.decodeIfPresent(Int.self, forKey: .totalElements)
        )
    }
}

extension ListPage: Equatable where Row: Equatable {}

extension DecodingError {
    /// One line: where in the body, and what was wrong.
    var summary: String {
        func path(_ context: Context, _ key: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : text
        }
        switch self {
        case .keyNotFound(let key, let context): return "missing field \"\(path(context, key))\""
        case .typeMismatch(let type, let context): return "field \"\(path(context))\" is not \(type)"
        case .valueNotFound(let type, let context): return "field \"\(path(context))\" is null, expected \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? context.debugDescription : "field \"\(path(context))\": \(context.debugDescription)"
        @unknown default: return "\(self)"
        }
    }
}
