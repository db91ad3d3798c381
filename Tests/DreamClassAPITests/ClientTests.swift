@testable import DreamClassAPI
import DreamClassSimulator
import Foundation
import Logging
import Models
import TestSupport
import Testing

/// The client against the simulator, over real HTTP on loopback.
@Suite struct ClientTests {
    init() { TestLogging.bootstrap() }

    static let apiKey = "sk-live-\(UUID().uuidString)"

    static func settings() -> SimulatorSettings {
        SimulatorSettings(apiKey: apiKey, schoolCode: "SC-1", tenant: "test-school")
    }

    static func configuration(_ baseURL: String, change: (inout DreamClassConfiguration) -> Void = { _ in }) -> DreamClassConfiguration {
        var configuration = DreamClassConfiguration(
            baseURL: baseURL, apiKey: apiKey, schoolCode: "SC-1", tenant: "test-school",
            timeout: .seconds(60), maxAttempts: 4, backoffBase: .milliseconds(10), backoffCap: .milliseconds(50)
        )
        change(&configuration)
        return configuration
    }

    /// Runs `body` with a started simulator and a client for it, and shuts both down.
    static func withSimulator<T: Sendable>(
        school: School = .generate(periods: 3, studentsPerPeriod: 25, seed: 7),
        settings: (inout SimulatorSettings) -> Void = { _ in },
        client change: (inout DreamClassConfiguration) -> Void = { _ in },
        logger: Logger? = nil,
        _ body: (DreamClassSimulator, DreamClassClient) async throws -> T
    ) async throws -> T {
        var simulatorSettings = Self.settings()
        settings(&simulatorSettings)
        let simulator = DreamClassSimulator(school: school, settings: simulatorSettings)
        let url = try await simulator.start()
        let client = try DreamClassClient(configuration: configuration(url, change: change), logger: logger ?? Logger(label: "test"))
        do {
            let value = try await body(simulator, client)
            try await client.shutdown()
            await simulator.stop()
            return value
        } catch {
            try? await client.shutdown()
            await simulator.stop()
            throw error
        }
    }

    @Test func bareAndPagedListsGiveTheSameRows() async throws {
        let school = School.generate(periods: 3, studentsPerPeriod: 25, seed: 7)
        let bare = try await Self.withSimulator(school: school) { _, client in
            (try await client.periods(), try await client.periodStudents(periodId: 101))
        }
        let (paged, pagesServed) = try await Self.withSimulator(school: school, settings: { $0.pageSize = 7 }) { simulator, client in
            ((try await client.periods(), try await client.periodStudents(periodId: 101)), simulator.statistics.count(.periodStudents))
        }
        #expect(bare.0 == school.periods)
        #expect(bare.1 == school.enrollments[101])
        #expect(paged.0 == bare.0)
        #expect(paged.1 == bare.1)
        #expect(pagesServed == 4)
    }

    @Test func retriesAfter429And503AndHonoursRetryAfter() async throws {
        let (rows, waited, statistics) = try await Self.withSimulator(settings: {
            $0.nextStatuses = [429, 503]
            $0.retryAfterSeconds = 1
        }) { _, client in
            let start = ContinuousClock.now
            let rows = try await client.periodStudents(periodId: 100)
            return (rows, ContinuousClock.now - start, client.statistics.snapshot)
        }
        #expect(rows.count == 25)
        #expect(waited >= .seconds(1))
        #expect(statistics.retries == 2)
        #expect(statistics.calls[.periodStudents] == ["429": 1, "503": 1, "200": 1])
    }

    @Test func givesUpAfterTheBoundedTriesWithATypedError() async throws {
        let served = try await Self.withSimulator(settings: { $0.failingPeriods = [100] }, client: { $0.maxAttempts = 3 }) { simulator, client in
            let error = await #expect(throws: DreamClassError.self) { try await client.periodStudents(periodId: 100) }
            guard case .retriesExhausted(let operation, let url, let attempts, let last) = error else {
                Issue.record("unexpected \(String(describing: error))")
                return 0
            }
            #expect(operation == .periodStudents)
            #expect(url.hasSuffix("/dreamclassapi/v1/students/schoolperiod/100/list?page=0&size=500"))
            #expect(attempts == 3)
            #expect(last == "HTTP 503")
            return simulator.statistics.count(.periodStudents, status: 503)
        }
        #expect(served == 3)
    }

