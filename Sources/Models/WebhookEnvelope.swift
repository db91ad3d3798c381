import Foundation

/// The envelope DreamClass wraps every webhook in. `data` is checked to be an object and not
/// decoded further here: its shape depends on `type`, and the raw text is what gets stored.
public struct WebhookEnvelope: Sendable, Equatable {
    public var id: UUID
    /// The `id` exactly as sent: the signature is computed over this text.
    public var rawID: String
    public var type: String
    public var tenant: String
    /// The envelope `timestamp`, epoch milliseconds.
    public var timestampMillis: Int64
    public var signature: String?
    /// The fields of `data` the fold reads, typed here, once, where the event enters: the store
    /// keeps them as columns beside the body.
    public var data: StoredEvent.Fields

    public init(
        id: UUID, rawID: String? = nil, type: String, tenant: String, timestampMillis: Int64, signature: String?,
        data: StoredEvent.Fields = .init(id: nil, studentID: nil, active: nil, addedAt: nil)
    ) {
        self.id = id
        self.rawID = rawID ?? id.uuidString.lowercased()
        self.type = type
        self.tenant = tenant
        self.timestampMillis = timestampMillis
        self.signature = signature
        self.data = data
    }

    /// The envelope `timestamp` as a date.
    public var time: Date { Date(timeIntervalSince1970: Double(timestampMillis) / 1000) }

    /// The longest each field may be, in UTF-8 bytes: far above what DreamClass sends, far below
    /// what PostgreSQL can index (a B-tree entry holds about 2.7 KB). A longer one is the line's
    /// own problem, rejected with a reason, never the batch's.
    public static let limits: [(field: String, bytes: Int)] = [("tenant", 200), ("type", 100), ("signature", 1024), ("data.id", 100)]

    /// Validates one webhook body.
    ///
    /// - Throws: ``WebhookEnvelopeError`` saying which field is missing or wrong.
    public static func validate(_ body: some Collection<UInt8>, decoder: JSONDecoder = JSONDecoder()) throws(WebhookEnvelopeError) -> WebhookEnvelope {
        try validate(Array(body), decoder: decoder)
    }

    /// ``validate(_:decoder:)`` of bytes in an array: every check below runs specialized for it
    /// (through the generic entry, `contains(0)` alone took a fifth of `ingest`'s time).
    public static func validate(_ body: [UInt8], decoder: JSONDecoder = JSONDecoder()) throws(WebhookEnvelopeError) -> WebhookEnvelope {
        // Foundation's parser lets a raw NUL through inside a string; PostgreSQL's text cannot hold one.
        if body.contains(0) { throw WebhookEnvelopeError(reason: "contains a NUL byte, which is not valid in JSON text") }
        // Foundation's parser would put U+FFFD in place of bytes that are not UTF-8: the body is
        // refused whole instead, and kept as it came.
        if String(validating: body, as: UTF8.self) == nil { throw WebhookEnvelopeError(reason: "is not valid UTF-8") }
        let raw: Raw
        do {
            raw = try body.withUnsafeBufferPointer(EnvelopeScanner.scan).map(Raw.init) ?? decoder.decode(Raw.self, from: Data(body))
        } catch let error as WebhookEnvelopeError {
            throw error
        } catch let error as DecodingError {
            throw WebhookEnvelopeError(decoding: error)
        } catch {
            throw WebhookEnvelopeError(reason: "not valid JSON: \(error)")
        }
        guard let id = UUID.parse(raw.id) else {
            throw WebhookEnvelopeError(reason: "field \"id\" is not a UUID")
        }
        guard !raw.type.isEmpty else { throw WebhookEnvelopeError(reason: "field \"type\" is empty") }
        guard !raw.tenant.isEmpty else { throw WebhookEnvelopeError(reason: "field \"tenant\" is empty") }
        let lengths = ["tenant": raw.tenant.utf8.count, "type": raw.type.utf8.count, "signature": raw.signature?.utf8.count ?? 0,
                       "data.id": raw.data.textID?.utf8.count ?? 0]
        for (field, limit) in limits where lengths[field, default: 0] > limit {
            throw WebhookEnvelopeError(reason: "field \"\(field)\" is \(lengths[field, default: 0]) bytes long, more than the \(limit) it may have")
        }
        guard Timestamp.validMillis.contains(raw.timestamp) else {
            throw WebhookEnvelopeError(reason: "field \"timestamp\" is \(raw.timestamp), outside the years 0001 to 9999 (epoch milliseconds \(Timestamp.validMillis.lowerBound) to \(Timestamp.validMillis.upperBound))")
        }
        if containsNulEscape(body) {
            throw WebhookEnvelopeError(reason: "contains \\u0000, which PostgreSQL cannot store in jsonb")
        }
        return WebhookEnvelope(
            id: id, rawID: raw.id, type: raw.type, tenant: raw.tenant, timestampMillis: raw.timestamp, signature: raw.signature,
            data: raw.data.fields
        )
    }

    private struct Raw: Decodable {
        var id: String
        var type: String
        var tenant: String
        var timestamp: Int64
        var signature: String?
        var data: AnyObject

