import ArgumentParser
import EventStore
import FleetJob
import Foundation
import Settings
import Signing

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Load webhook bodies, one JSON envelope per line, into the event store.",
        discussion: """
            Lines that are not valid envelopes are kept in rejected_events with their line number \
            and reason; they do not stop the ingest. Exit codes: 0 every line stored or a duplicate; \
            65 some lines were rejected (all others stored); 75 PostgreSQL unavailable, or a lock held \
            past --deadline (ingest the file again: what was stored is kept once); 1 error; 143/130 stopped by SIGTERM/SIGINT \
            (the lines counted are stored). With DREAMCLASS_WEBHOOK_SECRET (or \
            DREAMCLASS_WEBHOOK_SECRET_FILE) set, each event's signature is checked and the result \
            stored in signature_valid.
            """
    )

    @Argument(help: "A file of JSON lines, or - for standard input.")
    var file: String = "-"

    @Option(help: "How the webhook secret becomes the HMAC key: base64 (decode it) or raw (its bytes).")
    var keyEncoding: WebhookSignature.KeyEncoding = .base64

    @Option(help: "Lines per transaction.")
    var batchSize: Int = 10_000

    @Option(help: "Connections writing batches at once (the server's work is what bounds an ingest).")
    var writers: Int = 2

    @Option(help: "Stop waiting on PostgreSQL after this (90s, 15m, 2h, 1d; default: no limit): a statement blocked by a lock then ends the ingest, exit 75; the batches committed stay stored.")
    var deadline: String?

    func validate() throws {
        try validateDeadline(deadline)
        // Each writer is a connection and a thread of the pool: a few keep the server busy.
        guard (1...16).contains(writers) else { throw ValidationError("--writers takes 1 to 16, not \(writers)") }
        guard (1...1_000_000).contains(batchSize) else { throw ValidationError("--batch-size takes 1 to 1000000, not \(batchSize)") }
    }

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger(label: "ingest")
        try await exitOnFailure {
            let signature = try Secrets.read("DREAMCLASS_WEBHOOK_SECRET", environment: global.environment).map {
                try WebhookSignature(secret: $0, encoding: keyEncoding)
            }
            let (handle, sourceName) = try IngestRun.open(file)
            let connections = try (0..<writers).map { _ in try global.connect(logger: logger) }
            if let limit = deadline.flatMap(parseDuration) {
                let end = ContinuousClock.now + limit
                for connection in connections { connection.setDeadline(end) }
            }
            try Migrator(schema: global.resolvedSchema, logger: logger).requireUpToDate(connections[0])
            let ingest = IngestRun(
                ingester: Ingester(schema: global.resolvedSchema, source: .ingest, signature: signature, batchSize: batchSize, logger: logger),
                keyEncoding: keyEncoding
            )
            let code = try await ingest.run(handle: handle, sourceName: sourceName, connections: connections, console: .commandLine,
                                            stop: { Interruption.stop }, trap: { try await Interruption.run($0) })
            if code != ExitStatus.ok { throw ExitCode(code) }
        }
    }
}

extension WebhookSignature.KeyEncoding: ExpressibleByArgument {}
