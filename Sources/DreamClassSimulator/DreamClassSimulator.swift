import DreamClassAPI
import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import Logging
import Models
import Synchronization

/// A DreamClass REST API on loopback, from a fixture or a generated school: the same paths, the
/// same auth headers, and the faults a real service has, on demand.
///
/// Tests start it in-process (``start(host:port:)``), change its school or its faults while it
/// runs, and read what it served; `dreamclass-sim` runs it on its own.
public final class DreamClassSimulator: Sendable {
    private struct State {
        var school: School
        var settings: SimulatorSettings
        var statistics = SimulatorStatistics()
        var recentStarts: [ContinuousClock.Instant] = []
        var random: SeededRandom
        let seed: UInt64
        /// Roster pages served per period, for the churn's generator.
        var pagesServed: [Int: UInt64] = [:]
    }

    private let state: Mutex<State>
    private let server = InProcessServer()
    private let logger: Logger

    public init(school: School, settings: SimulatorSettings, seed: UInt64 = 1, logger: Logger = Logger(label: "dreamclass-sim")) {
        state = Mutex(State(school: school, settings: settings, random: SeededRandom(seed: seed), seed: seed))
        self.logger = logger
    }

    /// Starts serving; returns the base URL to give the client,
    /// `http://HOST:PORT/dreamclassapi/v1`. Port 0 takes any free port.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        var quiet = logger
        quiet.logLevel = .warning
        let bound = try await server.start(logger: quiet) { onRunning in
            Application(
                responder: CallbackResponder { [self] (request: Request, _: BasicRequestContext) in
                    await self.respond(to: request)
                },
                configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "dreamclass-sim"),
                onServerRunning: { await onRunning($0.localAddress?.port) },
                logger: quiet
            )
        }
        return "http://\(host):\(bound)\(settings.prefix)"
    }

    /// Stops serving, after the requests in flight, and waits until it has.
    public func stop() async {
        await server.stop()
    }

    /// The settings in force; assign to change them.
    public var settings: SimulatorSettings {
        get { state.withLock { $0.settings } }
        set { state.withLock { $0.settings = newValue } }
    }

    /// Changes the school while it is served, as DreamClass's own data changes.
    public func updateSchool(_ change: (inout School) -> Void) {
        state.withLock { change(&$0.school) }
    }

    public var school: School { state.withLock { $0.school } }

    public var statistics: SimulatorStatistics { state.withLock { $0.statistics } }

    // MARK: - Answering

    private enum Fault { case none, tooManyRequests, serverError(Int), slow, malformed(cutShort: Bool) }

    private func respond(to request: Request) async -> Response {
        let (settings, latency, fault) = state.withLock { state -> (SimulatorSettings, Duration?, Fault) in
            state.statistics.inFlight += 1
            state.statistics.maxInFlight = max(state.statistics.maxInFlight, state.statistics.inFlight)
            let settings = state.settings
            var latency: Duration?
            if let range = settings.latency {
                let low = range.lowerBound.components, high = range.upperBound.components
                let lowNanos = low.seconds * 1_000_000_000 + low.attoseconds / 1_000_000_000
                let highNanos = high.seconds * 1_000_000_000 + high.attoseconds / 1_000_000_000
                latency = .nanoseconds(Int64.random(in: lowNanos...max(lowNanos, highNanos), using: &state.random))
            }
            if !state.settings.nextStatuses.isEmpty {
                let status = state.settings.nextStatuses.removeFirst()
                return (settings, latency, status == 429 ? Fault.tooManyRequests : Fault.serverError(status))
            }
            let roll = Double.random(in: 0..<1, using: &state.random)
            var fault = Fault.none
            var edge = settings.tooManyRequestsRate
            if roll < edge {
                fault = .tooManyRequests
            } else if roll < (edge + settings.serverErrorRate) {
                fault = .serverError(Bool.random(using: &state.random) ? 500 : 503)
            } else if roll < (edge + settings.serverErrorRate + settings.slowRate) {
                fault = .slow
            } else {
                edge += settings.serverErrorRate + settings.slowRate
                if roll < edge + settings.malformedRate { fault = .malformed(cutShort: Bool.random(using: &state.random)) }
            }
            return (settings, latency, fault)
        }
        let (operation, response) = await answer(request, settings: settings, latency: latency, fault: fault)
        state.withLock { state in
            state.statistics.inFlight -= 1
            if let operation { state.statistics.served[operation, default: [:]][Int(response.status.code), default: 0] += 1 }
            if response.status == .ok, case .period(let id)? = Route(path: request.uri.path, settings: settings) {
                if settings.rosterChurnRate > 0 { Self.churn(period: id, rate: settings.rosterChurnRate, state: &state) }
                settings.afterRosterPage?(id, request.uri.queryParameters["page"].flatMap { Int($0) } ?? 0, &state.school)
            }
        }
        return response
    }

    /// With chance `rate`, deletes a random enrollment of the period and inserts a new one at a
    /// random place, as a school's office does during the night's read.
    private static func churn(period: Int, rate: Double, state: inout State) {
        let served = state.pagesServed[period, default: 0]
        state.pagesServed[period] = served + 1
        var random = SeededRandom(seed: state.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(truncatingIfNeeded: period) &* 0xBF58_476D_1CE4_E5B9 &+ served)
        guard Double.random(in: 0..<1, using: &random) < rate, var rows = state.school.enrollments[period] else { return }
        if !rows.isEmpty {
            let removed = rows.remove(at: Int.random(in: rows.indices, using: &random))
            state.statistics.churnRemoved.insert(removed.id)
        }
        let students = state.school.students.keys.sorted()
        let nextID = (state.school.enrollments.values.joined().map(\.id).max() ?? 0) + 1
        let studentID = students.isEmpty ? 1 : students[Int.random(in: students.indices, using: &random)]
        // Dated long before any run's settle window, so a row seen is drift, not in flight.
        let row = Enrollment(id: nextID, studentId: studentID, active: true, addedAt: "2020-01-01T00:00:00.000+00:00")
        rows.insert(row, at: Int.random(in: 0...rows.count, using: &random))
        state.statistics.churnAdded.insert(nextID)
        state.school.enrollments[period] = rows
    }

    /// The answer, `latency` after the request came: building it is part of the latency, as it is
    /// of a real API's, so a roster of 1,000 rows takes no longer than the setting says.
    private func answer(_ request: Request, settings: SimulatorSettings, latency: Duration?, fault: Fault) async -> (APIOperation?, Response) {
        let due = latency.map { ContinuousClock.now + $0 }
        let answer = await compose(request, settings: settings, fault: fault)
        if let due { try? await Task.sleep(until: due, clock: .continuous) }
        return answer
    }

    private func compose(_ request: Request, settings: SimulatorSettings, fault: Fault) async -> (APIOperation?, Response) {
        let route = Route(path: request.uri.path, settings: settings)
        guard let route else { return (nil, Self.json(.notFound, #"{"error":"no such endpoint"}"#)) }
        let headers = request.headers
        func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
        guard header(settings.headers.apiKey) == settings.apiKey, header(settings.headers.schoolCode) == settings.schoolCode,
            header(settings.headers.tenant) == settings.tenant
        else {
            return (route.operation, Self.json(.unauthorized, #"{"error":"invalid credentials"}"#))
        }
        if let limit = settings.maxRequestsPerSecond, overRate(limit) {
            return (route.operation, Self.tooManyRequests(retryAfter: 1))
        }
        switch fault {
        case .tooManyRequests: return (route.operation, Self.tooManyRequests(retryAfter: settings.retryAfterSeconds))
        case .serverError(let status): return (route.operation, Self.json(.init(code: status), #"{"error":"try again"}"#))
        case .slow: try? await Task.sleep(for: settings.slowDelay)
        case .none, .malformed: break
        }
        if case .period(let id) = route, settings.stallingPeriods.contains(id) {
            try? await Task.sleep(for: settings.slowDelay)
        }
        if case .period(let id) = route, settings.failingPeriods.contains(id) {
            return (route.operation, Self.json(.serviceUnavailable, #"{"error":"period unavailable"}"#))
        }
        var (status, body) = content(route, page: request.uri.queryParameters["page"].flatMap { Int($0) },
                                     size: request.uri.queryParameters["size"].flatMap { Int($0) }, settings: settings)
        if case .malformed(let cutShort) = fault, status == .ok {
            // Half cut short, as by a dropped proxy connection; half not JSON at all.
            body = body.count > 2 && cutShort ? Array(body.prefix(body.count / 2)) : Array("<html>Bad Gateway</html>".utf8)
        }
        return (route.operation, Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body))))
    }

    private func content(_ route: Route, page: Int?, size: Int?, settings: SimulatorSettings) -> (HTTPResponse.Status, [UInt8]) {
        let school = self.school
        let encoder = JSONEncoder()
        /// The rows, as a bare array or as the page asked for.
        func list<T>(_ rows: [T], _ encode: ([T]) -> [UInt8]) -> [UInt8] {
            guard let pageSize = settings.pageSize else { return encode(rows) }
            let size = max(1, min(size ?? pageSize, pageSize))
            let number = max(0, page ?? 0)
            let totalPages = max(1, (rows.count + size - 1) / size)
            return Array(#"{"content":"#.utf8) + encode(Array(rows.dropFirst(number * size).prefix(size)))
                + Array(#","number":\#(number),"size":\#(size),"totalPages":\#(totalPages),"totalElements":\#(rows.count),"last":\#(number >= totalPages - 1)}"#.utf8)
        }
        switch route {
        case .periods:
            return (.ok, list(school.periods) { Array((try? encoder.encode($0)) ?? Data()) })
        case .period(let id):
            guard let rows = school.enrollments[id], school.periods.contains(where: { $0.id == id }) else {
                return (.notFound, Array(#"{"error":"no such period"}"#.utf8))
            }
            return (.ok, list(rows, Self.json))
        case .student(let id):
            guard let student = school.students[id] else { return (.notFound, Array(#"{"error":"no such student"}"#.utf8)) }
            return (.ok, Array((try? encoder.encode(student)) ?? Data()))
        }
    }

    private func overRate(_ limit: Double) -> Bool {
        state.withLock { state in
            let now = ContinuousClock.now
            state.recentStarts.removeAll { now - $0 > .seconds(1) }
            guard Double(state.recentStarts.count) < limit else { return true }
            state.recentStarts.append(now)
            return false
        }
    }

    /// Roster rows as JSON, written directly: `JSONEncoder` made the simulator's share of a
    /// large school's run larger than the client's, on the cores they share.
    static func json(_ rows: [Enrollment]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(rows.count * 80)
        for (index, row) in rows.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += #"{"id":\#(row.id),"studentId":\#(row.studentId),"active":\#(row.active),"addedAt":"#.utf8
            appendString(row.addedAt, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    private static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case ..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func tooManyRequests(retryAfter: Int) -> Response {
        var response = json(.tooManyRequests, #"{"error":"slow down"}"#)
        response.headers[.retryAfter] = String(retryAfter)
        return response
    }
}

/// Which operation a request path names, by the configured templates.
private enum Route {
    case periods
    case period(Int)
    case student(Int)

    var operation: APIOperation {
        switch self {
        case .periods: .listPeriods
        case .period: .periodStudents
        case .student: .student
        }
    }

    init?(path: String, settings: SimulatorSettings) {
        guard path.hasPrefix(settings.prefix) else { return nil }
        let rest = String(path.dropFirst(settings.prefix.count))
        if Self.match(rest, settings.paths.periods) != nil {
            self = .periods
        } else if let id = Self.match(rest, settings.paths.periodStudents) {
            self = .period(id)
        } else if let id = Self.match(rest, settings.paths.student) {
            self = .student(id)
        } else {
            return nil
        }
    }

    /// Matches `path` against a template with at most one `{name}`; returns its integer value
    /// (or -1 for a template without one).
    private static func match(_ path: String, _ template: String) -> Int? {
        let parts = path.split(separator: "/"), pattern = template.split(separator: "/")
        guard parts.count == pattern.count else { return nil }
        var value = -1
        for (part, expected) in zip(parts, pattern) {
            if expected.hasPrefix("{"), expected.hasSuffix("}") {
                guard let number = Int(part) else { return nil }
                value = number
            } else if part != expected {
                return nil
            }
        }
        return value
    }
}
