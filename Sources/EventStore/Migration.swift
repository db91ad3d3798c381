import Crypto
import Foundation

/// One numbered schema file from `sql/`, e.g. `001_event_store.sql` is version 1.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// SHA-256 of the file's text: an applied file must never change.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The files of `sql/`, built into the binary by the EmbedSQL plugin.
    public static let bundled: [Migration] = EmbeddedSQL.files.compactMap { file in
        guard let version = Int(file.name.prefix { $0.isNumber }) else { return nil }
        return Migration(version: version, name: file.name, sql: file.text)
    }
}
