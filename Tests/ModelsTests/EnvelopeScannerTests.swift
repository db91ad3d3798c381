import Foundation
@testable import Models
import Testing

/// The envelope's fast path against Foundation's decoder: whenever the fast path answers, the
/// decoder answers the same; on the usual shape it answers at all.
@Suite struct EnvelopeScannerTests {
    static let bases: [String] = [
        #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"STUDENT_PERIOD_CREATED","tenant":"my-school","timestamp":1727862002901,"signature":"nGq8sspzZVWObaR4zUOLyQ29m/IBxxD716hKx5298No=","data":{"id":74,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00","studentId":76}}"#,
        #" { "data" : { "studentId" : -3 , "id" : 0 , "active" : false , "addedAt" : "2024-10-02T09:40:02Z" } , "tenant" : "t" , "timestamp" : -5 , "type" : "STUDENT_PERIOD_DELETED" , "id" : "B3E6FA78-8672-4E8B-8431-7EEBDABD25A2" } "#,
        #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"PAYMENT_CREATED","tenant":"t","timestamp":1,"data":{"id":7,"amount":12.5,"note":"a \"quoted\" \u00e9 \n","items":[1,{"x":null},[true,false]],"nothing":null}}"#,
        #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"STUDENT_PERIOD_UPDATED","tenant":"t","timestamp":1,"extra":{"deep":[[[]]]},"data":{"id":"74","studentId":1.5,"active":"yes","addedAt":17}}"#,
        #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"STUDENT_PERIOD_UPDATED","tenant":"t","timestamp":9223372036854775807,"data":{}}"#,
        #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"STUDENT_PERIOD_UPDATED","tenant":"t","timestamp":1,"data":{"id":74,"id":75}}"#,
        #"{"id":"b3e6fa78-8672-4e8b-8431-7eebdabd25a2","type":"STUDENT_PERIOD_UPDATED","tenant":"szkoła ✓","timestamp":1,"signature":null,"data":{"id":-9223372036854775808,"studentId":9223372036854775808}}"#,
    ]

    static func agree(_ body: [UInt8]) -> Bool {
        guard let quick = WebhookEnvelope.scannedQuickly(body) else { return true }
        guard let slow = WebhookEnvelope.decodedSlowly(body).envelope else { return false }
        return quick.rawID == slow.rawID && quick.type == slow.type && quick.tenant == slow.tenant
            && quick.timestampMillis == slow.timestampMillis && quick.signature == slow.signature && quick.data == slow.data
    }

    @Test func theUsualShapeTakesTheFastPathAndAgrees() {
        let usual = Array(Self.bases[0].utf8)
        #expect(WebhookEnvelope.scannedQuickly(usual) != nil)
        #expect(WebhookEnvelope.scannedQuickly(Array(Self.bases[1].utf8)) != nil)
        for base in Self.bases { #expect(Self.agree(Array(base.utf8)), "\(base)") }
        let body = WebhookEnvelope.body(id: UUID(), type: "STUDENT_PERIOD_CREATED", tenant: "t", timestampMillis: 1_727_862_002_901, signature: nil,
                                        data: Enrollment(id: 1, studentId: 2, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))
        #expect(WebhookEnvelope.scannedQuickly(Array(body.utf8))?.data == StoredEvent.Fields(id: 1, studentID: 2, active: true, addedAt: Timestamp.parse("2024-10-02T09:40:02.179+00:00")))
    }

    @Test(arguments: 0..<40)
    func mutatedBodiesNeverMakeThePathsDisagree(seed: UInt64) {
        var random = SeededRandom(seed: seed + 1)
        var fast = 0
        let pieces = Array(#"{}[]":,.-+e0123456789 \ntrufalsn"#.unicodeScalars).map(String.init) + ["\\u00e9", "\\\"", "é", "null", "1e5", "0.5"]
        for base in Self.bases {
            for _ in 0..<50 {
                var scalars = Array(base.unicodeScalars).map(String.init)
                for _ in 0..<(1 + Int(random.next() % 3)) {
                    let at = Int(random.next() % UInt64(scalars.count))
                    switch random.next() % 3 {
                    case 0: scalars.remove(at: at)
                    case 1: scalars.insert(pieces[Int(random.next() % UInt64(pieces.count))], at: at)
                    default: scalars[at] = pieces[Int(random.next() % UInt64(pieces.count))]
                    }
                }
                let body = Array(scalars.joined().utf8)
                if WebhookEnvelope.scannedQuickly(body) != nil { fast += 1 }
                #expect(Self.agree(body), "\(String(decoding: body, as: UTF8.self))")
            }
        }
        // The mutations that keep a body of the usual shape do reach the fast path.
        #expect(fast > 20, "only \(fast) mutated bodies took the fast path")
    }
}
