import APIConfiguration
import Foundation
import Settings
import Testing
import TestSupport

@Suite struct SettingsFileTests {
    static func file(_ text: String) throws -> (path: String, keyFile: String) {
        let directory = try temporaryFolder("settings")
        let keyFile = directory.appending(path: "key").path
        try "file-api-key\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        let path = directory.appending(path: "schools.yaml").path
        try text.replacingOccurrences(of: "KEYFILE", with: keyFile).write(toFile: path, atomically: true, encoding: .utf8)
        return (path, keyFile)
    }

    static let yaml = """
        defaults:
          base_url: https://dc.example/api
          settle: 30m
          concurrency: 4
        schools:
          north:
            school_code: N1
            api_key_file: KEYFILE
            settle: 2h
            periods: [3, 4]
          south:
            school_code: S1
            tenant: south-tenant
            api_key_file: KEYFILE
            scope: current
            backfill: true
        """

    @Test func aSchoolWinsOverTheDefaultsAndTheEnvironmentOverBoth() throws {
        let (path, _) = try Self.file(Self.yaml)
        let file = try SettingsFile.load(path: path)
        #expect(file.schoolNames == ["north", "south"])
        let north = try file.resolve(school: "north", environment: [:])
        #expect(north.api.baseURL == "https://dc.example/api")
        #expect(north.api.apiKey == "file-api-key")
        #expect(north.api.tenant == "north")
        #expect(north.api.concurrency == 4)
        #expect(north.settle == .seconds(7200))
        #expect(north.scope == .periods([3, 4]))
        let south = try file.resolve(school: "south", environment: [:])
        #expect(south.settle == .seconds(1800))
        #expect(south.scope == .current)
        #expect(south.backfill)
        #expect(south.api.tenant == "south-tenant")

        let overridden = try file.resolve(school: "north", environment: [
            "DREAMCLASS_BASE_URL": "http://127.0.0.1:9/x", "DREAMCLASS_API_KEY": "env-key", "DREAMCLASS_CONCURRENCY": "2",
        ])
        #expect(overridden.api.baseURL == "http://127.0.0.1:9/x")
        #expect(overridden.api.apiKey == "env-key")
        #expect(overridden.api.concurrency == 2)
        #expect(overridden.api.schoolCode == "N1")
    }

    @Test func errorsNameTheFileTheKeyAndTheLine() throws {
        let (unknown, _) = try Self.file("schools:\n  north:\n    school_code: N1\n    setle: 5m\n")
        let error = #expect(throws: SettingsError.self) { try SettingsFile.load(path: unknown) }
        #expect(error?.description.hasPrefix("\(unknown):4: schools.north.setle: is not a setting") == true)

        let (wrongType, _) = try Self.file("defaults:\n  concurrency: many\nschools:\n  north: {}\n")
        let typeError = #expect(throws: SettingsError.self) { try SettingsFile.load(path: wrongType) }
        #expect(typeError?.key == "defaults.concurrency")
        #expect(typeError?.line == 2)
        #expect(typeError?.message == "must be a number")

        let (badSettle, _) = try Self.file("schools:\n  north:\n    settle: soon\n")
        let settleError = #expect(throws: SettingsError.self) { try SettingsFile.load(path: badSettle).resolve(school: "north", environment: [:]) }
        #expect(settleError?.key == "schools.north.settle")

        let (notYAML, _) = try Self.file("schools: [unclosed\n")
        #expect(throws: SettingsError.self) { try SettingsFile.load(path: notYAML) }
    }

    @Test func aSecretInTheFileIsIgnoredWithAWarning() throws {
        let (path, _) = try Self.file("schools:\n  north:\n    school_code: N1\n    api_key: sk-live-in-the-file\n")
        let file = try SettingsFile.load(path: path)
        #expect(file.warnings.count == 1)
        #expect(file.warnings[0].contains("schools.north.api_key holds a secret"))
        #expect(!file.warnings[0].contains("sk-live-in-the-file"))
        let missing = #expect(throws: SettingsError.self) { try file.resolve(school: "north", environment: [:]) }
        #expect(missing?.key == "schools.north.api_key_file")
        #expect(missing?.message.contains("DREAMCLASS_API_KEY") == true)
        #expect(!(missing?.description.contains("sk-live-in-the-file") ?? true))
    }

