import DreamClassAPI
import Foundation
import Settings
import Testing

@Suite struct SettingsFileTests {
    static func file(_ text: String) throws -> (path: String, keyFile: String) {
        let directory = FileManager.default.temporaryDirectory.appending(path: "settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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
        #expect(try file.resolve(school: "north", environment: [:]).api.apiKey == "")
    }
}
