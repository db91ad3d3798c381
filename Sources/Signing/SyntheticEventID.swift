import Crypto
import Foundation

/// Deterministic event ids (UUID version 5, RFC 4122): the same repair always gets the same id, so
/// a backfill run twice, or again after a crash, stores nothing twice.
public enum SyntheticEventID {
    /// The namespace of this tool's synthetic events.
    static let namespace = UUID(uuidString: "6f1c1d2e-8b3a-5c4d-9e0f-d1c2b3a4e5f6")!

    /// The id of the event that repairs `kind` for an enrollment of `tenant`, carrying `state`.
    public static func make(tenant: String, enrollmentID: Int, kind: String, state: String) -> UUID {
        let name = [tenant, String(enrollmentID), kind, state].joined(separator: "\n")
        let namespaceBytes = withUnsafeBytes(of: namespace.uuid) { Array($0) }
        var bytes = Array(Insecure.SHA1.hash(data: Data(namespaceBytes + Array(name.utf8))).prefix(16))
        bytes[6] = bytes[6] & 0x0f | 0x50
        bytes[8] = bytes[8] & 0x3f | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
