import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// Delivers webhook bodies to a school's endpoint as DreamClass does: a JSON POST, optional Basic
/// auth, answered with 2xx within the timeout or tried again with backoff.
public final class WebhookSender: Sendable {
    public struct Configuration: Sendable {
        public var url: String
        public var basicAuth: (user: String, password: String)?
        public var timeout: Duration = .seconds(10)
        public var maxAttempts = 5
        public var backoffBase: Duration = .milliseconds(500)
        public var backoffCap: Duration = .seconds(30)
        public var concurrency = 8
        public var caBundlePath: String?

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

    public func shutdown() async throws { try await http.shutdown() }

    /// Posts one body, trying again on anything but a 2xx, up to the configured attempts.
    public func deliver(_ body: String) async -> Result {
        let retry = RetryPolicy(maxAttempts: configuration.maxAttempts, base: configuration.backoffBase, cap: configuration.backoffCap)
        var random = SystemRandomNumberGenerator()
        var last: String?
        for attempt in 1...retry.maxAttempts {
            var request = HTTPClientRequest(url: configuration.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let auth = configuration.basicAuth {
                request.headers.add(name: "Authorization", value: "Basic " + Data("\(auth.user):\(auth.password)".utf8).base64EncodedString())
            }
            request.body = .bytes(ByteBuffer(string: body))
            var retryAfter: Duration?
            do {
                let response = try await http.execute(request, deadline: .now() + TimeAmount(configuration.timeout), logger: logger)
                _ = try await response.body.collect(upTo: 1 << 20)
                if (200..<300).contains(response.status.code) { return Result(delivered: true, attempts: attempt, lastError: nil) }
                retryAfter = RetryPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"))
                last = "HTTP \(response.status.code) from \(configuration.url)"
            } catch {
                last = "\(TransportFailure(error).description) (\(configuration.url))"
            }
            guard attempt < retry.maxAttempts else { break }
            try? await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: retryAfter, using: &random))
        }
        return Result(delivered: false, attempts: retry.maxAttempts, lastError: last)
    }
}
