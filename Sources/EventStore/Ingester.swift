import DreamClassAPI
import Foundation
import Logging
import Postgres

/// Loads webhook bodies, one JSON envelope per line, into `webhook_events`.
///
/// Lines are validated here and written in batches: valid ones by COPY into a temporary table
/// and from there into the store (an event id already stored is a duplicate, not an error),
/// invalid ones whole into `rejected_events` with their line number and reason. Each batch is one
/// transaction, so an interrupted ingest leaves whole batches and can simply be run again. The
/// next batch is parsed while the server inserts the current one.
public struct Ingester: Sendable {
    /// Counts of one ingest. `read == stored + duplicates + rejected`.
    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        public var read = 0
        public var stored = 0
        public var duplicates = 0
        public var rejected = 0

        public init(read: Int = 0, stored: Int = 0, duplicates: Int = 0, rejected: Int = 0) {
            self.read = read
            self.stored = stored
            self.duplicates = duplicates
            self.rejected = rejected
        }

        public var description: String {
            "read \(read), stored \(stored), duplicates \(duplicates), rejected \(rejected)"
        }
    }

    public var schema: String
    /// What `source` says for the stored rows.
    public var source: EventSource
    /// Checks each event's signature when set; `signature_valid` stays NULL otherwise.
    public var signature: WebhookSignature?
    public var batchSize: Int
    public var logger: Logger

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

    /// Ingests every line of `reader`. `sourceName` (a file name or `<stdin>`) is kept with each
    /// rejected line.
    ///
    /// With more than one connection, batches are written by all of them at once, one thread each,
    /// while this thread parses: the server's work on a batch (parsing jsonb, maintaining indexes)
    /// is what bounds an ingest, and this spreads it over the machine's cores. Batches are
    /// independent transactions, so the order they commit in does not matter.
    public func ingest(_ reader: inout LineReader, sourceName: String, into connections: [Connection]) throws -> Summary {
        precondition(!connections.isEmpty, "ingest needs a connection")
        for connection in connections {
            try connection.execute("""
                CREATE TEMPORARY TABLE IF NOT EXISTS ingest_staging (
                    line_number bigint, event_id uuid, tenant text, event_type text, event_time timestamptz,
                    signature text, signature_valid boolean, body text
                ) ON COMMIT DELETE ROWS
                """)
        }
        let decoder = JSONDecoder()
        if connections.count == 1 {
            var summary = Summary()
            var batch = try readBatch(&reader, decoder)
            while !batch.isEmpty {
                // The next batch is read while the server inserts this one; when the write took
                // another path (a batch the server refused), it is read now. Never skipped.
                var next: Batch?
                try write(batch, sourceName: sourceName, into: connections[0], summary: &summary) {
                    next = try readBatch(&reader, decoder)
                }
                batch = try next ?? readBatch(&reader, decoder)
            }
            return summary
        }
        let queue = BatchQueue(capacity: connections.count)
        let writers = connections.map { connection in
            WriterThread(queue: queue) { batch, summary in
                try write(batch, sourceName: sourceName, into: connection, summary: &summary, overlapping: {})
            }
        }
        var batch = try readBatch(&reader, decoder)
        while !batch.isEmpty, queue.put(batch) {
            batch = try readBatch(&reader, decoder)
        }
        queue.close()
        var summary = Summary()
        for writer in writers {
            let part = try writer.join()
            summary.read += part.read
            summary.stored += part.stored
            summary.duplicates += part.duplicates
            summary.rejected += part.rejected
        }
        return summary
    }

    /// Ingests every line of `reader` through one connection.
    public func ingest(_ reader: inout LineReader, sourceName: String, into connection: Connection) throws -> Summary {
        try ingest(&reader, sourceName: sourceName, into: [connection])
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

    struct Batch: Sendable {
        var read = 0
        var accepted: [Accepted] = []
        var ids: Set<UUID> = []
        var duplicates = 0
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
                // The first line of an id wins; a later one in the same batch is a re-delivery.
                guard batch.ids.insert(envelope.id).inserted else {
                    batch.duplicates += 1
                    continue
                }
                let valid = signature.map { $0.isValid(signature: envelope.signature, eventID: envelope.rawID) }
                batch.accepted.append(Accepted(line: line, envelope: envelope, signatureValid: valid))
            } catch {
                batch.rejected.append(Rejected(line: line, reason: error.reason))
            }
        }
        return batch
    }

    private func write(
        _ batch: Batch, sourceName: String, into connection: Connection, summary: inout Summary,
        overlapping work: () throws -> Void
    ) throws {
        var batch = batch
        var stored = 0
        do {
            stored = try writeBatch(batch, sourceName: sourceName, connection, overlapping: work)
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            // A value PostgreSQL refuses (a jsonb it cannot hold, say) failed the whole batch.
            // Find the lines at fault one by one and reject them; this path is rare. `work`
            // has run: it runs before the statement's result is read.
            logger.warning("a batch was refused; checking its lines one by one", metadata: ["error": "\(error)"])
            var kept = batch
            kept.accepted = []
            for accepted in batch.accepted {
                do {
                    try connection.transaction { session in
                        try copyToStaging([accepted], session)
                        try session.execute("SELECT body::jsonb FROM pg_temp.ingest_staging")
                    }
                    kept.accepted.append(accepted)
                } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
                    kept.rejected.append(Rejected(line: accepted.line, reason: "refused by PostgreSQL: \(error.message)"))
                }
            }
            batch = kept
            stored = try writeBatch(batch, sourceName: sourceName, connection, overlapping: {})
        }
        for rejected in batch.rejected {
            logger.debug("rejected line", metadata: [
                "source": "\(sourceName)", "line": "\(rejected.line.number)", "reason": "\(rejected.reason)",
            ])
        }
        summary.read += batch.read
        summary.stored += stored
        summary.duplicates += batch.duplicates + batch.accepted.count - stored
        summary.rejected += batch.rejected.count
    }

    /// Stores a batch's events and rejected lines in one transaction; returns the events stored.
    private func writeBatch(
        _ batch: Batch, sourceName: String, _ connection: Connection, overlapping work: () throws -> Void
    ) throws -> Int {
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
            guard !batch.accepted.isEmpty else {
                try work()
                return 0
            }
            try copyToStaging(batch.accepted, session)
            // The staging table is read in the order it was written, so `seq` follows the file.
            let inserted = try session.query("""
                WITH inserted AS (
                    INSERT INTO \(schema).webhook_events
                        (event_id, tenant, event_type, event_time, signature, signature_valid, payload, body, source)
                    SELECT event_id, tenant, event_type, event_time, signature, signature_valid, body::jsonb, body, $1
                    FROM pg_temp.ingest_staging
                    ON CONFLICT (event_id) DO NOTHING
                    RETURNING 1
                )
                SELECT count(*) FROM inserted
                """, [source.rawValue], overlapping: work)
            return try inserted.first?.decode(Int.self, at: 0) ?? 0
        }
    }

    /// Loads rows into the temporary table, which empties itself at commit.
    private func copyToStaging(_ accepted: [Accepted], _ session: Session) throws {
        try session.copyIn(
            "COPY pg_temp.ingest_staging (line_number, event_id, tenant, event_type, event_time, signature, signature_valid, body) FROM STDIN"
        ) { writer in
            for row in accepted {
                try writer.row([
                    row.line.number, row.envelope.rawID, row.envelope.tenant, row.envelope.type, row.envelope.time,
                    row.envelope.signature, row.signatureValid, String(decoding: row.line.bytes, as: UTF8.self),
                ])
            }
        }
    }
}

/// Where a stored event came from.
public enum EventSource: String, Sendable, CaseIterable {
    case webhook, ingest, backfill
}
