import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs one of this package's executables the way a user would, and reports how it ended.
public enum Command {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The folder the build put the executables in: the test bundle's own.
    public static var buildDirectory: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }

    /// Runs `executable` (a product of this package, or a path with a `/`) with `arguments` and
    /// `environment` added to this process's. Through `/bin/sh`, not Foundation's `Process`, whose
    /// wait was seen to hang.
    ///
    /// The wait happens on a thread of its own: a test's in-process simulator needs the few threads
    /// of Swift's cooperative pool to answer the command while it runs.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async -> Result {
        await withCheckedContinuation { continuation in
            Thread {
                // The command starts with no signal blocked, as from a terminal: a thread inherits
                // the mask of the runtime thread that made it, and a shell with SIGCHLD blocked
                // waits for its children for ever, a server with SIGTERM blocked never stops.
                var none = sigset_t()
                sigemptyset(&none)
                pthread_sigmask(SIG_SETMASK, &none, nil)
                continuation.resume(returning: runBlocking(executable, arguments, environment: environment))
            }.start()
        }
    }

    private static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String]) -> Result {
        let directory = NSTemporaryDirectory() + "dcr-cmd-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        // The environment goes through a file the shell reads, not the command line: a secret in
        // it must not show in any process's arguments.
        let exports = environment.map { "export \($0.key)=\(quote($0.value))\n" }.joined()
        FileManager.default.createFile(atPath: directory + "/env", contents: Data(exports.utf8), attributes: [.posixPermissions: 0o600])
        let command = ". \(quote(directory + "/env")); exec \(quote(executable.contains("/") ? executable : buildDirectory + "/" + executable)) \(arguments.map(quote).joined(separator: " "))"
            + " </dev/null >\(quote(directory + "/out")) 2>\(quote(directory + "/err"))"
        let raw = system(command)
        let status = raw >= 0 ? (raw >> 8) & 0xff : raw
        return Result(
            status: status,
            stdout: (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? ""
        )
    }

    /// The URL `serve` logged it receives webhooks at (`receiving webhooks`, at notice, its `url`
    /// as text or JSON), from the log it writes to `path`: with `--port 0`, the port the kernel
    /// gave it as it bound, so no port is picked beforehand that another socket of a busy suite
    /// could take meanwhile.
    public static func servingURL(loggedIn path: String) -> String? {
        let log = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard let line = log.split(separator: "\n").first(where: { $0.contains("receiving webhooks") }),
              let start = line.range(of: "http://") else { return nil }
        return String(line[start.lowerBound...].prefix { !$0.isWhitespace && $0 != "\"" })
    }
}
