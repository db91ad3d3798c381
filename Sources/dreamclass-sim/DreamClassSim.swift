import ArgumentParser
import BuildInfo
import DreamClassAPI
import DreamClassSimulator
import FileOutput
import Foundation
import Signing
import Models

/// Serves a simulated DreamClass REST API on loopback, for the demo, tests and benchmarks.
@main
struct DreamClassSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dreamclass-sim",
        abstract: "Serve a simulated DreamClass REST API (periods, GetPeriodStudents, GetStudent).",
        discussion: """
            Prints "listening on http://HOST:PORT/dreamclassapi/v1" once it accepts connections: \
            the base URL to give the client. Credentials default to DREAMCLASS_API_KEY, \
            DREAMCLASS_SCHOOL_CODE and DREAMCLASS_TENANT, the variables the client reads. With --deliver, \
            it also plays DreamClass's webhooks: it POSTs the school's history to a receiver (`serve`), \
            signed with DREAMCLASS_WEBHOOK_SECRET when set, with --outage-changes creates, updates and \
            deletes left out as if the receiver had been down, then serves the roster as it is after \
            them: the next `run` finds exactly those. The history is weeks old: give serve \
            --timestamp-window 0 for this tour. It prints "delivered N webhooks" when done.
            """,
        version: BuildInfo.line
    )

    @Option var host = "127.0.0.1"
    @Option(help: "0 takes any free port.") var port = 0

    @Option(help: "A JSON file of the school: periods, enrollments per period, students.")
    var fixture: String?
    @Option var periods = 12
    @Option var studentsPerPeriod = 350
    @Option var seed: UInt64 = 1

    @Option(help: "Default: $DREAMCLASS_API_KEY (or the file in $DREAMCLASS_API_KEY_FILE), else sim-key.")
    var apiKey: String?
    @Option(help: "Default: $DREAMCLASS_SCHOOL_CODE, else sim-school.") var schoolCode: String?
    @Option(help: "Default: $DREAMCLASS_TENANT, else sim-school.") var tenant: String?

    @Option(help: "Serve page envelopes of at most this many rows instead of bare arrays.")
    var pageSize: Int?
    @Option(help: "Latency per request, in milliseconds.") var latencyMs: Int?
    @Option(help: "With --latency-ms, the upper end of a random latency.") var latencyMaxMs: Int?
    @Option(name: .customLong("rate-429"), help: "Share of requests answered 429 with Retry-After.") var rate429 = 0.0
    @Option(help: "The Retry-After of a 429, in seconds (86400 asks for a day).") var retryAfter = 1
    @Option(name: .customLong("rate-5xx"), help: "Share of requests answered 500 or 503.") var rate5xx = 0.0
    @Option(help: "Share of requests answered after --slow-ms.") var rateSlow = 0.0
    @Option var slowMs = 5_000
    @Option(help: "Share of 200s with a truncated or garbled body.") var rateMalformed = 0.0
    @Option(help: "Above this many requests per second, answer 429.") var maxRps: Double?
    @Option(help: "Chance after each roster page served that one enrollment of the period is deleted and one inserted at a random place (seeded by --seed).")
    var rosterChurnRate = 0.0

    @Option(help: "Deliver the school's webhooks to this receiver URL (e.g. http://127.0.0.1:8080/webhooks/dreamclass), with an outage in them.")
    var deliver: String?
    @Option(help: "With --deliver: creates, updates and deletes of each kind the outage keeps from the receiver.")
    var outageChanges = 4
    @Option(help: "With --deliver: the Basic-auth user of the receiver; the password from DREAMCLASS_WEBHOOK_PASSWORD (or _FILE).")
    var deliverUser: String?
    @Option(help: "With --deliver: how DREAMCLASS_WEBHOOK_SECRET becomes the HMAC key: base64, raw or hex.")
    var keyEncoding: WebhookSignature.KeyEncoding = .base64

    func validate() throws {
        if let deliver, let problem = EndpointURL.problem(deliver) { throw ValidationError("--deliver \(problem)") }
        guard (0...1_000).contains(outageChanges) else { throw ValidationError("--outage-changes takes 0 to 1000, not \(outageChanges)") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port takes 0 to 65535, not \(port)") }
        guard (1...10_000).contains(periods), (1...100_000).contains(studentsPerPeriod) else {
            throw ValidationError("--periods takes 1 to 10000 and --students-per-period 1 to 100000")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let key = try apiKey ?? DreamClassConfiguration.secret("DREAMCLASS_API_KEY", environment: environment) ?? "sim-key"
        var settings = SimulatorSettings(
            apiKey: key, schoolCode: schoolCode ?? environment["DREAMCLASS_SCHOOL_CODE"] ?? "sim-school",
            tenant: tenant ?? environment["DREAMCLASS_TENANT"] ?? "sim-school"
        )
        settings.pageSize = pageSize
        if let latencyMs { settings.latency = .milliseconds(latencyMs) ... .milliseconds(max(latencyMs, latencyMaxMs ?? latencyMs)) }
        settings.tooManyRequestsRate = rate429
        settings.retryAfterSeconds = retryAfter
        settings.rosterChurnRate = rosterChurnRate
        settings.serverErrorRate = rate5xx
        settings.slowRate = rateSlow
        settings.slowDelay = .milliseconds(slowMs)
        settings.malformedRate = rateMalformed
        settings.maxRequestsPerSecond = maxRps
        var school = try fixture.map(School.load(fixture:)) ?? School.generate(periods: periods, studentsPerPeriod: studentsPerPeriod, seed: seed)
        var history: [String] = []
        if deliver != nil {
            let signature = try DreamClassConfiguration.secret("DREAMCLASS_WEBHOOK_SECRET", environment: environment)
                .map { try WebhookSignature(secret: $0, encoding: keyEncoding) }
            let scenario = OutageScenario.make(school: school, tenant: settings.tenant, outageChanges: outageChanges, seed: seed,
                                               sign: signature.map { signature in { signature.sign(eventID: $0) } })
            school = scenario.schoolAfter
            history = scenario.storedWebhooks
        }
        let simulator = DreamClassSimulator(school: school, settings: settings, seed: seed)
        let url = try await simulator.start(host: host, port: port)
        // Unbuffered, so a parent reading our stdout sees the line at once.
        try StandardStream.output.line("listening on \(url)")
        if let deliver {
            var configuration = WebhookSender.Configuration(url: deliver)
            if let deliverUser {
                guard let password = try DreamClassConfiguration.secret("DREAMCLASS_WEBHOOK_PASSWORD", environment: environment) else {
                    throw ValidationError("--deliver-user needs DREAMCLASS_WEBHOOK_PASSWORD (or DREAMCLASS_WEBHOOK_PASSWORD_FILE)")
                }
                configuration.basicAuth = (deliverUser, password)
            }
            let sender = WebhookSender(configuration: configuration)
            var failed = 0
            // In order, one at a time, as DreamClass sends a school's events.
            for body in history where !(await sender.deliver(body).delivered) { failed += 1 }
            try? await sender.shutdown()
            try StandardStream.output.line("delivered \(history.count - failed) webhooks to \(deliver)" + (failed > 0 ? ", \(failed) refused" : "")
                + "; \(outageChanges) of each change kept back as an outage")
        }
        // Serve until stopped (SIGINT or SIGTERM end the process).
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

extension WebhookSignature.KeyEncoding: ExpressibleByArgument {}
