import Foundation
import Models
import Testing

/// Every number a webhook carries has a range, checked where it is parsed; printing never traps.
@Suite struct EnvelopeRangeTests {
    static func body(timestamp: String) -> String {
        #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"STUDENT_PERIOD_CREATED","tenant":"t","timestamp":\#(timestamp),"data":{"id":1}}"#
    }

    @Test(arguments: ["10000000000000000", "9223372036854775807", "-9223372036854775808", "253402300800000", "-62135596800001"])
    func aTimestampOutsideTheYears1To9999IsRefusedNamingItsValue(timestamp: String) {
        let error = #expect(throws: WebhookEnvelopeError.self) { try WebhookEnvelope.validate(Array(Self.body(timestamp: timestamp).utf8)) }
        #expect(error?.reason.hasPrefix(#"field "timestamp" is \#(timestamp), outside the years 0001 to 9999"#) == true, "\(String(describing: error))")
    }

    @Test(arguments: ["1e300", "-1e300", "9223372036854775808", "1.5", "\"1727862002901\""])
    func aTimestampThatIsNoInt64IsRefused(timestamp: String) {
        let error = #expect(throws: WebhookEnvelopeError.self) { try WebhookEnvelope.validate(Array(Self.body(timestamp: timestamp).utf8)) }
        #expect(error?.reason.contains("timestamp") == true, "\(String(describing: error))")
    }

    @Test(arguments: ["253402300799999", "-62135596800000", "0", "1727862002901"])
    func theEndsOfTheRangeAreAccepted(timestamp: String) throws {
        let envelope = try WebhookEnvelope.validate(Array(Self.body(timestamp: timestamp).utf8))
        #expect(String(envelope.timestampMillis) == timestamp)
        #expect(Timestamp.format(envelope.time).count == 27)
    }

    @Test func printingAnyDateNeverTraps() {
        // Far outside, at the ends, and not a number at all: clamped to 0001..9999.
        let extremes: [Double] = [1e300, -1e300, .infinity, -.infinity, .nan, Double(Int64.max), Double(Int64.min), -62_167_219_200, 253_402_300_799.999]
        for seconds in extremes {
            let text = Timestamp.format(Date(timeIntervalSince1970: seconds))
            #expect(text.count == 27, "\(seconds): \(text)")
            #expect(text.hasPrefix("0001-") || text.hasPrefix("9999-") || text.hasPrefix("1970-"), "\(seconds): \(text)")
        }
        #expect(Timestamp.format(Date(timeIntervalSince1970: -62_167_219_200)) == "0001-01-01T00:00:00.000000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_799.999)).hasPrefix("9999-12-31T23:59:59.99"))
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1e300)) == "9999-12-31T23:59:59.999999Z")
        // A seeded sweep over the whole Double range.
        var state: UInt64 = 0x5EED
        for _ in 0..<10_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let text = Timestamp.format(Date(timeIntervalSince1970: Double(bitPattern: state)))
            #expect(text.count == 27)
        }
    }
}
