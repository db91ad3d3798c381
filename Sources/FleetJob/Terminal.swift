import DreamClassAPI
import FileOutput
import Foundation
import Logging
import Postgres
import ReconcileJob
import Settings
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// What the command line's processes print and log: secrets redacted from every line, log lines
// as text or JSON on stderr, a progress line only on a terminal.

/// The secrets this process has read, so no log line shows them, whatever logs it.
public enum Secrets {
    private static let known = Mutex<[String]>([])

    public static func register(_ secret: String?) {
        guard let secret, secret.count >= 4 else { return }
        known.withLock { if !$0.contains(secret) { $0.append(secret) } }
    }

    /// The environment's secrets: API key, webhook secret, delivery and database passwords.
    public static func registerEnvironment(_ environment: [String: String]) {
        for name in ["DREAMCLASS_API_KEY", "DREAMCLASS_WEBHOOK_SECRET", "DREAMCLASS_DELIVER_PASSWORD", "PGPASSWORD"] {
            register(environment[name])
        }
        for password in Redactor.passwords(in: environment["DATABASE_URL"] ?? "") { register(password) }
    }

    public static func redact(_ text: String) -> String {
        known.withLock { $0 }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }
}

extension Secrets {
    /// Reads a secret from `NAME`, or from the file `NAME_FILE` names (its content, trimmed), and
    /// keeps it out of every line printed or logged from then on: by ``register(_:)``, or by the
    /// hook a job's ``Console`` gives (a test's sees what would be redacted).
    public static func read(
        _ name: String, environment: [String: String], register: (String?) -> Void = { Secrets.register($0) }
    ) throws -> String? {
        let value = try DreamClassConfiguration.secret(name, environment: environment)
        register(value)
        return value
    }
}

extension SettingsFile {
    /// ``resolve(school:environment:)``, the school's API key known to the redaction from then on
    /// (every command resolves a school this way, `config check` too).
    public func school(_ name: String, environment: [String: String]) throws -> SchoolSettings {
        let settings = try resolve(school: name, environment: environment)
        Secrets.register(settings.api.apiKey)
        return settings
    }
}

/// Writes a line for a person on stderr (an error, a warning, a summary), with every known
/// secret redacted: the one way the command line prints what may carry a server's or a
/// library's words.
public func printError(_ text: String) {
    StandardStream.error.attempt(Secrets.redact(text))
}

/// How log lines look: readable on a terminal, one JSON object per line for machines.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json

    /// JSON unless stderr is a terminal.
    public static var automatic: LogFormat { isatty(STDERR_FILENO) == 1 ? .text : .json }
}

/// Writes log lines to stderr, with secrets redacted and the run's id and tenant from
/// ``RunContext`` on every line.
public struct StderrLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider? = RunContext.metadataProvider
    private static let lock = Mutex(())

    public init(label: String, format: LogFormat) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let time = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        let message = Secrets.redact("\(event.message)")
        let fields = all.sorted { $0.key < $1.key }.map { ($0.key, Secrets.redact("\($0.value)")) }
        let line: String
        switch format {
        case .text:
            let rendered = fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            line = "\(time) \(event.level) \(label): \(message)\(rendered.isEmpty ? "" : " " + rendered)\n"
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "logger": label, "message": message]
            for (key, value) in fields where object[key] == nil { object[key] = value }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        }
        Self.lock.withLock { _ in StandardStream.error.attempt(line) }
    }
}

/// A progress line on a terminal: periods read, students looked up, and an ETA. Nothing when
/// stderr is not a terminal, so cron logs stay clean.
public final class ProgressLine: Sendable {
    private struct State {
        var shown = RunProgress()
        var started = ContinuousClock.now
        var phaseStarted = ContinuousClock.now
    }

    private let state = Mutex(State())

    public static func makeIfTerminal() -> ProgressLine? { isatty(STDERR_FILENO) == 1 ? ProgressLine() : nil }

    public func update(_ progress: RunProgress) {
        let line = state.withLock { state -> String in
            if progress.periodsTotal > 0 { (state.shown.periodsRead, state.shown.periodsTotal) = (progress.periodsRead, progress.periodsTotal) }
            if progress.studentsTotal > 0 {
                if state.shown.studentsTotal == 0 { state.phaseStarted = ContinuousClock.now }
                (state.shown.studentsLookedUp, state.shown.studentsTotal) = (progress.studentsLookedUp, progress.studentsTotal)
            }
            let shown = state.shown
            let (done, total, since) = shown.studentsTotal > 0
                ? (shown.studentsLookedUp, shown.studentsTotal, state.phaseStarted) : (shown.periodsRead, shown.periodsTotal, state.started)
            let elapsed = Double((ContinuousClock.now - since).components.seconds) + Double((ContinuousClock.now - since).components.attoseconds) / 1e18
            let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
            var text = "periods \(shown.periodsRead)/\(shown.periodsTotal)"
            if shown.studentsTotal > 0 { text += " · students \(shown.studentsLookedUp)/\(shown.studentsTotal)" }
            if done < total { text += String(format: " · ETA %.0f s", eta) }
            return text
        }
        printError("\r\u{1B}[K\(line)")
    }

    public func finish() { printError("\r\u{1B}[K") }

    /// A line of another job's own (ingest's counts, a backfill's deliveries), only on a terminal.
    public static func show(_ text: String) {
        guard isatty(STDERR_FILENO) == 1 else { return }
        printError("\r\u{1B}[K\(text)")
    }
}

extension Console {
    /// The process's streams: summaries on stdout (stderr when stdout carries a report), errors on
    /// stderr, progress only on a terminal, every known secret redacted.
    public static let commandLine = Console(
        write: { text, toError in try (toError ? StandardStream.error : StandardStream.output).write(text) },
        error: { printError($0) },
        status: { ProgressLine.show($0) },
        runProgress: { ProgressLine.makeIfTerminal().map { line in (update: { line.update($0) }, finish: { line.finish() }) } },
        secret: { Secrets.register($0) },
        redact: { Secrets.redact($0) }
    )
}
