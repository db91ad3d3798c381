import Foundation
import Testing
import TestSupport

/// `.ci/setup`'s decisions, on a pretend machine (a PATH of stubs): what is missing, what it
/// would install and how, and what it says when it cannot. The machine's packages are not touched.
@Suite struct SetupScriptTests {
    static let script = NightlyTests.packageRoot.appending(path: ".ci/setup").path

    /// A folder of stub commands: each name prints nothing and exits 0, except `id`, which says `uid`.
    ///
    /// A shell writes them: a file this process held open for writing could be inherited by a
    /// child another test forks at that moment, and a stub still open for writing in any process
    /// cannot be run (ETXTBSY), which made the script see a stub as missing.
    static func machine(_ commands: [String], uid: Int) async throws -> String {
        let bin = try temporaryFolder("setup-bin").path
        try FileManager.default.createSymbolicLink(atPath: bin + "/bash", withDestinationPath: "/bin/bash")
        let writes = (commands + ["id"]).map { command in
            #"printf '#!/bin/bash\n%s\n' '\#(command == "id" ? "echo \(uid)" : "exit 0")' > "$0/\#(command)" && chmod 755 "$0/\#(command)""#
        }
        let written = await Command.run("/bin/sh", ["-c", writes.joined(separator: " && "), bin])
        struct StubsNotWritten: Error { var stderr: String }
        guard written.status == 0 else { throw StubsNotWritten(stderr: written.stderr) }
        return bin
    }

    static func setup(_ commands: [String], uid: Int = 1000, postgres: Bool = false, _ arguments: [String] = ["--check"]) async throws -> Command.Result {
        let bin = try await machine(commands, uid: uid)
        defer { try? FileManager.default.removeItem(atPath: bin) }
        let initdb = postgres ? bin + "/swift" : bin + "/no-initdb-here"
        return await Command.run(script, arguments, environment: ["PATH": bin, "SETUP_INITDB_GLOB": initdb])
    }

    @Test func aBareMachineWithSudoGetsEveryPackageThroughSudo() async throws {
        let result = try await Self.setup(["swift", "apt-get", "sudo"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("setup: missing: pkg-config libpq-dev postgresql openssl prometheus prometheus-pushgateway dpkg-dev lintian"))
        #expect(result.stdout.contains("libpq-dev: the PostgreSQL client library and its headers"))
        #expect(result.stdout.contains("would run: sudo apt-get update && sudo apt-get install -y --no-install-recommends pkg-config libpq-dev postgresql openssl prometheus prometheus-pushgateway dpkg-dev lintian"))
    }

    @Test func rootNeedsNoSudoAndOnlyWhatIsMissingIsInstalled() async throws {
        let result = try await Self.setup(["swift", "apt-get", "pkg-config", "openssl", "promtool", "prometheus-pushgateway", "dpkg-shlibdeps", "lintian"], uid: 0, postgres: true)
        #expect(result.status == 0, "\(result.stderr)")
        // The pkg-config stub says yes to every question, libpq included.
        #expect(result.stdout == "setup: nothing to install\n")
        let partial = try await Self.setup(["swift", "apt-get", "pkg-config"], uid: 0)
        #expect(partial.stdout.contains("would run: apt-get update && apt-get install -y --no-install-recommends postgresql openssl prometheus prometheus-pushgateway dpkg-dev lintian"), "\(partial.stdout)")
    }

    @Test func withoutAptOrSudoItSaysWhatToInstallAndFails() async throws {
        let noSudo = try await Self.setup(["swift", "apt-get"], [])
        #expect(noSudo.status == 1)
        // --check only tells, and exits 0 when it could tell.
        let checked = try await Self.setup(["swift", "apt-get"], ["--check"])
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stderr.contains("install these packages (Debian/Ubuntu names) and run again: pkg-config libpq-dev postgresql openssl prometheus prometheus-pushgateway dpkg-dev lintian"))
        #expect(noSudo.stderr.contains("cannot install (not root and no sudo); install these packages (Debian/Ubuntu names) and run again: pkg-config libpq-dev postgresql openssl prometheus prometheus-pushgateway dpkg-dev lintian"))
        let noApt = try await Self.setup(["swift"], uid: 0, [])
        #expect(noApt.status == 1)
        #expect(noApt.stderr.contains("cannot install (no apt-get on this machine)"))
        let noSwift = try await Self.setup([], [])
        #expect(noSwift.status == 1)
        #expect(noSwift.stderr.contains("Swift 6 is not on PATH"))
    }
}
