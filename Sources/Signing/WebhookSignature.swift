import Crypto
import Foundation
import Models

/// DreamClass's webhook signature: HMAC-SHA256 of the envelope `id`, in standard Base64.
///
/// Only the id is signed, so a valid signature proves the event id came from DreamClass, not
/// that `data` is intact.
public struct WebhookSignature: Sendable {
    /// How the configured secret becomes the HMAC key. DreamClass documents "Key Encoding:
    /// Base64" without saying whether the secret is Base64 text to decode, so both are offered.
    public enum KeyEncoding: String, Sendable, CaseIterable {
        /// The secret is Base64 text; the key is its decoded bytes.
        case base64
        /// The key is the secret's UTF-8 bytes as they are.
        case raw
        /// The secret is hexadecimal text; the key is the bytes it spells.
        case hex
    }

    // The key's bytes; `SymmetricKey` itself is not Sendable in swift-crypto 3.
    private let keyBytes: Data
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// - Throws: ``WebhookSignatureError/secretNotBase64`` when `encoding` is `.base64` and the
    ///   secret does not decode. The error does not contain the secret.
    public init(secret: String, encoding: KeyEncoding) throws(WebhookSignatureError) {
        switch encoding {
        case .raw:
            keyBytes = Data(secret.utf8)
        case .base64:
            guard let bytes = Data(base64Encoded: secret.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw .secretNotBase64
            }
            keyBytes = bytes
        case .hex:
            let text = Array(secret.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            guard !text.isEmpty, let bytes = Hex.decode(text) else { throw .secretNotHex }
            keyBytes = Data(bytes)
        }
    }

    /// How many of `events` (their `id` as sent, and `signature`) verify under each key encoding
    /// of `secret`; an encoding the secret cannot be read as has no entry. The way to find out
    /// what DreamClass's "Key Encoding: Base64" means for a school's secret.
    public static func tally(secret: String, events: [(id: String, signature: String?)]) -> [KeyEncoding: Int] {
        var verified: [KeyEncoding: Int] = [:]
        for encoding in KeyEncoding.allCases {
            guard let signer = try? WebhookSignature(secret: secret, encoding: encoding) else { continue }
            verified[encoding] = events.reduce(0) { $0 + (signer.isValid(signature: $1.signature, eventID: $1.id) ? 1 : 0) }
        }
        return verified
    }

    /// The signature DreamClass sends for an event id.
    public func sign(eventID: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(eventID.utf8), using: key)).base64EncodedString()
    }

    /// Whether `signature` is the one for `eventID`, compared in constant time.
    public func isValid(signature: String?, eventID: String) -> Bool {
        guard let signature, let given = Data(base64Encoded: signature) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data(eventID.utf8), using: key)
    }
}

/// Why a webhook secret cannot be used.
public enum WebhookSignatureError: Error, Sendable, CustomStringConvertible {
    case secretNotBase64
    case secretNotHex

    public var description: String {
        switch self {
        case .secretNotBase64:
            "the webhook secret is not valid Base64; if it is meant as raw bytes, use --key-encoding raw (`config check --signatures` tells which one the stored events need)"
        case .secretNotHex:
            "the webhook secret is not hexadecimal; try --key-encoding base64 or raw (`config check --signatures` tells which one the stored events need)"
        }
    }
}
