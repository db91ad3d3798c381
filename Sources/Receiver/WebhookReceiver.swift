import EventStore
import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Models
import NIOCore
import Postgres
import Signing
import Synchronization

/// The HTTP endpoint DreamClass delivers webhooks to: it checks them and stores each one in
/// `webhook_events` exactly once, answering 200 only after the row is committed.
///
/// - Basic auth, when configured (the credentials set in DreamClass's integration settings).
/// - The HMAC signature, when a secret is configured, checked before anything else of the body:
///   a bad one gets 401 and nothing of it is kept (it may be forged); the refusals are logged at
///   most once per ``refusalLogInterval``.
/// - A body that is not a valid envelope gets 400 and is kept in `rejected_events` (with a secret
///   configured, only bodies whose signature is good get this far).
/// - An event whose `timestamp` is further from now than ``Options/timestampWindow`` gets 400 and
///   is not kept: only the `id` is signed, so a captured delivery could be sent again with other
///   content; the window bounds how long that stays possible, its id is remembered
///   (`refused_replays`) so no later timestamp lets it in, and a stored event is never changed.
/// - A head that declares a body over ``Options/maxBodyBytes`` gets 413 at once, and a body that
///   does not arrive within the body timeout 408, each with the connection closed.
/// - A re-sent event id gets 200 and stores nothing new.
/// - With the database down, 503: DreamClass counts the delivery as failed.
public final class WebhookReceiver: Sendable {
    /// Where the receiver listens and what it checks and bounds: path, signature, Basic auth, body size and time, connections.
    public struct Options: Sendable {
        public var schema: String
        public var path = "/webhooks/dreamclass"
        public var basicAuth: (user: String, password: String)?
        public var signature: WebhookSignature?
        /// A tenant's own secret (the schools file's `webhook_secret_file` and `key_encoding`),
        /// before ``signature``. With either set, a body whose tenant has neither is refused.
        public var signatures: [String: WebhookSignature] = [:]
        public var maxBodyBytes = 1 << 20
        public var connections = 4
        /// Events further from now than this (either way) are refused as possible replays; `nil`
        /// accepts any time.
        public var timestampWindow: Duration? = .seconds(24 * 3600)
        /// A connection that has not sent a whole request head (or has been idle) this long is
        /// closed: slow clients cannot hold sockets. DreamClass waits 10 s for an answer.
        public var idleTimeout: Duration = .seconds(10)
        /// The whole body must arrive within this, or the request gets 408 and the connection closes.
        public var bodyTimeout: Duration = .seconds(10)
        /// Connections open at once; more wait in the listen backlog until one closes.
        public var maxConnections = 1_024
        /// The longest a request waits on PostgreSQL (a free connection of the pool, a lock held
        /// elsewhere, a slow disk): then 503, which DreamClass retries, well before its own 10 s
        /// wait makes the delivery fail.
        public var databaseTimeout: Duration = .seconds(5)

        public init(schema: String) { self.schema = schema }
    }

    public let options: Options
    private let pool: ConnectionPool
    private let inbox: ReceiverInbox
    private let logger: Logger
    private let server = InProcessServer()
    private let healthServer = InProcessServer()
    /// Connections the health listener takes at once: probes, not clients.
    public static let healthConnections = 64
    /// Refusals of unauthenticated requests since the last log line about them, and when that was.
    private let refusals = Mutex<(count: Int, lastLogged: ContinuousClock.Instant?)>((0, nil))
    /// Unauthenticated requests are logged at most this often: a flood of them cannot fill the log.
    public static let refusalLogInterval: Duration = .seconds(10)

    public init(options: Options, logger: Logger = Logger(label: "serve"), connect: @escaping @Sendable () throws -> Connection) {
        self.options = options
        self.logger = logger
        pool = ConnectionPool(size: options.connections, timeout: options.databaseTimeout, connect: connect)
        inbox = ReceiverInbox(schema: options.schema)
    }

