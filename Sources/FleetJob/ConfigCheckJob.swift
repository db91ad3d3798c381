import DreamClassAPI
import EventStore
import Foundation
import Logging
import Postgres
import Settings
import Signing

/// `config check` after the file validated: each school's API probed (periods, paging, page size,
/// GetStudent), or each school's stored signatures tried under each key encoding.
public struct ConfigCheckJob: Sendable {
    public var file: SettingsFile
    public var environment: [String: String]
    public var console: Console
    public var makeLogger: @Sendable (String) throws -> Logger

    public init(file: SettingsFile, environment: [String: String], console: Console, makeLogger: @escaping @Sendable (String) throws -> Logger) {
        self.file = file
        self.environment = environment
        self.console = console
        self.makeLogger = makeLogger
    }

    /// The file at `path` when it is valid, its warnings said; else every problem said at once
    /// (with the file's keys, for a typo) and `nil`: the command then ends with
    /// ``ExitStatus/configuration``.
    public static func validated(path: String, environment: [String: String], console: Console) -> SettingsFile? {
        let (checked, problems) = SettingsFile.check(path: path, environment: environment)
        for warning in checked?.warnings ?? [] { console.error("warning: \(warning)\n") }
        guard let file = checked, problems.isEmpty else {
            for problem in problems { console.error("error: \(problem)\n") }
            console.error("\(problems.count) problem\(problems.count == 1 ? "" : "s") in \(path); the file's keys: \(SettingsFile.keyNames.joined(separator: ", "))\n")
            return nil
        }
        return file
    }

    /// Each school's settings, or (`offline`) only that they resolve; returns the exit code.
    public func probe(offline: Bool) async throws -> Int32 {
        var codes: [Int32] = []
        for name in file.schoolNames {
            // The file validated: every school resolves.
            let settings = try file.school(name, environment: environment)
            guard !offline else {
                try line("school \(name): settings valid (tenant \(settings.api.tenant))")
                continue
            }
            let client = try DreamClassClient(configuration: settings.api, logger: try makeLogger("config"))
            do {
                let probe = try await client.probe()
                try line("school \(name): ok, \(probe.periods) periods (tenant \(settings.api.tenant), \(settings.api.baseURL))")
                try report(probe, school: name, pageSize: settings.api.pageSize)
            } catch {
                codes.append(ExitCodes.code(for: error))
                console.error("school \(name): \(error)\n")
            }
            try? await client.shutdown()
        }
        return ExitStatus.worst(codes)
    }

    /// What the probe found next to what the configuration says, and the YAML to paste when they differ.
    func report(_ probe: APIProbe, school: String, pageSize: Int) throws {
        guard let period = probe.period else {
            try line("  GetPeriodStudents: no period has enrollments; paging could not be probed")
            return
        }
        let size = probe.rosterSize.map { ", \($0) enrollments" } ?? ""
        let shape = probe.pageRows == nil
            ? "a bare array (no paging)"
            : "page envelopes; page sizes honoured up to \(probe.largestHonouredPageSize.map(String.init) ?? "none")"
        try line("  GetPeriodStudents (period \(period)\(size)): \(shape); configured page_size \(pageSize)")
        try line("  GetStudent: \(probe.student ?? "not probed")")
        let corrections = probe.corrections(pageSize: pageSize)
        guard !corrections.isEmpty else { return }
        try line("  to match what the API does, set in schools.\(school) of the file:")
        for (key, value) in corrections { try line("    \(key): \(value)") }
    }

    /// For each school: how many of its `last` newest stored events verify under each key
    /// encoding, and the setting to use. The secret comes from the environment or the school's
    /// `webhook_secret_file`, and is never printed. Returns the exit code.
    public func signatures(last: Int, schema: String, connection: Connection) throws -> Int32 {
        let sample = SignatureSample(schema: schema)
        var failed = false
        for name in file.schoolNames {
            let settings = try file.school(name, environment: environment)
            let prefix = "school \(name) (tenant \(settings.api.tenant))"
            let secret = try Secrets.read("DREAMCLASS_WEBHOOK_SECRET", environment: settings.secretsEnvironment(environment), register: console.secret)
            guard let secret else {
                console.error("\(prefix): no webhook secret (DREAMCLASS_WEBHOOK_SECRET, _FILE, or webhook_secret_file)\n")
                failed = true
                continue
            }
            let events = try sample.newest(tenant: settings.api.tenant, limit: last, on: connection)
            guard !events.isEmpty else {
                try line("\(prefix): no stored events to check")
                continue
            }
            let tally = WebhookSignature.tally(secret: secret, events: events)
            let counts = WebhookSignature.KeyEncoding.allCases.map { encoding in
                "\(encoding.rawValue) \(tally[encoding].map { "\($0) of \(events.count)" } ?? "not readable")"
            }.joined(separator: ", ")
            if let best = tally.max(by: { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }), best.value > 0 {
                try line("\(prefix): signatures that verify: \(counts); use --key-encoding \(best.key.rawValue)")
            } else {
                failed = true
                try line("\(prefix): signatures that verify: \(counts); none verify: the secret is not the one DreamClass signs with, or the events were not signed")
            }
        }
        return failed ? ExitStatus.configuration : ExitStatus.ok
    }

    private func line(_ text: String) throws { try console.write(text + "\n", false) }
}