    @Test func everyValueIsCheckedWhenReadAndEveryProblemNamedAtOnce() throws {
        let (path, _) = try Self.file("""
            defaults:
              max_deletes: lots
              concurrency: 1e300
            schools:
              north:
                school_code: N1
                timeout: -5
                page_size: 2.5
                deadline: 0
              south:
                school_code: S1
                settle: forever
            """)
        let file = try SettingsFile.load(path: path)
        let problems = file.problems(environment: ["DREAMCLASS_API_KEY": "k"])
        let described = problems.map(\.description)
        #expect(described.contains("\(path):2: defaults.max_deletes: takes a count (25) or a share from 0% to 100% (10%), not \"lots\""))
        #expect(described.contains { $0.hasPrefix("\(path):3: defaults.concurrency: must be a whole number from 1 to 256") })
        #expect(described.contains { $0.hasPrefix("\(path):7: schools.north.timeout: must be a number from") })
        #expect(described.contains { $0.hasPrefix("\(path):8: schools.north.page_size: must be a whole number") })
        #expect(described.contains("\(path):9: schools.north.deadline: must be longer than 0"))
        #expect(described.contains { $0.hasPrefix("\(path):12: schools.south.settle: takes 0, 90s") })
        // Each school names its own, the defaults' problems included.
        #expect(problems.count == 8)
        // Without the key in the environment, its absence is a sixth.
        let error = #expect(throws: SettingsError.self) { try file.resolve(school: "north", environment: [:]) }
        #expect(error?.all.count == 6)
    }

    /// Reports, metrics and pings are named by one rule: names it maps alike are an error of the
    /// file that names them all, so no school's report overwrites another's.
    @Test func schoolsWhoseFileNamesCollideAreNamedTogether() throws {
        let (path, _) = try Self.file("schools:\n  a b:\n    school_code: A\n  a.b:\n    school_code: B\n  a_b:\n    school_code: C\n  c:\n    school_code: D\n")
        let error = #expect(throws: SettingsError.self) { try SettingsFile.load(path: path) }
        #expect(error?.all.count == 1)
        #expect(error?.description.contains(#""a b", "a.b", "a_b" all become "a_b" in file names"#) == true, "\(error?.description ?? "")")
    }

    @Test func unknownKeysAndWrongTypesAreAllNamedByOneLoad() throws {
        let (path, _) = try Self.file("defaults:\n  setle: 5m\n  backfill: maybe\nschools:\n  north:\n    perods: [1]\n")
        let error = #expect(throws: SettingsError.self) { try SettingsFile.load(path: path) }
        #expect(error?.all.map(\.key) == ["defaults.setle", "defaults.backfill", "schools.north.perods"])
    }

    @Test func environmentNumbersOutOfRangeAreRefusedNamingTheVariable() throws {
        let (path, _) = try Self.file("schools:\n  north:\n    school_code: N1\n")
        let file = try SettingsFile.load(path: path)
        for (name, value) in [("DREAMCLASS_TIMEOUT", "1e300"), ("DREAMCLASS_CONCURRENCY", "0"), ("DREAMCLASS_MAX_RETRY_AFTER", "-1"),
                              ("DREAMCLASS_PAGE_SIZE", "99999999999999999999"), ("DREAMCLASS_READ_ATTEMPTS", "nan")] {
            let error = #expect(throws: SettingsError.self) { try file.resolve(school: "north", environment: [name: value]) }
            #expect(error?.description.contains("\(name) has an invalid value \"\(value)\"") == true, "\(name)")
        }
    }