    /// The application, for `runService()` (graceful shutdown on SIGTERM and SIGINT: requests in
    /// flight are finished).
    public func application(host: String, port: Int, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            responder: CallbackResponder { [self] (request: Request, _: BasicRequestContext) in await respond(to: request) },
            server: .http1(configuration: .init(
                additionalChannelHandlers: [CloseAfterResponse()], idleTimeout: TimeAmount(options.idleTimeout)
            )),
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port), serverName: "dreamclass-reconcile",
                availableConnectionsDelegate: MaximumAvailableConnections(options.maxConnections)
            ),
            onServerRunning: { await onServerRunning($0.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// A listener of its own for `GET /health`, apart from the webhooks' connection cap: a flood of
    /// connections to the webhook port (idle or slow, up to its cap, the rest in the backlog)
    /// cannot keep a liveness probe from its answer.
    public func healthApplication(host: String, port: Int, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            responder: CallbackResponder { [self] (request: Request, _: BasicRequestContext) in
                guard request.uri.path == "/health" else { return Self.text(.notFound, #"{"error":"only /health here"}"#) }
                return await respond(to: request)
            },
            server: .http1(configuration: .init(additionalChannelHandlers: [CloseAfterResponse()], idleTimeout: TimeAmount(options.idleTimeout))),
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port), serverName: "dreamclass-reconcile",
                availableConnectionsDelegate: MaximumAvailableConnections(Self.healthConnections)
            ),
            onServerRunning: { await onServerRunning($0.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Starts the health listener in this process (tests); returns its `/health` URL.
    public func startHealth(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        let bound = try await healthServer.start(logger: logger) { onRunning in healthApplication(host: host, port: port) { await onRunning($0) } }
        return "http://\(host):\(bound)/health"
    }

    /// Starts serving in this process (tests); returns the webhook URL.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        let bound = try await server.start(logger: logger) { onRunning in application(host: host, port: port) { await onRunning($0) } }
        return "http://\(host):\(bound)\(options.path)"
    }

    /// Stops serving, after the requests in flight, and waits until it has.
    public func stop() async {
        await server.stop()
        await healthServer.stop()
    }

    // MARK: - Answering

    private func respond(to request: Request) async -> Response {
        switch (request.method, request.uri.path) {
        case (.get, "/health"):
            let up = (try? await pool.withConnection { [inbox] in try inbox.ping(on: $0) }) != nil
            return Self.text(up ? .ok : .serviceUnavailable, up ? #"{"status":"ok"}"# : #"{"status":"database unavailable"}"#)
        case (.post, options.path):
            return await receive(request)
        case (_, options.path):
            return Self.text(.methodNotAllowed, #"{"error":"POST only"}"#)
        default:
            return Self.text(.notFound, #"{"error":"not found"}"#)
        }
    }

    private func receive(_ request: Request) async -> Response {
        if let auth = options.basicAuth {
            let expected = "Basic " + Data("\(auth.user):\(auth.password)".utf8).base64EncodedString()
            guard Self.constantTimeEqual(request.headers[.authorization] ?? "", expected) else {
                refused("missing or wrong Basic auth")
                var response = Self.text(.unauthorized, #"{"error":"unauthorized"}"#, close: true)
                response.headers[.wwwAuthenticate] = #"Basic realm="dreamclass-webhooks""#
                return response
            }
        }
        // A declared length over the limit is refused before a byte of the body is waited for.
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > options.maxBodyBytes {
            logger.notice("webhook refused: body larger than the limit", metadata: ["limit": "\(options.maxBodyBytes)", "declared": "\(declared)"])
            return Self.text(.contentTooLarge, #"{"error":"body too large"}"#, close: true)
        }
        let body: [UInt8]
        switch await readBody(request) {
        case .read(let bytes): body = bytes
        case .tooLarge:
            logger.notice("webhook refused: body larger than the limit", metadata: ["limit": "\(options.maxBodyBytes)"])
            return Self.text(.contentTooLarge, #"{"error":"body too large"}"#, close: true)
        case .tooSlow:
            logger.notice("webhook refused: body not sent in time", metadata: ["limit": "\(options.bodyTimeout)"])
            return Self.text(.requestTimeout, #"{"error":"body not sent in time"}"#, close: true)
        }
        // The signature first: nothing of a body that is not from DreamClass is parsed further or kept.
        if options.signature != nil || !options.signatures.isEmpty {
            let claim = try? JSONDecoder().decode(SignedClaim.self, from: Data(body))
            let signature = claim.flatMap { claim in claim.tenant.flatMap { options.signatures[$0] } ?? options.signature }
            guard let claim, let signature, signature.isValid(signature: claim.signature, eventID: claim.id) else {
                refused("bad or missing signature (if every delivery fails so, `config check --signatures` tells which key encoding the secret needs)")
                return Self.text(.unauthorized, #"{"error":"bad signature"}"#)
            }
        }
        let envelope: WebhookEnvelope
        do {
            envelope = try WebhookEnvelope.validate(body)
        } catch {
            return await reject(body, reason: error.reason)
        }
        if let window = options.timestampWindow, abs(envelope.time.timeIntervalSinceNow) > window.seconds {
            refused("timestamp outside the window around now (a replay?)")
            // Remembered by id: the same delivery with a fresh timestamp is refused too.
            do {
                try await pool.withConnection { [inbox] in try inbox.refuseReplay(envelope, on: $0) }
            } catch {
                logger.error("a refused replay could not be remembered; answered 503 so it comes again", metadata: ["error": "\(error)"])
                return Self.text(.serviceUnavailable, #"{"error":"try again later"}"#)
            }
            return Self.text(.badRequest, "{\"error\":\"timestamp is more than \(Int(window.seconds)) s from now\"}")
        }
        // Checked, so true; not checked (no secret configured), so unknown.
        let signatureValid: Bool? = options.signature == nil && options.signatures.isEmpty ? nil : true
        let text = String(decoding: body, as: UTF8.self)
        do {
            let stored = try await pool.withConnection { [inbox] in try inbox.store(envelope, body: text, signatureValid: signatureValid, on: $0) }
            switch stored {
            case .stored, .duplicate:
                logger.debug(stored == .stored ? "webhook stored" : "webhook already stored", metadata: ["event": "\(envelope.rawID)", "type": "\(envelope.type)"])
                return Self.text(.ok, stored == .stored ? #"{"status":"stored"}"# : #"{"status":"duplicate"}"#)
            case .refusedReplay:
                refused("an event id refused before as a possible replay, sent again")
                return Self.text(.badRequest, #"{"error":"this event id was refused before as a possible replay"}"#)
            }
        } catch let error as PostgresError where error.isRowRefused {
            return await reject(body, reason: "refused by PostgreSQL: \(error.message)")
        } catch {
            let why = (error as? PostgresError)?.isTimeout == true ? "database busy (a lock or a slow statement)" : "database unavailable"
            logger.error("webhook not stored: \(why); answered 503 so DreamClass tries again", metadata: ["event": "\(envelope.rawID)", "error": "\(error)"])
            return Self.text(.serviceUnavailable, #"{"error":"try again later"}"#)
        }
    }

    private struct SignedClaim: Decodable {
        var id: String
        var signature: String?
        /// Which secret signs it, when tenants have their own.
        var tenant: String?
    }

    private enum BodyRead { case read([UInt8]), tooLarge, tooSlow }

    /// The whole body, unless it is larger than the limit or slower than the body timeout. The
    /// body timeout ends well before the connection's idle timeout would close it without a word
    /// (at most half of it, a margin a loaded machine keeps), so the client hears its 408.
    private func readBody(_ request: Request) async -> BodyRead {
        let (limit, timeout) = (options.maxBodyBytes, min(options.bodyTimeout, options.idleTimeout / 2))
        return await withTaskGroup(of: BodyRead?.self) { group in
            group.addTask {
                do {
                    var buffer = try await request.body.collect(upTo: limit)
                    return .read(buffer.readBytes(length: buffer.readableBytes) ?? [])
                } catch {
                    return Task.isCancelled ? nil : .tooLarge
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .tooSlow
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .tooSlow
        }
    }

    /// Logs a refused, unauthenticated request, at most once per ``refusalLogInterval``, with how
    /// many there were since the last line.
    private func refused(_ reason: String) {
        let now = ContinuousClock.now
        let count: Int? = refusals.withLock { state in
            state.count += 1
            if let last = state.lastLogged, now - last < Self.refusalLogInterval { return nil }
            defer { state = (0, now) }
            return state.count
        }
        if let count { logger.notice("webhooks refused", metadata: ["reason": "\(reason)", "since_last_line": "\(count)"]) }
    }

    /// Keeps an invalid body in `rejected_events` and answers 400 (503 when it cannot be kept).
    private func reject(_ body: [UInt8], reason: String) async -> Response {
        do {
            try await pool.withConnection { [inbox] in try inbox.reject(body, reason: reason, on: $0) }
        } catch {
            logger.error("invalid webhook could not be kept", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return Self.text(.serviceUnavailable, #"{"error":"try again later"}"#)
        }
        logger.notice("webhook rejected", metadata: ["reason": "\(reason)"])
        return Self.text(.badRequest, "{\"error\":\(Self.quote(reason))}")
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// `close`: the connection closes after this answer (see ``CloseAfterResponse``).
    private static func text(_ status: HTTPResponse.Status, _ body: String, close: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if close { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func quote(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
