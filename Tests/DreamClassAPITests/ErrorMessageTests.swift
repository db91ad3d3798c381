import DreamClassAPI
import Testing

/// An error names the input and the next step to take, never a secret.
@Suite struct ErrorMessageTests {
    @Test func aRefusedCallSaysWhichSettingsToCheck() {
        let url = "https://api.example/dreamclassapi/v1/schoolperiods/list"
        let denied = DreamClassError.status(401, url: url, excerpt: "").description
        #expect(denied.contains(url))
        #expect(denied.contains("DREAMCLASS_API_KEY") && denied.contains("config check"))
        let missing = DreamClassError.status(404, url: url, excerpt: "").description
        #expect(missing.contains("DREAMCLASS_BASE_URL") && missing.contains("DREAMCLASS_PATH_"))
        #expect(!DreamClassError.status(400, url: url, excerpt: "").description.contains("config check"))
    }

    @Test func aSettingThatIsMissingOrUnreadableSaysWhereToSetIt() {
        #expect(ConfigurationError.missing("DREAMCLASS_API_KEY").description.contains("DREAMCLASS_API_KEY_FILE"))
        let unreadable = ConfigurationError.unreadable("DREAMCLASS_API_KEY_FILE", "/run/secrets/key").description
        #expect(unreadable.contains("/run/secrets/key") && unreadable.contains("may read it"))
    }

    @Test func theSecretReaderTakesTheVariableThenItsFileAndNamesAnUnreadableFile() throws {
        #expect(try DreamClassConfiguration.secret("S", environment: ["S": "value", "S_FILE": "/nonexistent"]) == "value")
        #expect(try DreamClassConfiguration.secret("S", environment: [:]) == nil)
        #expect(throws: ConfigurationError.unreadable("S_FILE", "/nonexistent/key")) {
            try DreamClassConfiguration.secret("S", environment: ["S": "", "S_FILE": "/nonexistent/key"])
        }
    }
}
