import FileOutput
import ArgumentParser
import DreamClassAPI
import EventStore
import Foundation

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Load webhook bodies, one JSON envelope per line, into the event store.",
        discussion: """
            Lines that are not valid envelopes are kept in rejected_events with their line number \
            and reason; they do not make the command fail. With DREAMCLASS_WEBHOOK_SECRET (or \
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

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger(label: "ingest")
        try await exitOnFailure {
            let signature = try secret("DREAMCLASS_WEBHOOK_SECRET").map {
                try WebhookSignature(secret: $0, encoding: keyEncoding)
            }
            let handle: FileHandle
            let sourceName: String
            if file == "-" {
                handle = .standardInput
                sourceName = "<stdin>"
            } else {
                guard let opened = FileHandle(forReadingAtPath: file) else {
                    throw ValidationError("cannot open \(file) for reading")
                }
                handle = opened
                sourceName = file
            }
            guard writers >= 1 else { throw ValidationError("--writers must be at least 1") }
            let connections = try (0..<writers).map { _ in try global.connect(logger: logger) }
            let connection = connections[0]
            try Migrator(schema: global.resolvedSchema, logger: logger).requireUpToDate(connection)
            var reader = LineReader(handle: handle)
            let ingester = Ingester(
                schema: global.resolvedSchema, source: .ingest, signature: signature,
                batchSize: batchSize, logger: logger
            )
            let summary = try await ingester.ingest(&reader, sourceName: sourceName, into: connections)
            try StandardStream.output.line(summary.description)
        }
    }
}

extension WebhookSignature.KeyEncoding: ExpressibleByArgument {}
