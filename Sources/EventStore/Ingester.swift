import Foundation
import Logging
import Models
import Postgres
import Signing

/// Loads webhook bodies, one JSON envelope per line, into `webhook_events`.
///
/// Lines are validated here and written in batches: valid ones by a binary COPY straight into
/// the store, or, when a batch meets an event id stored already (a duplicate, not an error),
/// through a temporary table that skips what is there; invalid ones whole into `rejected_events`
/// with their line number and reason. Each batch is one transaction, so an interrupted ingest
/// leaves whole batches and can simply be run again. The next batch is parsed while the server
/// stores the current one.
public struct Ingester: Sendable {
    /// Counts of one ingest. `read == stored + duplicates + rejected`.
    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        public var read = 0
        public var stored = 0
        public var duplicates = 0
        public var rejected = 0
        /// The input began with a UTF-8 byte-order mark, skipped (not a line, not counted in `read`).
        public var skippedByteOrderMark = false
        /// With a secret configured: valid envelopes whose signature was checked, and how many of
        /// them did not verify (most failing means a wrong secret or key encoding).
        public var signaturesChecked = 0
        public var signaturesFailed = 0

        public init(read: Int = 0, stored: Int = 0, duplicates: Int = 0, rejected: Int = 0, skippedByteOrderMark: Bool = false) {
            self.read = read
            self.stored = stored
            self.duplicates = duplicates
            self.rejected = rejected
            self.skippedByteOrderMark = skippedByteOrderMark
        }

        public var description: String {
            "read \(read), stored \(stored), duplicates \(duplicates), rejected \(rejected)"
                + (skippedByteOrderMark ? " (a byte-order mark at the start was skipped)" : "")
        }

