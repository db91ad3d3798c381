import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// healthchecks.io-style pings: `URL/start` when a run starts, `URL` when it succeeds, `URL/fail`
/// when it fails, each with `rid=` (one id per invocation) so the service pairs start and end.
/// A ping that cannot be sent is logged, never fatal.
public struct HealthPing: Sendable {
    /// Which ping: the run started (`URL/start`), succeeded (`URL`) or failed (`URL/fail`).
    public enum Event: String, Sendable { case start, success, fail }

    public let url: String
    public let invocation: UUID
    private let logger: Logger

    public init(url: String, invocation: UUID = UUID(), logger: Logger = Logger(label: "ping")) {
        var trimmed = url
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.url = trimmed
        self.invocation = invocation
        self.logger = logger
    }

    /// The URL one event is sent to.
    public func address(_ event: Event) -> String {
        let base = event == .success ? url : "\(url)/\(event.rawValue)"
        return base + "?rid=\(invocation.uuidString.lowercased())"
    }

    /// Sends one ping; `body` (a summary line) goes along, as healthchecks shows it.
    public func send(_ event: Event, body: String = "") async {
        var request = HTTPClientRequest(url: address(event))
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10), logger: logger)
            _ = try await response.body.collect(upTo: 64 * 1024)
            if response.status.code >= 300 {
                logger.warning("health ping answered \(response.status.code)", metadata: ["event": "\(event.rawValue)"])
            }
        } catch {
            logger.warning("health ping could not be sent", metadata: ["event": "\(event.rawValue)", "error": "\(error)"])
        }
    }
}
