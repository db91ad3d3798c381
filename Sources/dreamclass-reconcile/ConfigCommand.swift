import ArgumentParser
import FileOutput
import FleetJob
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
        guard let file = ConfigCheckJob.validated(path: path, environment: environment, console: .commandLine) else {
            throw ExitCode(ExitStatus.configuration)
        }
        let global = self.global
        let job = ConfigCheckJob(file: file, environment: environment, console: .commandLine, makeLogger: { try global.makeLogger(label: $0) })
        let code = signatures && !offline
            ? try job.signatures(last: last, schema: global.resolvedSchema, connection: try global.connect(logger: try global.makeLogger(label: "config")))
            : try await job.probe(offline: offline)
        if code != ExitStatus.ok { throw ExitCode(code) }
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