    @Test func aSlowAnswerTimesOut() async throws {
        try await Self.withSimulator(settings: {
            $0.slowRate = 1
            $0.slowDelay = .seconds(3)
        }, client: {
            $0.timeout = .milliseconds(300)
            $0.maxAttempts = 2
        }) { _, client in
            let error = await #expect(throws: DreamClassError.self) { try await client.periods() }
            guard case .retriesExhausted(_, _, 2, let last) = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(last.contains("timed out"))
            #expect(client.statistics.snapshot.calls[.listPeriods]?["timeout"] == 2)
        }
    }

    @Test func malformedJSONIsAClearErrorNamingTheURL() async throws {
        try await Self.withSimulator(settings: { $0.malformedRate = 1 }, client: { $0.maxAttempts = 2 }) { _, client in
            let error = await #expect(throws: DreamClassError.self) { try await client.periodStudents(periodId: 102) }
            guard case .malformedResponse(let url, _, let excerpt) = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(url.contains("/students/schoolperiod/102/list"))
            #expect(!excerpt.isEmpty)
            #expect(error?.description.contains("GET http://127.0.0.1:") == true)
        }
    }

    @Test func aRowWithoutAFieldTheJobNeedsIsRejected() throws {
        let body = Array(#"[{"id":1,"studentId":2,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00"},{"id":2,"studentId":3,"addedAt":"2024-10-02T09:40:02Z"}]"#.utf8)
        let error = #expect(throws: DreamClassError.self) {
            try DreamClassClient.decode(ListPage<Enrollment>.self, from: body, url: "http://x/list")
        }
        #expect(error?.description.contains(#"missing field "[1].active""#) == true)
        let envelope = Array(#"{"content":[],"number":0}"#.utf8)
        #expect(throws: DreamClassError.self) { try DreamClassClient.decode(ListPage<Enrollment>.self, from: envelope, url: "http://x/list") }
        let unknownFields = Array(#"[{"id":1,"studentId":2,"active":false,"addedAt":"2024-10-02T09:40:02Z","student":{"id":2},"note":"x"}]"#.utf8)
        guard case .array(let rows) = try DreamClassClient.decode(ListPage<Enrollment>.self, from: unknownFields, url: "http://x") else {
            Issue.record("expected an array")
            return
        }
        #expect(rows == [Enrollment(id: 1, studentId: 2, active: false, addedAt: "2024-10-02T09:40:02Z")])
    }

    @Test func aMissingStudentIsAValue() async throws {
        try await Self.withSimulator { simulator, client in
            let known = try #require(simulator.school.students.keys.min())
            #expect(try await client.student(id: 999_999) == .notFound(id: 999_999))
            #expect(try await client.student(id: known) == .found(simulator.school.students[known]!))
            #expect(client.statistics.snapshot.retries == 0)
        }
    }

    @Test func wrongCredentialsAre401AndNotRetried() async throws {
        try await Self.withSimulator(settings: { $0.apiKey = "another key" }) { simulator, client in
            let error = await #expect(throws: DreamClassError.self) { try await client.periods() }
            guard case .denied(401, _, _) = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(simulator.statistics.count(.listPeriods) == 1)
        }
    }

    @Test func theConcurrencyBoundHolds() async throws {
        let maxInFlight = try await Self.withSimulator(settings: { $0.latency = .milliseconds(40) ... .milliseconds(40) }, client: { $0.concurrency = 3 }) { simulator, client in
            try await withThrowingTaskGroup(of: StudentLookup.self) { group in
                for id in 10_000..<10_024 { group.addTask { try await client.student(id: id) } }
                for try await _ in group {}
            }
            return simulator.statistics.maxInFlight
        }
        #expect(maxInFlight <= 3)
        #expect(maxInFlight >= 2)
    }

    @Test func pathsAndHeaderNamesAreSettings() async throws {
        try await Self.withSimulator(settings: {
            $0.paths.periodStudents = "/v2/periods/{periodId}/enrollments"
            $0.headers.apiKey = "X-Api-Key"
        }, client: {
            $0.paths.periodStudents = "/v2/periods/{periodId}/enrollments"
            $0.headers.apiKey = "X-Api-Key"
        }) { _, client in
            let rows = try await client.periodStudents(periodId: 100)
            #expect(rows.count == 25)
        }
    }

    @Test func noErrorOrLogLineContainsTheAPIKey() async throws {
        let capture = LogCapture()
        var errors: [String] = []
        try await Self.withSimulator(settings: {
            $0.nextStatuses = [429, 500, 503, 502]
            $0.malformedRate = 0.5
        }, client: { $0.maxAttempts = 3 }, logger: capture.logger()) { _, client in
            for call in 0..<6 {
                do { _ = try await client.periodStudents(periodId: 100 + call % 4) } catch { errors.append("\(error)") }
            }
        }
        try await Self.withSimulator(settings: { $0.apiKey = "other" }, logger: capture.logger()) { _, client in
            do { _ = try await client.periods() } catch { errors.append("\(error)") }
        }
        #expect(!errors.isEmpty)
        #expect(!capture.messages.isEmpty)
        for text in errors + capture.messages { #expect(!text.contains(Self.apiKey)) }
    }

    @Test func retryAfterIsReadAsSecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryPolicy.parseRetryAfter("3", now: now) == .seconds(3))
        #expect(RetryPolicy.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        #expect(RetryPolicy.parseRetryAfter("soon", now: now) == nil)
        var random = SeededRandom(seed: 3)
        let policy = RetryPolicy(maxAttempts: 5, base: .milliseconds(100), cap: .seconds(1))
        for attempt in 1...8 {
            let wait = policy.delay(afterAttempt: attempt, retryAfter: nil, using: &random)
            #expect(wait <= .seconds(1))
            #expect(wait <= .milliseconds(100 * (1 << (attempt - 1))))
        }
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(2), using: &random) == .seconds(2))
    }

    @Test func theEnvironmentConfiguresTheClientAndNamesWhatIsMissing() throws {
        let keyFile = FileManager.default.temporaryDirectory.appending(path: "key-\(UUID().uuidString)")
        try Data("  file-key\n".utf8).write(to: keyFile)
        defer { try? FileManager.default.removeItem(at: keyFile) }
        let configuration = try DreamClassConfiguration.fromEnvironment([
            "DREAMCLASS_API_KEY_FILE": keyFile.path, "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "t",
            "DREAMCLASS_PATH_STUDENT": "/people/{studentId}", "DREAMCLASS_CONCURRENCY": "3",
        ])
        #expect(configuration.apiKey == "file-key")
        #expect(configuration.baseURL == DreamClassConfiguration.defaultBaseURL)
        #expect(configuration.paths.student == "/people/{studentId}")
        #expect(configuration.paths.periods == "/curriculum/schoolperiods/list")
        #expect(configuration.concurrency == 3)
        #expect(throws: ConfigurationError.missing("DREAMCLASS_SCHOOL_CODE")) {
            try DreamClassConfiguration.fromEnvironment(["DREAMCLASS_API_KEY": "k", "DREAMCLASS_TENANT": "t"])
        }
        #expect(throws: ConfigurationError.invalid("DREAMCLASS_PAGE_SIZE", "many", expected: "0 to 100000")) {
            try DreamClassConfiguration.fromEnvironment(["DREAMCLASS_API_KEY": "k", "DREAMCLASS_TENANT": "t", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_PAGE_SIZE": "many"])
        }
    }
}
