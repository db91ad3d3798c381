import ArgumentParser
import FleetJob

extension ExitCodes {
    /// ``ExitCodes/code(for:stop:)`` with argument-parser's own errors: an exit it asked for, and a
    /// command line it refused (usage).
    static func code(for error: any Error) -> Int32 {
        switch error {
        case let exit as ExitCode: exit.rawValue
        case is ValidationError: ExitStatus.usage
        default: code(for: error, stop: Interruption.stop)
        }
    }

    /// Prints `error` as the command's last line and exits with its code.
    static func exit(with error: any Error, label: String = "") -> Never {
        printError("\(label)error: \(error)\n")
        DreamClassReconcile.exit(withError: ExitCode(code(for: error)))
    }
}
