import Foundation
import Testing
import TestSupport

/// `config check` as a person runs it on a file with mistakes.
@Suite struct ConfigCheckTests {
    /// One file with one of each mistake: every one is named in one check, in the user's words
    /// (file:line: key), and the check exits with the configuration code.
    @Test func configCheckOfflineNamesEveryProblemAtOnceAndExits78() async throws {
        let folder = try temporaryFolder("config-check")
        let keyFile = folder.appending(path: "key").path
        try "file-api-key\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        let path = folder.appending(path: "schools.yaml").path
        try """
            defaults:
              max_deletes: lots
              setle: 5m
            schools:
              north:
                school_code: N1
                api_key_file: KEYFILE
                timeout: 0
              south:
                api_key_file: /nonexistent/south.key
                max_creates: most
            """.replacingOccurrences(of: "KEYFILE", with: keyFile).write(toFile: path, atomically: true, encoding: .utf8)
        let result = await Command.run("dreamclass-reconcile", ["config", "check", "--offline", "--config", path], environment: [
            "DREAMCLASS_API_KEY": "", "DREAMCLASS_SCHOOL_CODE": "",
        ])
        #expect(result.status == 78, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("\(path):2: defaults.max_deletes: takes a count (25) or a share from 0% to 100% (10%), not \"lots\""))
        // The unknown key does not stop the check, and the keys it knows are listed.
        #expect(result.stderr.contains("\(path):3: defaults.setle: is not a setting; known: "))
        #expect(result.stderr.contains("\(path):8: schools.north.timeout: must be a number from 0.001"))
        #expect(result.stderr.contains("\(path):10: schools.south.api_key_file: schools.south.api_key_file names /nonexistent/south.key, which cannot be read"))
        #expect(result.stderr.contains("\(path):11: schools.south.max_creates: takes a share from 0% to 100%"))
        // A missing school code names the file's key, not "use --config".
        #expect(result.stderr.contains("\(path): schools.south.school_code: is not set, in the school's section, in defaults, or as DREAMCLASS_SCHOOL_CODE"))
        #expect(!result.stderr.contains("or use --config"))
        // The same file never reaches a backfill: `run` refuses it before any work.
        let run = await Command.run("dreamclass-reconcile", ["run", "--config", path, "--school", "north", "--backfill", "--database", "host=/nonexistent"])
        #expect(run.status == 78)
        #expect(run.stderr.contains("defaults.setle: is not a setting"))
    }
}
