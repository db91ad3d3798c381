import Foundation

/// One stored event as `webhook_events` holds it, with the fields the fold reads from its `data`
/// as they came (`nil` when absent or of another JSON type): what the fold's usability rule
/// judges, and what `explain` lists.
public struct StoredEvent: Sendable, Equatable {
    /// `data`'s fields the fold needs, typed where the event enters (ingest, the receiver, a
    /// backfill) and stored as columns; each `nil` when absent or of another JSON type.
    public struct Fields: Sendable, Equatable {
        /// `data.id`, when a JSON integer.
        public var id: Int?
        /// `data.studentId`, when a JSON integer.
        public var studentID: Int?
        /// `data.active`, when a JSON boolean.
        public var active: Bool?
        /// `data.addedAt`, when a string that is an ISO 8601 date-time.
        public var addedAt: Date?

        public init(id: Int?, studentID: Int?, active: Bool?, addedAt: Date?) {
            self.id = id
            self.studentID = studentID
            self.active = active
            self.addedAt = addedAt
        }

        /// The fields as text in JSON's own types (PostgreSQL's `->>` of a value whose
        /// `jsonb_typeof` was checked): how an event stored before the typed columns reads.
        public init(jsonText id: String?, studentID: String?, active: String?, addedAt: String?) {
            self.init(id: id.flatMap { Int($0) }, studentID: studentID.flatMap { Int($0) }, active: active.map { $0 == "true" },
                      addedAt: addedAt.flatMap(Timestamp.parse))
        }
    }

    public var eventID: UUID
    public var eventType: String
    /// The envelope `timestamp`, epoch milliseconds.
    public var timeMillis: Int64
    /// The HMAC check when it was stored; `nil` when no secret was configured.
    public var signatureValid: Bool?
    public var fields: Fields
    /// When it was stored, where from (`webhook`, `ingest`, `backfill`), and `data` as JSON text:
    /// known when the whole row was read (`explain`), not for the fold.
    public var receivedAt: Date?
    public var source: String?
    public var data: String?
    /// The transaction that stored it (`nil` for events stored before fold states were kept):
    /// below a tenant's horizon, the kept state has seen it.
    public var insertedXID: Int64?

    public init(eventID: UUID, eventType: String, timeMillis: Int64, signatureValid: Bool?, fields: Fields,
                receivedAt: Date? = nil, source: String? = nil, data: String? = nil, insertedXID: Int64? = nil) {
        self.eventID = eventID
        self.eventType = eventType
        self.timeMillis = timeMillis
        self.signatureValid = signatureValid
        self.fields = fields
        self.receivedAt = receivedAt
        self.source = source
        self.data = data
        self.insertedXID = insertedXID
    }
}
