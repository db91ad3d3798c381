import Foundation
import Testing
import TestSupport

/// Every number a user can type, at its extremes, through every numeric flag and every numeric
/// key of the schools file: a clear refusal (64 for a flag, 78 for the file) or a clean run,
/// never a signal (a trap, a double free) and never a hang.
@Suite struct NumbersTests {
    static let extremes = ["0", "-1", "2147483648", "9223372036854775807", "18446744073709551616", "1e400", "nan"]
    /// Out of range for every setting below, whatever it counts.
    static let alwaysRefused: Set<String> = ["-1", "18446744073709551616", "1e400", "nan"]

    /// Each command with the flag under test; `VALUE` is replaced. The database is out of reach,
    /// so a value that passes ends at the first statement (75), not in a night's work.
    static let flags: [[String]] = [
        ["run", "--parallel"], ["run", "--settle"], ["run", "--deadline"], ["run", "--fresh-within"], ["run", "--period"],
        ["ingest", "--writers"], ["ingest", "--batch-size"], ["ingest", "--deadline"],
        ["serve", "--port"], ["serve", "--connections"], ["serve", "--max-body-bytes"], ["serve", "--idle-timeout"],
        ["serve", "--max-connections"], ["serve", "--timestamp-window"],
        ["runs", "--limit"], ["report", "--run"], ["backfill", "--run"], ["backfill", "--run", "1", "--max-deletes"],
        ["backfill", "--run", "1", "--deadline"], ["prune", "--older-than"], ["migrate", "--deadline"],
        ["config", "check", "--last"], ["demo", "--periods"], ["demo", "--students-per-period"], ["demo", "--report", "/dev/null", "--outage-changes"],
    ]

    static let environment = [
        "DREAMCLASS_BASE_URL": "http://127.0.0.1:9/v1", "DREAMCLASS_API_KEY": "k", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "t",
        "DATABASE_URL": "host=/nonexistent-numbers", "DREAMCLASS_CONFIG": "", "LOG_LEVEL": "critical",
    ]

    @Test func everyNumericFlagAtItsExtremesIsRefusedOrRunsCleanly() async throws {
        let cases = Self.flags.flatMap { flag in Self.extremes.map { (flag, $0) } }
        let results = await withTaskGroup(of: (String, String, Command.Result).self) { group in
            var pending = cases.makeIterator()
            func next() -> Bool {
                guard let (flag, value) = pending.next() else { return false }
                group.addTask { (flag.joined(separator: " "), value, await Command.run("dreamclass-reconcile", flag + [value], environment: Self.environment)) }
                return true
            }
            for _ in 0..<4 where !next() { break }
            var results: [(String, String, Command.Result)] = []
            for await result in group {
                results.append(result)
                _ = next()
            }
            return results
        }
        #expect(results.count == cases.count)
        for (flag, value, result) in results {
            #expect([0, 64, 75, 78].contains(result.status), "\(flag) \(value): exit \(result.status)\n\(result.stderr)")
            // Only a demo of no outage (0) is a demo to run; one of two billion periods is a typo.
            if Self.alwaysRefused.contains(value) || (flag.hasPrefix("demo") && value != "0") {
                #expect(result.status == 64, "\(flag) \(value): exit \(result.status)\n\(result.stderr)")
            }
        }
    }

    @Test func everyNumericKeyOfTheFileAtItsExtremesIsRefusedOrValid() async throws {
        let folder = try temporaryFolder("numbers").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "k".write(toFile: folder + "/key", atomically: true, encoding: .utf8)
        let keys = ["concurrency", "max_rps", "timeout", "page_size", "max_attempts", "read_attempts", "max_retry_after",
                    "settle", "deadline", "max_deletes", "max_creates"]
        for key in keys {
            for value in Self.extremes + ["[1, 2]"] {
                let path = "\(folder)/\(key).yaml"
                try "schools:\n  north:\n    school_code: S\n    api_key_file: \(folder)/key\n    \(key): \(value)\n"
                    .write(toFile: path, atomically: true, encoding: .utf8)
                let result = await Command.run("dreamclass-reconcile", ["config", "check", "--offline", "--config", path], environment: ["DREAMCLASS_API_KEY": ""])
                #expect([0, 78].contains(result.status), "\(key): \(value): exit \(result.status)\n\(result.stderr)")
                if Self.alwaysRefused.contains(value) || value.hasPrefix("[") {
                    #expect(result.status == 78 && result.stderr.contains("schools.north.\(key)"), "\(key): \(value): \(result.stderr)")
                }
            }
        }
    }

    /// A port above 65535 in any URL setting: named where it was set, never handed to NIO (which
    /// traps on it), and never after a backfill has stored anything.
    @Test func aPortOutOfRangeInAnyURLIsRefusedWhereItEnters() async throws {
        let bad = "http://127.0.0.1:99999/x"
        let folder = try temporaryFolder("ports").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "k".write(toFile: folder + "/key", atomically: true, encoding: .utf8)
        var results: [(String, Command.Result)] = []
        results.append(("DREAMCLASS_BASE_URL", await Command.run("dreamclass-reconcile", ["run"], environment: Self.environment.merging(["DREAMCLASS_BASE_URL": bad]) { $1 })))
        results.append(("--ping", await Command.run("dreamclass-reconcile", ["run", "--ping", bad], environment: Self.environment)))
        results.append(("--deliver", await Command.run("dreamclass-reconcile", ["backfill", "--run", "1", "--deliver", bad], environment: Self.environment)))
        for key in ["base_url", "deliver"] {
            try "schools:\n  north:\n    school_code: S\n    api_key_file: \(folder)/key\n    \(key): \(bad)\n".write(toFile: folder + "/s.yaml", atomically: true, encoding: .utf8)
            results.append((key, await Command.run("dreamclass-reconcile", ["config", "check", "--offline", "--config", folder + "/s.yaml"])))
            results.append((key, await Command.run("dreamclass-reconcile", ["run", "--config", folder + "/s.yaml"], environment: Self.environment)))
        }
        for (setting, result) in results {
            #expect([64, 78].contains(result.status), "\(setting): exit \(result.status)\n\(result.stderr)")
            #expect(result.stderr.contains("port 99999, outside 1 to 65535"), "\(setting): \(result.stderr)")
        }
    }
}
