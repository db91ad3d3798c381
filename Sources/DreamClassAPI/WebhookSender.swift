import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// Delivers webhook bodies to a school's endpoint as DreamClass does: a JSON POST, optional Basic
/// auth, answered with 2xx within the timeout or tried again with backoff.
public final class WebhookSender: Sendable {
    /// Where and how to deliver: the URL, Basic auth, concurrency, retries and their bounds.
    public struct Configuration: Sendable {
        public var url: String
        public var basicAuth: (user: String, password: String)?
        public var timeout: Duration = .seconds(10)
        public var maxAttempts = 5
        public var backoffBase: Duration = .milliseconds(500)
        public var backoffCap: Duration = .seconds(30)
        public var concurrency = 8
        public var caBundlePath: String?
        /// The longest `Retry-After` honoured; a receiver asking for more fails the delivery.
        public var maxRetryAfter: Duration = .seconds(300)
        /// No delivery is tried, waited for or slept on past this; what is left stays undelivered
        /// for the next `backfill --deliver`.
        public var deadline: ContinuousClock.Instant?

        public init(url: String, basicAuth: (user: String, password: String)? = nil) {
            self.url = url
            self.basicAuth = basicAuth
        }
    }

    /// How one delivery ended.
    public struct Result: Sendable, Equatable {
        public var delivered: Bool
        public var attempts: Int
        public var lastError: String?
    }

    public let configuration: Configuration
    private let http: HTTPClient
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "deliver")) {
        self.configuration = configuration
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if let path = configuration.caBundlePath { tls.trustRoots = .file(path) }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow))
    }

    /// Closes the sender's connections; call once, after the last delivery.
    public func shutdown() async throws { try await http.shutdown() }

    /// Posts one body, trying again on anything but a 2xx, up to the configured attempts.
    public func deliver(_ body: String) async -> Result {
        let retry = RetryPolicy(maxAttempts: configuration.maxAttempts, base: configuration.backoffBase, cap: configuration.backoffCap)
        var random = SystemRandomNumberGenerator()
        var last: String?
        for attempt in 1...retry.maxAttempts {
            if configuration.deadline.passes() {
                return Result(delivered: false, attempts: attempt - 1, lastError: "the deadline passed before delivery to \(configuration.url)" + (last.map { "; last: \($0)" } ?? ""))
            }
            var request = HTTPClientRequest(url: configuration.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let auth = configuration.basicAuth {
                request.headers.add(name: "Authorization", value: "Basic " + Data("\(auth.user):\(auth.password)".utf8).base64EncodedString())
            }
            request.body = .bytes(ByteBuffer(string: body))
            var retryAfter: Duration?
            do {
                let response = try await http.execute(request, deadline: .now() + TimeAmount(configuration.deadline.bound(configuration.timeout)), logger: logger)
                _ = try await response.body.collect(upTo: 1 << 20)
                if (200..<300).contains(response.status.code) { return Result(delivered: true, attempts: attempt, lastError: nil) }
                retryAfter = RetryPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"))
                let answer = "HTTP \(response.status.code) from \(configuration.url)"
                last = answer
                if let retryAfter, retryAfter > configuration.maxRetryAfter {
                    return Result(delivered: false, attempts: attempt, lastError: answer + " asked to wait \(Int(retryAfter.seconds)) s, more than \(Int(configuration.maxRetryAfter.seconds)) s")
                }
            } catch {
                last = "\(TransportFailure(error).description) (\(configuration.url))"
            }
            guard attempt < retry.maxAttempts else { break }
            let wait = retry.delay(afterAttempt: attempt, retryAfter: retryAfter, using: &random)
            if configuration.deadline.passes(within: wait) {
                return Result(delivered: false, attempts: attempt, lastError: (last ?? "") + "; the deadline passes before another try")
            }
            do { try await Task.sleep(for: wait) } catch { return Result(delivered: false, attempts: attempt, lastError: "cancelled; last: \(last ?? "")") }
        }
        return Result(delivered: false, attempts: retry.maxAttempts, lastError: last)
    }
}
