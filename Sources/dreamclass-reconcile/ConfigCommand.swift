import ArgumentParser
import DreamClassAPI
import EventStore
import FileOutput
import FleetJob
import Foundation
import Reconciliation
import Settings
import Signing

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration file of schools.",
        subcommands: [ConfigCheck.self, ConfigSchools.self]
    )
}

struct ConfigCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration file and probe each school's API: periods, paging and page size, GetStudent.",
        discussion: "Every problem of the file is named at once, with the file, the key and its line. Exit codes: 0 all good; 78 the file or a setting is wrong, or DreamClass refuses a school's credentials; 75 DreamClass could not be reached or throttled; 1 another failure."
    )

    @Flag(help: "Only validate the file; call nobody.") var offline = false
    @Flag(help: "Instead of calling DreamClass: check the newest stored events of each school against its webhook secret under each key encoding (base64, raw, hex) and say which one verifies them.")
    var signatures = false
    @Option(help: "With --signatures: how many of each school's newest stored events to check.") var last = 200
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...100_000).contains(last) else { throw ValidationError("--last takes 1 to 100000, not \(last)") }
    }

    func run() async throws {
        guard let path = global.resolvedConfigPath else { throw ValidationError("name the file with --config or DREAMCLASS_CONFIG") }
        let environment = ProcessInfo.processInfo.environment
        let (checked, problems) = SettingsFile.check(path: path, environment: environment)
        for warning in checked?.warnings ?? [] { printError("warning: \(warning)\n") }
        guard let file = checked, problems.isEmpty else {
            for problem in problems { printError("error: \(problem)\n") }
            printError("\(problems.count) problem\(problems.count == 1 ? "" : "s") in \(path); the file's keys: \(SettingsFile.keyNames.joined(separator: ", "))\n")
            throw ExitCode(ExitStatus.configuration)
        }
        if signatures, !offline {
            try checkSignatures(file, environment: environment)
            return
        }
        var codes: [Int32] = []
        for name in file.schoolNames {
            // Checked above: every school resolves.
            let settings = try file.school(name, environment: environment)
            guard !offline else {
                try StandardStream.output.line("school \(name): settings valid (tenant \(settings.api.tenant))")
                continue
            }
            let client = try DreamClassClient(configuration: settings.api, logger: try global.makeLogger(label: "config"))
            do {
                let probe = try await client.probe()
                try StandardStream.output.line("school \(name): ok, \(probe.periods) periods (tenant \(settings.api.tenant), \(settings.api.baseURL))")
                try report(probe, school: name, pageSize: settings.api.pageSize)
            } catch {
                codes.append(ExitCodes.code(for: error))
                printError("school \(name): \(error)\n")
            }
            try? await client.shutdown()
        }
        let worst = ExitStatus.worst(codes)
        if worst != ExitStatus.ok { throw ExitCode(worst) }
    }
}

extension ConfigCheck {
    /// What the probe found next to what the configuration says, and the YAML to paste when they differ.
    func report(_ probe: APIProbe, school: String, pageSize: Int) throws {
        guard let period = probe.period else {
            try StandardStream.output.line("  GetPeriodStudents: no period has enrollments; paging could not be probed")
            return
        }
        let size = probe.rosterSize.map { ", \($0) enrollments" } ?? ""
        let shape = probe.pageRows == nil
            ? "a bare array (no paging)"
            : "page envelopes; page sizes honoured up to \(probe.largestHonouredPageSize.map(String.init) ?? "none")"
        try StandardStream.output.line("  GetPeriodStudents (period \(period)\(size)): \(shape); configured page_size \(pageSize)")
        try StandardStream.output.line("  GetStudent: \(probe.student ?? "not probed")")
        let corrections = probe.corrections(pageSize: pageSize)
        guard !corrections.isEmpty else { return }
        try StandardStream.output.line("  to match what the API does, set in schools.\(school) of the file:")
        for (key, value) in corrections { try StandardStream.output.line("    \(key): \(value)") }
    }

    /// For each school: how many of its newest stored events verify under each key encoding, and
    /// the setting to use. The secret comes from the environment or the school's
    /// `webhook_secret_file`, and is never printed.
    func checkSignatures(_ file: SettingsFile, environment: [String: String]) throws {
        let logger = try global.makeLogger(label: "config")
        let connection = try global.connect(logger: logger)
        let sample = SignatureSample(schema: global.resolvedSchema)
        var failed = false
        for name in file.schoolNames {
            let settings = try file.school(name, environment: environment)
            let secrets = settings.secretsEnvironment(environment)
            let prefix = "school \(name) (tenant \(settings.api.tenant))"
            guard let secret = try secret("DREAMCLASS_WEBHOOK_SECRET", environment: secrets) else {
                printError("\(prefix): no webhook secret (DREAMCLASS_WEBHOOK_SECRET, _FILE, or webhook_secret_file)\n")
                failed = true
                continue
            }
            let events = try sample.newest(tenant: settings.api.tenant, limit: last, on: connection)
            guard !events.isEmpty else {
                try StandardStream.output.line("\(prefix): no stored events to check")
                continue
            }
            let tally = WebhookSignature.tally(secret: secret, events: events)
            let counts = WebhookSignature.KeyEncoding.allCases.map { encoding in
                "\(encoding.rawValue) \(tally[encoding].map { "\($0) of \(events.count)" } ?? "not readable")"
            }.joined(separator: ", ")
            if let best = tally.max(by: { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }), best.value > 0 {
                try StandardStream.output.line("\(prefix): signatures that verify: \(counts); use --key-encoding \(best.key.rawValue)")
            } else {
                failed = true
                try StandardStream.output.line("\(prefix): signatures that verify: \(counts); none verify: the secret is not the one DreamClass signs with, or the events were not signed")
            }
        }
        if failed { throw ExitCode(ExitStatus.configuration) }
    }
}

/// The schools' names, one per line, for scripts (the cron wrapper).
struct ConfigSchools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schools", abstract: "List the schools of the configuration file.")

    @Flag(help: "Print each school as FILE-NAME-PART<TAB>NAME: the name made safe for file names, by the rule every report and metrics file follows.")
    var fileNames = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let path = global.resolvedConfigPath else { throw ValidationError("name the file with --config or DREAMCLASS_CONFIG") }
        do {
            let file = try SettingsFile.load(path: path)
            for name in file.schoolNames { try StandardStream.output.line(fileNames ? "\(FileName.part(name))\t\(name)" : name) }
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
