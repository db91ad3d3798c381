import Foundation
import Models
import Testing

@Suite struct WebhookEnvelopeTests {
    @Test func theDocumentedExampleIsValid() throws {
        let body = #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"STUDENT_PERIOD_CREATED","tenant":"my-school","timestamp":1727862002901,"signature":"nGq8sspzZVWObaR4zUOLyQ29m/IBxxD716hKx5298No=","data":{"id":74,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00","studentId":76}}"#
        let envelope = try WebhookEnvelope.validate(Array(body.utf8))
        #expect(envelope.rawID == "b3e6fa78-8672-4e8b-8431-7eebdabd25a2")
        #expect(envelope.type == "STUDENT_PERIOD_CREATED")
        #expect(envelope.tenant == "my-school")
        #expect(envelope.time == Date(timeIntervalSince1970: 1_727_862_002.901))
        #expect(envelope.signature?.count == 44)
    }

    @Test(arguments: [
        (#"{"type":"A","tenant":"t","timestamp":1,"data":{}}"#, #"missing field "id""#),
        (#"{"id":"x","type":"A","tenant":"t","timestamp":1,"data":{}}"#, #"field "id" is not a UUID"#),
        (#"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"A","tenant":"t","timestamp":1.5,"data":{}}"#, #"field "timestamp" is not an integer"#),
        (#"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"A","tenant":"t","timestamp":1,"data":"x"}"#, #"field "data" is not an object"#),
        (#"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"","tenant":"t","timestamp":1,"data":{}}"#, #"field "type" is empty"#),
        (#"[1,2,3]"#, "is not an object"),
    ])
    func aBadEnvelopeSaysWhatIsWrong(_ body: String, _ reason: String) {
        let error = #expect(throws: WebhookEnvelopeError.self) { try WebhookEnvelope.validate(Array(body.utf8)) }
        #expect(error?.reason.hasPrefix(reason) == true || error?.reason.contains(reason) == true, "\(error?.reason ?? "")")
    }

    /// Event ids parse as Foundation parses them, in either case: the fast parser must agree with
    /// it on every UUID, and refuse what it refuses.
    @Test func eventIDsParseAsFoundationDoes() {
        for _ in 0..<500 {
            let id = UUID()
            #expect(UUID.parse(id.uuidString) == id)
            #expect(UUID.parse(id.uuidString.lowercased()) == id)
        }
        for text in ["", "x", "b3e6fa78-8672-4e8b-8431-7eebdabd25a", "b3e6fa78-8672-4e8b-8431-7eebdabd25a2x", "b3e6fa78_8672-4e8b-8431-7eebdabd25a2",
                     "g3e6fa78-8672-4e8b-8431-7eebdabd25a2", "b3e6fa788672-4e8b-8431-7eebdabd25a2-", "{b3e6fa78-8672-4e8b-8431-7eebdabd25a2}"] {
            #expect(UUID.parse(text) == UUID(uuidString: text), "\(text)")
        }
        #expect(UUID.parse("b3e6fa78-8672-4e8b-8431-7eebdabd25a2") != nil)
    }
}