        mutating func add(_ other: Summary) {
            read += other.read
            stored += other.stored
            duplicates += other.duplicates
            rejected += other.rejected
            signaturesChecked += other.signaturesChecked
            signaturesFailed += other.signaturesFailed
        }
    }

    public var schema: String
    /// What `source` says for the stored rows.
    public var source: EventSource
    /// Checks each event's signature when set; `signature_valid` stays NULL otherwise.
    public var signature: WebhookSignature?
    public var batchSize: Int
    public var logger: Logger
    /// Called with the counts so far as each batch commits (a terminal's progress line).
    public var progress: (@Sendable (Summary) -> Void)?

    public init(
        schema: String, source: EventSource = .ingest, signature: WebhookSignature? = nil,
        batchSize: Int = 10_000, logger: Logger = Logger(label: "ingest")
    ) {
        self.schema = schema
        self.source = source
        self.signature = signature
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    /// Ingests every line of `reader` through `connections`, one batch per connection at a time.
    ///
    /// The batches are parsed here while the writers store the ones before (on ``Blocking``'s
    /// threads): the server's work on a batch (storing rows, maintaining indexes) is what bounds
    /// an ingest, and more connections spread it over the server's cores. Batches are independent
    /// transactions, so the order they commit in does not matter; each inserts its events in
    /// event-id order, so two writers (or two ingests, or a receiver) meeting the same ids wait for
    /// each other in one order and never deadlock. A writer's error ends the ingest: the batches
    /// in flight finish or roll back, and ``IngestError`` carries the error and the counts of the
    /// batches that committed.
    public func ingest(_ reader: inout LineReader, sourceName: String, into connections: [Connection]) async throws -> Summary {
        precondition(!connections.isEmpty, "ingest needs a connection")
        var summary = Summary()
        do {
            for connection in connections { try await Blocking.run { try createStaging(connection) } }
            let decoder = JSONDecoder()
            try await withThrowingTaskGroup(of: (Int, Summary).self) { group in
                var idle = Array(connections.indices)
                // Cancellation (a signal) stops the reading: a batch read after it is not written
                // or counted, the batches in flight still commit and are.
                while true {
                    let batch = try readBatch(&reader, decoder)
                    if batch.isEmpty || Task.isCancelled { break }
                    if idle.isEmpty, let (index, part) = try await group.next() {
                        summary.add(part)
                        progress?(summary)
                        idle.append(index)
                    }
                    let index = idle.removeLast()
                    let connection = connections[index]
                    group.addTask {
                        (index, try await Blocking.run { try write(batch, sourceName: sourceName, into: connection) })
                    }
                }
                for try await (_, part) in group {
                    summary.add(part)
                    progress?(summary)
                }
            }
            summary.skippedByteOrderMark = reader.skippedByteOrderMark
        } catch {
            throw IngestError(underlying: error, sourceName: sourceName, summary: summary)
        }
        return summary
    }

    /// Ingests every line of `reader` through one connection, a batch at a time, on the calling
    /// thread (for tools and tests that are not async).
    public func ingest(_ reader: inout LineReader, sourceName: String, into connection: Connection) throws -> Summary {
        var summary = Summary()
        do {
            try createStaging(connection)
            let decoder = JSONDecoder()
            var batch = try readBatch(&reader, decoder)
            while !batch.isEmpty {
                summary.add(try write(batch, sourceName: sourceName, into: connection))
                batch = try readBatch(&reader, decoder)
            }
            summary.skippedByteOrderMark = reader.skippedByteOrderMark
        } catch {
            throw IngestError(underlying: error, sourceName: sourceName, summary: summary)
        }
        return summary
    }

    private func createStaging(_ connection: Connection) throws {
        try connection.execute("""
            CREATE TEMPORARY TABLE IF NOT EXISTS ingest_staging (
                line_number bigint, event_id uuid, tenant text, event_type text, event_time timestamptz,
                signature text, signature_valid boolean, body text,
                student_period_id bigint, student_id bigint, active boolean, added_at timestamptz
            ) ON COMMIT DELETE ROWS
            """)
    }

    // MARK: - Batches

    struct Accepted: Sendable {
        var line: LineReader.Line
        var envelope: WebhookEnvelope
        var signatureValid: Bool?
    }

    struct Rejected: Sendable {
        var line: LineReader.Line
        var reason: String
    }

    /// Lines of one transaction. Copies of one id stay in `accepted` until the insert: the first
    /// that PostgreSQL takes wins, so a later copy still counts when an earlier one is refused.
    struct Batch: Sendable {
        var read = 0
        var accepted: [Accepted] = []
        var rejected: [Rejected] = []
        var isEmpty: Bool { read == 0 }
    }

    private func readBatch(_ reader: inout LineReader, _ decoder: JSONDecoder) throws -> Batch {
        var batch = Batch()
        while batch.read < batchSize, let line = try reader.next() {
            // Blank lines separate nothing in JSON Lines; they are not events and not counted.
            if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            batch.read += 1
            do {
                let envelope = try WebhookEnvelope.validate(line.bytes, decoder: decoder)
                let valid = signature.map { $0.isValid(signature: envelope.signature, eventID: envelope.rawID) }
                batch.accepted.append(Accepted(line: line, envelope: envelope, signatureValid: valid))
            } catch {
                batch.rejected.append(Rejected(line: line, reason: error.reason))
            }
        }
        return batch
    }

    /// How often a batch that met a deadlock or a serialization failure is tried again, whole.
    static let conflictAttempts = 5

    /// Stores one batch; returns its counts.
    private func write(_ batch: Batch, sourceName: String, into connection: Connection) throws -> Summary {
        var batch = batch
        var stored = 0
        do {
            stored = try writeRetryingConflicts(batch, sourceName: sourceName, connection)
        } catch let error as PostgresError where error.isRowRefused {
            // A row PostgreSQL refuses (a jsonb it cannot hold, a value too large to index) failed
            // the whole batch. The batch is halved until each line at fault stands alone and is
            // rejected with the server's reason; the rest is stored. This path is rare.
            logger.warning("a batch was refused; finding the lines at fault", metadata: ["error": "\(error)"])
            var kept = batch
            kept.accepted = []
            try isolateRefused(batch.accepted, connection: connection, kept: &kept)
            batch = kept
            stored = try writeRetryingConflicts(batch, sourceName: sourceName, connection)
        }
        for rejected in batch.rejected {
            logger.debug("rejected line", metadata: [
                "source": "\(sourceName)", "line": "\(rejected.line.number)", "reason": "\(rejected.reason)",
            ])
        }
        var summary = Summary(
            read: batch.read, stored: stored, duplicates: batch.accepted.count - stored, rejected: batch.rejected.count
        )
        summary.signaturesChecked = batch.accepted.filter { $0.signatureValid != nil }.count
        summary.signaturesFailed = batch.accepted.filter { $0.signatureValid == false }.count
        return summary
    }

    /// Sorts `lines` into those the server takes and those it refuses, by trying halves in a
    /// transaction that is always rolled back: a refused half is halved again, down to one line.
    private func isolateRefused(_ lines: [Accepted], connection: Connection, kept: inout Batch) throws {
        guard !lines.isEmpty else { return }
        do {
            try connection.withSession { session in
                try session.execute("BEGIN")
                defer { _ = try? session.execute("ROLLBACK") }
                try copyToStaging(lines, session)
                try session.query(insertStaged(), [source.rawValue])
            }
            kept.accepted += lines
        } catch let error as PostgresError where error.isRowRefused {
            guard lines.count > 1 else {
                kept.rejected.append(Rejected(line: lines[0].line, reason: "refused by PostgreSQL: \(error.message)"))
                return
            }
            let middle = lines.count / 2
            try isolateRefused(Array(lines[..<middle]), connection: connection, kept: &kept)
            try isolateRefused(Array(lines[middle...]), connection: connection, kept: &kept)
        }
    }

    /// ``writeBatch``, tried again whole when PostgreSQL broke a deadlock or a serialization
    /// conflict by rolling it back: nothing of it was written, so trying again loses nothing.
    private func writeRetryingConflicts(_ batch: Batch, sourceName: String, _ connection: Connection) throws -> Int {
        var attempt = 1
        while true {
            do {
                return try writeBatch(batch, sourceName: sourceName, connection)
            } catch let error as PostgresError where ["40P01", "40001"].contains(error.sqlState) && attempt < Self.conflictAttempts {
                logger.warning("a batch met a conflicting transaction; trying it again", metadata: [
                    "source": "\(sourceName)", "sqlstate": "\(error.sqlState ?? "")", "attempt": "\(attempt)",
                ])
                usleep(useconds_t(10_000 * attempt))
                attempt += 1
            }
        }
    }

    /// Stores a batch's events and rejected lines in one transaction; returns the events stored.
    private func writeBatch(_ batch: Batch, sourceName: String, _ connection: Connection) throws -> Int {
        let schema = quoteIdentifier(schema)
        return try connection.transaction { session in
            if !batch.rejected.isEmpty {
                try session.copyIn(
                    "COPY \(schema).rejected_events (source_name, line_number, reason, raw) FROM STDIN"
                ) { writer in
                    for rejected in batch.rejected {
                        try writer.row([sourceName, rejected.line.number, rejected.reason, Data(rejected.line.bytes)])
                    }
                }
            }
            guard !batch.accepted.isEmpty else { return 0 }
            // The usual batch holds only new events: they are copied straight into the table,
            // the first line of each id, in event-id order (the writers' one lock order). When one
            // is stored already, the copy stops at it and is undone, and the batch goes through
            // the staging table, whose insert skips what is there.
            try session.execute("SAVEPOINT direct_copy")
            do {
                let stored = try copyToTable(Self.firstOfEachID(batch.accepted), session)
                try session.execute("RELEASE SAVEPOINT direct_copy")
                return stored
            } catch let error as PostgresError where error.sqlState == "23505" {
                try session.execute("ROLLBACK TO SAVEPOINT direct_copy")
            }
            try copyToStaging(batch.accepted, session)
            return try session.query(insertStaged(), [source.rawValue]).first?.decode(Int.self, at: 0) ?? 0
        }
    }

    /// The first line of each event id, in the order PostgreSQL sorts `uuid`s (their bytes).
    static func firstOfEachID(_ accepted: [Accepted]) -> [Accepted] {
        var seen = Set<UUID>(minimumCapacity: accepted.count)
        let unique = accepted.filter { seen.insert($0.envelope.id).inserted }
        return unique.sorted { precedes($0.envelope.id, $1.envelope.id) }
    }

    /// `uuid` order: the 16 bytes compared as unsigned numbers, first to last.
    private static func precedes(_ a: UUID, _ b: UUID) -> Bool {
        withUnsafeBytes(of: a.uuid) { a in withUnsafeBytes(of: b.uuid) { b in memcmp(a.baseAddress!, b.baseAddress!, 16) < 0 } }
    }

    /// Copies events into the table itself; a unique violation (an id stored already) fails it.
    private func copyToTable(_ accepted: [Accepted], _ session: Session) throws -> Int {
        try copy(accepted, into: "\(quoteIdentifier(schema)).webhook_events", lineNumbers: false, session)
    }

    /// Moves the staged lines into the table; answers how many were new. The first line of each
    /// id wins; the rows go in in event-id order, the one lock order every writer shares (see
    /// ``ingest(_:sourceName:into:)``).
    private func insertStaged() -> String {
        """
        WITH inserted AS (
            \(WebhookEventsTable.insert(schema: schema, rows: """
                SELECT DISTINCT ON (event_id)
                    event_id, tenant, event_type, event_time, signature, signature_valid, body, $1,
                    student_period_id, student_id, active, added_at
                FROM pg_temp.ingest_staging
                ORDER BY event_id, line_number
                """))
        )
        SELECT count(*) FROM inserted
        """
    }

    /// Loads rows into the temporary table, which empties itself at commit.
    private func copyToStaging(_ accepted: [Accepted], _ session: Session) throws {
        try copy(accepted, into: "pg_temp.ingest_staging", lineNumbers: true, session)
    }

    /// COPYs lines' events into `table`: with their line numbers (the staging table, which picks
    /// the first of each id), or with their source (the events' table).
    @discardableResult
    private func copy(_ accepted: [Accepted], into table: String, lineNumbers: Bool, _ session: Session) throws -> Int {
        let first = lineNumbers ? "line_number, " : ""
        let last = lineNumbers ? "" : ", source"
        // Binary: the bodies go as they are, with no escaping, and the server parses no text.
        return try session.copyInBinary("""
            COPY \(table) (\(first)event_id, tenant, event_type, event_time, signature, signature_valid, body\(last),
                student_period_id, student_id, active, added_at) FROM STDIN
            """) { writer in
            for row in accepted {
                let (e, body) = (row.envelope, String(decoding: row.line.bytes, as: UTF8.self))
                // Spelled out twice rather than put together: one array a row, on ingest's hot path.
                try writer.row((lineNumbers
                    ? [row.line.number, e.id, e.tenant, e.type, e.time, e.signature, row.signatureValid, body]
                    : [e.id, e.tenant, e.type, e.time, e.signature, row.signatureValid, body, source.rawValue])
                    + WebhookEventsTable.typedFields(e))
            }
        }
    }
}

/// Where a stored event came from.
public enum EventSource: String, Sendable, CaseIterable {
    case webhook, ingest, backfill
}

/// An ingest that stopped on an error: what went wrong, and what was stored before it. The
/// batches counted committed; the rest of the file can be ingested again as it is.
public struct IngestError: Error, Sendable, CustomStringConvertible {
    public var underlying: any Error
    public var sourceName: String
    /// The batches that committed before the error.
    public var summary: Ingester.Summary

    public var description: String {
        // A PostgresError's text names its SQLSTATE.
        "ingest of \(sourceName) stopped: \(underlying); committed before it: \(summary)"
    }
}
