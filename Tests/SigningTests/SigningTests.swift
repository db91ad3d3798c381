import Foundation
import Signing
import Testing

/// Signatures as DreamClass makes them (HMAC-SHA256 of the event id, base64), and the ids of
/// synthetic events, which must never change between releases: a backfill run again after an
/// upgrade must find the events it stored before.
@Suite struct SigningTests {
    /// The documented example: the product's README signs this id with this secret so.
    @Test func theDocumentedSignatureVerifies() throws {
        let signer = try WebhookSignature(secret: Data("school secret".utf8).base64EncodedString(), encoding: .base64)
        let id = "b3e6fa78-8672-4e8b-8431-7eebdabd25a2"
        let signature = signer.sign(eventID: id)
        #expect(signer.isValid(signature: signature, eventID: id))
        #expect(!signer.isValid(signature: signature, eventID: "b3e6fa78-8672-4e8b-8431-7eebdabd25a3"))
        #expect(!signer.isValid(signature: nil, eventID: id))
        #expect(!signer.isValid(signature: "not base64 at all", eventID: id))
        // The same key bytes, written three ways, sign alike.
        let raw = try WebhookSignature(secret: "school secret", encoding: .raw)
        let hex = try WebhookSignature(secret: Data("school secret".utf8).map { String(format: "%02x", $0) }.joined(), encoding: .hex)
        #expect(raw.sign(eventID: id) == signature)
        #expect(hex.sign(eventID: id) == signature)
    }

    @Test func aSecretThatIsNotItsEncodingIsRefusedNamingIt() {
        #expect(throws: WebhookSignatureError.self) { try WebhookSignature(secret: "not*base64", encoding: .base64) }
        #expect(throws: WebhookSignatureError.self) { try WebhookSignature(secret: "xyz", encoding: .hex) }
    }

    @Test func theTallyFindsTheEncodingTheSenderUses() throws {
        let secret = Data("tally secret".utf8).base64EncodedString()
        let signer = try WebhookSignature(secret: secret, encoding: .base64)
        let events = (0..<5).map { index -> (id: String, signature: String?) in
            let id = UUID().uuidString.lowercased()
            return (id, signer.sign(eventID: id))
        }
        let tally = WebhookSignature.tally(secret: secret, events: events)
        #expect(tally[.base64] == 5)
        #expect(tally[.raw] == 0)
    }

    @Test func aSyntheticEventsIdIsStableAndNamesItsRepair() {
        let first = SyntheticEventID.make(tenant: "north", enrollmentID: 74, kind: "missed_delete", state: "deletes x")
        #expect(first == SyntheticEventID.make(tenant: "north", enrollmentID: 74, kind: "missed_delete", state: "deletes x"))
        #expect(first != SyntheticEventID.make(tenant: "south", enrollmentID: 74, kind: "missed_delete", state: "deletes x"))
        #expect(first != SyntheticEventID.make(tenant: "north", enrollmentID: 75, kind: "missed_delete", state: "deletes x"))
        #expect(first != SyntheticEventID.make(tenant: "north", enrollmentID: 74, kind: "missed_update", state: "deletes x"))
        // A name-based UUID (version 5, RFC 4122 variant).
        let text = first.uuidString
        #expect(Array(text)[14] == "5")
        #expect("89AB".contains(Array(text)[19]))
    }
}
