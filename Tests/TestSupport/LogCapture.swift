import Logging
import Synchronization

/// Keeps every log message, to check what a run logs (and that no secret is in it).
public final class LogCapture: Sendable {
    private let entries = Mutex<[String]>([])

    public init() {}

    /// A logger whose messages, with their metadata, end up in ``messages``.
    public func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in Handler(capture: self) }
    }

    public var messages: [String] { entries.withLock { $0 } }

    fileprivate func append(_ text: String) { entries.withLock { $0.append(text) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let rendered = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.append("\(event.level) \(event.message) \(rendered)")
        }
    }
}
