import FleetJob
import Foundation
import Receiver
import Signing
import Testing
import TestSupport

/// Which school a command means, and the secrets `serve` takes from the schools file.
@Suite struct SchoolSelectionTests {
    let folder: String

    init() throws {
        folder = try temporaryFolder("selection").path
        for (name, text) in [("key", "k"), ("north.secret", Data("north secret".utf8).base64EncodedString()), ("south.secret", "south raw")] {
            try text.write(toFile: "\(folder)/\(name)", atomically: true, encoding: .utf8)
        }
    }

    func file(_ schools: [String]) throws -> String {
        let path = "\(folder)/schools-\(schools.count).yaml"
        let sections = schools.map { name in
            "  \(name):\n    tenant: \(name)-tenant\n    webhook_secret_file: \(folder)/\(name).secret" + (name == "south" ? "\n    key_encoding: raw" : "")
        }
        try (["defaults:", "  school_code: S", "  api_key_file: \(folder)/key", "schools:"] + sections).joined(separator: "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func explainsTenantComesFromTheFlagTheSchoolOrTheEnvironmentInThatOrder() throws {
        let two = try file(["north", "south"])
        let one = try file(["north"])
        let environment = ["DREAMCLASS_TENANT": "env-tenant"]
        #expect(try SchoolSelection.tenant("flag", configPath: two, school: "south", environment: environment).tenant == "flag")
        #expect(try SchoolSelection.tenant(nil, configPath: two, school: "south", environment: [:]).tenant == "south-tenant")
        #expect(try SchoolSelection.tenant(nil, configPath: one, school: nil, environment: [:]).tenant == "north-tenant")
        // The environment's tenant is over the file's, as for every setting.
        #expect(try SchoolSelection.tenant(nil, configPath: one, school: nil, environment: environment).tenant == "env-tenant")
        let fromEnvironment = try SchoolSelection.tenant(nil, configPath: nil, school: nil, environment: environment)
        #expect(fromEnvironment.tenant == "env-tenant" && fromEnvironment.school == nil)
        // A flag's tenant with a file of several schools and none named: no school's settings.
        #expect(try SchoolSelection.tenant("flag", configPath: two, school: nil, environment: [:]).school == nil)
        #expect(throws: SchoolSelection.Ambiguous.self) { try SchoolSelection.tenant(nil, configPath: two, school: nil, environment: environment) }
        #expect(throws: SchoolSelection.NoTenant.self) { try SchoolSelection.tenant(nil, configPath: nil, school: nil, environment: ["DREAMCLASS_TENANT": ""]) }
        #expect(ExitCodes.code(for: SchoolSelection.NoTenant()) == ExitStatus.usage)
    }

    @Test func serveTakesEachSchoolsSecretForItsTenantUnlessTheEnvironmentGivesOneForAll() throws {
        let path = try file(["north", "south"])
        var service = WebhookService(options: .init(schema: "dreamclass"), host: "127.0.0.1", port: 1)
        try service.readSecrets(configPath: path, keyEncoding: nil, user: nil, environment: [:])
        #expect(service.options.signature == nil)
        #expect(service.options.signatures["north-tenant"]?.sign(eventID: "e") == (try WebhookSignature(secret: Data("north secret".utf8).base64EncodedString(), encoding: .base64)).sign(eventID: "e"))
        #expect(service.options.signatures["south-tenant"]?.sign(eventID: "e") == (try WebhookSignature(secret: "south raw", encoding: .raw)).sign(eventID: "e"))

        var everyone = WebhookService(options: .init(schema: "dreamclass"), host: "127.0.0.1", port: 1)
        try everyone.readSecrets(configPath: nil, keyEncoding: .raw, user: "dc", environment: ["DREAMCLASS_WEBHOOK_SECRET": "one", "DREAMCLASS_WEBHOOK_PASSWORD": "pw"])
        #expect(everyone.options.signature?.sign(eventID: "e") == (try WebhookSignature(secret: "one", encoding: .raw)).sign(eventID: "e"))
        #expect(everyone.options.basicAuth?.user == "dc")

        var noPassword = WebhookService(options: .init(schema: "dreamclass"), host: "127.0.0.1", port: 1)
        #expect { try noPassword.readSecrets(configPath: nil, keyEncoding: nil, user: "dc", environment: [:]) } throws: { error in
            "\(error)".contains("--user needs DREAMCLASS_WEBHOOK_PASSWORD") && ExitCodes.code(for: error) == ExitStatus.configuration
        }
    }
}