        /// What the fast path read (which reads no `data.id` that is text).
        init(_ scanned: (id: String, type: String, tenant: String, timestamp: Int64, signature: String?, data: StoredEvent.Fields)) {
            (id, type, tenant, timestamp, signature) = (scanned.id, scanned.type, scanned.tenant, scanned.timestamp, scanned.signature)
            data = AnyObject(textID: nil, fields: scanned.data)
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            id = try container.decode(String.self, forKey: AnyKey(stringValue: "id"))
            type = try container.decode(String.self, forKey: AnyKey(stringValue: "type"))
            tenant = try container.decode(String.self, forKey: AnyKey(stringValue: "tenant"))
            let timestampKey = AnyKey(stringValue: "timestamp")
            do {
                timestamp = try container.decode(Int64.self, forKey: timestampKey)
            } catch DecodingError.keyNotFound(let key, let context) {
                throw DecodingError.keyNotFound(key, context)
            } catch {
                // Foundation calls 1.5 "not valid JSON"; say what is wrong instead.
                throw WebhookEnvelopeError(reason: #"field "timestamp" is not an integer (epoch milliseconds)"#)
            }
            signature = try container.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "signature"))
            data = try container.decode(AnyObject.self, forKey: AnyKey(stringValue: "data"))
        }

        /// Decodes "this is a JSON object", its `id` when that is text (for the length limit),
        /// and the fields the fold reads, each only when of its JSON type (an integer, a boolean,
        /// a string that is a date-time): anything else is kept in the body and left out of the fold.
        struct AnyObject: Decodable {
            var textID: String?
            var fields: StoredEvent.Fields

            init(textID: String?, fields: StoredEvent.Fields) {
                self.textID = textID
                self.fields = fields
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: AnyKey.self)
                func value<T: Decodable>(_ type: T.Type, _ key: String) -> T? {
                    try? container.decodeIfPresent(type, forKey: AnyKey(stringValue: key))
                }
                /// An integer only when the number is one: Foundation reads 1.5 as 1 into an Int64.
                func integer(_ key: String) -> Int? {
                    guard let whole = value(Int64.self, key), let number = value(Double.self, key), Double(whole) == number else { return nil }
                    return Int(exactly: whole)
                }
                textID = value(String.self, "id")
                fields = StoredEvent.Fields(
                    id: integer("id"), studentID: integer("studentId"),
                    active: value(Bool.self, "active"), addedAt: value(String.self, "addedAt").flatMap(Timestamp.parse)
                )
            }
        }
    }

    /// The fold's fields of a stored body's `data`, as ``validate(_:decoder:)`` types them: how
    /// an event stored before the typed columns is converted, by the same rule as a new one.
    public static func dataFields(of body: some Collection<UInt8>, decoder: JSONDecoder = JSONDecoder()) -> StoredEvent.Fields {
        let scanned = body.withContiguousStorageIfAvailable(EnvelopeScanner.scan) ?? Array(body).withUnsafeBufferPointer(EnvelopeScanner.scan)
        if let scanned { return scanned.data }
        return (try? decoder.decode(DataOnly.self, from: Data(body)))?.data.fields ?? .init(id: nil, studentID: nil, active: nil, addedAt: nil)
    }

    /// The envelope by the decoder alone, without the fast path: what the fast path must agree with.
    static func decodedSlowly(_ body: [UInt8], decoder: JSONDecoder = JSONDecoder()) -> (envelope: WebhookEnvelope?, fields: StoredEvent.Fields?) {
        guard let raw = try? decoder.decode(Raw.self, from: Data(body)) else { return (nil, nil) }
        return (WebhookEnvelope(id: UUID.parse(raw.id) ?? UUID(), rawID: raw.id, type: raw.type, tenant: raw.tenant,
                                timestampMillis: raw.timestamp, signature: raw.signature, data: raw.data.fields), raw.data.fields)
    }

    /// The fast path alone: `nil` when it leaves the body to the decoder.
    static func scannedQuickly(_ body: [UInt8]) -> WebhookEnvelope? {
        body.withUnsafeBufferPointer(EnvelopeScanner.scan).map {
            WebhookEnvelope(id: UUID.parse($0.id) ?? UUID(), rawID: $0.id, type: $0.type, tenant: $0.tenant, timestampMillis: $0.timestamp,
                            signature: $0.signature, data: $0.data)
        }
    }

    private struct DataOnly: Decodable { var data: Raw.AnyObject }

    /// A `\u0000` escape outside of an escaped backslash.
    private static func containsNulEscape(_ bytes: [UInt8]) -> Bool {
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                if bytes[index + 1] == UInt8(ascii: "u"), index + 5 < bytes.count,
                    bytes[(index + 2)...(index + 5)].allSatisfy({ $0 == UInt8(ascii: "0") })
                {
                    return true
                }
                index += 2
            } else {
                index += 1
            }
        }
        return false
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Why a webhook body is not a valid envelope.
public struct WebhookEnvelopeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) { self.reason = reason }

    init(decoding error: DecodingError) {
        func path(_ context: DecodingError.Context, _ key: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            reason = "missing field \"\(path(context, key))\""
        case .typeMismatch(let type, let context):
            reason = "field \"\(path(context))\" is not \(Self.name(of: type))"
        case .valueNotFound(let type, let context):
            reason = "field \"\(path(context))\" is null, expected \(Self.name(of: type))"
        case .dataCorrupted(let context):
            reason = context.codingPath.isEmpty
                ? "not valid JSON" : "field \"\(path(context))\" is not valid: \(context.debugDescription)"
        @unknown default:
            reason = "not a valid envelope"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int64.Type, is Int.Type: "an integer"
        default: "an object"
        }
    }

    public var description: String { reason }
}

extension WebhookEnvelope {
    /// A webhook body in DreamClass's own envelope, for a student-period event.
    public static func body(id: UUID, type: String, tenant: String, timestampMillis: Int64, signature: String?, data: Enrollment) -> String {
        struct Body: Encodable {
            var id: String
            var type: String
            var tenant: String
            var timestamp: Int64
            var signature: String?
            var data: Enrollment
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let body = Body(id: id.uuidString.lowercased(), type: type, tenant: tenant, timestamp: timestampMillis, signature: signature, data: data)
        return String(decoding: (try? encoder.encode(body)) ?? Data(), as: UTF8.self)
    }
}