    /// One precedence for every setting: environment over the school's section over `defaults`
    /// (and flags, in the command, over all). Each row: the key, its environment variable, three
    /// values of it, and how the resolved settings show it.
    @Test func everySettingFollowsOnePrecedence() throws {
        typealias Row = (key: String, variable: String?, values: [String], read: @Sendable (SchoolSettings) -> String)
        let rows: [Row] = [
            ("base_url", "DREAMCLASS_BASE_URL", ["http://d/1", "http://s/2", "http://e/3"], { $0.api.baseURL }),
            ("school_code", "DREAMCLASS_SCHOOL_CODE", ["D", "S", "E"], { $0.api.schoolCode }),
            ("tenant", "DREAMCLASS_TENANT", ["d", "s", "e"], { $0.api.tenant }),
            ("path_periods", "DREAMCLASS_PATH_PERIODS", ["/d", "/s", "/e"], { $0.api.paths.periods }),
            ("path_period_students", "DREAMCLASS_PATH_PERIOD_STUDENTS", ["/d/{periodId}", "/s/{periodId}", "/e/{periodId}"], { $0.api.paths.periodStudents }),
            ("path_student", "DREAMCLASS_PATH_STUDENT", ["/d/{studentId}", "/s/{studentId}", "/e/{studentId}"], { $0.api.paths.student }),
            ("concurrency", "DREAMCLASS_CONCURRENCY", ["2", "3", "4"], { String($0.api.concurrency) }),
            ("max_rps", "DREAMCLASS_MAX_RPS", ["2.0", "3.0", "4.0"], { String($0.api.requestsPerSecond ?? 0) }),
            ("timeout", "DREAMCLASS_TIMEOUT", ["2.0", "3.0", "4.0"], { String(Int($0.api.timeout.components.seconds)) + ".0" }),
            ("page_size", "DREAMCLASS_PAGE_SIZE", ["20", "30", "40"], { String($0.api.pageSize) }),
            ("max_attempts", "DREAMCLASS_MAX_ATTEMPTS", ["2", "3", "4"], { String($0.api.maxAttempts) }),
            ("read_attempts", "DREAMCLASS_READ_ATTEMPTS", ["2", "3", "4"], { String($0.api.readAttempts) }),
            ("max_retry_after", "DREAMCLASS_MAX_RETRY_AFTER", ["20.0", "30.0", "40.0"], { String(Int($0.api.maxRetryAfter.components.seconds)) + ".0" }),
            ("settle", nil, ["1m", "2m"], { "\($0.settle.components.seconds / 60)m" }),
            ("deadline", nil, ["1h", "2h"], { "\($0.deadline.components.seconds / 3600)h" }),
            ("max_deletes", nil, ["5", "7%"], { switch $0.maxDeletes { case .count(let n): "\(n)"; case .percent(let p): "\(Int(p))%" } }),
            ("report_dir", nil, ["/d", "/s"], { $0.reportDirectory }),
            ("deliver", nil, ["http://d", "http://s"], { $0.deliverURL ?? "" }),
            ("deliver_user", nil, ["d", "s"], { $0.deliverUser ?? "" }),
            ("max_creates", nil, ["20%", "30%"], { "\(Int($0.createGuard.maxShare))%" }),
            ("key_encoding", nil, ["raw", "hex"], { $0.keyEncoding?.rawValue ?? "" }),
        ]
        // Every key of the file is in the table (secret files and list/flag keys aside).
        let covered = Set(rows.map(\.key)).union(["api_key_file", "scope", "periods", "backfill", "deliver_password_file", "webhook_secret_file"])
        #expect(covered == Set(SettingsFile.keyNames))
        for row in rows {
            func resolved(defaults: String?, school: String?, environment: String?) throws -> String {
                var text = "defaults:\n" + (row.key == "school_code" ? "" : "  school_code: X\n")
                if let defaults { text += "  \(row.key): \(defaults)\n" }
                text += "schools:\n  north:\n    api_key_file: KEYFILE\n"
                if let school { text += "    \(row.key): \(school)\n" }
                let (path, _) = try Self.file(text)
                var variables: [String: String] = [:]
                if let variable = row.variable, let environment { variables[variable] = environment }
                return row.read(try SettingsFile.load(path: path).resolve(school: "north", environment: variables))
            }
            let (d, s) = (row.values[0], row.values[1])
            #expect(try resolved(defaults: d, school: nil, environment: nil) == d, "\(row.key): defaults")
            #expect(try resolved(defaults: d, school: s, environment: nil) == s, "\(row.key): school over defaults")
            if let variable = row.variable {
                let e = row.values[2]
                #expect(try resolved(defaults: d, school: s, environment: e) == e, "\(row.key): \(variable) over the file")
            }
        }
    }
}
