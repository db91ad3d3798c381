import Settings
import Testing

/// Durations as every flag and setting takes them.
@Suite struct DurationTests {
    @Test func durationsParseAsTheCommandLineWritesThem() {
        #expect(parseDuration("0") == .zero)
        #expect(parseDuration("90s") == .seconds(90))
        #expect(parseDuration("15m") == .seconds(900))
        #expect(parseDuration("2h") == .seconds(7200))
        #expect(parseDuration("1d") == .seconds(86_400))
        #expect(parseDuration("soon") == nil)
        #expect(parseDuration("-5m") == nil)
    }

    @Test(arguments: ["99999999999999999h", "-5m", "5x", "", "9223372036854775807d"])
    func durationsOutOfRangeAreRefusedNotTrapped(text: String) {
        #expect(parseDuration(text) == nil)
    }
}
