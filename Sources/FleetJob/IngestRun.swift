import EventStore
import Foundation
import Logging
import Postgres
import Signing

/// `ingest` of one file or stream: the lines stored in batches by several writers, the summary
/// printed, the exit code by the contract (65 when lines were rejected, the signal's when one
/// stopped it: the batches in flight commit and are counted).
public struct IngestRun: Sendable {
    public var ingester: Ingester
    /// The `--key-encoding` the signatures were checked with, for the warning when most fail.
    public var keyEncoding: WebhookSignature.KeyEncoding

    public init(ingester: Ingester, keyEncoding: WebhookSignature.KeyEncoding) {
        self.ingester = ingester
        self.keyEncoding = keyEncoding
    }

    /// - Parameter trap: runs the ingest, cancelling it when a signal arrives (the command line's).
    public func run(
        handle: FileHandle, sourceName: String, connections: [Connection], console: Console, stop: @escaping @Sendable () -> Stop?,
        trap: (@escaping @Sendable () async throws -> Ingester.Summary) async throws -> Ingester.Summary
    ) async throws -> Int32 {
        var ingester = self.ingester
        ingester.progress = { console.status("ingest: \($0)") }
        defer { console.status("") }
        let summary: Ingester.Summary
        do {
            summary = try await trap { [ingester] in
                var reader = LineReader(handle: handle)
                return try await ingester.ingest(&reader, sourceName: sourceName, into: connections)
            }
        } catch let error as IngestError where stop() != nil {
            console.error("interrupted: \(error)\n")
            return stop()?.exitCode ?? ExitStatus.interrupted
        }
        try console.write(summary.description + "\n", false)
        if summary.signaturesChecked > 0, summary.signaturesFailed * 2 > summary.signaturesChecked {
            console.error(
                "warning: \(summary.signaturesFailed) of \(summary.signaturesChecked) signatures did not verify with --key-encoding \(keyEncoding.rawValue): "
                    + "`dreamclass-reconcile config check --signatures` tells which key encoding the secret needs\n"
            )
        }
        if let stop = stop() {
            console.error("interrupted by \(stop.name): the lines counted are stored; ingest the same file again for the rest\n")
            return stop.exitCode
        }
        // Every line is accounted for, but some are only in rejected_events: cron should hear of it.
        return summary.rejected > 0 ? ExitStatus.rejectedInput : ExitStatus.ok
    }
}

extension IngestRun {
    /// A file to ingest that cannot be opened: a usage error naming the path and the reason.
    public struct UnreadableInput: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot open \(path) for reading: \(reason) (check the path, and that this user may read it)" }
    }

    /// The file `path` names, or standard input for `-`, with the name its rejected lines are kept under.
    public static func open(_ path: String) throws -> (handle: FileHandle, sourceName: String) {
        if path == "-" { return (.standardInput, "<stdin>") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw UnreadableInput(path: path, reason: String(cString: strerror(errno)))
        }
        return (handle, path)
    }
}
