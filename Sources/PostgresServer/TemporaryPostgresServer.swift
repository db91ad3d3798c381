import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL server: `initdb` into a temporary folder, started with `pg_ctl` on a
/// private unix socket (no TCP port at all), gone when the process that made it ends.
///
/// The tests and the `demo` job use it. Stopping is done by a watchdog shell started beside the
/// server, which waits for this process to exit, however it exits (a crash included), then stops
/// the server and deletes the folder; ``stop()`` does the same at once. When running as root the
/// server runs as the `postgres` user, since `initdb` refuses root.
public final class TemporaryPostgresServer: Sendable {
    /// The folder holding the data directory and the socket.
    public let directory: String
    /// The port number in the socket's name; nothing listens on TCP.
    public let port = 5432
    /// The superuser `initdb` made; it logs in over the socket without a password.
    public let superuser = "postgres"
    private let stopCommand: String
    private let restartCommand: String

    /// Creates and starts a server.
    ///
    /// - Parameter binaries: the folder of `initdb` and `pg_ctl`; by default `$PG_BIN`, else the
    ///   newest `/usr/lib/postgresql/N/bin`.
    public init(binaries: String? = nil) throws {
        let bin = try binaries ?? Self.findBinaries()
        directory = try Self.makeDirectory()
        let asRoot = geteuid() == 0
        if asRoot { try Shell.run(["chown", "-R", "postgres:postgres", directory]) }
        let user = asRoot ? ["runuser", "-u", "postgres", "--"] : []
        let data = directory + "/data"
        try Shell.run(user + ["\(bin)/initdb", "-D", data, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        // Passwords are checked for every role but the superuser, so login failures can be tested.
        try """
            local all \(superuser) trust
            local all all scram-sha-256
            """.write(toFile: data + "/pg_hba.conf", atomically: false, encoding: .utf8)
        // A throwaway server trades durability for speed.
        let options = "-k \(directory) -p \(port) -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            + "-c full_page_writes=off -c max_connections=300"
        try Shell.run(user + ["\(bin)/pg_ctl", "-D", data, "-l", directory + "/server.log", "-o", options, "-w", "-t", "60", "start"])
        restartCommand = (user + ["\(bin)/pg_ctl", "-D", data, "-l", directory + "/server.log", "-m", "fast", "-w", "-t", "60", "restart"]).map(Shell.quote).joined(separator: " ")
        stopCommand = (user + ["\(bin)/pg_ctl", "-D", data, "-m", "immediate", "stop"]).map(Shell.quote).joined(separator: " ")
            + " >/dev/null 2>&1; rm -rf \(Shell.quote(directory))"
        try Shell.spawnDetached(["setsid", "/bin/sh", "-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; \(stopCommand)"])
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every connection is closed.
    public func restart() throws {
        try Shell.run(["/bin/sh", "-c", restartCommand])
    }

    /// Stops the server and deletes its folder now.
    public func stop() {
        _ = try? Shell.run(["/bin/sh", "-c", stopCommand])
    }

    /// A libpq connection string for `database`.
    public func conninfo(database: String = "postgres", user: String? = nil, password: String? = nil) -> String {
        var parts = ["host=\(directory)", "port=\(port)", "dbname=\(database)", "user=\(user ?? superuser)"]
        if let password { parts.append("password='\(password.replacingOccurrences(of: "'", with: "\\'"))'") }
        return parts.joined(separator: " ")
    }

    private static func findBinaries() throws -> String {
        if let bin = ProcessInfo.processInfo.environment["PG_BIN"] { return bin }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        if let newest = versions.compactMap(Int.init).max() { return "\(root)/\(newest)/bin" }
        throw TemporaryPostgresServerError("no PostgreSQL server found under \(root): install postgresql, or set PG_BIN")
    }

    private static func makeDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "dcr-pg-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return path
    }
}

/// Why a throwaway server could not be started; carries the failing command's output.
public struct TemporaryPostgresServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs the server's helper programs through `/bin/sh` and `system(3)`, not Foundation's
/// `Process`: on Linux `Process.waitUntilExit` was seen to miss the exit of `pg_ctl start` (the
/// child stayed a zombie and the wait never ended).
///
/// `system(3)` hands the child every descriptor of this process that is not close-on-exec: the
/// server (which lives on) then held open the sockets an in-process receiver had accepted, and a
/// client waiting for the receiver to close one waited for ever. Every descriptor but the standard
/// three is marked close-on-exec first (harmless to this process, which execs nothing else).
enum Shell {
    static func markDescriptorsCloseOnExec() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let log = NSTemporaryDirectory() + "dcr-shell-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let command = arguments.map(quote).joined(separator: " ")
        markDescriptorsCloseOnExec()
        let status = system("\(command) </dev/null >\(quote(log)) 2>&1")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw TemporaryPostgresServerError("\(command) failed (status \(status)):\n\(output)")
        }
        return output
    }

    static func spawnDetached(_ arguments: [String]) throws {
        let command = arguments.map(quote).joined(separator: " ")
        markDescriptorsCloseOnExec()
        guard system("\(command) </dev/null >/dev/null 2>&1 &") == 0 else {
            throw TemporaryPostgresServerError("could not start \(command)")
        }
    }

    static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
