import Foundation
import Logging

/// The product's own logs during the tests (the jobs, the migrations, the in-process receivers and
/// simulators) go to one file, not into the test run's output, where they buried the one line
/// that said which test failed. Its path is printed once; a failing test's neighbourhood is
/// found there by time. `TEST_LOG=stderr` shows them as they come instead.
public enum TestLogging {
    /// The file the logs go to.
    public static let path: String = {
        FileManager.default.temporaryDirectory.appending(path: "dreamclass-tests-\(ProcessInfo.processInfo.processIdentifier).log").path
    }()

    private static let bootstrapped: Void = {
        if ProcessInfo.processInfo.environment["TEST_LOG"] == "stderr" {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            return
        }
        FileManager.default.createFile(atPath: path, contents: nil)
        let file = FileHandle(forWritingAtPath: path)
        FileHandle.standardError.write(Data("(the product's logs of this test run: \(path))\n".utf8))
        LoggingSystem.bootstrap { label in
            guard let file else { return SwiftLogNoOpLogHandler() }
            return FileLogHandler(label: label, file: file)
        }
    }()

    /// Sends the logs to the file, once per process; every suite that starts a server calls it.
    public static func bootstrap() { _ = bootstrapped }

    private struct FileLogHandler: LogHandler {
        let label: String
        let file: FileHandle
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            file.write(Data("\(Date()) \(event.level) \(label): \(event.message) \(fields)\n".utf8))
        }
    }
}
