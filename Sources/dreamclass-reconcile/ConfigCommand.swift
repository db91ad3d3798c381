import FileOutput
import ArgumentParser
import DreamClassAPI
import Foundation
import Settings

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration file of schools.",
        subcommands: [ConfigCheck.self, ConfigSchools.self]
    )
}

struct ConfigCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration file and make one authenticated call per school.",
        discussion: "Every problem of the file is named at once, with the file, the key and its line. Exit codes: 0 all good; 1 a school's call failed; 64 the file is invalid."
    )

    @Flag(help: "Only validate the file; call nobody.") var offline = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let path = global.resolvedConfigPath else { throw ValidationError("name the file with --config or DREAMCLASS_CONFIG") }
        let file: SettingsFile
        do { file = try SettingsFile.load(path: path) } catch { throw ValidationError("\(error)") }
        for warning in file.warnings { StandardStream.error.attempt("warning: \(warning)\n") }
        let environment = ProcessInfo.processInfo.environment
        let problems = file.problems(environment: environment)
        guard problems.isEmpty else {
            for problem in problems { StandardStream.error.attempt("error: \(problem)\n") }
            throw ExitCode(64)
        }
        var failed = false
        for name in file.schoolNames {
            // Checked above: every school resolves.
            let settings = try file.resolve(school: name, environment: environment)
            guard !offline else {
                try StandardStream.output.line("school \(name): settings valid (tenant \(settings.api.tenant))")
                continue
            }
            let client = try DreamClassClient(configuration: settings.api, logger: try global.makeLogger(label: "config"))
            do {
                let periods = try await client.periods()
                try StandardStream.output.line("school \(name): ok, \(periods.count) periods (tenant \(settings.api.tenant), \(settings.api.baseURL))")
            } catch {
                failed = true
                StandardStream.error.attempt("school \(name): \(error)\n")
            }
            try? await client.shutdown()
        }
        if failed { throw ExitCode(1) }
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
